// SPDX-License-Identifier: MIT
// Token revocation (RFC 7009) through openid-client and oauth4webapi. The client a token was
// issued to revokes it: 200 and the token stops working (§2.1, §2.2). Another client is
// refused with unauthorized_client and the token keeps working (§2.1: the server "verifies
// whether the token was issued to the client making the revocation request"; §2.2.1). A
// request without client authentication, or with a wrong secret, is refused with 401
// invalid_client (§2.1 via RFC 6749 §2.3.1, §5.2) and revokes nothing.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startOAuthServer, discover, oauth, oidc, oidcConfig, passwordFor, introspect, rejectsOAuth, authOf,
	plainClient, verifyReq, HTTP_OK,
	stopClean,
} from './lib.mjs';

let srv, as, A, B;

before(async () => {
	srv = await startOAuthServer();
	as = await discover(srv);
	A = await plainClient(srv, 'owner');
	B = await plainClient(srv, 'other');
});

// The refresh token still works for its client: one rotation (RFC 6749 §6).
async function assertRefreshWorks(rt, what) {
	const r = await oidc.refreshTokenGrant(oidcConfig(as, A), rt).catch((e) => e);
	assert.ok(!(r instanceof Error), `${what}: the refresh token still works (${r?.status} ${r?.error} ${r?.message})`);
}
// The access token is still good: active for its client, accepted at /auth/verify.
async function assertAccessWorks(at, what) {
	assert.equal((await introspect(as, A, at)).body.active, true, `${what}: still active (RFC 7662)`);
	assert.equal((await verifyReq(srv, at)).status, 200, `${what}: still accepted at /auth/verify`);
}

const revokeWith = (c, token, method = 'basic') =>
	oauth.revocationRequest(as, { client_id: c.id }, authOf(c, method), token, HTTP_OK)
		.then(oauth.processRevocationResponse);

test('the owning client revokes a refresh token: 200, then the refresh grant fails (RFC 7009 §2.1, §2.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	const config = oidcConfig(as, A);
	assert.equal(await oidc.tokenRevocation(config, t.refresh_token, { token_type_hint: 'refresh_token' }), undefined);
	assert.equal(config.last.status, 200, 'RFC 7009 §2.2: HTTP 200');
	await rejectsOAuth(oidc.refreshTokenGrant(config, t.refresh_token), 400, 'invalid_grant',
		'a revoked refresh token (RFC 6749 §5.2 invalid_grant)');
	// RFC 7009 §2.2: revoking an already revoked (invalid) token is still answered 200
	await oidc.tokenRevocation(config, t.refresh_token);
	assert.equal(config.last.status, 200);
});

test('the owning client revokes an access token: 200, then it is inactive and refused (RFC 7009 §2.1, §2.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	await assertAccessWorks(t.access_token, 'before revocation');
	assert.equal(await revokeWith(A, t.access_token, 'post'), undefined, '200 with client_secret_post');
	assert.deepEqual((await introspect(as, A, t.access_token)).body, { active: false }, 'RFC 7662 §2.2 after revocation');
	assert.equal((await verifyReq(srv, t.access_token)).status, 401, '/auth/verify after revocation');
});

test('another client revoking the token: 400 unauthorized_client, the token still works (RFC 7009 §2.1, §2.2.1)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	const config = oidcConfig(as, B);
	await rejectsOAuth(oidc.tokenRevocation(config, t.refresh_token), 400, 'unauthorized_client',
		'refresh token of client A revoked by client B');
	await rejectsOAuth(revokeWith(B, t.access_token), 400, 'unauthorized_client',
		'access token of client A revoked by client B');
	await assertAccessWorks(t.access_token, 'access token after B tried to revoke it');
	await assertRefreshWorks(t.refresh_token, 'refresh token after B tried to revoke it');
});

test('revocation without client authentication: 401 invalid_client, nothing revoked (RFC 7009 §2.1; RFC 6749 §2.3.1, §5.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	// no client at all: just the token
	for (const token of [t.refresh_token, t.access_token]) {
		const res = await fetch(as.revocation_endpoint, {
			method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams({ token }).toString(),
		});
		const body = await res.json().catch(() => null);
		assert.equal(res.status, 401, `anonymous revocation: ${res.status} ${JSON.stringify(body)}`);
		assert.equal(body?.error, 'invalid_client');
	}
	// client_id alone, as oauth4webapi's None() sends it: a confidential client must authenticate
	const res = await oauth.revocationRequest(as, { client_id: A.id }, oauth.None(), t.refresh_token, HTTP_OK);
	await rejectsOAuth(oauth.processRevocationResponse(res), 401, 'invalid_client', 'client_id without a secret');
	await assertAccessWorks(t.access_token, 'access token after anonymous revocation attempts');
	await assertRefreshWorks(t.refresh_token, 'refresh token after anonymous revocation attempts');
});

test('revocation with a wrong client secret: 401 invalid_client, nothing revoked (RFC 7009 §2.1; RFC 6749 §5.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	const wrong = { ...A, secret: A.secret.slice(0, -2) + (A.secret.endsWith('AA') ? 'BA' : 'AA') };
	for (const method of ['basic', 'post']) {
		await rejectsOAuth(revokeWith(wrong, t.refresh_token, method), 401, 'invalid_client', method);
		await rejectsOAuth(revokeWith(wrong, t.access_token, method), 401, 'invalid_client', method);
	}
	const res = await oauth.revocationRequest(as, { client_id: A.id }, authOf(wrong, 'basic'), t.access_token, HTTP_OK);
	assert.equal(res.status, 401);
	assert.match(res.headers.get('www-authenticate') || '', /^Basic\b/i, 'RFC 6749 §5.2: WWW-Authenticate for Basic');
	await assertAccessWorks(t.access_token, 'access token after wrong-secret attempts');
	await assertRefreshWorks(t.refresh_token, 'refresh token after wrong-secret attempts');
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
