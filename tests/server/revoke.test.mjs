// SPDX-License-Identifier: MIT
// Revocations by user reach this server's own verifier before the reply, not only through
// a reload from the store.
//
// The story: the server verifies its own access tokens with liblatchkey's verifier, which
// learns revocations by reloading them from the store when the store's generation moves.
// A reload needs the store. When the store stopped answering just after acknowledging a
// revocation (Redis restarted, frozen, cut off), a failed reload kept the last good
// state, and the server that had just answered "revoked" went on accepting the revoked
// tokens at /auth/verify and /me until the store came back. Revocations of one token,
// session or family were fixed first (lk_tokens_deny); these are the ones by user: the
// admin's "sign a user out" and "sign everyone out", "sign out my other devices", and a
// password change. The store now reports each revocation such a change records, and auth
// denies it in this process's verifier at once (src/auth/auth.c `deny_recorded`).
//
// How only the immediate path can explain a refusal here: the server has no reload
// interval to lengthen (it reloads whenever the store's generation moves, which the
// revocation itself moves), so the test freezes Redis (SIGSTOP) right after the
// revocation's reply. Every reload then fails (2 s command timeout); what the verifier
// knows without the store is all it has. So the server runs on a Redis of this file's own
// whatever LATCHKEY_TEST_STORE says (an embedded SQLite store answers the reload as long as
// the process runs), and the test runs in every server suite, the sanitizer build's too.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startServer, startRedis, waitFor, REDIS_SERVER } from './lib.mjs';

// A Redis of its own whatever the suite's store: run once per build (the SQLite run), not
// again in the runs on a shared Redis or a cluster, where it would only repeat itself.
const skip = (!existsSync(REDIS_SERVER) && `no ${REDIS_SERVER} to freeze`) ||
	(process.env.LATCHKEY_TEST_STORE && 'runs on a Redis of its own: once per build, in the run without LATCHKEY_TEST_STORE');
const PW = { alice: 'alice-pw-0123456789', bob: 'bob-pw-0123456789', carol: 'carol-pw-0123456789' };
let redis, srv, admin;

before(async () => {
	if (skip) return;
	redis = await startRedis();
	srv = await startServer({ store: redis.url(0), admin: true });
	for (const [u, p] of Object.entries(PW)) await srv.addUser(u, p);
	admin = await srv.session('admin', srv.adminPassword);
});
after(async () => {
	if (redis?.frozen) redis.resume();
});

const bearer = (token) => ({ headers: { Authorization: `Bearer ${token}` } });

// An access token from the password grant (sid: its refresh family) and one from a
// session by /token (sid: the session's handle), with the session's cookie.
async function tokens(user) {
	const g = await srv.fetch('/oauth2/token', {
		method: 'POST', browser: false,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({ grant_type: 'password', username: user, password: PW[user] }).toString(),
	});
	assert.equal(g.status, 200, `password grant for ${user}: ${g.status} ${g.text_}`);
	const cookie = await srv.session(user, PW[user]);
	const h = await srv.fetch('/token', { method: 'POST', cookie });
	assert.equal(h.status, 200, `/token for ${user}: ${h.status} ${h.text_}`);
	return { grant: g.json_.access_token, hybrid: h.json_.access_token, cookie };
}

// "200/200" or "401/401": /auth/verify and /me for the token.
async function status(token) {
	const v = await srv.fetch('/auth/verify', bearer(token));
	const m = await srv.fetch('/me', bearer(token));
	for (const r of [v, m])
		if (r.status === 401)
			assert.equal(r.json_?.error_description, 'the access token has been revoked', `${r.url}: ${r.text_}`);
	return `${v.status}/${m.status}`;
}

// Do the revocation, freeze Redis the moment its reply is in, then ask about each token;
// Redis runs again afterwards and the server is ready before the next test.
async function frozenAfter(revoke, expect) {
	for (const [what, token] of Object.entries(expect))
		assert.equal(await status(token.token), '200/200', `${what} before the revocation`);
	const r = await revoke();
	assert.equal(r.status, 200, `the revocation: ${r.status} ${r.text_}`);
	redis.freeze();
	const got = {}, want = {};
	try {
		for (const [what, token] of Object.entries(expect)) {
			got[what] = await status(token.token);
			want[what] = token.want;
		}
	} finally {
		redis.resume();
		await waitFor(async () => (await srv.fetch('/readyz')).status === 200,
			{ ms: 10000, every: 100, what: '/readyz after Redis resumed' });
	}
	assert.deepEqual(got, want, 'with the store frozen right after the revocation');
	// and the store's own feed agrees once it answers again
	for (const [what, token] of Object.entries(expect))
		assert.equal(await status(token.token), token.want, `${what} with the store back`);
}

test('the admin signs a user out: that user\'s tokens are refused at once, others\' still pass', { skip }, async () => {
	const a = await tokens('alice'), b = await tokens('bob');
	await frozenAfter(() => srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: { user: 'alice' } }), {
		'alice, password grant': { token: a.grant, want: '401/401' },
		'alice, /token': { token: a.hybrid, want: '401/401' },
		'bob, password grant': { token: b.grant, want: '200/200' },
	});
});

test('a password change: every token of the user is refused at once', { skip }, async () => {
	const a = await tokens('carol'), other = await tokens('carol');
	const next = 'carol-new-pw-0123456789';
	await frozenAfter(() => srv.fetch('/account/password', {
		method: 'POST', cookie: a.cookie, json: { current_password: PW.carol, new_password: next },
	}), {
		'carol, password grant': { token: a.grant, want: '401/401' },
		'carol, /token of the session that changed it': { token: a.hybrid, want: '401/401' },
		'carol, /token of another session': { token: other.hybrid, want: '401/401' },
	});
	PW.carol = next;
});

test('sign out my other devices: their tokens are refused at once, this session\'s token passes', { skip }, async () => {
	const here = await tokens('bob'), there = await tokens('bob');
	await frozenAfter(() => srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: here.cookie }), {
		'bob, /token of this session': { token: here.hybrid, want: '200/200' },
		'bob, /token of another session': { token: there.hybrid, want: '401/401' },
		'bob, password grant': { token: there.grant, want: '401/401' },
	});
});

test('the admin signs everyone out: every user\'s tokens are refused at once', { skip }, async () => {
	const a = await tokens('alice'), b = await tokens('bob');
	await frozenAfter(() => srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: {} }), {
		'alice, password grant': { token: a.grant, want: '401/401' },
		'alice, /token': { token: a.hybrid, want: '401/401' },
		'bob, password grant': { token: b.grant, want: '401/401' },
		'bob, /token': { token: b.hybrid, want: '401/401' },
	});
});

test('the server stops cleanly: exit 0, no sanitizer report', { skip }, async () => {
	const ex = await srv.stop();
	assert.ok(!/Sanitizer|runtime error:/.test(srv.err), `sanitizer report:\n${srv.err.slice(-2000)}`);
	assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
});
