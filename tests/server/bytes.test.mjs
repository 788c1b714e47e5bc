// SPDX-License-Identifier: MIT
// Invalid UTF-8 and NUL bytes in every field a client controls, table-driven.
//
// Each sequence of SEQS (an overlong encoding, a lone continuation byte, half of a UTF-16
// surrogate pair, 0xFF, a truncated multibyte character) and NUL goes into every carrier:
// the JSON bodies' string members (raw, and as \u escapes), the form fields of /login and
// /account/password and /oauth2 (percent-encoded and raw), the query (return_to, done),
// the path, and the headers Cookie, User-Agent, X-Forwarded-For, Authorization (Bearer and
// Basic) and Origin. Every request is written byte for byte on a raw socket, so nothing
// is normalized on the way.
//
// What must hold (RFC 8259 §8.1: JSON text is UTF-8; RFC 3986 §2: a URI is ASCII with
// percent-escapes; the HTML Living Standard: form data of a UTF-8 page is UTF-8):
//  - a field that is read as text refuses such bytes: a 4xx of the documented kind (a JSON
//    error, or the HTML page of a browser's form post, or 401/303 to /login for a
//    credential), never 5xx, and a redirect never goes where the input says;
//  - a header that is only recorded (User-Agent, X-Forwarded-For) does not fail the
//    request, and what is stored and shown is valid UTF-8: /sessions never returns bytes
//    that are not UTF-8, an X-Forwarded-For that is not an address is ignored;
//  - a raw NUL ends a header value in libmicrohttpd itself (docs/security.md §2): the value
//    latchkey sees is the part before it, and the rules above apply to that;
//  - afterwards the server is up and a normal sign-in works, and its log is one valid
//    JSON object per line, valid UTF-8, with no raw control bytes.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, raw, findSetCookie, cookieValue } from './lib.mjs';

const SEQS = {
	'an overlong "/" (C0 AF)': [0xc0, 0xaf],
	'an overlong 3-byte "/" (E0 80 AF)': [0xe0, 0x80, 0xaf],
	'a lone continuation byte (80)': [0x80],
	'a surrogate half (ED A0 80)': [0xed, 0xa0, 0x80],
	'0xFF': [0xff],
	'a truncated multibyte character (E2 82)': [0xe2, 0x82],
};
const NUL = { 'NUL': [0x00] };
const ALL = { ...SEQS, ...NUL };
const PW = 'alice-pw-0123456789';
const utf8 = new TextDecoder('utf-8', { fatal: true });

let srv;
before(async () => {
	// a trusted proxy on loopback: X-Forwarded-For is read (and must be an address)
	srv = await startServer({ args: ['--trusted-proxies', '127.0.0.1'] });
	await srv.addUser('alice', PW);
});

// ---------------------------------------------------------------- raw requests

const B = (x) => (Buffer.isBuffer(x) ? x : Array.isArray(x) ? Buffer.from(x) : Buffer.from(String(x), 'latin1'));
const cat = (...parts) => Buffer.concat(parts.map(B));
const pct = (bytes) => bytes.map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
// "a<bytes>b": the bytes inside an otherwise harmless value
const inside = (bytes) => cat('a', bytes, 'b');

