// SPDX-License-Identifier: MIT
// Revocation reaches every JWT on the very next request: RFC 7009 revoke (client-
// authenticated; access token by jti, refresh token by family; only the client the token
// was issued to), sign-out and session revocation for hybrid tokens and the browser's
// refresh cookie, a password change, user deletion or `sessions revoke --user` from the
// CLI, and the admin "sign everyone out"; RFC 7662 introspection (client-authenticated: a
// client sees its own tokens, a --resource-servers client every token) reports each of
// these as active:false.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startServer, addClient, passwordGrant, refreshReq, hybrid, verifyReq, meReq, assertAccepted,
	assertRejected, introspectReq, active, revokeReq, decodeJwt, tokenReq, post, refreshCookie,
	refreshCookieName, startServer as startAnother, stopClean,
} from './lib.mjs';

let srv, rs, app, other;
const PW = {
	alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210', pat: 'pat-pw-0123456789',
	quinn: 'quinn-pw-0123456789', rita: 'rita-pw-0123456789', sam: 'sam-pw-0123456789',
	uma: 'uma-pw-0123456789', vic: 'vic-pw-0123456789', wes: 'wes-pw-0123456789',
	xena: 'xena-pw-0123456789', yann: 'yann-pw-0123456789', zoe: 'zoe-pw-0123456789',
	tara: 'tara-pw-0123456789',
};

before(async () => {
	// the resource server may introspect every token; named here, its id comes later
	srv = await startServer({ args: ['--resource-servers', 'resource-server'] });
	await Promise.all(Object.entries(PW).map(([u, p]) => srv.addUser(u, p)));
	rs = await addClient(srv, 'resource-server', 'read');
	app = await addClient(srv, 'app', 'read');     // the client the users sign in through
	other = await addClient(srv, 'other', 'read'); // a client the tokens were not issued to
});

// Password grants are made by the client `app` (RFC 7009 revocation needs the client the
// token was issued to); its refresh tokens refresh only with app's authentication.
const grant = (u) => passwordGrant(srv, u, PW[u], {}, { client: app });
const refreshApp = (rt) => refreshReq(srv, rt, { client: app });
const session = (u) => srv.session(u, PW[u]);

