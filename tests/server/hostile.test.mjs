// SPDX-License-Identifier: MIT
// Hostile input: garbage cookies, truncated, oversized and malformed bodies, oversized
// headers, unsupported content types, junk on the wire. Each gets a 4xx (or a closed
// connection), never a 5xx or a crash, and the server keeps serving.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, raw, pool, parseMetrics, findSetCookie, cookieValue, waitFor } from './lib.mjs';

let srv, good;
const PW = 'alice-pw-0123456789';

before(async () => {
	srv = await startServer();
	await srv.addUser('alice', PW);
	good = await srv.session('alice', PW);
});

const is4xx = (s) => s >= 400 && s < 500;

// Random header-safe bytes: anything but NUL, CR, LF.
function junk(n) {
	const b = randomBytes(n);
	for (let i = 0; i < n; i++) if (b[i] === 0 || b[i] === 10 || b[i] === 13) b[i] = 0x41;
	return b;
}

function rawRequest(head, body = Buffer.alloc(0)) {
	return Buffer.concat([Buffer.from(head.replace(/\n/g, '\r\n'), 'latin1'), body]);
}

test('garbage cookies give 401 (or the login redirect), never 5xx', async () => {
	const values = [
		'!'.repeat(43),                          // 43 chars, none base64url
		'*'.repeat(43),
		'A'.repeat(42) + 'B',                    // base64url with stray bits
		'A'.repeat(44),
		'A'.repeat(42),
		'A'.repeat(43) + '=',
		good.slice(0, 42) + '+',                 // standard base64, not base64url
		good + good,
		'%41'.repeat(43),
		'x'.repeat(10 * 1024),                   // 10 KB cookie
		'',
	];
	for (const v of values) {
		const r = await srv.fetch('/me', { headers: { Cookie: `${srv.cookieName}=${v}` } });
		assert.equal(r.status, 401, `cookie ${JSON.stringify(v.slice(0, 50))}`);
		assert.equal(r.json_.error, 'unauthorized');
	}
	for (const h of [`${srv.cookieName}`, `; ; ;=;==`, `a=b; ${srv.cookieName}`, 'x'.repeat(10 * 1024)]) {
		const r = await srv.fetch('/me', { headers: { Cookie: h } });
		assert.equal(r.status, 401, `Cookie: ${h.slice(0, 40)}`);
	}
	// garbage bearer credentials next to (or instead of) the cookie
	for (const a of ['Bearer', 'Bearer ', 'Bearer !!!', `Bearer ${'a'.repeat(10 * 1024)}`, 'Bearer a.b.c',
		'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', 'Basic !!!', 'Basic ' + Buffer.from('admin:x').toString('base64'), 'x'.repeat(5000)]) {
		const r = await srv.fetch('/me', { headers: { Authorization: a } });
		assert.equal(r.status, 401, `Authorization: ${a.slice(0, 40)}`);
	}
	const both = await srv.fetch('/me', { cookie: good, headers: { Authorization: 'Bearer !!!' } });
	assert.ok(both.status === 200 || both.status === 401, `cookie + garbage bearer: ${both.status}`);
	const acc = await srv.fetch('/account', { headers: { Cookie: `${srv.cookieName}=${'!'.repeat(43)}` } });
	assert.equal(acc.status, 303);
	const out = await srv.fetch('/logout', { method: 'POST', headers: { Cookie: `${srv.cookieName}=${'z'.repeat(43)}` } });
	assert.equal(out.status, 401);
	// raw random bytes in the cookie header, sent on the wire
	for (let i = 0; i < 20; i++) {
		const r = await raw(srv.port, rawRequest(`GET /me HTTP/1.1\nHost: 127.0.0.1\nCookie: `,
			Buffer.concat([i % 2 ? Buffer.from(`${srv.cookieName}=`) : Buffer.alloc(0), junk(1 + (i * 97) % 2000), Buffer.from('\r\nConnection: close\r\n\r\n')])));
		assert.ok(is4xx(r.status), `random cookie bytes #${i}: ${r.status} ${r.data.slice(0, 80)}`);
	}
	// a garbage CSRF cookie on a form sign-in, with a real token in the form
	const page = await srv.fetch('/login');
	const tok = cookieValue(findSetCookie(page, srv.csrfCookieName));
	const f = await srv.fetch('/login', { method: 'POST',
		headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${srv.csrfCookieName}=${'!'.repeat(43)}` },
		body: `csrf=${tok}&username=alice&password=x` });
	assert.equal(f.status, 403);
});

test('form sign-in with a CSRF cookie and token the server never issued is refused', async () => {
	// An attacker able to plant a cookie (a sibling subdomain for the non-__Host- name,
	// a plain-http MITM) picks both halves of a naive double-submit pair. The server must
	// only accept tokens it issued (e.g. signed or stored), not any two equal strings.
	for (const forged of ['!'.repeat(43), 'A'.repeat(43)]) {
		const f = await srv.fetch('/login', { method: 'POST',
			headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${srv.csrfCookieName}=${forged}` },
			body: `csrf=${forged}&username=alice&password=${PW}` });
		assert.equal(f.status, 403, `forged pair ${forged.slice(0, 5)}...: ${f.status}`);
		assert.equal(findSetCookie(f, srv.cookieName), undefined, 'no session from a forged CSRF pair');
	}
});