// One request, byte for byte, on its own connection (closed after the reply).
async function send(method, target, headers = {}, body) {
	const h = { Host: '127.0.0.1', ...headers, Connection: 'close' };
	if (body !== undefined) h['Content-Length'] = String(B(body).length);
	const head = [cat(method, ' ', target, ' HTTP/1.1\r\n')];
	for (const [k, v] of Object.entries(h)) head.push(cat(k, ': ', v, '\r\n'));
	head.push(B('\r\n'));
	const r = await raw(srv.port, cat(...head, body ?? ''), { ms: 5000 });
	const i = r.data.indexOf('\r\n\r\n');
	const hdrs = {};
	for (const l of r.data.slice(0, i).split('\r\n').slice(1)) {
		const c = l.indexOf(':');
		hdrs[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
	}
	const bytes = Buffer.from(r.data.slice(i + 4), 'latin1');
	let text = null, json;
	try { text = utf8.decode(bytes); } catch { /* not UTF-8: checked by the caller */ }
	try { json = JSON.parse(text); } catch { json = undefined; }
	return { status: r.status, headers: hdrs, bytes, text, json, closed: r.closed };
}

const JSONH = { 'Content-Type': 'application/json' };
const FORMH = { 'Content-Type': 'application/x-www-form-urlencoded' };
const cookie = (v) => ({ Cookie: cat(`${srv.cookieName}=`, v) });
const origin = () => srv.base;

// The kinds of answer SPEC and docs/security.md document for a refused input.
function expectJsonError(res, what, statuses = [400]) {
	assert.ok(statuses.includes(res.status), `${what}: status ${res.status}, want ${statuses} (${res.text?.slice(0, 120)})`);
	assert.match(res.headers['content-type'] || '', /^application\/json/, `${what}: JSON`);
	assert.equal(typeof res.json?.error, 'string', `${what}: a JSON error body: ${res.text?.slice(0, 120)}`);
}
function expectHtmlError(res, what, statuses = [400]) {
	assert.ok(statuses.includes(res.status), `${what}: status ${res.status}, want ${statuses}`);
	assert.match(res.headers['content-type'] || '', /^text\/html/, `${what}: the HTML page`);
}
// True for every answer: no 5xx, a UTF-8 body, a Location only on our own fixed paths.
function expectSane(res, what) {
	assert.ok(res.status !== null, `${what}: an answer (${JSON.stringify(res)})`);
	assert.ok(res.status < 500, `${what}: ${res.status}`);
	assert.notEqual(res.text, null, `${what}: the body is valid UTF-8`);
	const loc = res.headers.location;
	if (loc !== undefined)
		assert.match(loc, /^\/(account|login)(\?return_to=(%2F|\/)(account|admin|me)(&ended=1)?|\?ended=1)?$/,
			`${what}: a redirect to one of our own fixed paths, not ${JSON.stringify(loc)}`);
}

// ---------------------------------------------------------------- helpers with state

async function session() {
	const r = await send('POST', '/login', { ...JSONH, Origin: origin() }, JSON.stringify({ username: 'alice', password: PW }));
	assert.equal(r.status, 200, r.text);
	const c = r.headers['set-cookie'].split(';')[0].split('=').slice(1).join('=');
	srv.secrets.add(c);
	return c;
}

async function loginForm() {
	const res = await srv.fetch('/login');
	const tok = cookieValue(findSetCookie(res, srv.csrfCookieName));
	return { tok, headers: { ...FORMH, Origin: origin(), Cookie: `${srv.csrfCookieName}=${tok}` } };
}

async function accountForm(c) {
	const acc = await srv.fetch('/account', { cookie: c });
	const tok = acc.text_.match(/action="\/account\/password"><input type="hidden" name="csrf" value="([^"]+)">/)[1];
	return { tok, headers: { ...FORMH, Origin: origin(), ...cookie(c) } };
}

let app; // an OAuth client for the /oauth2 endpoints
async function client() {
	if (app) return app;
	const r = await srv.cli(['client', 'add', 'bytes-app', '--scope', 'read']);
	assert.equal(r.code, 0, r.stderr);
	app = { id: r.stdout.match(/^client_id=(\S+)$/m)[1], secret: r.stdout.match(/^client_secret=(\S+)$/m)[1] };
	srv.secrets.add(app.secret);
	return app;
}
const basic = (id, secret) => cat('Basic ', Buffer.from(cat(id, ':', secret)).toString('base64'));

// ---------------------------------------------------------------- bodies