function assertInvalidGrant(res, what) {
	assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text_.slice(0, 80)}`);
	assert.equal(res.json_?.error, 'invalid_grant', what);
}


// A revoked token is rejected like any bad one (401, the RFC 6750 challenge), and the
// description says why.
async function assertRevoked(token, what) {
	await assertRejected(srv, token, what);
	for (const res of [await verifyReq(srv, token), await meReq(srv, token)])
		assert.equal(res.json_?.error_description, 'the access token has been revoked', `${what} at ${res.url}`);
}

function assertInvalidClient(res, what) {
	assert.equal(res.status, 401, `${what}: ${res.status} ${res.text_}`);
	assert.equal(res.json_?.error, 'invalid_client', what);
	assert.match(res.headers.get('www-authenticate') || '', /^Basic\b/, `${what}: WWW-Authenticate: Basic`);
}

function assertUnauthorizedClient(res, what) {
	assert.equal(res.status, 400, `${what}: ${res.status} ${res.text_}`);
	assert.equal(res.json_?.error, 'unauthorized_client', what);
}

test('a revoked access token fails at /auth/verify and /me on the next request', async () => {
	const b = await grant('alice');
	await assertAccepted(srv, b.access_token, 'before revocation'); // now in any verify cache
	// RFC 7009 §2.1: the client must authenticate; a token issued to another client is
	// refused (§2.2.1) and nothing happens to it
	assertInvalidClient(await revokeReq(srv, b.access_token), 'anonymous revoke');
	assertUnauthorizedClient(await revokeReq(srv, b.access_token, { client: other }), 'another client\'s revoke');
	assertUnauthorizedClient(await revokeReq(srv, b.access_token, { client: rs }), 'a resource server\'s revoke');
	await assertAccepted(srv, b.access_token, 'after refused revocations');
	assert.equal(await active(srv, app, b.access_token), true, 'still active for its client');
	const r = await revokeReq(srv, b.access_token, { client: app });
	assert.equal(r.status, 200, r.text_);
	await assertRevoked(b.access_token, 'revoked access token');
	assert.equal(await active(srv, rs, b.access_token), false);
	assert.equal(await active(srv, app, b.access_token), false);
	// revoking the access token ends only that token (its jti): the refresh token lives on
	const n = await refreshApp(b.refresh_token);
	assert.equal(n.status, 200, n.text_);
	await assertAccepted(srv, n.json_.access_token, 'a new access token of the same family');
	// a confidential client revokes its own client_credentials token with Basic auth
	const cc = (await tokenReq(srv, { grant_type: 'client_credentials' }, { client: rs })).json_.access_token;
	assert.equal((await verifyReq(srv, cc)).status, 200);
	assertUnauthorizedClient(await revokeReq(srv, cc, { client: app }), 'app revoking rs\'s client_credentials token');
	assert.equal((await verifyReq(srv, cc)).status, 200, 'still valid after the refusal');
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
		assertInvalidClient(await revokeReq(srv, token), `${what} (anonymous)`);
		const r = await revokeReq(srv, token, { client: app });
		assert.equal(r.status, 200, `${what} (client_secret_basic): ${r.status} ${r.text_}`);
		const r2 = await post(srv, '/oauth2/revoke', { token, client_id: app.id, client_secret: app.secret });
		assert.equal(r2.status, 200, `${what} (client_secret_post): ${r2.status} ${r2.text_}`);
	}
	// unknown tokens are 200 for any authenticated client
	assert.equal((await revokeReq(srv, 'garbage', { client: other })).status, 200, 'garbage, another client');
	const hinted = await post(srv, '/oauth2/revoke', { token: 'C'.repeat(43), token_type_hint: 'refresh_token' }, { client: app });
	assert.equal(hinted.status, 200, 'token_type_hint is accepted');
	const missing = await post(srv, '/oauth2/revoke', {}, { client: app });
	assert.equal(missing.status, 400, 'no token parameter');
	assert.equal(missing.json_.error, 'invalid_request');
	assertInvalidClient(await revokeReq(srv, 'garbage', { client: { id: app.id, secret: 'z'.repeat(43) } }),
		'wrong client credentials');
});

test('a password-grant token without a client cannot be revoked through /oauth2/revoke', async () => {
	// client_id is the issuer: no client can authenticate as it; the family ends by
	// sign-out or session revocation instead (see below)
	const b = await passwordGrant(srv, 'wes', PW.wes);
	assert.equal(decodeJwt(b.access_token).payload.client_id, srv.base);
	assertInvalidClient(await revokeReq(srv, b.access_token), 'anonymous, access token');
	assertInvalidClient(await revokeReq(srv, b.refresh_token), 'anonymous, refresh token');
	assertUnauthorizedClient(await revokeReq(srv, b.access_token, { client: app }), 'a client, access token');
	assertUnauthorizedClient(await revokeReq(srv, b.refresh_token, { client: app }), 'a client, refresh token');
	await assertAccepted(srv, b.access_token, 'still valid');
	const n = await refreshReq(srv, b.refresh_token);
	assert.equal(n.status, 200, `the refresh token still works: ${n.text_}`);
});

test('revoking a refresh token kills its family: its access tokens fail at /auth/verify', async () => {
	const b0 = await grant('bob');
	const b1 = (await refreshApp(b0.refresh_token)).json_;
	const otherFamily = await grant('bob');
	await assertAccepted(srv, b1.access_token);
	// not by anyone but its client: the family lives on after these
	assertInvalidClient(await revokeReq(srv, b1.refresh_token), 'anonymous revoke of a refresh token');
	assertUnauthorizedClient(await revokeReq(srv, b1.refresh_token, { client: other }), 'another client\'s revoke of a refresh token');
	await assertAccepted(srv, b1.access_token, 'after the refused revocations');
	assert.equal(await active(srv, app, b1.refresh_token), true, 'the refresh token is still live');
	assert.equal((await revokeReq(srv, b1.refresh_token, { client: app })).status, 200);
	await assertRevoked(b0.access_token, 'first access token of the revoked family');
	await assertRevoked(b1.access_token, 'newest access token of the revoked family');
	assertInvalidGrant(await refreshApp(b1.refresh_token), 'the revoked refresh token');
	assert.equal(await active(srv, rs, b1.access_token), false, 'introspection after family revocation');
	assert.equal(await active(srv, app, b1.refresh_token), false, 'a revoked refresh token is inactive');
	await assertAccepted(srv, otherFamily.access_token, 'another family of the same user');
	// revoking an already used refresh token of a family ends that family as well
	const c0 = await grant('bob');
	const c1 = (await refreshApp(c0.refresh_token)).json_;
	assert.equal((await revokeReq(srv, c0.refresh_token, { client: app })).status, 200);
	await assertRevoked(c1.access_token, 'family revoked through an older member');
	assertInvalidGrant(await refreshApp(c1.refresh_token), 'its live refresh token');
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

test('introspection: a client learns about its own tokens only; a resource server about all', async () => {
	const b = await grant('alice');                              // issued to app
	const anon = await passwordGrant(srv, 'alice', PW.alice);    // issued to no client
	const cc = (await tokenReq(srv, { grant_type: 'client_credentials' }, { client: other })).json_.access_token;
	const h = await hybrid(srv, await session('alice'));
	const cases = [
		['app, its access token', app, b.access_token, true],
		['app, its refresh token', app, b.refresh_token, true],
		['other, app\'s access token', other, b.access_token, false],
		['other, app\'s refresh token', other, b.refresh_token, false],
		['app, a token without a client', app, anon.access_token, false],
		['app, a refresh token without a client', app, anon.refresh_token, false],
		['app, a hybrid token', app, h, false],
		['app, another client\'s client_credentials token', app, cc, false],
		['other, its client_credentials token', other, cc, true],
		['the resource server, app\'s access token', rs, b.access_token, true],
		['the resource server, a token without a client', rs, anon.access_token, true],
		['the resource server, a hybrid token', rs, h, true],
		['the resource server, another client\'s token', rs, cc, true],
	];
	for (const [what, client, token, want] of cases) {
		const res = await introspectReq(srv, client, token);
		assert.equal(res.status, 200, `${what}: ${res.status} ${res.text_}`);
		if (want) assert.equal(res.json_.active, true, `${what}: ${res.text_}`);
		else assert.deepEqual(res.json_, { active: false }, `${what}: exactly {"active":false}`);
	}
	// the answers said nothing, and changed nothing
	await assertAccepted(srv, b.access_token);
	await assertAccepted(srv, anon.access_token);
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
	assert.equal(i.client_id, app.id);
	assert.equal(i.scope, c.scope);
	assert.equal(i.username, 'alice');
	assert.match(i.token_type, /^bearer$/i);
	// the same for the client the token was issued to
	const own = await introspectReq(srv, app, b.access_token);
	assert.equal(own.json_.active, true);
	assert.equal(own.json_.jti, c.jti);
	for (const t of ['garbage', 'A'.repeat(43), `${b.access_token}x`]) {
		const r = await introspectReq(srv, rs, t);
		assert.equal(r.status, 200);
		assert.deepEqual(r.json_, { active: false }, `inactive token reveals nothing (${t.slice(0, 10)}…)`);
	}
	assert.equal((await revokeReq(srv, b.access_token, { client: app })).status, 200);
	assert.deepEqual((await introspectReq(srv, rs, b.access_token)).json_, { active: false }, 'after revoke');
	assert.deepEqual((await introspectReq(srv, app, b.access_token)).json_, { active: false }, 'after revoke, own client');
});

test('introspection of a refresh token: live -> its family\'s claims; used or revoked -> inactive', async () => {
	const b0 = await grant('vic');
	const c = decodeJwt(b0.access_token).payload;
	const res = await introspectReq(srv, app, b0.refresh_token);
	assert.equal(res.status, 200, res.text_);
	assert.match(res.headers.get('cache-control') || '', /no-store/);
	const i = res.json_;
	assert.equal(i.active, true, res.text_);
	assert.equal(i.token_type, 'refresh_token');
	assert.equal(i.client_id, app.id);
	assert.equal(i.sub, c.sub);
	assert.equal(i.scope, c.scope);
	assert.equal(i.username, 'vic');
	assert.equal(i.sid, c.sid, 'sid is the family (the access tokens\' sid)');
	assert.ok(Number.isInteger(i.iat) && Number.isInteger(i.exp) && i.exp > i.iat, `iat ${i.iat}, exp ${i.exp}`);
	assert.ok(Math.abs(i.iat - c.iat) <= 5, 'iat is when the family started');
	assert.ok(!('jti' in i), 'a refresh token has no jti');
	// a used refresh token is no longer active (its successor is)
	const b1 = (await refreshApp(b0.refresh_token)).json_;
	assert.deepEqual((await introspectReq(srv, app, b0.refresh_token)).json_, { active: false }, 'a used refresh token');
	const i1 = (await introspectReq(srv, app, b1.refresh_token)).json_;
	assert.equal(i1.active, true, 'its successor');
	assert.equal(i1.sid, c.sid, 'same family');
	// a revoked one neither
	assert.equal((await revokeReq(srv, b1.refresh_token, { client: app })).status, 200);
	assert.deepEqual((await introspectReq(srv, app, b1.refresh_token)).json_, { active: false }, 'a revoked refresh token');
	assert.deepEqual((await introspectReq(srv, rs, b1.refresh_token)).json_, { active: false }, 'revoked, to the resource server');
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

test('logout also ends the refresh-token family of the browser\'s refresh cookie, and clears it', async () => {
	// a browser-style password grant: the refresh token comes only as a cookie
	const browserGrant = async (u) => {
		const res = await tokenReq(srv, { grant_type: 'password', username: u, password: PW[u] }, { browser: true });
		assert.equal(res.status, 200, res.text_);
		const rc = refreshCookie(srv, res);
		assert.ok(rc, `a refresh cookie (got ${JSON.stringify(res.headers.getSetCookie())})`);
		srv.secrets.add(rc.value);
		return { access: res.json_.access_token, rt: rc.value };
	};
	const rname = refreshCookieName(srv);
	const cookieRefresh = (rt) => tokenReq(srv, { grant_type: 'refresh_token' },
		{ browser: true, headers: { Cookie: `${rname}=${rt}` } });
	const mine = await browserGrant('yann');
	const theirs = await browserGrant('zoe');    // someone else's cookie in this browser
	const kept = await grant('yann');            // another family of the same user, by a client
	const sess = await session('yann');
	await assertAccepted(srv, mine.access);

	const out = await srv.fetch('/logout', { method: 'POST',
		headers: { Cookie: `${srv.cookieName}=${sess}; ${rname}=${mine.rt}` } });
	assert.equal(out.status, 200, out.text_);
	const sc = out.headers.getSetCookie();
	assert.ok(sc.some((c) => c.startsWith(`${srv.cookieName}=;`)), `the session cookie is cleared: ${JSON.stringify(sc)}`);
	const clear = sc.find((c) => c.startsWith(`${rname}=`));
	assert.ok(clear, `a second Set-Cookie clears the refresh cookie: ${JSON.stringify(sc)}`);
	const attrs = clear.split(';').map((x) => x.trim().toLowerCase());
	assert.equal(attrs[0], `${rname}=`.toLowerCase(), `empty value: ${clear}`);
	assert.ok(attrs.includes('max-age=0'), `Max-Age=0: ${clear}`);
	assert.ok(attrs.includes('path=/oauth2'), `the cookie's own Path, or it would not be cleared: ${clear}`);
	assert.equal((await srv.me(sess)).status, 401, 'the session is over');
	assertInvalidGrant(await cookieRefresh(mine.rt), 'refresh from the cookie after logout');
	await assertRejected(srv, mine.access, 'access token of the ended family');
	await assertAccepted(srv, kept.access_token, 'another family of the user (not the browser\'s)');

	// a refresh cookie that is not the signed-out user's is left alone
	const sess2 = await session('yann');
	const out2 = await srv.fetch('/logout', { method: 'POST',
		headers: { Cookie: `${srv.cookieName}=${sess2}; ${rname}=${theirs.rt}` } });
	assert.equal(out2.status, 200, out2.text_);
	await assertAccepted(srv, theirs.access, 'zoe\'s token after yann signs out');
	const r = await cookieRefresh(theirs.rt);
	assert.equal(r.status, 200, `zoe's refresh cookie still works: ${r.text_}`);
	// a browser does not send the /oauth2-scoped cookie to /logout: every sign-out clears
	// it anyway (a Set-Cookie may name another path) ...
	const out3 = await srv.fetch('/logout', { method: 'POST', cookie: await session('yann') });
	assert.equal(out3.status, 200);
	assert.deepEqual(out3.headers.getSetCookie().map((c) => c.split('=')[0]).sort(),
		[srv.cookieName, rname].sort());
	// ... and a form sign-out goes on to GET /oauth2/logout, where the browser's cookie comes
	// along and its family ends before the sign-in page
	const again = await browserGrant('yann');
	const sess3 = await session('yann');
	const page = await srv.fetch('/account', { cookie: sess3 });
	const csrf = /name="csrf" value="([^"]+)"/.exec(page.text_)[1];
	const form = await srv.fetch('/logout', { method: 'POST', cookie: sess3,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
	assert.equal(form.status, 303, form.text_);
	assert.equal(form.headers.get('location'), '/oauth2/logout');
	await assertAccepted(srv, again.access, 'not ended before the browser follows the redirect');
	const hop = await srv.fetch('/oauth2/logout', { headers: { Cookie: `${rname}=${again.rt}` } });
	assert.equal(hop.status, 303);
	assert.equal(hop.headers.get('location'), '/login');
	assert.ok(hop.headers.getSetCookie().some((c) => c.startsWith(`${rname}=;`)), 'cleared');
	assertInvalidGrant(await cookieRefresh(again.rt), 'refresh after the form sign-out');
	await assertRejected(srv, again.access, 'access token of the family ended by /oauth2/logout');
});

