// SPDX-License-Identifier: MIT
// The session cookie's name and attributes in each configuration: the default
// __Host- cookie with Secure, --insecure-cookies, and --samesite strict.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServer, findSetCookie, cookieValue } from './lib.mjs';

test('default: "__Host-latchkey=<43 chars>; Path=/; HttpOnly; Secure; SameSite=Lax", warning-free', async () => {
	const srv = await startServer({ insecure: false });
	assert.equal(srv.cookieName, '__Host-latchkey');
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	const all = r.res.headers.getSetCookie();
	assert.equal(all.length, 1);
	assert.match(all[0], /^__Host-latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
	// the cookie works under its __Host- name, and not under the insecure name
	assert.equal((await srv.me(r.cookie)).status, 200);
	assert.equal((await srv.fetch('/me', { headers: { Cookie: `latchkey=${r.cookie}` } })).status, 401);
	// the CSRF cookie of the sign-in page gets the same protection
	const page = await srv.fetch('/login');
	assert.match(findSetCookie(page, '__Host-latchkey-csrf'), /^__Host-latchkey-csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
	// sign-out clears the same name with the same attributes
	const out = await srv.fetch('/logout', { method: 'POST', cookie: r.cookie });
	assert.equal(out.status, 200);
	assert.match(findSetCookie(out, '__Host-latchkey'), /^__Host-latchkey=; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=0$/);
	assert.doesNotMatch(srv.err, /insecure-cookies/);
	await srv.stop();
	assert.deepEqual(srv.leaks(), []);
});

test('--insecure-cookies drops Secure and __Host- and warns at start', async () => {
	const srv = await startServer();
	const r = await srv.login('admin', srv.adminPassword);
	assert.match(r.setCookie, /^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
	const warn = srv.logLines().find((l) => l.level === 'warn' && /insecure-cookies/.test(l.msg));
	assert.ok(warn, 'a warning at start');
	await srv.stop();
});

test('--samesite strict', async () => {
	const srv = await startServer({ args: ['--samesite', 'strict'] });
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	assert.match(r.setCookie, /^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
	assert.equal((await srv.me(r.cookie)).status, 200);
	await srv.stop();
	const sec = await startServer({ insecure: false, args: ['--samesite', 'strict'] });
	const r2 = await sec.login('admin', sec.adminPassword);
	assert.match(r2.setCookie, /^__Host-latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
	await sec.stop();
});
