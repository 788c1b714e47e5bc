#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// fuzz/gen_seeds.js: writes the seed corpora of the server parsers' targets, fuzz/corpus/
// {form,json_param,authz,xff,framing,sse,config,ua,cookie}/. Deterministic (no keys, no
// randomness), so re-running it rewrites the same files; like gen_corpus.js it writes only
// its own seeds and leaves found-* inputs alone. Each target's input format is in the
// comment at the top of its fuzz/fuzz_<t>.c.
//   node fuzz/gen_seeds.js
'use strict';
const fs = require('fs');
const path = require('path');

const here = __dirname;
const b = (s) => Buffer.from(s, 'latin1'); // one byte per char: '\xff' is the byte 0xff
const b64 = (s) => b(s).toString('base64');
const out = { form: {}, json_param: {}, authz: {}, xff: {}, framing: {}, sse: {}, config: {}, ua: {}, cookie: {} };

// ---------------------------------------------------------------- form: "name\nbody"
// (the first byte is also the flags of the round trip: bit 0 '+' for space, bit 1 lower hex)
const F = out.form;
F['valid.form'] = 'username\nusername=alice&password=p%40ss+word&csrf=abc';
F['nolf.form'] = 'a=1&b=2';
F['percent.form'] = 'q\nq=%41%62%63%2b%2B%25%26%3D';
F['lower-hex.form'] = 'c\nc=%c3%a9%e2%82%ac';
F['plus.form'] = 'a\na=1+1%2B1+';
F['nul-escape.form'] = 'a\na=x%00y';
F['raw-nul.form'] = b('a\na=x\x00y&b=%00');
F['dup.form'] = 'a\na=first&a=second';
F['near-miss.form'] = 'ab\na=1&abc=2&ab&ab=3';
F['bad-escape.form'] = 'a\na=%G1&b=%4';
F['trunc-escape.form'] = 'a\nb=1&a=%4';
F['invalid-utf8.form'] = b('a\na=\xff\xfe%C3%28%ff');
F['empty-name.form'] = '\n=x&=y';
F['empty-fields.form'] = 'a\n&&a&=&a=';
F['name-pct.form'] = 'a%62\nab=2&a%62=1';
F['long.form'] = 'v\nv=' + '%41'.repeat(3000) + '+'.repeat(100);
// request targets (the whole input up to a NUL, for lk_target_bad)
F['target-ok.form'] = '/login?return_to=%2Faccount%3Fq%3D%C3%A9&x=%zz';
F['target-overlong.form'] = '/login?return_to=/admin%C0%AF';
F['target-surrogate.form'] = '/me%ED%A0%80';
F['target-truncated.form'] = b('/me\xe2\x82');
F['target-nul.form'] = '/healthz%00x';
F['target-space.form'] = '/a b';

// ---------------------------------------------------------------- json_param: flags, "name\nbody"
const J = out.json_param;
J['valid.json'] = '\x00username\n{"username":"alice","password":"pw"}';
J['escapes.json'] = '\x01token\n{"token":"a\\u00e9\\ud83d\\ude00\\n\\"\\/"}';
J['nul-escape.json'] = '\x00a\n{"a":"x\\u0000y"}';
J['dup.json'] = '\x00a\n{"a":"1","a":"2"}';
J['dup-other.json'] = '\x00a\n{"a":"1","b":2,"b":3}';
J['number.json'] = '\x00a\n{"a":1}';
J['null.json'] = '\x00a\n{"a":null}';
J['array.json'] = '\x00a\n["a"]';
J['invalid-utf8.json'] = b('\x02a\n{"a":"\xff\xc3"}');
J['lone-surrogate.json'] = '\x00a\n{"a":"\\ud800"}';
J['deep-nesting.json'] = '\x00a\n{"b":' + '['.repeat(3000) + ']'.repeat(3000) + ',"a":"x"}';
J['trailing-garbage.json'] = '\x00a\n{"a":"x"} x';
J['bom.json'] = b('\x00a\n\xef\xbb\xbf{"a":"x"}');
J['huge-numbers.json'] = '\x00a\n{"n":1e999999,"m":-99999999999999999999999,"a":"x"}';
J['key-nul.json'] = '\x00a\n{"a\\u0000b":"x","a":"y"}';
J['raw-bytes.json'] = '\x07grant_type\npassword with spaces \u00e9 "quotes" \\ and\ttab';

