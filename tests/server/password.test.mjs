// SPDX-License-Identifier: MIT
// POST /account/password from the outside: the user changes their own password (form from
// the account page, or JSON). The current password is checked like a sign-in, rate limit
// included (a wrong one is a failed sign-in of that account from that address); the new
// one must be 8 to 1023 bytes (NIST SP 800-63B §5.1.1.2: at least 8); the change ends every
// session and refresh family of the user, and this browser gets a new session id (SPEC:
// "a new id at every ... privilege change"). CSRF rules as for every state change. Also:
// a rate-limited sign-in form gets the sign-in page back with 429 and Retry-After.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, findSetCookie, cookieValue, holdBack } from './lib.mjs';

let srv;
const PW = { dana: 'dana-pw-0123456789', eve: 'eve-pw-0123456789', fay: 'fay-pw-0123456789' };

before(async () => {
	srv = await startServer({ args: ['--rate-pair-free', '3', '--rate-backoff-max', '30s'] });
	await Promise.all(Object.entries(PW).map(([u, p]) => srv.addUser(u, p)));
});

const change = (cookie, body, opts = {}) => srv.fetch('/account/password', { method: 'POST', cookie, json: body, ...opts });

test('JSON: a wrong current password is 401, a short new one 400, nothing changes', async () => {
	const c = await srv.session('dana', PW.dana);
	let r = await change(c, { current_password: 'wrong-wrong-wrong', new_password: 'dana-new-pw-1' });
	assert.equal(r.status, 401);
	assert.equal(r.json_.error, 'invalid_credentials');
	r = await change(c, { current_password: PW.dana, new_password: 'short' });
	assert.equal(r.status, 400);
	assert.equal(r.json_.error, 'invalid_request');
	assert.match(r.json_.error_description, /8 to 1023/);
	r = await change(c, { current_password: PW.dana });
	assert.equal(r.status, 400);
	r = await srv.fetch('/account/password', { method: 'POST', cookie: c, body: 'x', headers: { 'Content-Type': 'text/plain' } });
	assert.equal(r.status, 415);
	assert.equal((await srv.me(c)).status, 200, 'still signed in');
	assert.equal((await srv.login('dana', PW.dana)).status, 200, 'the password is unchanged');
	// no session: 401, and cross-site: 403 before anything is checked
	r = await change(undefined, { current_password: PW.dana, new_password: 'dana-new-pw-1' });
	assert.equal(r.status, 401);
	r = await change(c, { current_password: PW.dana, new_password: 'dana-new-pw-1' },
		{ headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
	assert.equal(r.status, 403);
	assert.equal(r.json_.error, 'csrf');
});

test('JSON: the change ends every other session and refresh family; this browser gets a new id', async () => {
	const keep = await srv.session('eve', PW.eve);
	const other = await srv.session('eve', PW.eve);
	const NEW = 'eve-new-password-1';
	srv.secrets.add(NEW);
	const r = await change(keep, { current_password: PW.eve, new_password: NEW });
	assert.equal(r.status, 200, r.text_);
	assert.equal(r.json_.ok, true);
	const sc = findSetCookie(r, srv.cookieName);
	assert.ok(sc, 'a new session cookie');
	const fresh = cookieValue(sc);
	srv.secrets.add(fresh);
	assert.notEqual(fresh, keep);
	assert.equal((await srv.me(keep)).status, 401, 'the old id is dead (a new id at a privilege change)');
	assert.equal((await srv.me(other)).status, 401, 'the other device is signed out');
	const me = await srv.me(fresh);
	assert.equal(me.status, 200);
	assert.equal(me.json_.session.id, r.json_.session);
	assert.equal((await srv.login('eve', PW.eve)).status, 401, 'the old password is refused');
	assert.equal((await srv.login('eve', NEW)).status, 200);
	const audit = JSON.parse((await srv.cli(['audit', 'list', '--limit', '50', '--json'])).stdout);
	const ev = audit.find((e) => e.event === 'password_changed' && e.user === 'eve');
	assert.ok(ev, 'audited');
	assert.equal(ev.ip, '127.0.0.1');
	assert.ok(audit.some((e) => e.event === 'password_change_failed' && e.user === 'dana'), 'a wrong current password is audited');
	assert.deepEqual(srv.leaks(), [], 'no password or cookie in the logs');
});

test('a wrong current password counts as a failed sign-in: 429 with Retry-After after the limit', async () => {
	const c = await srv.session('fay', PW.fay);
	const statuses = [];
	for (let i = 0; i < 3; i++)
		statuses.push((await change(c, { current_password: `wrong-${i}-password`, new_password: 'fay-new-pw-12' })).status);
	assert.deepEqual(statuses, [401, 401, 401], 'the first --rate-pair-free failures are answered');
	const held = await holdBack((i) => change(c, { current_password: `wrong-${2 + i}-password`, new_password: 'fay-new-pw-12' }));
	assert.equal(held.json_?.error, 'rate_limited');
	const r = await change(c, { current_password: PW.fay, new_password: 'fay-new-pw-12' });
	assert.equal(r.status, 429, 'even the right password waits out the backoff');
	assert.match(r.headers.get('retry-after'), /^[1-9][0-9]*$/);
	// and the sign-in form, limited the same way, gets its page back with 429
	const page = await srv.fetch('/login');
	const tok = cookieValue(findSetCookie(page, srv.csrfCookieName));
	const f = await srv.fetch('/login', { method: 'POST', body: `csrf=${tok}&username=fay&password=${PW.fay}`,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${srv.csrfCookieName}=${tok}` } });
	assert.equal(f.status, 429);
	assert.match(f.headers.get('content-type'), /^text\/html/);
	assert.match(f.headers.get('retry-after'), /^[1-9][0-9]*$/);
	assert.match(f.text_, /role="alert">Too many failed attempts\. Try again in \d+ seconds\./);
	assert.equal((await srv.me(c)).status, 200, 'the session was never touched');
});

test('the form: confirmation must match; a success redirects to /account?done=password', async () => {
	const c = await srv.session('dana', PW.dana);
	const acc = await srv.fetch('/account', { cookie: c });
	const tok = acc.text_.match(/action="\/account\/password"><input type="hidden" name="csrf" value="([^"]+)">/)[1];
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	const NEW = 'dana-new-password';
	srv.secrets.add(NEW);
	let r = await srv.fetch('/account/password', { method: 'POST', cookie: c, headers: form,
		body: `csrf=${tok}&current_password=${PW.dana}&new_password=${NEW}&confirm_password=${NEW}x` });
	assert.equal(r.status, 400);
	assert.match(r.text_, /role="alert">The new password and its confirmation differ\./);
	r = await srv.fetch('/account/password', { method: 'POST', cookie: c, headers: form,
		body: `current_password=${PW.dana}&new_password=${NEW}&confirm_password=${NEW}` });
	assert.equal(r.status, 403, 'no CSRF token');
	r = await srv.fetch('/account/password', { method: 'POST', cookie: c, headers: form,
		body: `csrf=${tok}&current_password=${PW.dana}&new_password=${NEW}&confirm_password=${NEW}` });
	assert.equal(r.status, 303);
	assert.equal(r.headers.get('location'), '/account?done=password');
	const fresh = cookieValue(findSetCookie(r, srv.cookieName));
	srv.secrets.add(fresh);
	const page = await srv.fetch('/account?done=password', { cookie: fresh });
	assert.match(page.text_, /role="status">Your password was changed/);
	// the message comes from a table: any other value shows nothing
	const odd = await srv.fetch('/account?done=%3Cscript%3E', { cookie: fresh });
	assert.doesNotMatch(odd.text_, /role="status"|<script>/);
});