test('`latchkey sessions revoke --user` ends the user\'s sessions and refresh-token families', async () => {
	const cookie = await session('xena');
	const g1 = await grant('xena');
	const g2 = await passwordGrant(srv, 'xena', PW.xena); // a family without a client
	const bystander = await grant('sam');
	await assertAccepted(srv, g1.access_token);
	const r = await srv.cli(['sessions', 'revoke', '--user', 'xena']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^revoked 1 sessions? and 2 refresh-token famil(y|ies)$/m, r.stdout);
	assert.equal((await srv.me(cookie)).status, 401, 'the session');
	assertInvalidGrant(await refreshApp(g1.refresh_token), 'refresh token after sessions revoke --user');
	assertInvalidGrant(await refreshReq(srv, g2.refresh_token), 'client-less refresh token after sessions revoke --user');
	for (const t of [g1.access_token, g2.access_token]) {
		const v = await verifyReq(srv, t);
		assert.equal(v.status, 401, `access token at /auth/verify: ${v.status} ${v.text_}`);
		await assertRejected(srv, t, 'access token after sessions revoke --user');
	}
	await assertAccepted(srv, bystander.access_token, 'another user');
	const again = await srv.cli(['sessions', 'revoke', '--user', 'xena']);
	assert.equal(again.code, 0, again.stderr);
	assert.match(again.stdout, /^revoked 0 sessions? and 0 refresh-token famil(y|ies)$/m, 'nothing left');
});

