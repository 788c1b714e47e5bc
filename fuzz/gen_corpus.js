#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// fuzz/gen_corpus.js: writes the seed corpora fuzz/corpus/{jws,jwk,jwks,b64url}/ once.
// Tokens are signed with the fixed keys of fuzz/fuzz_keys.h (read from that file), so the
// valid seeds verify in fuzz_jws at FZ_NOW. Other keys (P-384, P-521, weak RSA, the
// Google-like set) are generated fresh, so re-running changes those files: the corpus is
// committed and this script is only needed to rebuild it from scratch.
//   node fuzz/gen_corpus.js
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const here = __dirname;
const keysH = fs.readFileSync(path.join(here, 'fuzz_keys.h'), 'utf8');
const K = {};
for (const m of keysH.matchAll(/#define FZ_JWK_(\w+) ("(?:[^"\\]|\\.)*")/g))
	K[m[1]] = JSON.parse(JSON.parse(m[2]));
const NOW = Number(/#define FZ_NOW (\d+)/.exec(keysH)[1]);

const b64u = (b) => Buffer.from(b).toString('base64url');
const enc = (x) => b64u(typeof x === 'string' ? Buffer.from(x, 'utf8') : Buffer.isBuffer(x) ? x : JSON.stringify(x));
const pub = (jwk) => {
	const o = { ...jwk };
	for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) delete o[m];
	return o;
};
const keyObj = (jwk) => crypto.createPrivateKey({ key: jwk, format: 'jwk' });

function sigFor(alg, jwk, input) {
	switch (alg) {
	case 'HS256': return crypto.createHmac('sha256', Buffer.from(jwk.k, 'base64url')).update(input).digest();
	case 'RS256': return crypto.sign('sha256', Buffer.from(input), keyObj(jwk));
	case 'ES256': return crypto.sign('sha256', Buffer.from(input), { key: keyObj(jwk), dsaEncoding: 'ieee-p1363' });
	case 'EdDSA': return crypto.sign(null, Buffer.from(input), keyObj(jwk));
	}
	throw new Error(alg);
}
// header/payload: object (JSON.stringify), string (raw UTF-8 JSON text) or Buffer (raw bytes)
function sign(alg, jwk, header, payload) {
	const input = enc(header) + '.' + enc(payload);
	return input + '.' + b64u(sigFor(alg, jwk, input));
}

const claims = { iss: 'https://issuer.example', sub: 'user-1', aud: 'api', exp: NOW + 3600, iat: NOW - 1000, jti: 'j-1' };
const H = { alg: 'HS256', typ: 'JWT', kid: 'fz-hs256' };
const hs = (hdr, pl) => sign('HS256', K.HS256, hdr, pl);

const out = { jws: {}, jwk: {}, jwks: {}, b64url: {} };

// ---------------------------------------------------------------- jws
const J = out.jws;
J['valid-hs256.jwt'] = hs(H, claims);
J['valid-hs256-nokid.jwt'] = hs({ alg: 'HS256' }, claims);
J['valid-rs256.jwt'] = sign('RS256', K.RS256, { alg: 'RS256', typ: 'JWT', kid: 'fz-rs256' }, claims);
J['valid-es256.jwt'] = sign('ES256', K.ES256, { alg: 'ES256', typ: 'JWT', kid: 'fz-es256' }, claims);
J['valid-eddsa.jwt'] = sign('EdDSA', K.EDDSA, { alg: 'EdDSA', kid: 'fz-eddsa' }, claims);
J['valid-at-jwt.jwt'] = sign('ES256', K.ES256, { alg: 'ES256', typ: 'at+jwt', kid: 'fz-es256' },
	{ ...claims, aud: ['other', 'api'], client_id: 'c1', scope: 'read write', roles: ['admin'], sid: 's-1' });
J['typ-application.jwt'] = hs({ ...H, typ: 'application/at+jwt' }, claims);
// RFC 7515 appendix A.1 (HS256, its own key; also in the jwk corpus)
J['rfc7515-a1.jwt'] = 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9' +
	'.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
	'.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
J['alg-none.jwt'] = enc({ alg: 'none' }) + '.' + enc(claims) + '.';
J['alg-none-mixedcase.jwt'] = hs({ alg: 'nONe', kid: 'fz-hs256' }, claims);
J['alg-missing.jwt'] = hs({ kid: 'fz-hs256' }, claims);
J['alg-number.jwt'] = hs({ alg: 256, kid: 'fz-hs256' }, claims);
{ // classic confusion: HS256 keyed with the RSA public key, naming the RSA kid
	const pem = crypto.createPublicKey({ key: pub(K.RS256), format: 'jwk' }).export({ type: 'spki', format: 'pem' });
	const input = enc({ alg: 'HS256', kid: 'fz-rs256' }) + '.' + enc(claims);
	J['confusion-hs-with-rsa-pubkey.jwt'] = input + '.' + b64u(crypto.createHmac('sha256', pem).update(input).digest());
}
J['alg-mismatch-rs-on-es-kid.jwt'] = sign('RS256', K.RS256, { alg: 'RS256', kid: 'fz-es256' }, claims);
J['alg-es256-on-hs-kid.jwt'] = sign('ES256', K.ES256, { alg: 'ES256', kid: 'fz-hs256' }, claims);
J['kid-unknown.jwt'] = hs({ ...H, kid: 'nope' }, claims);
J['kid-number.jwt'] = hs({ alg: 'HS256', kid: 7 }, claims);
J['expired.jwt'] = hs(H, { ...claims, exp: NOW - 61 });
J['nbf-future.jwt'] = hs(H, { ...claims, nbf: NOW + 600 });
J['iat-future.jwt'] = hs(H, { ...claims, iat: NOW + 600 });
J['exp-string.jwt'] = hs(H, `{"sub":"a","exp":"${NOW + 3600}"}`);
J['exp-huge.jwt'] = hs(H, '{"sub":"a","exp":1e400,"nbf":-1e400}');
J['exp-bignum.jwt'] = hs(H, '{"sub":"a","exp":99999999999999999999999,"iat":-9223372036854775809}');
J['exp-float.jwt'] = hs(H, `{"sub":"a","exp":${NOW + 3600}.75,"iat":1.7e9}`);
J['aud-number-iss-array.jwt'] = hs(H, '{"sub":"a","aud":5,"iss":["x"],"jti":{}}');
J['crit-unknown.jwt'] = hs({ ...H, crit: ['x-ext'], 'x-ext': 1 }, claims);
J['crit-empty.jwt'] = hs({ ...H, crit: [] }, claims);
J['crit-not-array.jwt'] = hs({ ...H, crit: 'exp' }, claims);
J['crit-b64-false.jwt'] = hs({ ...H, b64: false, crit: ['b64'] }, claims);
J['hdr-dup-alg.jwt'] = hs('{"alg":"HS256","alg":"none","kid":"fz-hs256"}', claims);
J['payload-dup-exp.jwt'] = hs(H, `{"sub":"a","exp":${NOW + 3600},"exp":1}`);
J['hdr-jwk-jku-x5u.jwt'] = hs({ ...H, jwk: pub(K.ES256), jku: 'https://evil.example/jwks', x5u: 'https://evil.example/c', x5c: ['AAAA'] }, claims);
J['unicode-escapes.jwt'] = hs('{"\\u0061lg":"HS256","kid":"fz-\\u0068s256"}', '{"sub":"\\u0041\\u00e9\\ud83d\\ude00","\\u0065xp":1700003600}');
J['lone-surrogate.jwt'] = hs(H, '{"sub":"\\ud800","jti":"\\udc00x"}');
J['nul-escape.jwt'] = hs(H, '{"sub":"a\\u0000b","iss":"https://issuer.example\\u0000"}');
J['invalid-utf8.jwt'] = hs(H, Buffer.from([0x7b, 0x22, 0x73, 0x75, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x22, 0x7d]));
J['deep-nesting.jwt'] = hs(H, '{"x":' + '['.repeat(400) + ']'.repeat(400) + '}');
J['payload-array.jwt'] = hs(H, '[1,2]');
J['payload-not-json.jwt'] = hs(H, 'hello');
J['header-bom.jwt'] = hs('\ufeff{"alg":"HS256","kid":"fz-hs256"}', claims);
J['json-whitespace.jwt'] = hs(' {"alg" : "HS256" ,\r\n"kid":"fz-hs256"}\t', ' {"sub":"a"} ');
J['json-trailing-garbage.jwt'] = hs(H, '{"sub":"a"}x');
J['cty-jwt.jwt'] = hs({ ...H, cty: 'JWT' }, claims);
{
	const t = J['valid-hs256.jwt'];
	J['padding.jwt'] = t + '=';
	const last = t[t.length - 1];
	const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
	J['stray-bits.jwt'] = t.slice(0, -1) + abc[abc.indexOf(last) ^ 1];
	J['std-base64.jwt'] = t.replace(/-/g, '+').replace(/_/g, '/') + (/[+/]/.test(t.replace(/-/g, '+').replace(/_/g, '/')) ? '' : '+');
	J['inner-space.jwt'] = t.replace('.', ' .');
}
{
	const input = enc({ alg: 'ES256', kid: 'fz-es256' }) + '.' + enc(claims);
	const der = crypto.sign('sha256', Buffer.from(input), keyObj(K.ES256)); // DER, not JOSE
	J['es256-der-sig.jwt'] = input + '.' + b64u(der);
	J['es256-zero-sig.jwt'] = input + '.' + b64u(Buffer.alloc(64));
	const ed = enc({ alg: 'EdDSA', kid: 'fz-eddsa' }) + '.' + enc(claims);
	J['eddsa-short-sig.jwt'] = ed + '.' + b64u(Buffer.alloc(63, 1));
	const rs = enc({ alg: 'RS256', kid: 'fz-rs256' }) + '.' + enc(claims);
	J['rs256-short-sig.jwt'] = rs + '.' + b64u(Buffer.alloc(255, 0xff));
}
J['two-parts.jwt'] = enc(H) + '.' + enc(claims);
J['four-parts.jwt'] = J['valid-hs256.jwt'] + '.';
J['dots.jwt'] = '..';
J['empty.jwt'] = '';
{ // the size cap: exactly LK_MAX_TOKEN (8192) verifies, one byte more is refused
	let t = null;
	for (const hdr of [H, { ...H, typ: 'at+jwt' }, { alg: 'HS256', kid: 'fz-hs256' }, { ...H, cty: 'x' }]) {
		for (let pad = 5900; pad < 6200 && !t; pad++) {
			const c = hs(hdr, { ...claims, pad: 'x'.repeat(pad) });
			if (c.length === 8192) t = c;
		}
		if (t) break;
	}
	if (!t) throw new Error('no 8192-byte token');
	J['size-8192.jwt'] = t;
	J['size-8193.jwt'] = t.slice(0, -1) + 'AA'; // one byte over, refused before any parsing
}

// ---------------------------------------------------------------- jwk
const W = out.jwk;
const js = (o) => JSON.stringify(o);
const gen = (type, opts) => crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' });
const p384 = gen('ec', { namedCurve: 'P-384' });
const p521 = gen('ec', { namedCurve: 'P-521' });
const rsa1024 = gen('rsa', { modulusLength: 1024 });
const ec2 = gen('ec', { namedCurve: 'P-256' });
W['oct-hs256.jwk'] = js(K.HS256);
W['rsa-private.jwk'] = js(K.RS256);
W['rsa-public.jwk'] = js(pub(K.RS256));
W['ec-p256-private.jwk'] = js(K.ES256);
W['ec-p256-public.jwk'] = js(pub(K.ES256));
W['okp-ed25519-private.jwk'] = js(K.EDDSA);
W['okp-ed25519-public.jwk'] = js(pub(K.EDDSA));
W['ec-p384-public.jwk'] = js({ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig', x: p384.x, y: p384.y });
W['ec-p521-private.jwk'] = js({ kty: 'EC', crv: 'P-521', key_ops: ['sign', 'verify'], x: p521.x, y: p521.y, d: p521.d });
// RFC 7515 A.1 HMAC key, RFC 8037 A.1 Ed25519 key
W['rfc7515-a1-oct.jwk'] = '{"kty":"oct",\r\n "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"\r\n}';
W['rfc8037-a1-ed25519.jwk'] = '{"kty":"OKP","crv":"Ed25519",\n"d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",\n"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}';
W['oct-noalg.jwk'] = js({ kty: 'oct', k: K.HS256.k });
W['oct-weak-16.jwk'] = js({ kty: 'oct', alg: 'HS256', k: b64u(Buffer.alloc(16, 7)) });
W['oct-empty-k.jwk'] = '{"kty":"oct","k":""}';
W['rsa-weak-1024.jwk'] = js({ kty: 'RSA', alg: 'RS256', n: rsa1024.n, e: rsa1024.e });
W['rsa-e-leading-zero.jwk'] = js({ ...pub(K.RS256), e: 'AAEAAQ' });
W['rsa-n-leading-zero.jwk'] = js({ ...pub(K.RS256), n: 'AA' + K.RS256.n });
W['rsa-e-one.jwk'] = js({ ...pub(K.RS256), e: 'AQ' });
W['rsa-e-huge.jwk'] = js({ ...pub(K.RS256), e: b64u(Buffer.alloc(300, 0xff)) });
W['rsa-partial-crt.jwk'] = js({ kty: 'RSA', n: K.RS256.n, e: K.RS256.e, d: K.RS256.d, p: K.RS256.p });
W['rsa-d-mismatch.jwk'] = js({ ...K.RS256, d: rsa1024.d });
W['rsa-padded-n.jwk'] = js({ ...pub(K.RS256), n: K.RS256.n + '=' });
W['rsa-oth.jwk'] = js({ ...K.RS256, oth: [{ r: 'AQ', d: 'AQ', t: 'AQ' }] });
W['ec-off-curve.jwk'] = js({ ...pub(K.ES256), y: ec2.y });
W['ec-short-x.jwk'] = js({ ...pub(K.ES256), x: K.ES256.x.slice(0, 40) });
W['ec-d-mismatch.jwk'] = js({ ...K.ES256, d: ec2.d });
W['ec-alg-mismatch.jwk'] = js({ kty: 'EC', crv: 'P-384', alg: 'ES256', x: p384.x, y: p384.y });
W['ec-zero-point.jwk'] = js({ kty: 'EC', crv: 'P-256', x: b64u(Buffer.alloc(32)), y: b64u(Buffer.alloc(32)) });
W['ec-secp256k1.jwk'] = js({ ...pub(K.ES256), crv: 'secp256k1' });
W['okp-x25519.jwk'] = js({ kty: 'OKP', crv: 'X25519', x: K.EDDSA.x });
W['okp-ed448.jwk'] = js({ kty: 'OKP', crv: 'Ed448', x: b64u(Buffer.alloc(57, 1)) });
W['okp-small-order.jwk'] = js({ kty: 'OKP', crv: 'Ed25519', x: b64u(Buffer.from([1].concat(Array(31).fill(0)))) });
W['okp-d-mismatch.jwk'] = js({ ...K.EDDSA, d: K.ES256.d });
W['kty-missing.jwk'] = '{"crv":"P-256","x":"' + K.ES256.x + '","y":"' + K.ES256.y + '"}';
W['kty-number.jwk'] = '{"kty":1,"k":"' + K.HS256.k + '"}';
W['kty-dup.jwk'] = '{"kty":"oct","kty":"RSA","k":"' + K.HS256.k + '"}';
W['use-enc.jwk'] = js({ ...pub(K.ES256), use: 'enc' });
W['key-ops-encrypt.jwk'] = js({ ...pub(K.ES256), key_ops: ['encrypt', 'encrypt'] });
W['alg-none.jwk'] = js({ ...K.HS256, alg: 'none' });
W['x5c.jwk'] = js({ ...pub(K.RS256), x5c: ['MIIB'], x5t: 'AAAA', 'x5t#S256': 'AAAA' });
W['member-unicode-escape.jwk'] = '{"\\u006bty":"oct","k":"' + K.HS256.k + '","kid":"\\ud83d\\ude00\\u00e9"}';
W['kid-lone-surrogate.jwk'] = '{"kty":"oct","k":"' + K.HS256.k + '","kid":"\\udc00\\ud800"}';
W['kid-nul.jwk'] = '{"kty":"oct","k":"' + K.HS256.k + '","kid":"a\\u0000b"}';
W['kid-not-string.jwk'] = '{"kty":"oct","k":"' + K.HS256.k + '","kid":["a"]}';
W['deep-nesting.jwk'] = '{"kty":"oct","k":"' + K.HS256.k + '","x-ext":' + '['.repeat(300) + ']'.repeat(300) + '}';
W['huge-numbers.jwk'] = '{"kty":"oct","k":"' + K.HS256.k + '","a":1e99999,"b":-0,"c":123456789012345678901234567890,"d":0.1e-400}';
W['trailing-garbage.jwk'] = js(pub(K.ES256)) + ' {}';
W['bom.jwk'] = '\ufeff' + js(pub(K.ES256));
W['array.jwk'] = '[' + js(pub(K.ES256)) + ']';
W['empty.jwk'] = '';

// ---------------------------------------------------------------- jwks
const S = out.jwks;
const google = [];
for (let i = 0; i < 3; i++) {
	const k = gen('rsa', { modulusLength: 2048 });
	google.push({ kty: 'RSA', alg: 'RS256', n: k.n, kid: crypto.randomBytes(20).toString('hex'), e: k.e, use: 'sig' });
}
S['google-like.jwks'] = JSON.stringify({ keys: google }, null, 2) + '\n';
S['all-kinds-public.jwks'] = js({ keys: [pub(K.RS256), pub(K.ES256), pub(K.EDDSA), { kty: 'EC', crv: 'P-384', kid: 'p384', x: p384.x, y: p384.y }] });
S['with-private-and-oct.jwks'] = js({ keys: [K.HS256, K.RS256, K.ES256, K.EDDSA] });
S['mixed-bad.jwks'] = js({ keys: [pub(K.ES256), { kty: 'RSA', kid: 'weak', n: rsa1024.n, e: rsa1024.e }, { kty: 'OKP', crv: 'X25519', kid: 'x', x: K.EDDSA.x }, { kty: 'EC', kid: 'bad', crv: 'P-256', x: 'AA' }, { kid: 'nokty' }, 'str', 1, null] });
S['dup-kid.jwks'] = js({ keys: [{ ...pub(K.ES256), kid: 'same' }, { ...pub(K.EDDSA), kid: 'same' }] });
S['empty-keys.jwks'] = '{"keys":[]}';
S['keys-object.jwks'] = '{"keys":{}}';
S['keys-dup.jwks'] = '{"keys":[],"keys":[' + js(pub(K.ES256)) + ']}';
S['keys-missing.jwks'] = '{"kids":[]}';
S['bare-jwk.jwks'] = js(pub(K.EDDSA));
S['keys-64.jwks'] = '{"keys":[' + Array(64).fill('{}').join(',') + ']}';
S['keys-65.jwks'] = '{"keys":[' + Array(65).fill('{}').join(',') + ']}';
S['deep-nesting.jwks'] = '{"keys":[' + js(pub(K.ES256)).slice(0, -1) + ',"n":' + '{"a":'.repeat(200) + '1' + '}'.repeat(200) + '}]}';
S['extra-members.jwks'] = '{"keys":[' + js(pub(K.EDDSA)) + '],"x":{"y":[1e400,-0,"\\ud83d\\ude00"]}}';
S['unicode-kid.jwks'] = '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"' + K.EDDSA.x + '","kid":"\\u00e9\\ud83d\\ude00\\ud800"}]}';
S['invalid-utf8.jwks'] = Buffer.from('{"keys":[],"\xff":1}', 'latin1');
S['null.jwks'] = 'null';
S['array.jwks'] = '[' + js(pub(K.ES256)) + ']';
S['empty.jwks'] = '';

// ---------------------------------------------------------------- b64url
const B = out.b64url;
const vec = ['', 'A', 'AA', 'AAA', 'AAAA', 'AQ', 'AR', 'AB', 'AA==', 'AA=', 'QQ', 'QR', 'Zg', 'Zm8', 'Zm9v',
	'Zm9vYg', 'Zm9vYmE', 'Zm9vYmFy', '-_-_', '+/+/', 'YW Jj', 'YWJj\n', '_w', '__8', '___', '__9',
	'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
vec.forEach((v, i) => { B[String(i).padStart(2, '0') + '.b64'] = v; });
B['nul.b64'] = Buffer.from([0x41, 0x00, 0x41, 0x41]);
B['high-bit.b64'] = Buffer.from([0x41, 0x41, 0xc3, 0xa9]);
B['sig-43.b64'] = J['valid-hs256.jwt'].split('.')[2];
B['sig-stray.b64'] = J['stray-bits.jwt'].split('.')[2];
B['header.b64'] = J['valid-es256.jwt'].split('.')[0];

// ---------------------------------------------------------------- write
for (const [t, files] of Object.entries(out)) {
	const dir = path.join(here, 'corpus', t);
	// only (over)writes its own seeds: inputs added by hand or found by fuzzing stay
	fs.mkdirSync(dir, { recursive: true });
	const names = Object.keys(files);
	if (names.length > 60) throw new Error(`${t}: ${names.length} files, over 60`);
	for (const n of names) fs.writeFileSync(path.join(dir, n), files[n]);
	console.log(`${t}: ${names.length} files`);
}