test('oversized bodies give 413 (Content-Length and chunked); oversized headers 431', async () => {
	const big = 'a'.repeat(20000);
	let r = await raw(srv.port, rawRequest(`POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: ${big.length}\n\n`, Buffer.from(big)));
	assert.equal(r.status, 413, r.data.slice(0, 100));
	assert.match(r.data, /"error":"request_too_large"/);
	// the same through fetch
	const f = await srv.fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: big }).catch((e) => e);
	assert.ok(f instanceof Error || f.status === 413, `fetch: ${f.status}`);
	// chunked, no Content-Length: the cap holds while reading
	r = await raw(srv.port, rawRequest(`POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nTransfer-Encoding: chunked\nConnection: close\n\n${(20000).toString(16)}\n`, Buffer.from(big + '\r\n0\r\n\r\n')));
	assert.equal(r.status, 413, r.data.slice(0, 100));
	// chunked body on an authenticated route, with a valid session
	r = await raw(srv.port, rawRequest(`POST /sessions/revoke-others HTTP/1.1\nHost: 127.0.0.1\nCookie: ${srv.cookieName}=${good}\nContent-Type: application/json\nTransfer-Encoding: chunked\nConnection: close\n\n${(20000).toString(16)}\n`, Buffer.from(big + '\r\n0\r\n\r\n')));
	assert.equal(r.status, 413, r.data.slice(0, 100));
	// absurd and invalid lengths
	for (const cl of ['99999999999999999999999', '18446744073709551616', 'abc', '-1', '1, 2']) {
		r = await raw(srv.port, rawRequest(`POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: ${cl}\nConnection: close\n\n`));
		assert.ok(is4xx(r.status), `Content-Length: ${cl}: ${r.status}`);
	}
	// a 40 KB header
	r = await raw(srv.port, rawRequest(`GET /me HTTP/1.1\nHost: 127.0.0.1\nX-Padding: ${'p'.repeat(40000)}\n\n`));
	assert.equal(r.status, 431, r.data.slice(0, 100));
	const f2 = await srv.fetch('/healthz', { headers: { 'X-Padding': 'p'.repeat(40000) } });
	assert.equal(f2.status, 431);
	// many headers adding up past the limit
	const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(100)}`).join('\n');
	r = await raw(srv.port, rawRequest(`GET /healthz HTTP/1.1\nHost: 127.0.0.1\n${many}\n\n`));
	assert.equal(r.status, 431);
});

test('truncated bodies: the client closing early or stalling does not hurt the server', async () => {
	// Content-Length larger than what is sent, then close. (The server usually sees the
	// close at once; when the FIN arrives with the head, libmicrohttpd may only notice it
	// at --conn-timeout, so the client gives up here after 1.5 s.)
	for (const p of ['/login', '/logout', '/sessions/revoke-others']) {
		const r = await raw(srv.port, rawRequest(`POST ${p} HTTP/1.1\nHost: 127.0.0.1\nCookie: ${srv.cookieName}=${good}\nContent-Type: application/json\nContent-Length: 500\n\n`, Buffer.from('{"username":"al')), { end: true, ms: 1500 });
		assert.ok(r.status === null || is4xx(r.status), `${p}: ${r.status}`);
	}
	// ... or abort the connection mid-body
	await raw(srv.port, rawRequest(`POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 500\n\n`, Buffer.from('{"user')), { closeAfter: 50 });
	// ... or stall: a server with --conn-timeout 2s drops a connection silent that long
	// (its own server, spoken to over raw sockets only: a kept-alive fetch connection
	// closed by that timeout at the moment of reuse would fail for the client's reasons)
	const short = await startServer({ args: ['--conn-timeout', '2s'] });
	const t0 = Date.now();
	const [s, h] = await Promise.all([
		raw(short.port, rawRequest(`POST /login HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 500\n\n`, Buffer.from('{"us')), { ms: 6000 }),
		raw(short.port, Buffer.from('GET /me HTTP/1.1\r\nHost: 127.0'), { ms: 6000 }), // half a head
	]);
	assert.equal(s.closed, true, 'the server closed the stalled body');
	assert.ok(s.status === null || is4xx(s.status), `stalled: ${s.status}`);
	assert.equal(h.closed, true, 'the server closed the stalled head');
	assert.ok(Date.now() - t0 < 5500);
	const ok = await raw(short.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
	assert.equal(ok.status, 200);
	await short.stop();
	assert.equal((await srv.me(good)).status, 200, 'still serving');
});

test('malformed sign-in bodies give 400; unsupported content types 415', async () => {
	const post = (body, ct = 'application/json') => srv.fetch('/login', { method: 'POST', headers: ct ? { 'Content-Type': ct } : {}, body });
	const bad = [
		'', '{', '{"username":', 'null', '[]', '"alice"', '42', '{"username":"alice"}',
		'{"password":"x"}', '{"username":5,"password":"x"}', '{"username":"alice","password":["x"]}',
		'{"username":"alice","password":null}', '{"username":"","password":"x"}',
		'{"username":"alice","username":"bob","password":"x"}',
		'{"username":"al\\u0000ice","password":"x"}',
		`{"username":"${'u'.repeat(65)}","password":"x"}`,
		`{"username":"alice","password":"${'p'.repeat(1025)}"}`,
		'\xff\xfe{"username":"alice","password":"x"}',
		'{"username":"alice","password":"x"',
	];
	for (const b of bad) {
		const r = await post(b);
		assert.equal(r.status, 400, `body ${JSON.stringify(b.slice(0, 60))}: ${r.status} ${r.text_}`);
		assert.equal(r.json_.error, 'invalid_request');
	}
	for (const ct of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml', null]) {
		const r = await post('{"username":"alice","password":"x"}', ct);
		assert.equal(r.status, 415, `Content-Type ${ct}: ${r.status}`);
	}
	// parameters and case are fine
	assert.equal((await post('{"username":"alice"}', 'Application/JSON; charset=utf-8')).status, 400);
	// form bodies with broken escapes, after a valid CSRF token
	const page = await srv.fetch('/login');
	const tok = cookieValue(findSetCookie(page, srv.csrfCookieName));
	for (const body of [`csrf=${tok}&username=%zz&password=x`, `csrf=${tok}&username=alice&password=%`,
		`csrf=${tok}&username=a%00b&password=x`, `csrf=${tok}`, `csrf=${tok}&&&===&username`]) {
		const r = await srv.fetch('/login', { method: 'POST', body,
			headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${srv.csrfCookieName}=${tok}` } });
		assert.equal(r.status, 400, `form ${body.slice(50)}: ${r.status}`);
	}
});