test('JSON bodies: raw invalid UTF-8 and NUL, and \\u0000 and lone-surrogate escapes, in every string member: 400 JSON', async (t) => {
	const c = await session();
	const escapes = { '\\u0000': 'a\\u0000b', 'a lone high surrogate \\ud800': 'a\\ud800b', 'a lone low surrogate \\udc00': 'a\\udc00b' };
	const bodies = (field, v) => {
		const base = { username: 'alice', password: PW, return_to: '/account', current_password: PW, new_password: 'new-pw-0123456789' };
		const parts = Object.entries(base).map(([k, x]) => (k === field ? cat(`"${k}":"`, v, '"') : B(`"${k}":${JSON.stringify(x)}`)));
		return cat('{', ...parts.flatMap((p, i) => (i ? [',', p] : [p])), '}');
	};
	let n = 0;
	for (const [seq, bytes] of Object.entries(ALL)) {
		for (const field of ['username', 'password', 'return_to'])
			expectJsonError(await send('POST', '/login', { ...JSONH, Origin: origin() }, bodies(field, inside(bytes))), `/login ${field} with ${seq}`), n++;
		for (const field of ['current_password', 'new_password'])
			expectJsonError(await send('POST', '/account/password', { ...JSONH, Origin: origin(), ...cookie(c) }, bodies(field, inside(bytes))), `/account/password ${field} with ${seq}`), n++;
		// RFC 7009 and RFC 7662 take form bodies only: a JSON one is refused as such
		const a = await client();
		expectJsonError(await send('POST', '/oauth2/revoke', { ...JSONH, Authorization: basic(a.id, a.secret) }, cat('{"token":"', inside(bytes), '"}')), `/oauth2/revoke token with ${seq}`), n++;
	}
	for (const [what, v] of Object.entries(escapes)) {
		for (const field of ['username', 'password'])
			expectJsonError(await send('POST', '/login', { ...JSONH, Origin: origin() }, bodies(field, v)), `/login ${field} with ${what}`), n++;
		for (const field of ['current_password', 'new_password'])
			expectJsonError(await send('POST', '/account/password', { ...JSONH, Origin: origin(), ...cookie(c) }, bodies(field, v)), `/account/password ${field} with ${what}`), n++;
	}
	assert.equal((await srv.me(c)).status, 200, 'the session lived through it: nothing was changed');
	t.diagnostic(`${n} JSON cases`);
});

test('form bodies of /login: invalid UTF-8 and NUL, percent-encoded or raw, in username and password: the sign-in page with 400; in return_to: ignored', async () => {
	for (const [seq, bytes] of Object.entries(ALL)) {
		for (const enc of ['percent-encoded', 'raw']) {
			if (enc === 'raw' && bytes[0] === 0) continue; // a raw NUL in a form body: below
			const v = enc === 'raw' ? inside(bytes) : B(`a${pct(bytes)}b`);
			for (const field of ['username', 'password']) {
				const f = await loginForm();
				const fields = { csrf: B(f.tok), username: B('alice'), password: B(PW), [field]: v };
				const body = cat(...Object.entries(fields).flatMap(([k, x], i) => [i ? '&' : '', k, '=', x]));
				const r = await send('POST', '/login', f.headers, body);
				expectSane(r, `form ${field} ${enc} ${seq}`);
				expectHtmlError(r, `form ${field} ${enc} ${seq}`);
				assert.equal(r.headers['set-cookie']?.startsWith(`${srv.cookieName}=`) ?? false, false, 'no session');
			}
			// a return_to that is not a clean path is dropped: the right credentials land on /account
			const f = await loginForm();
			const r = await send('POST', '/login', f.headers, cat(`csrf=${f.tok}&username=alice&password=${PW}&return_to=`, enc === 'raw' ? cat('/admin', bytes) : `/admin${pct(bytes)}`));
			expectSane(r, `form return_to ${enc} ${seq}`);
			assert.ok(r.status === 303 ? r.headers.location === '/account' : r.status === 400,
				`form return_to ${enc} ${seq}: ${r.status} ${r.headers.location}`);
		}
	}
	// a raw NUL in a form body is refused as a bad field
	const f = await loginForm();
	const r = await send('POST', '/login', f.headers, cat(`csrf=${f.tok}&username=al`, [0], `ice&password=${PW}`));
	expectHtmlError(r, 'a raw NUL in the username');
});

