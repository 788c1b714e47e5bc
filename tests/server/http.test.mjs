// SPDX-License-Identifier: MIT
// The HTTP surface from the outside: health, routing errors, the session cookie, sign-in
// by JSON and by form (CSRF token, Origin / Sec-Fetch-Site rules), sign-out, pages,
// metrics and the request log, and that no secret ever reaches the logs.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, findSetCookie, cookieValue, parseMetrics, waitFor, sleep, requestFrom } from './lib.mjs';
import http from 'node:http';

let srv;
const COOKIE_RE = /^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/;

before(async () => {
	srv = await startServer();
	await srv.addUser('alice', 'alice-pw-0123456789');
});

const admin = () => srv.session('admin', srv.adminPassword);

// GET /login: the CSRF cookie and the same token in the form's hidden field.
async function loginPage(query = '') {
	const res = await srv.fetch('/login' + query);
	assert.equal(res.status, 200);
	const sc = findSetCookie(res, srv.csrfCookieName);
	assert.ok(sc, 'GET /login sets the CSRF cookie');
	const m = res.text_.match(/name="csrf" value="([^"]+)"/);
	assert.ok(m, 'the form has a hidden csrf field');
	return { res, csrfCookie: cookieValue(sc), token: m[1], html: res.text_ };
}

function formBody(fields) {
	return new URLSearchParams(fields).toString();
}

async function formLogin(fields, { csrfCookie, headers = {} } = {}) {
	const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
	if (csrfCookie) h.Cookie = `${srv.csrfCookieName}=${csrfCookie}`;
	srv.secrets.add(fields.password);
	const res = await srv.fetch('/login', { method: 'POST', headers: h, body: formBody(fields) });
	const sc = findSetCookie(res, srv.cookieName);
	if (sc) srv.secrets.add(cookieValue(sc));
	return { res, cookie: sc && cookieValue(sc), setCookie: sc };
}

test('GET /healthz and /readyz answer 200 JSON', async () => {
	const h = await srv.fetch('/healthz');
	assert.equal(h.status, 200);
	assert.match(h.headers.get('content-type'), /^application\/json/);
	assert.deepEqual(h.json_, { status: 'ok' });
	const r = await srv.fetch('/readyz');
	assert.equal(r.status, 200);
	assert.deepEqual(r.json_, { status: 'ready' });
	const head = await srv.fetch('/healthz', { method: 'HEAD' });
	assert.equal(head.status, 200);
});

test('unknown path gives 404 JSON; wrong method gives 405 with Allow', async () => {
	const nf = await srv.fetch('/no/such/thing');
	assert.equal(nf.status, 404);
	assert.match(nf.headers.get('content-type'), /^application\/json/);
	assert.equal(nf.json_.error, 'not_found');
	assert.equal(typeof nf.json_.error_description, 'string');

	const me = await srv.fetch('/me', { method: 'POST' });
	assert.equal(me.status, 405);
	assert.equal(me.json_.error, 'method_not_allowed');
	assert.deepEqual(me.headers.get('allow').split(/,\s*/).sort(), ['GET', 'HEAD']);

	const login = await srv.fetch('/login', { method: 'DELETE' });
	assert.equal(login.status, 405);
	assert.deepEqual(login.headers.get('allow').split(/,\s*/).sort(), ['GET', 'HEAD', 'POST']);

	const logout = await srv.fetch('/logout');
	assert.equal(logout.status, 405);
	assert.equal(logout.headers.get('allow'), 'POST');
});

test('JSON sign-in sets exactly "latchkey=<43 chars>; Path=/; HttpOnly; SameSite=Lax"', async () => {
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	assert.deepEqual(Object.keys(r.body).sort(), ['name', 'roles', 'sub']);
	assert.equal(r.body.name, 'admin');
	assert.deepEqual(r.body.roles, ['admin']);
	const all = r.res.headers.getSetCookie();
	assert.equal(all.length, 1, `one Set-Cookie: ${all}`);
	assert.match(all[0], COOKIE_RE);
	assert.equal(r.res.headers.get('cache-control'), 'no-store');

	const me = await srv.me(r.cookie);
	assert.equal(me.status, 200);
	assert.equal(me.json_.name, 'admin');
	assert.equal(me.json_.sub, r.body.sub);
	const s = me.json_.session;
	assert.match(s.id, /^[A-Za-z0-9_-]{22}$/);
	assert.notEqual(s.id, r.cookie);
	for (const k of ['created', 'last_seen', 'expires']) assert.equal(typeof s[k], 'number');
	assert.ok(s.expires > s.created);
});

