// SPDX-License-Identifier: MIT
// A real nginx (Debian's /usr/sbin/nginx) in front of latchkey with auth_request
// /auth/verify, configured with the first ```nginx block of docs/nginx.md (ports swapped
// for free ones), and a small upstream (a second nginx server block) that echoes the
// X-Auth-* headers it receives. A signed-in user gets through with the headers; the very
// next request after sign-out, token revocation or a password change is stopped. latchkey
// runs with the guide's --trusted-proxies, and the guide's X-Forwarded-For lets it tell
// clients apart: clients on distinct loopback source addresses (127.0.0.2, 127.0.0.3)
// have their own sign-in limits, and the device list shows each one's own address.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
	ROOT, startServer, startNginx, NGINX, freePort, findSetCookie, cookieValue, revokeReq,
	decodeJwt, addClient, requestFrom, holdBack,
	stopClean,
} from './lib.mjs';

const PW = 'alice-pw-0123456789';
const haveNginx = existsSync(NGINX);
let srv, ngx, NG, base, app_;

// The documented configuration with our ports.
function siteConfig(lkPort, appPort, ngPort) {
	const doc = readFileSync(path.join(ROOT, 'docs', 'nginx.md'), 'utf8');
	const m = doc.match(/```nginx\n([\s\S]*?)```/);
	assert.ok(m, 'docs/nginx.md has an nginx block');
	let site = m[1];
	for (const [from, to] of [['127.0.0.1:8080', `127.0.0.1:${lkPort}`], ['127.0.0.1:3000', `127.0.0.1:${appPort}`],
		['listen 80;', `listen 127.0.0.1:${ngPort};`]]) {
		assert.ok(site.includes(from), `the documented block has "${from}"`);
		site = site.replaceAll(from, to);
	}
	return site;
}

// The --trusted-proxies value of the guide's latchkey command line (null without one: the
// lockout test then shows what that costs).
function guideTrustedProxies() {
	const doc = readFileSync(path.join(ROOT, 'docs', 'nginx.md'), 'utf8');
	return doc.match(/^\s*latchkey serve [^\n]*--trusted-proxies (\S+)/m)?.[1] ?? null;
}
let trusted;

function nginxConfig(site, appPort) {
	// test-only frame: foreground, files in the temporary directory; the upstream application
	// is a second server block that answers with the X-Auth-* headers it was sent
	return `
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log info;
events { worker_connections 128; }
http {
    access_log {dir}/logs/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type text/plain;

${site}

    server {
        listen 127.0.0.1:${appPort};
        location / {
            return 200 "app\\nuser=$http_x_auth_user\\nsubject=$http_x_auth_subject\\nroles=$http_x_auth_roles\\nscope=$http_x_auth_scope\\nuri=$request_uri\\n";
        }
    }
}
`;
}

before(async () => {
	if (!haveNginx) return;
	NG = await freePort();
	const app = await freePort();
	base = `http://127.0.0.1:${NG}`;
	// latchkey's issuer is the public origin, as behind a real proxy
	trusted = guideTrustedProxies();
	srv = await startServer({
		args: ['--issuer', base, '--user-scopes', 'read', ...(trusted ? ['--trusted-proxies', trusted] : [])],
	});
	await srv.addUser('alice', PW, ['dev', 'ops']);
	app_ = await addClient(srv, 'app', 'read');
	ngx = await startNginx(nginxConfig(siteConfig(srv.port, app, NG), app), NG);
});

const skip = !haveNginx && `${NGINX} is not installed`;

// A request through nginx, as a browser or an API client would make it.
async function via(p, { cookie, bearer, headers = {}, ...rest } = {}) {
	const h = { ...headers };
	if (cookie) h.Cookie = `latchkey=${cookie}`;
	if (bearer) h.Authorization = `Bearer ${bearer}`;
	const res = await fetch(base + p, { redirect: 'manual', ...rest, headers: h });
	res.text_ = await res.text();
	try { res.json_ = JSON.parse(res.text_); } catch { res.json_ = undefined; }
	return res;
}
const browserPost = (p, opts = {}) => via(p, {
	method: 'POST', ...opts, headers: { Origin: base, 'Sec-Fetch-Site': 'same-origin', ...(opts.headers || {}) },
});

async function signIn() {
	const res = await browserPost('/login', {
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ username: 'alice', password: PW }),
	});
	assert.equal(res.status, 200, `sign-in through nginx: ${res.status} ${res.text_}`);
	const sc = findSetCookie(res, 'latchkey');
	assert.ok(sc, 'session cookie set through nginx');
	return cookieValue(sc);
}

function echoed(res) {
	assert.equal(res.status, 200, `through to the application: ${res.status} ${res.text_.slice(0, 200)}`);
	assert.match(res.text_, /^app\n/, 'the answer comes from the application');
	return Object.fromEntries(res.text_.trim().split('\n').slice(1).map((l) => [l.split('=')[0], l.slice(l.indexOf('=') + 1)]));
}