test('form bodies of /account/password and /oauth2: invalid UTF-8 and NUL: 400 of the documented kind, nothing changes', async () => {
	const c = await session();
	const a = await client();
	for (const [seq, bytes] of Object.entries(ALL)) {
		for (const field of ['current_password', 'new_password', 'confirm_password']) {
			const f = await accountForm(c);
			const fields = { csrf: B(f.tok), current_password: B(PW), new_password: B('new-pw-0123456789'), confirm_password: B('new-pw-0123456789') };
			fields[field] = B(`a${pct(bytes)}b`);
			const r = await send('POST', '/account/password', f.headers, cat(...Object.entries(fields).flatMap(([k, x], i) => [i ? '&' : '', k, '=', x])));
			expectSane(r, `account form ${field} ${seq}`);
			expectHtmlError(r, `account form ${field} ${seq}`, [400]);
		}
		// the password grant's user name and password, and RFC 7009's token
		for (const field of ['username', 'password']) {
			const fields = { grant_type: 'password', username: 'alice', password: PW };
			const body = cat(...Object.entries(fields).flatMap(([k, x], i) => [i ? '&' : '', k, '=', k === field ? `a${pct(bytes)}b` : x]));
			expectJsonError(await send('POST', '/oauth2/token', FORMH, body), `/oauth2/token ${field} ${seq}`);
		}
		expectJsonError(await send('POST', '/oauth2/revoke', { ...FORMH, Authorization: basic(a.id, a.secret) }, `token=a${pct(bytes)}b`), `/oauth2/revoke token ${seq}`);
		expectJsonError(await send('POST', '/oauth2/introspect', { ...FORMH, Authorization: basic(a.id, a.secret) }, `token=a${pct(bytes)}b`), `/oauth2/introspect token ${seq}`);
	}
	assert.equal((await srv.me(c)).status, 200, 'the password did not change: the session lives');
});

// ---------------------------------------------------------------- the request line

test('the query and the path: invalid UTF-8 and NUL, percent-encoded or raw: 400 JSON, never a redirect', async () => {
	const c = await session();
	for (const [seq, bytes] of Object.entries(ALL)) {
		const targets = {
			'GET /login?return_to=': cat('/login?return_to=/admin', pct(bytes)),
			'GET /login?return_to= (raw)': cat('/login?return_to=/admin', bytes),
			'GET /account?done=': cat('/account?done=password', pct(bytes)),
			'GET /account?done= (raw)': cat('/account?done=password', bytes),
			'the path': cat('/me', pct(bytes)),
			'the path (raw)': cat('/me', bytes),
			'a path prefix': cat('/healthz', pct(bytes), 'x'),
			'a path prefix (raw)': cat('/healthz', bytes, 'x'),
		};
		for (const [where, t] of Object.entries(targets)) {
			const r = await send('GET', t, cookie(c));
			expectSane(r, `${where} ${seq}`);
			expectJsonError(r, `${where} ${seq}`);
			assert.equal(r.json.error, 'bad_request', `${where} ${seq}`);
		}
	}
});

