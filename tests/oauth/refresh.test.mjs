// SPDX-License-Identifier: MIT
// The password grant (RFC 6749 §4.3) through the libraries' generic grant request, then
// refresh-token rotation through their refresh grant (RFC 6749 §6; rotation and reuse
// detection as RFC 9700 §4.14.2 describes them): each use returns a new refresh token; the
// used one, presented again within the grace window (--refresh-grace 1s here), returns the
// same successor; after the window it is refused with invalid_grant and its whole family,
// the newest token included, is revoked. Token responses are not cacheable (RFC 6749 §5.1).
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startOAuthServer, discover, oidc, oidcConfig, grant, passwordFor, rejectsOAuth, assertNoStore,
	plainClient, decodeJwt, B64URL_RE, JWT_RE, PW, sleep,
	stopClean,
} from './lib.mjs';

let srv, as, A, B;

before(async () => {
	srv = await startOAuthServer();
	as = await discover(srv);
	A = await plainClient(srv, 'app-a');
	B = await plainClient(srv, 'app-b');
});

// Wait until the server's clock (time(2), whole seconds) is surely more than the 1 s grace
// window past a refresh answered at `t` (Date.now() when its response arrived).
async function pastGrace(t) {
	const target = (Math.floor(t / 1000) + 2) * 1000 + 150;
	await sleep(Math.max(0, target - Date.now()));
}

test('password grant via oauth4webapi and openid-client: access + refresh token (RFC 6749 §4.3.3, §5.1)', async () => {
	const { body } = await passwordFor(as, A, 'alice', 'read');
	assert.match(body.access_token, JWT_RE);
	assert.equal(body.token_type, 'bearer', 'RFC 6749 §5.1 token_type (oauth4webapi lower-cases it)');
	assert.ok(body.expires_in > 0 && body.expires_in <= 900, `expires_in ${body.expires_in}`);
	assert.equal(body.scope, 'read');
	assert.match(body.refresh_token, B64URL_RE);
	const claims = decodeJwt(body.access_token).payload;
	assert.equal(claims.client_id, A.id, 'RFC 9068 §2.2: client_id of the requesting client');

	const t = await oidc.genericGrantRequest(oidcConfig(as, A, 'post'), 'password',
		{ username: 'bob', password: PW.bob, scope: 'read write' });
	assert.equal(t.scope, 'read write');
	assert.equal(typeof t.refresh_token, 'string');
	assert.equal(decodeJwt(t.access_token).payload.client_id, A.id);

	// RFC 6749 §5.2: wrong resource owner credentials -> invalid_grant
	await rejectsOAuth(grant(as, A, 'password', { username: 'alice', password: 'not-the-password' }), 400, 'invalid_grant',
		'wrong password');
});

test('refresh rotation with openid-client: a new refresh token each use, same subject and scope (RFC 6749 §6)', async () => {
	const { body: first } = await passwordFor(as, A, 'alice', 'read write');
	const config = oidcConfig(as, A);
	const r1 = await oidc.refreshTokenGrant(config, first.refresh_token);
	assert.notEqual(r1.refresh_token, first.refresh_token, 'rotated: a new refresh token');
	assert.notEqual(r1.access_token, first.access_token);
	// RFC 6749 §6: the new tokens carry the original scope, for the same resource owner
	assert.equal(r1.scope, 'read write');
	const p0 = decodeJwt(first.access_token).payload, p1 = decodeJwt(r1.access_token).payload;
	assert.equal(p1.sub, p0.sub);
	assert.equal(p1.client_id, A.id);
	const r2 = await oidc.refreshTokenGrant(config, r1.refresh_token);
	assert.notEqual(r2.refresh_token, r1.refresh_token, 'rotated again');
	assert.notEqual(r2.refresh_token, first.refresh_token);
});

test('refresh reuse: within the grace window the same successor; after it invalid_grant and the family is gone (RFC 6749 §6, RFC 9700 §4.14.2)', async () => {
	const { body: first } = await passwordFor(as, A, 'alice');
	const config = oidcConfig(as, A);
	const rt0 = first.refresh_token;
	const r1 = await oidc.refreshTokenGrant(config, rt0);
	const usedAt = Date.now();
	// concurrent tabs: the used token again inside the window returns the same successor
	const again = await oidc.refreshTokenGrant(config, rt0);
	assert.equal(again.refresh_token, r1.refresh_token, 'the same successor within the grace window');
	const r2 = await oidc.refreshTokenGrant(config, r1.refresh_token);
	const usedAt2 = Date.now();

	await pastGrace(Math.max(usedAt, usedAt2));
	// the used token r1 comes back after the window: someone replayed it
	await rejectsOAuth(oidc.refreshTokenGrant(config, r1.refresh_token), 400, 'invalid_grant',
		'a used refresh token after the grace window');
	// ... and the family's newest token, never used, is revoked with it
	await rejectsOAuth(oidc.refreshTokenGrant(config, r2.refresh_token), 400, 'invalid_grant',
		'the newest refresh token of a family whose used token came back');
	await rejectsOAuth(oidc.refreshTokenGrant(config, rt0), 400, 'invalid_grant', 'the first one too');
});

test('a refresh token is bound to its client: another client gets invalid_grant, the owner keeps it (RFC 6749 §6, §10.4)', async () => {
	const { body } = await passwordFor(as, A, 'alice');
	await rejectsOAuth(oidc.refreshTokenGrant(oidcConfig(as, B), body.refresh_token), 400, 'invalid_grant',
		'RFC 6749 §6: the refresh token was not issued to the authenticated client');
	const r = await oidc.refreshTokenGrant(oidcConfig(as, A), body.refresh_token);
	assert.equal(typeof r.refresh_token, 'string', 'the owner can still use it');
});

test('password and refresh token responses: Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)', async () => {
	const { res, body } = await passwordFor(as, A, 'alice');
	assertNoStore(res, 'password grant response');
	const config = oidcConfig(as, A);
	await oidc.refreshTokenGrant(config, body.refresh_token);
	assertNoStore(config.last, 'refresh grant response');
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