// ---------------------------------------------------------------- authz: the header value
// (for the round trip: byte 0 flags, byte 1 the id's length, the rest id and secret)
const A = out.authz;
A['basic.txt'] = 'Basic ' + b64('alice:secret');
A['basic-encoded.txt'] = 'Basic ' + b64('a%3Ab+c:d%3A%2Be');
A['basic-spaces.txt'] = 'basic    ' + b64('user:pass');
A['basic-empty.txt'] = 'Basic ' + b64(':');
A['basic-nul-escape.txt'] = 'Basic ' + b64('u%00x:p');
A['basic-raw-nul.txt'] = 'Basic ' + b64('u\x00x:p');
A['basic-nocolon.txt'] = 'Basic ' + b64('nocolon');
A['basic-bad-escape.txt'] = 'Basic ' + b64('%ZZ:x%4');
A['basic-invalid-utf8.txt'] = 'Basic ' + b64('\xff\xfe:\xc3');
A['basic-garbage.txt'] = 'Basic ' + b64('alice:secret') + '!';
A['basic-unpadded.txt'] = 'Basic YTo';
A['basic-511.txt'] = 'Basic ' + b64('a:' + 'x'.repeat(509));
A['basic-512.txt'] = 'Basic ' + b64('a:' + 'x'.repeat(510));
A['basic-nospace.txt'] = 'Basic' + b64('a:b');
A['bearer.txt'] = 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln';
A['bearer-spaces.txt'] = 'bearer     tok';
A['bearer-empty.txt'] = 'Bearer ';
A['bearer-nospace.txt'] = 'Bearer';
A['digest.txt'] = 'Digest username="x", realm="y"';
A['roundtrip-colon.bin'] = b('\x01\x04a:b+c%d:e f\x00g');

// ---------------------------------------------------------------- xff: the header value
const X = out.xff;
X['v4.txt'] = '203.0.113.7';
X['chain.txt'] = '10.0.0.1, 192.168.1.2, 203.0.113.7';
X['v6-spaces.txt'] = '1.2.3.4,  2001:db8::1  ';
X['v6-zone.txt'] = 'fe80::1%eth0';
X['v4-mapped.txt'] = '1.2.3.4, ::ffff:192.0.2.1';
X['bracketed.txt'] = '[::1]';
X['unknown.txt'] = '1.2.3.4, unknown';
X['trailing-comma.txt'] = '1.2.3.4,';
X['hex.txt'] = '0x7f.0.0.1';
X['leading-zero.txt'] = '01.2.3.4';
X['tab.txt'] = '1.2.3.4\t5.6.7.8';
X['longest.txt'] = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
X['long-chain.txt'] = '1.1.1.1,'.repeat(1000) + '2001:db8:0:0:0:0:0:1';
X['nul.txt'] = b('1.2.3.4\x00, 5.6.7.8');
X['port.txt'] = '203.0.113.7:8080';

// ---------------------------------------------------------------- framing: flags, "Name: value" lines
// flags: bits 0-1 the version (HTTP/1.1, HTTP/1.0, none, HTTP/2), bit 2 trim values, bit 3
// a line without ':' has an empty value instead of NULL
const H = out.framing;
H['valid.txt'] = '\x04Host: a\nContent-Length: 5\nAccept: */*';
H['cl-te.txt'] = '\x04Host: a\nContent-Length: 5\nTransfer-Encoding: chunked';
H['te-cl.txt'] = '\x04Host: a\nTransfer-Encoding: chunked\nContent-Length: 0';
H['cl-te-case.txt'] = '\x04host: a\ncontent-length: 0\ntransfer-encoding: CHUNKED';
H['te-chunked.txt'] = '\x04Host: a\nTransfer-Encoding: chunked';
H['te-gzip-chunked.txt'] = '\x04Host: a\nTransfer-Encoding: gzip, chunked';
H['te-space-chunked.txt'] = '\x00Host: a\nTransfer-Encoding:  chunked';
H['te-twice.txt'] = '\x04Host: a\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked';
H['cl-twice-same.txt'] = '\x04Host: a\nContent-Length: 5\nContent-Length: 5';
H['cl-twice-diff.txt'] = '\x04Host: a\nContent-Length: 5\nContent-Length: 6';
H['cl-list.txt'] = '\x04Host: a\nContent-Length: 5, 5';
H['cl-huge.txt'] = '\x04Host: a\nContent-Length: 18446744073709551616';
H['cl-18-digits.txt'] = '\x04Host: a\nContent-Length: 999999999999999999';
H['cl-plus.txt'] = '\x04Host: a\nContent-Length: +5';
H['cl-nul.txt'] = b('\x04Host: a\nContent-Length: 5\x00');
H['ws-before-colon.txt'] = '\x04Host: a\nContent-Length : 5\nTransfer-Encoding: chunked';
H['ws-before-name.txt'] = '\x04 Host: a';
H['nul-in-value.txt'] = b('\x04Host: a\nX-Thing: a\x00b');
H['crlf.txt'] = '\x04Host: a\r\nContent-Length: 1\r\n';
H['obs-fold.txt'] = '\x04Host: a\nX: a\n b';
H['no-host.txt'] = '\x04Accept: */*';
H['two-hosts.txt'] = '\x04Host: a\nHOST: b';
H['http10-no-host.txt'] = '\x05Accept: */*';
H['no-version.txt'] = '\x06Transfer-Encoding: chunked\nContent-Length: 0';
H['no-values.txt'] = '\x0cHost\nContent-Length\nTransfer-Encoding';
H['empty-lines.txt'] = '\x04Host: a\n\n\n';