test('content types that merely start with a supported one give 415', async () => {
	const body = '{"username":"alice","password":"x"}';
	for (const ct of ['application/jsonp', 'application/json-seq', 'application/jsonx; charset=utf-8',
		'application/x-www-form-urlencodedx']) {
		const r = await srv.fetch('/login', { method: 'POST', headers: { 'Content-Type': ct }, body });
		assert.equal(r.status, 415, `Content-Type ${ct}: ${r.status}`);
	}
});

test('junk on the wire and odd requests: 4xx or a closed connection, never 5xx', async () => {
	const reqs = [
		Buffer.from('\x00\x01\x02garbage\r\n\r\n', 'latin1'),
		Buffer.from('GET\r\n\r\n'),
		Buffer.from('GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
		Buffer.from('GET /sessions/../me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
		Buffer.from(`DELETE /sessions/${'A'.repeat(5000)} HTTP/1.1\r\nHost: x\r\nCookie: ${srv.cookieName}=${good}\r\nConnection: close\r\n\r\n`),
		Buffer.from(`DELETE /sessions/a/b HTTP/1.1\r\nHost: x\r\nCookie: ${srv.cookieName}=${good}\r\nConnection: close\r\n\r\n`),
		Buffer.from('BREW /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
		Buffer.from(`GET /${'x'.repeat(20000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
		Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n'),
		Buffer.from('GET /me HTTP/1.1\r\nBad Header Line\r\nConnection: close\r\n\r\n'),
		Buffer.from('POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n'),
		Buffer.from('POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n\r\n'),
		junk(3000),
	];
	// a request the server waits to complete gets no answer: give up on it after 1 s
	const results = await pool(reqs, 8, (b) => raw(srv.port, b, { ms: 1000 }));
	results.forEach((r, i) => {
		assert.ok(r.status === null || (r.status >= 400 && r.status < 500) || r.status === 200 || r.status === 404,
			`request #${i}: ${r.status} ${r.data.slice(0, 80)}`);
		assert.ok(!(r.status >= 500), `request #${i} got ${r.status}`);
	});
	// an unknown HTTP version: 505 is the one right 5xx
	const v = await raw(srv.port, Buffer.from('GET /me HTTP/9.9\r\nHost: x\r\n\r\n'));
	assert.ok(v.status === 505 || v.status === 400 || v.status === null, `HTTP/9.9: ${v.status}`);
	// a burst of random junk, 8 at a time
	const burst = await pool(Array.from({ length: 48 }, (_, i) => i), 12, (i) =>
		raw(srv.port, i % 3 ? Buffer.concat([junk(10 + i * 50), Buffer.from('\r\n\r\n')])
			: rawRequest(`GET /me HTTP/1.1\nHost: x\nCookie: `, Buffer.concat([junk(200), Buffer.from('\r\nConnection: close\r\n\r\n')])), { ms: 800 }));
	for (const r of burst) assert.ok(!(r.status >= 500), `burst got ${r.status}`);
});

// Request smuggling (RFC 9112 §6.3, §11.2): a request whose framing two parsers could read
// two ways gets one 400 (JSON) and the connection closes, so the request queued behind it on
// the same connection is never answered. Each case carries a smuggled GET /healthz.
test('framing errors: one 400, the connection closed, nothing behind it answered', async () => {
	const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
	const cases = {
		'Content-Length with Transfer-Encoding': `POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
		'Transfer-Encoding with Content-Length': `POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\n${smuggled}`,
		'two different Content-Lengths': `POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef${smuggled}`,
		'the same Content-Length twice': `POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}${smuggled}`,
		'a control character in a header value': `POST /login HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\nContent-Length: 2\r\n\r\n{}${smuggled}`,
		'HTTP/1.1 without Host (RFC 9112 §3.2)': `GET /healthz HTTP/1.1\r\n\r\n${smuggled}`,
		'two Hosts': `GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${smuggled}`,
		'whitespace before the colon': `POST /login HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\n{}${smuggled}`,
		'whitespace before the colon of Transfer-Encoding': `POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${smuggled}`,
		'a Transfer-Encoding other than chunked': `POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
		'two Transfer-Encodings': `POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
		'a GET with both': `GET /me HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
	};
	const before = parseMetrics((await srv.fetch('/metrics')).text_);
	for (const [what, req] of Object.entries(cases)) {
		const r = await raw(srv.port, Buffer.from(req, 'latin1'), { ms: 3000 });
		assert.equal(r.status, 400, `${what}: ${r.data.slice(0, 120)}`);
		assert.equal((r.data.match(/HTTP\/1\.1 \d{3}/g) || []).length, 1, `${what}: exactly one response (${JSON.stringify(r.data)})`);
		assert.ok(r.closed, `${what}: the server closed the connection`);
		assert.match(r.data, /\r\nConnection: close\r\n/i, what);
		const body = JSON.parse(r.data.slice(r.data.indexOf('\r\n\r\n') + 4));
		assert.equal(body.error, 'bad_request', what);
		assert.match(body.error_description, /^bad request framing: /, what);
	}
	// libmicrohttpd itself refuses a Content-Length that is not a number, before latchkey
	// sees the request: its own 400 (HTML; counted as unanswered, next test), but the
	// connection closes and nothing behind it is answered either
	for (const cl of ['2, 2', '+2', '-1', '0x2']) {
		const r = await raw(srv.port, Buffer.from(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: ${cl}\r\n\r\n{}${smuggled}`), { ms: 3000 });
		assert.equal(r.status, 400, `Content-Length: ${cl}`);
		assert.ok(r.closed, `Content-Length: ${cl}: closed`);
		assert.doesNotMatch(r.data, / 200 OK/, `Content-Length: ${cl}: the smuggled request is not answered`);
	}
	const after = parseMetrics((await srv.fetch('/metrics')).text_);
	const n = (m) => Object.entries(m).filter(([k]) => k.startsWith('latchkey_http_requests_total') && k.includes('status="400"'))
		.reduce((a, [, v]) => a + v, 0);
	assert.equal(n(after) - n(before), Object.keys(cases).length, 'every 400 is counted in /metrics');
	// a body over --max-body by Content-Length: 413 and closed, the body never parsed
	const big = `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n${smuggled}`;
	const r = await raw(srv.port, Buffer.from(big), { ms: 3000 });
	assert.equal(r.status, 413);
	assert.equal((r.data.match(/HTTP\/1\.1 \d{3}/g) || []).length, 1, 'the body is not read as a request');
	assert.ok(r.closed);
	// and a well-framed pipeline still gets both answers
	const ok = await raw(srv.port, Buffer.from(smuggled + smuggled.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')), { ms: 3000 });
	assert.equal((ok.data.match(/HTTP\/1\.1 200/g) || []).length, 2);
});

// libmicrohttpd 0.9.75 answers some malformed requests itself, with its own HTML and
// without calling latchkey's handler; a client may also leave before any reply. Each such
// request is counted in latchkey_http_unanswered_total: libmicrohttpd's replies by status,
// the rest by why they got none. A server of its own, so that no connection another test
// left behind ends (and is counted) in the middle.
test('libmicrohttpd\'s own 400/414/431/505 replies and requests left without a reply are counted in /metrics', async () => {
	const own = await startServer();
	const unanswered = async () => {
		const m = parseMetrics((await own.fetch('/metrics')).text_);
		const out = {};
		for (const [k, v] of Object.entries(m)) {
			const l = k.match(/^latchkey_http_unanswered_total\{reason="([a-z_]+)",status="([a-z0-9]+)"\}$/);
			if (l) out[`${l[1]} ${l[2]}`] = v;
		}
		return out;
	};
	const before = await unanswered();
	assert.deepEqual(Object.values(before).filter((v) => v !== 0), [], `nothing counted at start: ${JSON.stringify(before)}`);
	const pad = (n) => 'a'.repeat(n);
	const cases = [
		['a Content-Length that is not a number (+2)', 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}', 400],
		['a Content-Length that is not a number (0x2)', 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0x2\r\n\r\n{}', 400],
		['bad chunk syntax', 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400],
		['a header over --max-header', `GET /me HTTP/1.1\r\nHost: x\r\nX-Padding: ${pad(40000)}\r\n\r\n`, 431],
		['a header line without a colon', 'GET /me HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400],
		['a request target over --max-header', `GET /${pad(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
		['a malformed HTTP version', 'GET /me HTTP/1.x\r\nHost: x\r\n\r\n', 400],
		['an unknown HTTP version', 'GET /me HTTP/9.9\r\nHost: x\r\n\r\n', 505],
	];
	const want = { ...before };
	for (const [what, req, status] of cases) {
		const r = await raw(own.port, Buffer.from(req, 'latin1'), { ms: 3000 });
		assert.equal(r.status, status, `${what}: ${r.data.slice(0, 100)}`);
		assert.match(r.data, /<html>/, `${what}: libmicrohttpd's own body`);
		want[`libmicrohttpd ${status}`] = (want[`libmicrohttpd ${status}`] || 0) + 1;
	}
	// no reply at all: the client goes away in the head, and in the body
	await raw(own.port, Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\n'), { closeAfter: 100 });
	await raw(own.port, Buffer.from('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"us'), { closeAfter: 100 });
	want['client_gone none'] += 2;
	let got;
	await waitFor(async () => JSON.stringify(got = await unanswered()) === JSON.stringify(want),
		{ ms: 5000, what: 'the counts' }).catch(() => {});
	assert.deepEqual(got, want, 'each unanswered request counted once, by status or reason');
	// latchkey's own count of requests it answered has none of them
	const m = parseMetrics((await own.fetch('/metrics')).text_);
	const other = Object.entries(m).filter(([k, v]) => k.startsWith('latchkey_http_requests_total') &&
		!/route="\/(metrics|healthz)"/.test(k) && v);
	assert.deepEqual(other, [], 'not counted as requests latchkey answered');
	// the server logs the requests it had started to handle with the status the client got
	const lines = own.logLines().filter((l) => l.msg === 'request' && l.path === '/login');
	assert.ok(lines.some((l) => l.status === 400 && l.aborted), `bad chunk logged with 400: ${JSON.stringify(lines)}`);
	assert.equal((await own.fetch('/healthz')).status, 200);
	await own.stop();
});

test('an over-long User-Agent is stored cut, not refused', async () => {
	const ua = 'U'.repeat(3000);
	const c = await srv.session('alice', PW, { headers: { 'User-Agent': ua } });
	const list = (await srv.fetch('/sessions', { cookie: c })).json_;
	const mine = list.find((s) => s.current);
	assert.ok(mine.user_agent.length > 0 && mine.user_agent.length <= 256, `stored ${mine.user_agent.length} chars`);
	assert.equal((await srv.fetch('/account', { cookie: c })).status, 200);
});

test('afterwards the server still answers /healthz and a valid /me, and never sent a 5xx', async () => {
	assert.equal(srv.exited, null, `the server is running (${JSON.stringify(srv.exited)})`);
	assert.equal((await srv.fetch('/healthz')).status, 200);
	const me = await srv.me(good);
	assert.equal(me.status, 200);
	assert.equal(me.json_.name, 'alice');
	assert.equal((await srv.login('alice', PW)).status, 200);
	const m = parseMetrics((await srv.fetch('/metrics')).text_);
	// (libmicrohttpd answers an unknown HTTP version 505 by itself, the one right 5xx: it is
	// counted apart, in latchkey_http_unanswered_total)
	const fives = Object.entries(m).filter(([k, v]) => /status="5\d\d"/.test(k) && v > 0 &&
		!/^latchkey_http_unanswered_total\{reason="libmicrohttpd",status="505"\}$/.test(k));
	assert.deepEqual(fives, [], 'no 5xx counted');
	assert.ok(!srv.logLines().some((l) => l.msg === 'request' && l.status >= 500), 'no 5xx logged');
	assert.deepEqual(srv.leaks(), []);
});
