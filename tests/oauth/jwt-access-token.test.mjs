// SPDX-License-Identifier: MIT
// JWT access tokens (RFC 9068) as a resource server checks them with oauth4webapi's
// validateJwtAccessToken (RFC 9068 §4): typ "at+jwt" (§2.1), the required claims iss, exp,
// aud, sub, iat, jti, client_id (§2.2), issuer and audience, and the signature with a key of
// the server's JWKS found through discovery (jwks_uri, RFC 8414 §2). For tokens from the
// password grant and the client_credentials grant.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startOAuthServer, discover, oauth, passwordFor, grant, plainClient, decodeJwt, nowSec, HTTP_OK,
	stopClean,
} from './lib.mjs';

let srv, as, A;

before(async () => {
	srv = await startOAuthServer();
	as = await discover(srv);
	A = await plainClient(srv, 'app');
});

const asResource = (token) => new Request(`${srv.base}/api/resource`, { headers: { authorization: `Bearer ${token}` } });
// the server's default audience is its issuer (serve --help: audience)
const validate = (token, aud = srv.base) => oauth.validateJwtAccessToken(as, asResource(token), aud, HTTP_OK);

test('password-grant access token passes validateJwtAccessToken (RFC 9068 §2.1, §2.2, §4)', async () => {
	const { body } = await passwordFor(as, A, 'alice', 'read');
	assert.equal(decodeJwt(body.access_token).header.typ, 'at+jwt', 'RFC 9068 §2.1 typ');
	const claims = await validate(body.access_token);
	assert.equal(claims.iss, srv.base);
	assert.equal(claims.client_id, A.id, 'RFC 9068 §2.2: the client that asked');
	assert.equal(claims.scope, 'read', 'RFC 9068 §2.2.3 scope');
	assert.equal(typeof claims.sub, 'string');
	assert.ok(claims.exp > nowSec() && claims.iat <= nowSec() + 1);
});

test('client_credentials access token passes validateJwtAccessToken; sub is the client (RFC 9068 §2.2, §4)', async () => {
	const { body } = await grant(as, A, 'client_credentials', { scope: 'read write' });
	const claims = await validate(body.access_token);
	assert.equal(claims.client_id, A.id);
	assert.equal(claims.sub, A.id, 'RFC 9068 §2.2: sub of a client_credentials token is the client');
	assert.equal(claims.scope, 'read write');
});

test('validateJwtAccessToken refuses a wrong audience and a forged signature (RFC 9068 §4)', async () => {
	const { body } = await grant(as, A, 'client_credentials', { scope: 'read' });
	await assert.rejects(validate(body.access_token, 'https://elsewhere.example'), /aud/i, 'RFC 9068 §4: aud must match');
	const [h, p, s] = body.access_token.split('.');
	const sig = Buffer.from(s, 'base64url');
	sig[sig.length - 1] ^= 1;
	await assert.rejects(validate(`${h}.${p}.${sig.toString('base64url')}`), /signature/i, 'RFC 9068 §4: signature');
	// a payload changed under the original signature
	const claims = decodeJwt(body.access_token).payload;
	const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
	await assert.rejects(validate(`${h}.${forged}.${s}`), /signature/i);
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