function assertSignInRedirect(res, returnTo) {
	assert.equal(res.status, 302, `redirect to sign in: ${res.status} ${res.text_.slice(0, 200)}`);
	// nginx makes the Location absolute (absolute_redirect on) with the request's Host
	const loc = new URL(res.headers.get('location'), base);
	assert.equal(loc.origin, base);
	assert.equal(loc.pathname + loc.search, `/login?return_to=${returnTo}`);
	assert.doesNotMatch(res.text_, /^app\n/, 'the application was not reached');
}

test('nginx: no credentials -> 302 to /login?return_to=..., the application is not reached', { skip }, async () => {
	assertSignInRedirect(await via('/app/page?x=1'), '/app/page?x=1');
	assertSignInRedirect(await via('/'), '/');
	assertSignInRedirect(await via('/app/', { cookie: 'A'.repeat(43) }), '/app/');
	// the check endpoint is internal
	assert.equal((await via('/_latchkey_verify')).status, 404);
	// API clients with a bad token get the 401 itself
	const api = await via('/app/', { bearer: 'not-a-token' });
	assert.equal(api.status, 401);
	assert.doesNotMatch(api.text_, /^app\n/);
});

test('nginx: a signed-in user gets through with X-Auth-* headers; the very next request after logout is blocked', { skip }, async () => {
	const cookie = await signIn();
	const me = (await via('/me', { cookie })).json_;
	const h = echoed(await via('/app/page', { cookie }));
	assert.equal(h.user, 'alice');
	assert.equal(h.subject, me.sub);
	assert.equal(h.roles, 'dev,ops');
	assert.equal(h.scope, '');
	assert.equal(h.uri, '/app/page');
	// a POST with a body passes the check too (the body is not sent to latchkey)
	const up = await via('/app/upload', { method: 'POST', cookie, body: 'x'.repeat(20000) });
	assert.equal(echoed(up).user, 'alice');

	const out = await browserPost('/logout', { cookie });
	assert.equal(out.status, 200, `logout through nginx: ${out.text_}`);
	assertSignInRedirect(await via('/app/page', { cookie }), '/app/page');
});

test('nginx: X-Auth-* headers sent by the client are replaced, never passed through', { skip }, async () => {
	const cookie = await signIn();
	const h = echoed(await via('/app/', {
		cookie,
		headers: { 'X-Auth-User': 'mallory', 'X-Auth-Roles': 'admin', 'X-Auth-Scope': 'admin', 'X-Auth-Subject': '1' },
	}));
	assert.equal(h.user, 'alice');
	assert.equal(h.roles, 'dev,ops');
	assert.equal(h.scope, '', 'an empty X-Auth-Scope is dropped, not taken from the client');
	assert.notEqual(h.subject, '1');
	// and without credentials the spoofed headers get nowhere
	assertSignInRedirect(await via('/app/', { headers: { 'X-Auth-User': 'mallory' } }), '/app/');
});

test('nginx: the sign-in form round trip through the proxy returns to the page asked for', { skip }, async () => {
	const first = await via('/app/deep/page');
	assertSignInRedirect(first, '/app/deep/page');
	const loc = new URL(first.headers.get('location'), base);
	const page = await via(loc.pathname + loc.search);
	assert.equal(page.status, 200);
	const csrfCookie = cookieValue(findSetCookie(page, 'latchkey-csrf'));
	const token = page.text_.match(/name="csrf" value="([^"]+)"/)[1];
	assert.match(page.text_, /name="return_to" value="\/app\/deep\/page"/);
	// the page's stylesheet and icon come through the proxy too, not from the application
	for (const p of ['/static/latchkey.css', '/static/icon.svg']) {
		const r = await via(p);
		assert.equal(r.status, 200, p);
		assert.match(r.headers.get('content-type'), /^(text\/css|image\/svg\+xml)/, p);
	}
	const res = await browserPost('/login', {
		headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `latchkey-csrf=${csrfCookie}` },
		body: new URLSearchParams({ username: 'alice', password: PW, csrf: token, return_to: '/app/deep/page' }).toString(),
	});
	assert.equal(res.status, 303, res.text_);
	assert.equal(res.headers.get('location'), '/app/deep/page');
	const cookie = cookieValue(findSetCookie(res, 'latchkey'));
	assert.equal(echoed(await via('/app/deep/page', { cookie })).user, 'alice');
});