test('`latchkey sessions revoke --all` ends every session and refresh-token family', async () => {
	const s2 = await startAnother();
	await s2.addUser('ann', 'ann-pw-0123456789');
	await s2.addUser('ben', 'ben-pw-0123456789');
	const c = await s2.session('ann', 'ann-pw-0123456789');
	const a = await passwordGrant(s2, 'ann', 'ann-pw-0123456789');
	const b = await passwordGrant(s2, 'ben', 'ben-pw-0123456789');
	const r = await s2.cli(['sessions', 'revoke', '--all']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^revoked 1 sessions? and 2 refresh-token famil(y|ies)$/m, r.stdout);
	assert.equal((await s2.me(c)).status, 401);
	for (const [who, g] of [['ann', a], ['ben', b]]) {
		const x = await refreshReq(s2, g.refresh_token);
		assert.equal(x.status, 400, `${who}'s refresh token: ${x.text_}`);
		assert.equal(x.json_.error, 'invalid_grant');
		await assertRejected(s2, g.access_token, `${who}'s access token`);
	}
	await stopClean(s2);
});

test('POST /sessions/revoke-others also ends every refresh-token family of the user', async () => {
	const keep = await session('alice');
	const gone = await session('alice');
	const g = await grant('alice');
	const g2 = await passwordGrant(srv, 'alice', PW.alice);
	const bystander = await grant('bob');
	const res = await srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: keep });
	assert.equal(res.status, 200, res.text_);
	assert.deepEqual(Object.keys(res.json_).sort(), ['refresh_families', 'revoked'], res.text_);
	assert.ok(res.json_.revoked >= 1, `sessions: ${res.text_}`);
	assert.ok(res.json_.refresh_families >= 2, `families: ${res.text_}`);
	assert.equal((await srv.me(keep)).status, 200, 'the current session stays');
	assert.equal((await srv.me(gone)).status, 401, 'the other session ends');
	assertInvalidGrant(await refreshApp(g.refresh_token), 'refresh token after revoke-others');
	assertInvalidGrant(await refreshReq(srv, g2.refresh_token), 'client-less refresh token after revoke-others');
	await assertRejected(srv, g.access_token, 'access token after revoke-others');
	await assertRejected(srv, g2.access_token, 'client-less access token after revoke-others');
	await assertAccepted(srv, bystander.access_token, 'another user');
	const again = await srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: keep });
	assert.deepEqual(again.json_, { revoked: 0, refresh_families: 0 }, 'nothing left');
});

