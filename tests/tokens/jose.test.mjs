// SPDX-License-Identifier: MIT
// Interop with a verifier no one here wrote: panva/jose (pinned in package.json) finds our
// JWKS through the discovery document (createRemoteJWKSet) and accepts our access tokens
// with jwtVerify — issuer, audience, typ at+jwt, the algorithm pinned — for every signing
// algorithm we offer and publish: ES256, EdDSA, RS256, PS256. Tampered tokens it rejects.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { startServer, passwordGrant, refreshReq, hybrid, tokenReq, addClient, decodeJwt } from './lib.mjs';

const ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'];
const KTY = { ES256: 'EC', EdDSA: 'OKP', RS256: 'RSA', PS256: 'RSA' };
const PW = 'alice-pw-0123456789';
const servers = {};

before(async () => {
	await Promise.all(ALGS.map(async (alg) => {
		const srv = await startServer({ args: ['--signing-alg', alg, '--user-scopes', 'read'] });
		await srv.addUser('alice', PW, ['dev']);
		srv.client = await addClient(srv, 'svc', 'read write');
		servers[alg] = srv;
	}));
});

// What a resource server does: discovery -> jwks_uri -> remote key set.
async function discover(base) {
	const res = await fetch(`${base}/.well-known/openid-configuration`);
	assert.equal(res.status, 200);
	const d = await res.json();
	return { d, JWKS: jose.createRemoteJWKSet(new URL(d.jwks_uri)) };
}

for (const alg of ALGS) {
	test(`jose createRemoteJWKSet + jwtVerify through discovery accepts ${alg} tokens`, async () => {
		const srv = servers[alg];
		const { d, JWKS } = await discover(srv.base);
		assert.equal(d.issuer, srv.base);
		assert.ok(d.access_token_signing_alg_values_supported.includes(alg), `discovery advertises ${alg}`);
		const set = await (await fetch(d.jwks_uri)).json();
		assert.ok(set.keys.length >= 1);
		for (const k of set.keys) {
			assert.equal(k.kty, KTY[alg]);
			assert.equal(k.alg, alg);
			await jose.importJWK(k, alg); // a valid public JWK for jose
		}

		const pg = await passwordGrant(srv, 'alice', PW, { scope: 'read' });
		const rf = await refreshReq(srv, pg.refresh_token);
		assert.equal(rf.status, 200);
		const hy = await hybrid(srv, await srv.session('alice', PW));
		const cc = await tokenReq(srv, { grant_type: 'client_credentials' }, { client: srv.client });
		assert.equal(cc.status, 200);
		const tokens = {
			'password grant': pg.access_token,
			'refresh grant': rf.json_.access_token,
			'hybrid /token': hy,
			client_credentials: cc.json_.access_token,
		};
		for (const [what, t] of Object.entries(tokens)) {
			const { payload, protectedHeader } = await jose.jwtVerify(t, JWKS, {
				issuer: d.issuer,
				audience: d.issuer,
				typ: 'at+jwt',
				algorithms: [alg],
				requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
			}).catch((e) => assert.fail(`jose rejected the ${what} token (${alg}): ${e.code} ${e.message}`));
			assert.equal(protectedHeader.alg, alg, what);
			assert.equal(protectedHeader.typ, 'at+jwt', what);
			assert.ok(set.keys.some((k) => k.kid === protectedHeader.kid), `${what}: kid in the JWKS`);
			assert.deepEqual(payload, decodeJwt(t).payload, what);
		}
		assert.equal((await jose.jwtVerify(pg.access_token, JWKS, { issuer: d.issuer })).payload.scope, 'read');
		assert.deepEqual((await jose.jwtVerify(hy, JWKS)).payload.roles, ['dev']);

		// and it rejects what it should: a changed payload, another issuer or audience
		const [h, , s] = pg.access_token.split('.');
		const evil = Buffer.from(JSON.stringify({ ...decodeJwt(pg.access_token).payload, sub: '1' })).toString('base64url');
		await assert.rejects(jose.jwtVerify(`${h}.${evil}.${s}`, JWKS), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
		await assert.rejects(jose.jwtVerify(pg.access_token, JWKS, { issuer: 'https://other.example' }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
		await assert.rejects(jose.jwtVerify(pg.access_token, JWKS, { audience: 'https://other.example' }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
		await assert.rejects(jose.jwtVerify(pg.access_token, JWKS, { algorithms: [alg === 'ES256' ? 'RS256' : 'ES256'] }));
	});
}

test('jose: a key set from one server does not verify another server\'s tokens', async () => {
	const a = servers.ES256, b = servers.EdDSA;
	const { JWKS } = await discover(a.base);
	const t = (await passwordGrant(b, 'alice', PW)).access_token;
	await assert.rejects(jose.jwtVerify(t, JWKS), (e) => ['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JOSE_ALG_NOT_ALLOWED', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'].includes(e.code));
});