// Where libmicrohttpd itself stops at a NUL (docs/security.md §2): the HTTP version and a
// header name get its own 400 (HTML), counted in /metrics; a method ends at the NUL and is
// not one we serve.
test('a NUL in the HTTP version, a header name or the method: a 4xx, never served as something else', async () => {
	const m0 = await srv.fetch('/metrics');
	const count = (t) => Number(t.match(/^latchkey_http_unanswered_total\{reason="libmicrohttpd",status="400"\} (\d+)$/m)?.[1] ?? NaN);
	const before = count(m0.text_);
	const head = (line, extra = '') => cat(line, '\r\nHost: x\r\n', extra, 'Connection: close\r\n\r\n');
	for (const [what, req, want] of [
		['the HTTP version', head(cat('GET /healthz HTTP/1.1', [0])), 400],
		['inside the HTTP version', head(cat('GET /healthz HTTP/1', [0], '.1')), 400],
		['a header name', head('GET /healthz HTTP/1.1', cat('X-A', [0], 'b: c\r\n')), 400],
	]) {
		const r = await raw(srv.port, req, { ms: 3000 });
		assert.equal(r.status, want, `a NUL in ${what}: ${r.data.slice(0, 80)}`);
		assert.ok(r.closed, `a NUL in ${what}: closed`);
	}
	const r = await raw(srv.port, head(cat('GE', [0], 'T /healthz HTTP/1.1')), { ms: 3000 });
	assert.ok(r.status >= 400 && r.status < 500, `a NUL in the method: ${r.status}`);
	const m1 = await srv.fetch('/metrics');
	assert.equal(count(m1.text_) - before, 3, 'libmicrohttpd\'s three 400s are counted');
});

// ---------------------------------------------------------------- headers

test('Cookie, Authorization (Bearer and Basic) and Origin: invalid UTF-8 is refused as a bad credential; a raw NUL ends the value', async () => {
	const c = await session();
	const a = await client();
	for (const [seq, bytes] of Object.entries(ALL)) {
		const what = (h) => `${h} with ${seq}`;
		const nul = bytes[0] === 0;
		// the session cookie: 401 JSON for the API; the sign-in page for a page, back to a fixed path
		let r = await send('GET', '/me', cookie(inside(bytes)));
		expectSane(r, what('Cookie'));
		expectJsonError(r, what('Cookie'), [401]);
		r = await send('GET', '/account', cookie(inside(bytes)));
		expectSane(r, what('Cookie on a page'));
		assert.equal(r.status, 303, what('Cookie on a page'));
		// ... and a valid cookie with the bytes after it: 401 (the value is not the cookie);
		// after a raw NUL libmicrohttpd hands over the part before it: the cookie, 200
		r = await send('GET', '/me', cookie(cat(c, bytes)));
		expectSane(r, what('Cookie after a valid one'));
		assert.equal(r.status, nul ? 200 : 401, what('Cookie after a valid one'));
		// Bearer tokens
		for (const p of ['/me', '/auth/verify']) {
			r = await send('GET', p, { Authorization: cat('Bearer ', inside(bytes)) });
			expectSane(r, what(`Bearer at ${p}`));
			expectJsonError(r, what(`Bearer at ${p}`), [401]);
		}
		// Basic: the bytes in the header, and inside the base64 (the client id and the secret)
		for (const [how, h] of Object.entries({
			'raw in the header': cat('Basic ', inside(bytes)),
			'in the client id': basic(inside(bytes), a.secret),
			'in the secret': basic(a.id, cat(a.secret, bytes)),
		})) {
			r = await send('POST', '/oauth2/introspect', { ...FORMH, Authorization: h }, 'token=x');
			expectSane(r, what(`Basic ${how}`));
			// a NUL in the header ends it: "Basic a" is malformed all the same
			expectJsonError(r, what(`Basic ${how}`), [401]);
		}
		// Origin on a sign-in: not ours, 403; after a raw NUL only the part before it counts
		r = await send('POST', '/login', { ...JSONH, Origin: cat(origin(), bytes) }, JSON.stringify({ username: 'alice', password: PW }));
		expectSane(r, what('Origin'));
		if (nul) assert.equal(r.status, 200, what('Origin'));
		else expectJsonError(r, what('Origin'), [403]);
	}
});