// ---------------------------------------------------------------- sse: cut (2 bytes), seed, stream
const sse = (cut, seed, s) => Buffer.concat([Buffer.from([cut >> 8, cut & 255, seed]), b(s)]);
const S = out.sse;
S['basic.sse'] = sse(5, 1, 'id: 5\ndata: {"cursor":5}\n\n');
S['pings.sse'] = sse(9, 2, ': ping\n\nid: 7\ndata: {"a":1}\n\n: ping\n\nid: 8\ndata: {"b":2}\n\n');
S['crlf.sse'] = sse(6, 3, 'id: 1\r\ndata: a\r\n\r\n: p\r\nid: 2\r\ndata: b\r\n\r\n');
S['cr.sse'] = sse(7, 4, 'id: 1\rdata: a\r\r: p\rid: 2\rdata: b\r\r');
S['crlf-split.sse'] = sse(8, 5, 'data: x\r\ndata: y\r\r\n');
S['mixed.sse'] = sse(3, 6, 'id: 1\r\ndata: a\r\r\n: p\nid: 2\rdata: b\n\r\n');
S['bom.sse'] = sse(1, 7, '\xef\xbb\xbfdata: a\n\n');
S['bom-twice.sse'] = sse(4, 8, '\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n');
S['bom-partial.sse'] = sse(2, 9, '\xef\xbb\ndata: a\n\n');
S['id-nul.sse'] = sse(12, 10, 'id: 4\ndata: a\n\nid: 5\x00x\ndata: b\n\n');
S['data-nul.sse'] = sse(8, 11, 'data: a\x00b\n\n');
S['retry.sse'] = sse(0, 12, 'retry: 2500\nretry: 25x\nretry:\nretry: 99999999999999999999999\ndata: r\n\n');
S['fields.sse'] = sse(10, 13, 'event: revoke\ndata:x\ndata:  y\ndata\nfoo: bar\nData: no\n\nevent: t\nid: 3\n\n');
S['id-reset.sse'] = sse(14, 14, 'id: 9\ndata: a\n\ndata: b\n\nid\ndata: c\n\n');
S['long-line.sse'] = sse(4000, 15, 'data: ' + 'x'.repeat(5000) + '\n\ndata: ok\n\n');
S['data-4096.sse'] = sse(1030, 16, [0, 1, 2, 3].map((i) => 'data: ' + String.fromCharCode(97 + i).repeat(1023 + (i === 3))).join('\n') + '\n\n');
S['data-4097.sse'] = sse(2000, 17, [0, 1, 2, 3].map((i) => 'data: ' + 'a'.repeat(1023 + 2 * (i === 3))).join('\n') + '\n\nid: 2\ndata: ok\n\n');
S['id-long.sse'] = sse(30, 18, 'id: ' + '7'.repeat(65) + '\nevent: ' + 't'.repeat(65) + '\ndata: ok\n\n');
S['comment-long.sse'] = sse(100, 19, ':' + 'x'.repeat(4200) + '\ndata: ok\n\n');
S['unfinished.sse'] = sse(6, 20, 'data: a\n\nid: 2\ndata: half');