test('unknown user and wrong password give the same 401 and body, in similar time', async () => {
	// the faster of two tries each, so a busy machine does not decide the comparison
	let unknown, wrong, tu = Infinity, tw = Infinity;
	for (let i = 0; i < 2; i++) {
		let t0 = performance.now();
		unknown = await srv.login('nobody-here', 'whatever-password-1');
		tu = Math.min(tu, performance.now() - t0);
		t0 = performance.now();
		wrong = await srv.login('alice', 'not-alices-password');
		tw = Math.min(tw, performance.now() - t0);
	}
	assert.equal(unknown.status, 401);
	assert.equal(wrong.status, 401);
	assert.equal(unknown.res.text_, wrong.res.text_);
	assert.equal(unknown.body.error, 'invalid_credentials');
	assert.equal(unknown.res.headers.get('content-type'), wrong.res.headers.get('content-type'));
	assert.equal(unknown.cookie, undefined);
	assert.equal(wrong.cookie, undefined);
	// Both run Argon2: an unknown user must not answer in a fraction of the time.
	assert.ok(tu > tw / 4 && tw > tu / 4, `unknown user ${tu.toFixed(0)} ms vs wrong password ${tw.toFixed(0)} ms`);
	// a correct sign-in clears alice's failure count for the rest of the suite
	await srv.session('alice', 'alice-pw-0123456789');
});

test('without a session: /me is 401 JSON, pages redirect to /login?return_to=', async () => {
	const me = await srv.fetch('/me');
	assert.equal(me.status, 401);
	assert.equal(me.json_.error, 'unauthorized');
	const acc = await srv.fetch('/account');
	assert.equal(acc.status, 303);
	assert.equal(acc.headers.get('location'), '/login?return_to=/account');
	const adm = await srv.fetch('/admin');
	assert.equal(adm.status, 303);
	assert.equal(adm.headers.get('location'), '/login?return_to=/admin');
	const bad = await srv.fetch('/account', { cookie: 'A'.repeat(43) });
	assert.equal(bad.status, 303);
	// a cookie that names no live session: the page says the session ended, and the
	// cookie is cleared
	assert.equal(bad.headers.get('location'), '/login?return_to=/account&ended=1');
	assert.match(findSetCookie(bad, srv.cookieName), /Max-Age=0/);
	// a page with a query comes back with it, encoded as one return_to value
	const q = await srv.fetch('/admin?q=a%26b&user=x');
	assert.equal(q.headers.get('location'), '/login?return_to=/admin%3Fq%3Da%2526b%26user%3Dx');
	// a browser's form post with a dead session goes to /login too; an API client's gets 401
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	const nav = await srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: 'A'.repeat(43), body: 'csrf=x',
		headers: { ...form, 'Sec-Fetch-Dest': 'document', Accept: 'text/html' } });
	assert.equal(nav.status, 303);
	assert.equal(nav.headers.get('location'), '/login?return_to=/account&ended=1');
	const api = await srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: 'A'.repeat(43), body: 'csrf=x', headers: form });
	assert.equal(api.status, 401);
	assert.equal(api.json_.error, 'unauthorized');
});

