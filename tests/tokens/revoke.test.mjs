// SPDX-License-Identifier: MIT
// Revocation reaches every JWT on the very next request: RFC 7009 revoke (access token by
// jti, refresh token by family), sign-out and session revocation for hybrid tokens, a
// password change or user deletion from the CLI, and the admin "sign everyone out"; RFC 7662
// introspection (client-authenticated) reports each of these as active:false.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startServer, addClient, passwordGrant, refreshReq, hybrid, verifyReq, meReq, assertAccepted,
	assertRejected, introspectReq, active, revokeReq, decodeJwt, tokenReq, post,
} from './lib.mjs';

let srv, rs;
const PW = {
	alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210', pat: 'pat-pw-0123456789',
	quinn: 'quinn-pw-0123456789', rita: 'rita-pw-0123456789', sam: 'sam-pw-0123456789',
	uma: 'uma-pw-0123456789',
};

before(async () => {
	srv = await startServer();
	await Promise.all(Object.entries(PW).map(([u, p]) => srv.addUser(u, p)));
	rs = await addClient(srv, 'resource-server', 'read');
});

const grant = (u) => passwordGrant(srv, u, PW[u]);
const session = (u) => srv.session(u, PW[u]);

function assertInvalidGrant(res, what) {
	assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text_.slice(0, 80)}`);
	assert.equal(res.json_?.error, 'invalid_grant', what);
}

test('a revoked access token fails at /auth/verify and /me on the next request', async () => {
	const b = await grant('alice');
	await assertAccepted(srv, b.access_token, 'before revocation'); // now in any verify cache
	const r = await revokeReq(srv, b.access_token);
	assert.equal(r.status, 200, r.text_);
	await assertRejected(srv, b.access_token, 'revoked access token');
	assert.equal(await active(srv, rs, b.access_token), false);
	// revoking the access token ends only that token (its jti): the refresh token lives on
	const n = await refreshReq(srv, b.refresh_token);
	assert.equal(n.status, 200, n.text_);
	await assertAccepted(srv, n.json_.access_token, 'a new access token of the same family');
	// a confidential client revokes its own client_credentials token with Basic auth
	const cc = (await tokenReq(srv, { grant_type: 'client_credentials' }, { client: rs })).json_.access_token;
	assert.equal((await verifyReq(srv, cc)).status, 200);
	assert.equal((await revokeReq(srv, cc, { client: rs })).status, 200);
	assert.equal((await verifyReq(srv, cc)).status, 401, 'client_credentials token revoked');
});

test('/oauth2/revoke answers 200 for unknown, invalid and already revoked tokens (RFC 7009 §2.2)', async () => {
	const b = await grant('alice');
	for (const [what, token] of [
		['garbage', 'garbage'],
		['unknown refresh-shaped token', 'B'.repeat(43)],
		['a JWT-looking string', 'eyJ.eyJ.sig'],
		['a live access token', b.access_token],
		['the same token again', b.access_token],
		['a live refresh token', b.refresh_token],
		['the same refresh token again', b.refresh_token],
	]) {
		const r = await revokeReq(srv, token);
		assert.equal(r.status, 200, `${what}: ${r.status} ${r.text_}`);
		const r2 = await revokeReq(srv, token, { client: rs });
		assert.equal(r2.status, 200, `${what} (client-authenticated): ${r2.status} ${r2.text_}`);
	}
	const hinted = await post(srv, '/oauth2/revoke', { token: 'C'.repeat(43), token_type_hint: 'refresh_token' });
	assert.equal(hinted.status, 200, 'token_type_hint is accepted');
	const missing = await post(srv, '/oauth2/revoke', {});
	assert.equal(missing.status, 400, 'no token parameter');
	assert.equal(missing.json_.error, 'invalid_request');
	const badClient = await revokeReq(srv, 'garbage', { client: { id: rs.id, secret: 'z'.repeat(43) } });
	assert.equal(badClient.status, 401, 'wrong client credentials');
	assert.equal(badClient.json_.error, 'invalid_client');
	assert.match(badClient.headers.get('www-authenticate') || '', /^Basic\b/);
});

test('revoking a refresh token kills its family: its access tokens fail at /auth/verify', async () => {
	const b0 = await grant('bob');
	const b1 = (await refreshReq(srv, b0.refresh_token)).json_;
	const other = await grant('bob');
	await assertAccepted(srv, b1.access_token);
	assert.equal((await revokeReq(srv, b1.refresh_token)).status, 200);
	await assertRejected(srv, b0.access_token, 'first access token of the revoked family');
	await assertRejected(srv, b1.access_token, 'newest access token of the revoked family');
	assertInvalidGrant(await refreshReq(srv, b1.refresh_token), 'the revoked refresh token');
	assert.equal(await active(srv, rs, b1.access_token), false, 'introspection after family revocation');
	await assertAccepted(srv, other.access_token, 'another family of the same user');
	// revoking an already used refresh token of a family ends that family as well
	const c0 = await grant('bob');
	const c1 = (await refreshReq(srv, c0.refresh_token)).json_;
	assert.equal((await revokeReq(srv, c0.refresh_token)).status, 200);
	await assertRejected(srv, c1.access_token, 'family revoked through an older member');
	assertInvalidGrant(await refreshReq(srv, c1.refresh_token), 'its live refresh token');
});

test('introspection requires client authentication', async () => {
	const b = await grant('alice');
	const none = await introspectReq(srv, undefined, b.access_token);
	assert.equal(none.status, 401, `no client auth: ${none.text_}`);
	assert.equal(none.json_.error, 'invalid_client');
	assert.match(none.headers.get('www-authenticate') || '', /^Basic\b/);
	assert.ok(!('active' in none.json_), 'nothing about the token');
	const wrong = await introspectReq(srv, { id: rs.id, secret: 'y'.repeat(43) }, b.access_token);
	assert.equal(wrong.status, 401);
	assert.equal(wrong.json_.error, 'invalid_client');
	const post_ = await post(srv, '/oauth2/introspect', { token: b.access_token, client_id: rs.id, client_secret: rs.secret });
	assert.equal(post_.status, 200, 'client_secret_post');
	assert.equal(post_.json_.active, true);
});

test('introspection: active true with the token\'s claims, false for garbage and revoked', async () => {
	const b = await grant('alice');
	const c = decodeJwt(b.access_token).payload;
	const res = await introspectReq(srv, rs, b.access_token);
	assert.equal(res.status, 200);
	assert.match(res.headers.get('cache-control') || '', /no-store/);
	const i = res.json_;
	assert.equal(i.active, true);
	assert.equal(i.sub, c.sub);
	assert.equal(i.exp, c.exp);
	assert.equal(i.iat, c.iat);
	assert.equal(i.jti, c.jti);
	assert.equal(i.iss, srv.base);
	assert.equal(i.client_id, c.client_id);
	assert.equal(i.scope, c.scope);
	assert.equal(i.username, 'alice');
	assert.match(i.token_type, /^bearer$/i);
	for (const t of ['garbage', 'A'.repeat(43), `${b.access_token}x`]) {
		const r = await introspectReq(srv, rs, t);
		assert.equal(r.status, 200);
		assert.deepEqual(r.json_, { active: false }, `inactive token reveals nothing (${t.slice(0, 10)}…)`);
	}
	await revokeReq(srv, b.access_token);
	assert.equal(await active(srv, rs, b.access_token), false, 'after revoke');
});

test('logout kills the hybrid token tied to that session, and only that one', async () => {
	const a1 = await session('rita');
	const a2 = await session('rita');
	const t1 = await hybrid(srv, a1);
	const t2 = await hybrid(srv, a2);
	const pg = await grant('rita');
	await assertAccepted(srv, t1);
	assert.equal(await active(srv, rs, t1), true);
	const out = await srv.fetch('/logout', { method: 'POST', cookie: a1 });
	assert.equal(out.status, 200);
	await assertRejected(srv, t1, 'hybrid token of the signed-out session');
	assert.equal(await active(srv, rs, t1), false, 'introspection after logout');
	await assertAccepted(srv, t2, 'hybrid token of the other session');
	await assertAccepted(srv, pg.access_token, 'password-grant token (not tied to a session)');
	// DELETE /sessions/{id} does the same for the device it names
	const id2 = (await srv.me(a2)).json_.session.id;
	assert.equal(decodeJwt(t2).payload.sid, id2);
	const a3 = await session('rita');
	const del = await srv.fetch(`/sessions/${id2}`, { method: 'DELETE', cookie: a3 });
	assert.equal(del.status, 204);
	await assertRejected(srv, t2, 'hybrid token of a revoked device');
	// and the CLI, from another process
	const t3 = await hybrid(srv, a3);
	await assertAccepted(srv, t3);
	const id3 = (await srv.me(a3)).json_.session.id;
	const r = await srv.cli(['sessions', 'revoke', id3]);
	assert.equal(r.code, 0, r.stderr);
	await assertRejected(srv, t3, 'hybrid token after `latchkey sessions revoke`');
});

test('password change (latchkey user passwd) kills the user\'s access and refresh tokens', async () => {
	const cookie = await session('pat');
	const h = await hybrid(srv, cookie);
	const g = await grant('pat');
	const g2 = await grant('pat');
	const g2n = (await refreshReq(srv, g2.refresh_token)).json_;
	const bystander = await grant('sam');
	for (const t of [h, g.access_token, g2n.access_token]) await assertAccepted(srv, t);
	const NEW = 'pat-new-pw-0123456789';
	srv.secrets.add(NEW);
	const r = await srv.cli(['user', 'passwd', 'pat'], { input: NEW + '\n' });
	assert.equal(r.code, 0, r.stderr);
	await assertRejected(srv, h, 'hybrid token after password change');
	await assertRejected(srv, g.access_token, 'password-grant token after password change');
	await assertRejected(srv, g2n.access_token, 'rotated token after password change');
	assertInvalidGrant(await refreshReq(srv, g.refresh_token), 'refresh token after password change');
	assertInvalidGrant(await refreshReq(srv, g2n.refresh_token), 'rotated refresh token after password change');
	assert.equal((await srv.me(cookie)).status, 401, 'the session too');
	assert.equal(await active(srv, rs, g.access_token), false);
	await assertAccepted(srv, bystander.access_token, 'another user');
	// the old password is refused, the new one works and its tokens verify
	assertInvalidGrant(await tokenReq(srv, { grant_type: 'password', username: 'pat', password: PW.pat }), 'old password');
	const fresh = await passwordGrant(srv, 'pat', NEW);
	await assertAccepted(srv, fresh.access_token, 'a token issued after the change');
	const fresh2 = await refreshReq(srv, fresh.refresh_token);
	assert.equal(fresh2.status, 200);
	await assertAccepted(srv, await hybrid(srv, await srv.session('pat', NEW)), 'a hybrid token after the change');
});

test('deleting a user (latchkey user del) kills their tokens', async () => {
	const h = await hybrid(srv, await session('uma'));
	const g = await grant('uma');
	await assertAccepted(srv, g.access_token);
	const r = await srv.cli(['user', 'del', 'uma']);
	assert.equal(r.code, 0, r.stderr);
	await assertRejected(srv, h, 'hybrid token of a deleted user');
	await assertRejected(srv, g.access_token, 'access token of a deleted user');
	assertInvalidGrant(await refreshReq(srv, g.refresh_token), 'refresh token of a deleted user');
});

test('admin revoke-all for one user ends their sessions, refresh tokens and access tokens', async () => {
	const admin = await srv.session('admin', srv.adminPassword);
	const qc = await session('quinn');
	const qh = await hybrid(srv, qc);
	const qg = await grant('quinn');
	const other = await grant('alice');
	const notAdmin = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: qc, json: { user: 'quinn' } });
	assert.equal(notAdmin.status, 403, 'needs the admin role');
	const res = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: { user: 'quinn' } });
	assert.equal(res.status, 200, res.text_);
	assert.equal((await srv.me(qc)).status, 401, 'quinn\'s session');
	await assertRejected(srv, qh, 'quinn\'s hybrid token');
	// SPEC: "revoke every session and refresh token"
	assertInvalidGrant(await refreshReq(srv, qg.refresh_token), 'quinn\'s refresh token after admin revoke-all');
	await assertRejected(srv, qg.access_token, 'quinn\'s password-grant access token after admin revoke-all');
	await assertAccepted(srv, other.access_token, 'another user\'s token');
	assert.equal((await srv.me(admin)).status, 200, 'the admin stays signed in');
});

test('admin revoke-all for everyone ends every session, refresh token and access token', async () => {
	const admin = await srv.session('admin', srv.adminPassword);
	const ac = await session('alice');
	const ah = await hybrid(srv, ac);
	const ag = await grant('alice');
	const bg = await grant('bob');
	const res = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: {} });
	assert.equal(res.status, 200, res.text_);
	assert.equal((await srv.me(ac)).status, 401);
	assert.equal((await srv.me(admin)).status, 401, 'the admin too');
	await assertRejected(srv, ah, 'hybrid token after revoke-all');
	assertInvalidGrant(await refreshReq(srv, ag.refresh_token), 'alice\'s refresh token after revoke-all');
	assertInvalidGrant(await refreshReq(srv, bg.refresh_token), 'bob\'s refresh token after revoke-all');
	await assertRejected(srv, ag.access_token, 'alice\'s password-grant token after revoke-all');
	await assertRejected(srv, bg.access_token, 'bob\'s password-grant token after revoke-all');
});