// ---------------------------------------------------------------- config: INI text
const C = out.config;
C['valid.ini'] = '[latchkey]\nlisten = 127.0.0.1:9090\nidle_timeout = 15m\nabsolute_timeout = 24h\nsamesite = strict\nsigning_alg = EdDSA\n';
C['no-section.ini'] = 'listen = 0.0.0.0:8080\nthreads = 4\nmax_body = 65536\n';
C['unknown-key.ini'] = 'listen = a\nfrobnicate = 1\n';
C['unknown-section.ini'] = '[server]\nlisten = x\n';
C['two-sections.ini'] = '[latchkey]\nthreads = 2\n[latchkey]\nthreads = 3\n';
C['huge-number.ini'] = 'max_body = 99999999999999999999\n';
C['uint-limits.ini'] = 'threads = 2147483647\nlogin_queue = 2147483648\n';
C['uint-signs.ini'] = 'threads = -0\nlogin_queue = +5\n';
C['dur-huge.ini'] = 'idle_timeout = 99999999999999999999s\n';
C['dur-zero.ini'] = 'touch_interval = 0\nlogin_wait = 0s\n';
C['dur-neg.ini'] = 'idle_timeout = -1\n';
C['dur-units.ini'] = 'rate_backoff_max = 2w\nkey_rotation = 1099511627776\nconn_timeout = 4294967297s\n';
C['dur-bad-unit.ini'] = 'access_ttl = 15x\nhybrid_ttl = 5mm\n';
C['bools.ini'] = 'insecure_cookies = yes\nlog_requests = OFF\n';
C['bool-bad.ini'] = 'log_requests = maybe\n';
C['long-value.ini'] = 'store = sqlite:' + 'x'.repeat(600) + '\n';
C['long-line.ini'] = 'user_scopes = ' + 'read '.repeat(60) + '\n';
C['comments.ini'] = '; comment\n# comment\nlisten = a ; inline\n';
C['bom.ini'] = b('\xef\xbb\xbflisten = a\n');
C['crlf.ini'] = '[latchkey]\r\nlisten = a\r\nthreads = 1\r\n';
C['no-value.ini'] = 'listen\n';
C['bad-section.ini'] = '[latchkey\nlisten = a\n';
C['continuation.ini'] = 'user_scopes = read\n  write\n';
C['empty-value.ini'] = 'issuer =\naudience=\n';
C['colon.ini'] = 'listen: 1.2.3.4:80\n';
C['duplicate.ini'] = 'listen = a\nlisten = b\n';
C['nul.ini'] = b('listen = a\x00b\n');
C['invalid-utf8.ini'] = b('issuer = https://\xff\xfe\n');

// ---------------------------------------------------------------- ua: the User-Agent
const U = out.ua;
U['chrome-windows.txt'] = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
U['edge.txt'] = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86';
U['safari-mac.txt'] = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';
U['chrome-ios.txt'] = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1';
U['firefox-linux.txt'] = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
U['samsung.txt'] = 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36';
U['headless.txt'] = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36';
U['curl.txt'] = 'curl/8.5.0';
U['tools.txt'] = 'python-requests/2.31.0 Go-http-client/1.1 okhttp/4.12.0 node-fetch/1.0 undici';
U['version-no-safari.txt'] = 'Version/1.0 (Windows NT 10.0)';
U['long-version.txt'] = 'Chrome/99999999999999999999 Linux';
U['script.txt'] = '<script>alert(1)</script> Firefox/"><img src=x>';
U['escape.txt'] = '\x1b[31mcurl/\x1b[0m8';
U['arabic-digits.txt'] = b('Chrome/\xd9\xa3\xd9\xa4 on Linux');
U['invalid-utf8.txt'] = b('\xff\xfeFirefox/1\xc3');
U['version-end.txt'] = 'Firefox/';
U['empty.txt'] = '';
U['long.txt'] = 'Mozilla/5.0 ('.repeat(500) + 'Edg/1';

// ---------------------------------------------------------------- cookie: the cookie value
const K = out.cookie;
const bytes32 = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1));
const good = bytes32.toString('base64url');
K['valid.txt'] = good;
K['zeros.txt'] = 'A'.repeat(43);
K['ones.txt'] = '_'.repeat(42) + 'w';
K['stray-bits.txt'] = '_'.repeat(43);
K['short-42.txt'] = good.slice(0, 42);
K['long-44.txt'] = good + 'A';
K['padded.txt'] = good + '=';
K['std-base64.txt'] = bytes32.toString('base64').replace(/=+$/, '');
K['nul.txt'] = Buffer.concat([b(good.slice(0, 20)), Buffer.from([0]), b(good.slice(21))]);
K['header.txt'] = '__Host-session=' + good;
K['space.txt'] = good.slice(0, 42) + ' ';
K['high-bit.txt'] = b(good.slice(0, 41) + '\xc3\xa9');

// ---------------------------------------------------------------- write
for (const [t, files] of Object.entries(out)) {
	const dir = path.join(here, 'corpus', t);
	fs.mkdirSync(dir, { recursive: true });
	const names = Object.keys(files);
	if (names.length > 60) throw new Error(`${t}: ${names.length} files, over 60`);
	for (const n of names) fs.writeFileSync(path.join(dir, n), files[n]);
	console.log(`${t}: ${names.length} files`);
}