test('password change (latchkey user passwd) kills the user\'s access and refresh tokens', async () => {
	const cookie = await session('pat');
	const h = await hybrid(srv, cookie);
	const g = await grant('pat');
	const g2 = await grant('pat');
	const g2n = (await refreshApp(g2.refresh_token)).json_;
	const bystander = await grant('sam');
	for (const t of [h, g.access_token, g2n.access_token]) await assertAccepted(srv, t);
	const NEW = 'pat-new-pw-0123456789';
	srv.secrets.add(NEW);
	const r = await srv.cli(['user', 'passwd', 'pat'], { input: NEW + '\n' });
	assert.equal(r.code, 0, r.stderr);
	await assertRejected(srv, h, 'hybrid token after password change');
	await assertRejected(srv, g.access_token, 'password-grant token after password change');
	await assertRejected(srv, g2n.access_token, 'rotated token after password change');
	assertInvalidGrant(await refreshApp(g.refresh_token), 'refresh token after password change');
	assertInvalidGrant(await refreshApp(g2n.refresh_token), 'rotated refresh token after password change');
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

test('password change by the user (POST /account/password) kills their other tokens; the new session\'s work', async () => {
	const cookie = await session('tara');
	const other = await session('tara');
	// start at the top of a second, so the tokens below and the change share it: the `sub`
	// revocation (iat < pw_changed) misses tokens of that very second, but every user token
	// carries a sid (its session or refresh family), which the change ends: they die anyway;
	// and a token of the new session, from that same second, lives
	while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
	const h = await hybrid(srv, other);
	const g = await grant('tara');
	for (const t of [h, g.access_token]) await assertAccepted(srv, t);
	const NEW = 'tara-new-pw-0123456789';
	srv.secrets.add(NEW);
	const r = await srv.fetch('/account/password', { method: 'POST', cookie, json: { current_password: PW.tara, new_password: NEW } });
	assert.equal(r.status, 200, r.text_);
	await assertRejected(srv, h, 'hybrid token of another session after the change');
	await assertRejected(srv, g.access_token, 'password-grant token after the change');
	assertInvalidGrant(await refreshApp(g.refresh_token), 'refresh token after the change');
	const fresh = r.headers.getSetCookie().find((c) => c.startsWith(srv.cookieName + '=')).split(';')[0].split('=')[1];
	srv.secrets.add(fresh);
	assert.equal((await srv.me(fresh)).status, 200, 'the browser that changed it is signed in');
	await assertAccepted(srv, await hybrid(srv, fresh), 'a hybrid token of the new session');
});

test('deleting a user (latchkey user del) kills their tokens', async () => {
	const h = await hybrid(srv, await session('uma'));
	const g = await grant('uma');
	await assertAccepted(srv, g.access_token);
	const r = await srv.cli(['user', 'del', 'uma']);
	assert.equal(r.code, 0, r.stderr);
	await assertRejected(srv, h, 'hybrid token of a deleted user');
	await assertRejected(srv, g.access_token, 'access token of a deleted user');
	assertInvalidGrant(await refreshApp(g.refresh_token), 'refresh token of a deleted user');
});

test('admin revoke-all for one user ends their sessions, refresh tokens and access tokens', async () => {
	const admin = await srv.session('admin', srv.adminPassword);
	const qc = await session('quinn');
	const qh = await hybrid(srv, qc);
	const qg = await grant('quinn');
	const bystander = await grant('alice');
	const notAdmin = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: qc, json: { user: 'quinn' } });
	assert.equal(notAdmin.status, 403, 'needs the admin role');
	const res = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: { user: 'quinn' } });
	assert.equal(res.status, 200, res.text_);
	assert.deepEqual(res.json_, { revoked: 1, refresh_families: 1 }, 'one session, one refresh-token family');
	assert.equal((await srv.me(qc)).status, 401, 'quinn\'s session');
	await assertRejected(srv, qh, 'quinn\'s hybrid token');
	// SPEC: "revoke every session and refresh token"
	assertInvalidGrant(await refreshApp(qg.refresh_token), 'quinn\'s refresh token after admin revoke-all');
	await assertRejected(srv, qg.access_token, 'quinn\'s password-grant access token after admin revoke-all');
	await assertAccepted(srv, bystander.access_token, 'another user\'s token');
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
	assert.deepEqual(Object.keys(res.json_).sort(), ['refresh_families', 'revoked'], res.text_);
	assert.ok(Number.isInteger(res.json_.revoked) && res.json_.revoked >= 2, `sessions: ${res.text_}`);
	assert.ok(Number.isInteger(res.json_.refresh_families) && res.json_.refresh_families >= 2, `families: ${res.text_}`);
	assert.equal((await srv.me(ac)).status, 401);
	assert.equal((await srv.me(admin)).status, 401, 'the admin too');
	await assertRejected(srv, ah, 'hybrid token after revoke-all');
	assertInvalidGrant(await refreshApp(ag.refresh_token), 'alice\'s refresh token after revoke-all');
	assertInvalidGrant(await refreshApp(bg.refresh_token), 'bob\'s refresh token after revoke-all');
	await assertRejected(srv, ag.access_token, 'alice\'s password-grant token after revoke-all');
	await assertRejected(srv, bg.access_token, 'bob\'s password-grant token after revoke-all');
});