test('nginx: Bearer access tokens get through; revoked ones are stopped on the next request', { skip }, async () => {
	// the password grant by a client through nginx (client_secret_post); the client revokes
	// its token (RFC 7009 §2.1: revocation is client-authenticated)
	const tok = await via('/oauth2/token', {
		method: 'POST',
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({
			grant_type: 'password', username: 'alice', password: PW, scope: 'read',
			client_id: app_.id, client_secret: app_.secret,
		}).toString(),
	});
	assert.equal(tok.status, 200, `password grant through nginx: ${tok.text_}`);
	const at = tok.json_.access_token;
	assert.equal(decodeJwt(at).payload.iss, base, 'the issuer is the public origin');
	const h = echoed(await via('/app/api', { bearer: at }));
	assert.equal(h.user, 'alice');
	assert.equal(h.scope, 'read');
	assert.equal(h.roles, 'dev,ops');
	const r = await revokeReq(srv, at, { client: app_ });
	assert.equal(r.status, 200, r.text_);
	const after = await via('/app/api', { bearer: at });
	assert.equal(after.status, 401, 'revoked token: the next request is stopped');
	assert.doesNotMatch(after.text_, /^app\n/);

	// a hybrid token dies with its session
	const cookie = await signIn();
	const hy = await browserPost('/token', { cookie });
	assert.equal(hy.status, 200, hy.text_);
	assert.equal(echoed(await via('/app/api', { bearer: hy.json_.access_token })).user, 'alice');
	assert.equal((await browserPost('/logout', { cookie })).status, 200);
	assert.equal((await via('/app/api', { bearer: hy.json_.access_token })).status, 401, 'hybrid token after logout');

	// a password change stops every token of the user
	const t2 = await via('/oauth2/token', {
		method: 'POST',
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: PW }).toString(),
	}).then((res) => { assert.equal(res.status, 200, res.text_); return res.json_.access_token; });
	assert.equal(echoed(await via('/app/api', { bearer: t2 })).user, 'alice');
	const NEW = 'alice-new-pw-0123456789';
	srv.secrets.add(NEW);
	const pw = await srv.cli(['user', 'passwd', 'alice'], { input: NEW + '\n' });
	assert.equal(pw.code, 0, pw.stderr);
	assert.equal((await via('/app/api', { bearer: t2 })).status, 401, 'token after a password change');
	// put it back for the other tests
	assert.equal((await srv.cli(['user', 'passwd', 'alice'], { input: PW + '\n' })).code, 0);
});

// A sign-in through nginx from a given loopback source address (a distinct client).
function signInFrom(addr, password, headers = {}) {
	srv.secrets.add(password);
	return requestFrom(addr, NG, '/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', Origin: base, 'Sec-Fetch-Site': 'same-origin', ...headers },
		body: JSON.stringify({ username: 'alice', password }),
	});
}

test('nginx: five wrong passwords from one client do not lock alice out from another (X-Forwarded-For, --trusted-proxies)', { skip }, async () => {
	// client A (127.0.0.2) guesses: five failures for the pair (alice, A), then its backoff
	// (latchkey runs with the guide's --trusted-proxies; asserted at the end, so that a guide
	// without it shows the lockout it causes)
	for (let i = 1; i <= 5; i++) {
		const r = await signInFrom('127.0.0.2', `wrong-password-${i}`);
		assert.equal(r.status, 401, `wrong password ${i} from client A: ${r.status} ${r.body}`);
	}
	const held = await holdBack((i) => signInFrom('127.0.0.2', `wrong-password-${5 + i}`));
	assert.equal(held.json?.error, 'rate_limited', `client A is held back after five failures: ${held.body}`);
	assert.match(String(held.headers['retry-after'] || ''), /^[1-9][0-9]*$/, 'Retry-After in seconds');
	// A cannot step out of its backoff by naming another address: nginx replaces the
	// client's X-Forwarded-For with $remote_addr
	const spoof = await signInFrom('127.0.0.2', PW, { 'X-Forwarded-For': '198.51.100.7' });
	assert.equal(spoof.status, 429, `client A with its own X-Forwarded-For is still held back: ${spoof.status} ${spoof.body}`);

	// alice herself, from client B (127.0.0.3), signs in at once
	const ok = await signInFrom('127.0.0.3', PW);
	assert.equal(ok.status, 200, `alice from client B after A's failures: ${ok.status} ${ok.body}`);
	const sc = (ok.headers['set-cookie'] || []).find((c) => c.startsWith('latchkey='));
	assert.ok(sc, 'session cookie');
	const cookie = cookieValue(sc);
	srv.secrets.add(cookie);
	// latchkey took B's address from the X-Forwarded-For that nginx set: the device list
	// shows 127.0.0.3, not nginx's 127.0.0.1
	const list = await requestFrom('127.0.0.3', NG, '/sessions', { headers: { Cookie: `latchkey=${cookie}` } });
	assert.equal(list.status, 200, list.body);
	const cur = list.json.find((x) => x.current);
	assert.ok(cur, `the current session is listed: ${list.body}`);
	assert.equal(cur.ip, '127.0.0.3', 'the session records client B\'s address, read from X-Forwarded-For');
	assert.equal(trusted, '127.0.0.1', 'the guide starts latchkey with --trusted-proxies 127.0.0.1 (nginx\'s address)');
});

test('nginx: with latchkey down the door stays shut (500, not the application)', { skip }, async () => {
	const cookie = await signIn();
	assert.equal(echoed(await via('/app/', { cookie })).user, 'alice');
	await stopClean(srv);
	const res = await via('/app/', { cookie });
	assert.equal(res.status, 500, `latchkey unreachable: ${res.status}`);
	assert.doesNotMatch(res.text_, /^app\n/);
	await ngx.stop();
	assert.ok(ngx.exited, 'nginx stopped');
	assert.doesNotMatch(ngx.errorLog(), /\[emerg\]/, 'no emergencies in the nginx error log');
});
