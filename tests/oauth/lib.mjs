// SPDX-License-Identifier: MIT
//
// OAuth conformance helpers: the token suite's harness (tests/tokens/lib.mjs, which
// re-exports tests/server/lib.mjs: a real `latchkey serve` on a free loopback port, stopped
// by PID) plus panva's oauth4webapi and openid-client pointed at it. The issuer is
// http://127.0.0.1:PORT, so every library call carries the libraries' documented opt-in
// for plain HTTP: oauth4webapi's `allowInsecureRequests` option symbol, openid-client's
// `allowInsecureRequests(config)` (and `execute: [allowInsecureRequests]` for discovery).

import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { startServer, addClient } from '../tokens/lib.mjs';

export * from '../tokens/lib.mjs';
export { oauth, oidc };

// Options for every oauth4webapi request against the plain-HTTP test issuer.
export const HTTP_OK = Object.freeze({ [oauth.allowInsecureRequests]: true });

export const PW = { alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210' };
export const SCOPE = 'read write';

// A server with two users, a short refresh grace window (reuse tests wait it out) and
// the scopes clients ask for. opts.args: more serve flags; opts.tmp: reuse a directory.
export async function startOAuthServer(opts = {}) {
	const srv = await startServer({ ...opts, args: ['--refresh-grace', '1s', ...(opts.args || [])] });
	await srv.addUser('alice', PW.alice, ['dev']);
	await srv.addUser('bob', PW.bob);
	return srv;
}

// RFC 8414 §3: fetch the metadata from one of the two well-known paths with oauth4webapi
// (default /.well-known/openid-configuration; 'oauth2': /.well-known/oauth-authorization-server)
// and check (§3.3) that its issuer is the issuer it was asked for.
export async function discover(srv, algorithm = 'oidc') {
	const issuer = new URL(srv.base);
	const res = await oauth.discoveryRequest(issuer, { algorithm, ...HTTP_OK });
	return oauth.processDiscoveryResponse(issuer, res);
}

// Client ids and secrets are base64url: "-" and "_" appear in some of them.
export const hasDashOrUnderscore = (s) => /[-_]/.test(s);
export const isPlain = (c) => !hasDashOrUnderscore(c.id) && !hasDashOrUnderscore(c.secret);

// A client whose id and secret have no "-" nor "_": the tests that are not about the
// RFC 6749 §2.3.1 / Appendix B encoding use these, so that a server that mis-decodes
// form-urlencoded Basic credentials fails only the test about that.
export async function plainClient(srv, name, scope = SCOPE) {
	for (let i = 0; i < 80; i++) {
		const c = await addClient(srv, `${name}-${i}`, scope);
		if (isPlain(c)) return c;
	}
	throw new Error('80 clients in a row had "-" or "_" in their id or secret');
}

// Client authentication as the libraries do it: 'basic' (client_secret_basic, RFC 6749
// §2.3.1 with the Appendix B form-urlencoding) or 'post' (client_secret_post).
export const authOf = (c, method = 'basic') =>
	(method === 'post' ? oauth.ClientSecretPost(c.secret) : oauth.ClientSecretBasic(c.secret));

// An openid-client Configuration for client c on metadata `as`; config.last is the last
// raw Response the library received (for header checks).
export function oidcConfig(as, c, method = 'basic') {
	const auth = method === 'post' ? oidc.ClientSecretPost(c.secret) : oidc.ClientSecretBasic(c.secret);
	const config = new oidc.Configuration(as, c.id, undefined, auth);
	oidc.allowInsecureRequests(config);
	config[oidc.customFetch] = async (url, options) => {
		const res = await fetch(url, options);
		config.last = res;
		return res;
	};
	return config;
}

// A grant through oauth4webapi's generic token endpoint request. Returns {res, body}; a
// token error rejects with oauth.ResponseBodyError.
export async function grant(as, c, grantType, params, method = 'basic') {
	const client = { client_id: c.id };
	const res = await oauth.genericTokenEndpointRequest(as, client, authOf(c, method), grantType,
		new URLSearchParams(params), HTTP_OK);
	const body = await oauth.processGenericTokenEndpointResponse(as, client, res);
	return { res, body };
}

// The password grant (RFC 6749 §4.3) for client c.
export const passwordFor = (as, c, username, scope = 'read', method = 'basic') =>
	grant(as, c, 'password', { username, password: PW[username], ...(scope ? { scope } : {}) }, method);

// The status and error code of an OAuth error the libraries threw: a ResponseBodyError
// (RFC 6749 §5.2 JSON body), or a WWWAuthenticateChallengeError for a 401 with a
// WWW-Authenticate challenge (its body, unread by the library, read here). Anything else
// is thrown again.
export async function errorOf(e) {
	if (e instanceof oauth.ResponseBodyError) return { status: e.status, error: e.error, body: e.cause };
	if (e instanceof oauth.WWWAuthenticateChallengeError) {
		const body = await e.response.json().catch(() => undefined);
		return { status: e.status, error: body?.error, body };
	}
	throw e;
}

// Insist that promise p rejects with an OAuth error response `status` `code`.
export async function rejectsOAuth(p, status, code, what = `${status} ${code}`) {
	let e = null;
	try { await p; } catch (x) { e = x; }
	assert.ok(e, `${what}: expected an OAuth error response ${status} ${code}, but the request succeeded`);
	const got = await errorOf(e);
	assert.deepEqual({ status: got.status, error: got.error }, { status, error: code },
		`${what}: ${JSON.stringify(got.body)}`);
}

// RFC 6749 §5.1: token responses (and so every response with a token or credentials)
// carry Cache-Control: no-store and Pragma: no-cache.
export function assertNoStore(res, what) {
	assert.match(res.headers.get('cache-control') || '', /(^|[ ,])no-store($|[ ,])/i,
		`${what}: Cache-Control: no-store (RFC 6749 §5.1)`);
	assert.match(res.headers.get('pragma') || '', /(^|[ ,])no-cache($|[ ,])/i,
		`${what}: Pragma: no-cache (RFC 6749 §5.1), got ${JSON.stringify(res.headers.get('pragma'))}`);
}

// Introspect with oauth4webapi as client c (RFC 7662 §2.1); returns the raw response and body.
export async function introspect(as, c, token, method = 'basic') {
	const client = { client_id: c.id };
	const res = await oauth.introspectionRequest(as, client, authOf(c, method), token, HTTP_OK);
	const text = await res.clone().text();
	const body = await oauth.processIntrospectionResponse(as, client, res);
	return { res, body, text };
}