test('User-Agent and X-Forwarded-For: the sign-in goes on; what is stored and shown is valid UTF-8, a bad address is ignored', async () => {
	for (const [seq, bytes] of Object.entries(ALL)) {
		const ua = cat('Mozilla/5.0 (X11; Linux) Firefox/128.0 caf', [0xc3, 0xa9], ' ', bytes, ' end');
		let r = await send('POST', '/login', { ...JSONH, Origin: origin(), 'User-Agent': ua, 'X-Forwarded-For': cat('203.0.113.7', bytes) },
			JSON.stringify({ username: 'alice', password: PW }));
		expectSane(r, `User-Agent and X-Forwarded-For with ${seq}`);
		assert.equal(r.status, 200, `sign-in with ${seq}: ${r.text}`);
		const c = r.headers['set-cookie'].split(';')[0].split('=').slice(1).join('=');
		srv.secrets.add(c);
		r = await send('GET', '/sessions', cookie(c));
		assert.equal(r.status, 200);
		assert.notEqual(r.text, null, `/sessions is valid UTF-8 after a User-Agent with ${seq}`);
		const mine = r.json.find((s) => s.current);
		assert.ok(mine, `/sessions lists this session (${seq}): ${r.text.slice(0, 300)}`);
		// the valid part is kept, é included; the invalid bytes became U+FFFD (a NUL ends the header)
		assert.match(mine.user_agent, bytes[0] === 0 ? /^Mozilla\/5\.0 \(X11; Linux\) Firefox\/128\.0 café ?$/
			: /^Mozilla\/5\.0 \(X11; Linux\) Firefox\/128\.0 café \uFFFD+ end$/, seq);
		// 203.0.113.7 followed by junk is not an address: the peer's is recorded
		assert.equal(mine.ip, bytes[0] === 0 ? '203.0.113.7' : '127.0.0.1', `ip with ${seq}`);
		const page = await send('GET', '/account', cookie(c));
		assert.equal(page.status, 200);
		assert.notEqual(page.text, null, `/account is valid UTF-8 (${seq})`);
	}
});

// ---------------------------------------------------------------- afterwards

test('afterwards: the server is up, a normal sign-in works, the log is valid UTF-8 JSON lines without raw control bytes', async (t) => {
	assert.equal(srv.exited, null, `running (${JSON.stringify(srv.exited)})`);
	assert.equal((await srv.fetch('/healthz')).status, 200);
	const c = await srv.session('alice', PW);
	assert.equal((await srv.me(c)).status, 200);
	await new Promise((r) => setTimeout(r, 200)); // request lines are written within 50 ms
	const bytes = srv.errBytes();
	let text;
	assert.doesNotThrow(() => { text = utf8.decode(bytes); }, 'stderr is valid UTF-8');
	const lines = text.split('\n');
	assert.equal(lines.pop(), '', 'stderr ends with a newline');
	for (const l of lines) {
		assert.doesNotMatch(l, /[\x00-\x1f\x7f]/, `no raw control byte: ${JSON.stringify(l).slice(0, 200)}`);
		assert.doesNotThrow(() => JSON.parse(l), `a JSON line: ${l.slice(0, 200)}`);
	}
	const reqs = lines.map((l) => JSON.parse(l)).filter((o) => o.msg === 'request');
	assert.ok(reqs.length > 200, `the batch was logged (${reqs.length} request lines)`);
	t.diagnostic(`${reqs.length} request lines, ${lines.length} lines in all`);
	assert.ok(!reqs.some((o) => o.status >= 500), 'no 5xx logged');
	assert.deepEqual(srv.leaks(), []);
});

test('the server stops cleanly: exit 0, no sanitizer report', async () => {
	const ex = await srv.stop();
	assert.ok(!/Sanitizer|runtime error:/.test(srv.err), `sanitizer report:\n${srv.err.slice(-2000)}`);
	assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
});
