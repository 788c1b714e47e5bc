// SPDX-License-Identifier: MIT
// Authorization server metadata (RFC 8414) at both well-known paths, fetched and checked by
// oauth4webapi and by openid-client: the issuer is the URL it was asked for (RFC 8414 §3.3,
// OpenID Connect Discovery 1.0 §4.3), both paths serve the same document, and the document
// advertises only what the server does: no authorization endpoint and so no response
// types, no ID tokens and so no ID token algorithms.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startOAuthServer, discover, oauth, oidc, HTTP_OK, plainClient, stopClean } from './lib.mjs';

let srv;
before(async () => { srv = await startOAuthServer(); });

for (const [algorithm, wellKnown] of [['oidc', '/.well-known/openid-configuration'],
	['oauth2', '/.well-known/oauth-authorization-server']]) {
	test(`discovery at ${wellKnown}: issuer equals the URL asked for (RFC 8414 §3, §3.3)`, async () => {
		const res = await oauth.discoveryRequest(new URL(srv.base), { algorithm, ...HTTP_OK });
		assert.equal(new URL(res.url).pathname, wellKnown, 'the library asked the path of RFC 8414 §3 / OIDC Discovery §4');
		assert.equal(res.status, 200, `RFC 8414 §3.1: GET ${wellKnown} answers 200`);
		assert.match(res.headers.get('content-type') || '', /^application\/json/, 'RFC 8414 §3.2: application/json');
		// processDiscoveryResponse rejects a document whose issuer is not the expected one (§3.3)
		const md = await oauth.processDiscoveryResponse(new URL(srv.base), res);
		assert.equal(md.issuer, srv.base, 'RFC 8414 §3.3: issuer is identical to the issuer identifier');
		// RFC 8414 §2: the endpoints this server has, under its issuer
		assert.equal(md.token_endpoint, `${srv.base}/oauth2/token`);
		assert.equal(md.jwks_uri, `${srv.base}/.well-known/jwks.json`);
		assert.equal(md.revocation_endpoint, `${srv.base}/oauth2/revoke`);
		assert.equal(md.introspection_endpoint, `${srv.base}/oauth2/introspect`);
		assert.deepEqual([...md.grant_types_supported].sort(), ['client_credentials', 'password', 'refresh_token'],
			'RFC 8414 §2 grant_types_supported: exactly the grants of /oauth2/token');
		for (const m of ['client_secret_basic', 'client_secret_post'])
			assert.ok(md.token_endpoint_auth_methods_supported.includes(m), `RFC 8414 §2: ${m} advertised`);

		// openid-client's discovery on the same path: it also insists issuer === the URL
		const config = await oidc.discovery(new URL(srv.base), 'x', undefined, oidc.None(),
			{ algorithm, execute: [oidc.allowInsecureRequests] });
		assert.equal(config.serverMetadata().issuer, srv.base);
	});

	test(`discovery at ${wellKnown}: advertises only what the server does (RFC 8414 §2)`, async () => {
		const md = await discover(srv, algorithm);
		// RFC 6749 §3.1.1: response_type is a parameter of the authorization endpoint; there is
		// none here, so no response type (least of all "token", the implicit grant) is supported.
		assert.equal(md.authorization_endpoint, undefined, 'no authorization endpoint is advertised');
		const rt = md.response_types_supported ?? [];
		assert.ok(!rt.includes('token'),
			`RFC 8414 §2 response_types_supported must not list "token" (no authorization endpoint): ${JSON.stringify(rt)}`);
		assert.deepEqual(rt, [], `RFC 8414 §2 / RFC 6749 §3.1.1: no response types without an authorization endpoint: ${JSON.stringify(rt)}`);
		// No ID tokens are issued: an ID token signing algorithm would claim otherwise.
		assert.equal(md.id_token_signing_alg_values_supported, undefined,
			`no ID tokens, so no id_token_signing_alg_values_supported: ${JSON.stringify(md.id_token_signing_alg_values_supported)}`);
	});
}

test('both well-known paths serve the same document (RFC 8414 §3; OIDC Discovery §4)', async () => {
	const a = await discover(srv, 'oidc');
	const b = await discover(srv, 'oauth2');
	assert.deepEqual(a, b);
});

test('the advertised endpoints work with the libraries: jwks_uri has keys, token_endpoint issues (RFC 8414 §2)', async () => {
	const as = await discover(srv);
	const jwks = await fetch(as.jwks_uri);
	assert.equal(jwks.status, 200);
	const keys = (await jwks.json()).keys;
	assert.ok(Array.isArray(keys) && keys.length >= 1, 'RFC 7517 §5: a JWK Set with keys');
	const c = await plainClient(srv, 'disco');
	const config = new oidc.Configuration(as, c.id, undefined, oidc.ClientSecretBasic(c.secret));
	oidc.allowInsecureRequests(config);
	const t = await oidc.clientCredentialsGrant(config, { scope: 'read' });
	assert.equal(t.token_type.toLowerCase(), 'bearer');
	assert.equal(t.scope, 'read');
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