test('CSRF: cross-site sign-in and state changes are refused, same-origin accepted', async () => {
	const evil = { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' };
	let r = await srv.login('admin', srv.adminPassword, { headers: evil });
	assert.equal(r.status, 403);
	assert.equal(r.body.error, 'csrf');
	assert.equal(r.cookie, undefined);
	// same host, other port: another origin
	r = await srv.login('admin', srv.adminPassword, { headers: { Origin: `http://127.0.0.1:${srv.port + 1}` } });
	assert.equal(r.status, 403);
	// only the issuer's origin counts, not one built from the Host header: the issuer is
	// http://127.0.0.1:PORT, so Host: localhost:PORT with Origin: http://localhost:PORT is
	// another origin (a DNS-rebinding page would send exactly that)
	const viaHost = (origin) => requestFrom('127.0.0.1', srv.port, '/login', {
		method: 'POST',
		headers: { Host: `localhost:${srv.port}`, Origin: origin, 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'admin', password: srv.adminPassword }),
	});
	const rebound = await viaHost(`http://localhost:${srv.port}`);
	assert.equal(rebound.status, 403, `Origin = http://<Host header>, not the issuer: ${rebound.body}`);
	assert.equal(rebound.json?.error, 'csrf');
	assert.ok(!rebound.headers['set-cookie'], 'no session for it');
	const issuerOrigin = await viaHost(srv.origin);
	assert.equal(issuerOrigin.status, 200, `the issuer's Origin whatever the Host header: ${issuerOrigin.body}`);
	// Origin: null is decided by Sec-Fetch-Site
	r = await srv.login('admin', srv.adminPassword, { headers: { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' } });
	assert.equal(r.status, 403);
	r = await srv.login('admin', srv.adminPassword, { headers: { Origin: 'null', 'Sec-Fetch-Site': 'same-site' } });
	assert.equal(r.status, 403, 'same-site is not same-origin');

	const cookie = await admin();
	for (const [method, p] of [['POST', '/logout'], ['POST', '/sessions/revoke-others'],
		['DELETE', '/sessions/AAAAAAAAAAAAAAAAAAAAAA'], ['POST', '/admin/revoke-all']]) {
		const res = await srv.fetch(p, { method, cookie, headers: evil });
		assert.equal(res.status, 403, `${method} ${p} cross-site`);
		assert.equal(res.json_.error, 'csrf');
	}
	assert.equal((await srv.me(cookie)).status, 200, 'the session survived the cross-site attempts');
	// the same request from the same origin goes through
	const out = await srv.fetch('/logout', { method: 'POST', cookie });
	assert.equal(out.status, 200);
});

test('non-browser clients (no Origin, Sec-Fetch-Site or Referer) may sign in; Referer decides when alone', async () => {
	let r = await srv.login('alice', 'alice-pw-0123456789', { browser: false });
	assert.equal(r.status, 200, 'curl-style JSON sign-in');
	r = await srv.login('alice', 'alice-pw-0123456789', { browser: false, headers: { Referer: 'http://evil.example/page' } });
	assert.equal(r.status, 403, 'a cross-site Referer');
	r = await srv.login('alice', 'alice-pw-0123456789', { browser: false, headers: { Referer: `${srv.origin}/login` } });
	assert.equal(r.status, 200, 'a same-origin Referer');
});

test('pages: escaped return_to, CSP and security headers on every reply', async () => {
	const evil = '/x"><script>alert(1)</script>';
	const res = await srv.fetch('/login?return_to=' + encodeURIComponent(evil));
	assert.equal(res.status, 200);
	assert.doesNotMatch(res.text_, /<script/i);
	assert.match(res.text_, /&quot;&gt;&lt;script&gt;/);
	assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
	assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
	for (const p of ['/login', '/me', '/healthz', '/nope']) {
		const r = await srv.fetch(p);
		assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
		assert.equal(r.headers.get('x-frame-options'), 'DENY', p);
		assert.equal(r.headers.get('cache-control'), 'no-store', p);
	}
});

test('form sign-in with the CSRF token from GET /login works and honours return_to', async () => {
	const { csrfCookie, token, html } = await loginPage('?return_to=/account');
	assert.match(html, /name="return_to" value="\/account"/);
	const { res, cookie, setCookie } = await formLogin(
		{ csrf: token, return_to: '/account', username: 'alice', password: 'alice-pw-0123456789' },
		{ csrfCookie });
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/account');
	assert.match(setCookie, COOKIE_RE);
	const acc = await srv.fetch('/account', { cookie });
	assert.equal(acc.status, 200);
	assert.match(acc.headers.get('content-type'), /^text\/html/);
	assert.match(acc.text_, /alice/);

	// an off-site return_to is ignored
	const p2 = await loginPage();
	const r2 = await formLogin({ csrf: p2.token, return_to: '//evil.example/x', username: 'alice',
		password: 'alice-pw-0123456789' }, { csrfCookie: p2.csrfCookie });
	assert.equal(r2.res.status, 303);
	assert.equal(r2.res.headers.get('location'), '/account');
});

test('form sign-in without a valid CSRF token is refused', async () => {
	const { csrfCookie, token } = await loginPage();
	const creds = { username: 'alice', password: 'alice-pw-0123456789' };
	let r = await formLogin(creds, { csrfCookie });
	assert.equal(r.res.status, 403, 'no token field');
	assert.equal(r.cookie, undefined);
	r = await formLogin({ csrf: token, ...creds });
	assert.equal(r.res.status, 403, 'token without its cookie');
	assert.equal(r.cookie, undefined);
	const other = await loginPage();
	r = await formLogin({ csrf: other.token, ...creds }, { csrfCookie });
	assert.equal(r.res.status, 403, 'token of another page');
	assert.equal(r.cookie, undefined);
	r = await formLogin({ csrf: token, ...creds }, { csrfCookie, headers: { Origin: 'http://evil.example' } });
	assert.equal(r.res.status, 403, 'right token, cross-site origin');
	assert.equal(r.cookie, undefined);
});

test('form sign-in from a no-referrer page (Origin: null, Sec-Fetch-Site: same-origin) signs in', async () => {
	const { csrfCookie, token } = await loginPage();
	const r = await formLogin({ csrf: token, username: 'alice', password: 'alice-pw-0123456789' },
		{ csrfCookie, headers: { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' } });
	assert.equal(r.res.status, 303, r.res.text_);
	assert.equal(r.res.headers.get('location'), '/account');
	assert.ok(r.cookie);
	assert.equal((await srv.me(r.cookie)).status, 200);
});

test('sign-out clears the cookie and the old cookie stops working', async () => {
	const cookie = await admin();
	assert.equal((await srv.me(cookie)).status, 200);
	const out = await srv.fetch('/logout', { method: 'POST', cookie });
	assert.equal(out.status, 200);
	const sc = findSetCookie(out, srv.cookieName);
	assert.ok(sc, 'logout sends a Set-Cookie');
	assert.equal(cookieValue(sc), '');
	assert.match(sc, /Max-Age=0/);
	assert.match(sc, /Path=\//);
	const me = await srv.me(cookie);
	assert.equal(me.status, 401);
	// a second logout with the dead cookie is simply unauthorized
	assert.equal((await srv.fetch('/logout', { method: 'POST', cookie })).status, 401);
});

test('form sign-out from the account page needs the page\'s CSRF token', async () => {
	const cookie = await srv.session('alice', 'alice-pw-0123456789');
	const acc = await srv.fetch('/account', { cookie });
	assert.equal(acc.status, 200);
	const m = acc.text_.match(/action="\/logout"><input type="hidden" name="csrf" value="([^"]+)"/);
	assert.ok(m, 'the account page has a sign-out form with a token');
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	let r = await srv.fetch('/logout', { method: 'POST', cookie, headers: form, body: 'x=1' });
	assert.equal(r.status, 403, 'no token');
	r = await srv.fetch('/logout', { method: 'POST', cookie, headers: form, body: 'csrf=' + 'A'.repeat(43) });
	assert.equal(r.status, 403, 'wrong token');
	assert.equal((await srv.me(cookie)).status, 200);
	r = await srv.fetch('/logout', { method: 'POST', cookie, headers: form, body: formBody({ csrf: m[1] }) });
	assert.equal(r.status, 303);
	// on through /oauth2/logout (where the browser's refresh cookie is sent) to /login
	assert.equal(r.headers.get('location'), '/oauth2/logout');
	const hop = await srv.fetch('/oauth2/logout');
	assert.equal(hop.status, 303);
	assert.equal(hop.headers.get('location'), '/login');
	assert.equal(cookieValue(findSetCookie(r, srv.cookieName)), '');
	assert.equal((await srv.me(cookie)).status, 401);
});

test('/metrics is Prometheus text and its counters move', async () => {
	const get = async () => {
		const r = await srv.fetch('/metrics');
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
		assert.match(r.text_, /# TYPE latchkey_http_requests_total counter/);
		assert.match(r.text_, /# TYPE latchkey_logins_total counter/);
		return parseMetrics(r.text_);
	};
	const key = 'latchkey_http_requests_total{route="/healthz",method="GET",status="200"}';
	const ok = 'latchkey_logins_total{outcome="success"}';
	const bad = 'latchkey_logins_total{outcome="failure"}';
	const before_ = await get();
	for (let i = 0; i < 3; i++) await srv.fetch('/healthz');
	await srv.session('alice', 'alice-pw-0123456789');
	await srv.login('alice', 'wrong-password-x');
	await srv.session('alice', 'alice-pw-0123456789');
	// the completion callback counts a request just after its reply is sent
	const after_ = await waitFor(async () => {
		const m = await get();
		return m[key] >= (before_[key] || 0) + 3 ? m : null;
	}, { ms: 2000, what: 'the /healthz counter' });
	assert.equal(after_[key], (before_[key] || 0) + 3);
	assert.equal(after_[ok], before_[ok] + 2);
	assert.equal(after_[bad], before_[bad] + 1);
	assert.ok(after_['latchkey_http_request_duration_seconds_count'] > before_['latchkey_http_request_duration_seconds_count']);
	assert.ok(after_['latchkey_sessions_live'] >= 1);
});

test('one JSON log line per request on stderr', async () => {
	const p = `/log-probe-${process.pid}`;
	for (let i = 0; i < 3; i++) assert.equal((await srv.fetch(p)).status, 404);
	await srv.fetch('/healthz?probe=1');
	const lines = await waitFor(() => {
		const l = srv.logLines().filter((x) => x.msg === 'request' && x.path === p);
		return l.length >= 3 ? l : null;
	}, { ms: 2000, what: 'three request log lines' });
	await sleep(100);
	const again = srv.logLines().filter((x) => x.msg === 'request' && x.path === p);
	assert.equal(again.length, 3, 'exactly one line per request');
	for (const l of lines) {
		assert.equal(l.method, 'GET');
		assert.equal(l.status, 404);
		assert.equal(l.ip, '127.0.0.1');
		assert.equal(typeof l.ms, 'number');
		assert.equal(typeof l.ts, 'number');
		assert.equal(l.level, 'info');
	}
	// every stderr line is JSON (logLines throws otherwise)
	assert.ok(srv.logLines().length > 10);
	// stdout has the admin announcement and nothing else
	for (const l of srv.out.split('\n').filter(Boolean)) assert.match(l, /^latchkey: /);
});

test('no cookie value or password ever appears in stdout/stderr', async () => {
	assert.ok(srv.secrets.size >= 5, 'the suite collected the secrets it used');
	await sleep(100);
	assert.deepEqual(srv.leaks(), []);
	assert.equal(srv.out.split(srv.adminPassword).length - 1, 1, 'the admin password is announced once');
});

// One listening socket per HTTP thread (SO_REUSEPORT): the kernel spreads connections over
// the threads, instead of whichever thread wakes first taking a whole burst.
test('connections are spread over the HTTP threads', async () => {
	const four = await startServer({ args: ['--threads', '4'] });
	const agents = Array.from({ length: 128 }, () => new http.Agent({ keepAlive: false }));
	await Promise.all(agents.map((agent) => new Promise((resolve, reject) => {
		http.get({ host: '127.0.0.1', port: four.port, path: '/healthz', agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
	})));
	const m = parseMetrics((await four.fetch('/metrics')).text_);
	const per = [0, 1, 2, 3].map((i) => m[`latchkey_http_connections_total{thread="${i}"}`]);
	const total = per.reduce((a, b) => a + b, 0);
	assert.ok(total >= 128, `${total} connections counted`);
	for (const n of per) assert.ok(n >= total / 16, `each thread took a share: ${JSON.stringify(per)}`);
	await four.stop();
});
