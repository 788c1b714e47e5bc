// SPDX-License-Identifier: MIT
// The token endpoints from the outside: discovery and JWKS, the access token's header and
// claims (RFC 9068), the hybrid exchange POST /token (session cookie, CSRF, 300 s), the
// password grant (900 s, refresh token in the body; for a browser only as an HttpOnly
// cookie scoped to /oauth2), client_credentials with Basic and client_secret_post, token
// responses with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1), and the
// RFC 6749 §5.2 errors with their status codes; bearer failures carry the RFC 6750 challenge.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
	startServer, addClient, passwordGrant, tokenReq, refreshReq, hybrid, hybridReq, verifyReq,
	meReq, assertRejected, assertAccepted, decodeJwt, jwks, refreshCookie, nowSec, post, basic,
	B64URL_RE, JWT_RE,
	stopClean,
} from './lib.mjs';

let srv, svc;
const PW = { alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210' };
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

before(async () => {
	srv = await startServer({ args: ['--jwks-max-age', '7s', '--user-scopes', 'read write'] });
	await srv.addUser('alice', PW.alice, ['dev', 'ops']);
	await srv.addUser('bob', PW.bob);
	svc = await addClient(srv, 'svc', 'read write');
});

function assertOAuthError(res, status, code, what) {
	assert.equal(res.status, status, `${what}: status (${res.text_})`);
	assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: JSON`);
	assert.equal(res.json_?.error, code, `${what}: error code`);
	assert.equal(typeof res.json_.error_description, 'string', `${what}: error_description`);
	assert.match(res.headers.get('cache-control') || '', /no-store/, `${what}: Cache-Control: no-store`);
}

test('discovery document names the issuer, endpoints, grants and the signing algorithm', async () => {
	const res = await srv.fetch('/.well-known/openid-configuration');
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type'), /^application\/json/);
	const d = res.json_;
	assert.equal(d.issuer, srv.base);
	assert.equal(d.jwks_uri, `${srv.base}/.well-known/jwks.json`);
	assert.equal(d.token_endpoint, `${srv.base}/oauth2/token`);
	assert.equal(d.revocation_endpoint, `${srv.base}/oauth2/revoke`);
	assert.equal(d.introspection_endpoint, `${srv.base}/oauth2/introspect`);
	for (const g of ['password', 'refresh_token', 'client_credentials'])
		assert.ok(d.grant_types_supported.includes(g), `grant ${g} advertised`);
	assert.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
	assert.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_post'));
	assert.deepEqual(d.access_token_signing_alg_values_supported, ['ES256']);
});

test('JWKS: public keys only, kid/alg/use, Content-Type and Cache-Control max-age', async () => {
	const { res, keys } = await jwks(srv);
	assert.match(res.headers.get('content-type'), /^application\/(jwk-set\+)?json/);
	const cc = res.headers.get('cache-control') || '';
	assert.match(cc, /(^|[ ,])max-age=7($|[ ,])/, `Cache-Control carries --jwks-max-age (${cc})`);
	assert.doesNotMatch(cc, /no-store/, 'the JWKS may be cached');
	assert.ok(keys.length >= 1);
	for (const k of keys) {
		for (const m of PRIVATE) assert.ok(!(m in k), `JWKS key has no private member "${m}"`);
		assert.equal(k.kty, 'EC');
		assert.equal(k.crv, 'P-256');
		assert.equal(k.alg, 'ES256');
		assert.equal(k.use, 'sig');
		assert.match(k.kid, B64URL_RE);
	}
	assert.ok(!/"d"\s*:/.test(res.text_), 'no "d" anywhere in the document');
});

test('password grant: 200, Bearer, expires_in 900, refresh token in the body, no-store, Pragma: no-cache', async () => {
	const res = await tokenReq(srv, { grant_type: 'password', username: 'alice', password: PW.alice, scope: 'read' });
	assert.equal(res.status, 200, res.text_);
	assert.match(res.headers.get('cache-control') || '', /no-store/, 'RFC 6749 §5.1: Cache-Control: no-store');
	assert.equal(res.headers.get('pragma'), 'no-cache', 'RFC 6749 §5.1: Pragma: no-cache');
	const b = res.json_;
	assert.equal(b.token_type, 'Bearer');
	assert.equal(b.expires_in, 900);
	assert.equal(b.scope, 'read');
	assert.match(b.access_token, JWT_RE);
	assert.match(b.refresh_token, /^[A-Za-z0-9_-]{43}$/, 'refresh token: 256 bits of base64url');
	assert.equal(res.headers.getSetCookie().length, 0, 'a non-browser client gets no cookie');
	srv.secrets.add(b.refresh_token);
});

test('access token from the password grant: header typ at+jwt + kid, all RFC 9068 claims, sid', async () => {
	const t0 = nowSec();
	const b = await passwordGrant(srv, 'alice', PW.alice, { scope: 'read write' });
	const { header, payload: c } = decodeJwt(b.access_token);
	assert.equal(header.alg, 'ES256');
	assert.equal(header.typ, 'at+jwt');
	const { kids } = await jwks(srv);
	assert.ok(kids.includes(header.kid), 'kid names a key in the JWKS');
	for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'roles', 'sid'])
		assert.ok(name in c, `claim ${name} present`);
	assert.equal(c.iss, srv.base);
	assert.ok(c.aud === srv.base || (Array.isArray(c.aud) && c.aud.includes(srv.base)), 'aud defaults to the issuer');
	assert.equal(typeof c.sub, 'string');
	assert.ok(Number.isInteger(c.iat) && Math.abs(c.iat - t0) <= 5, 'iat is now');
	assert.equal(c.exp - c.iat, 900);
	assert.equal(c.scope, 'read write');
	assert.deepEqual(c.roles, ['dev', 'ops']);
	assert.equal(typeof c.client_id, 'string');
	assert.ok(c.client_id.length > 0);
	assert.match(c.jti, B64URL_RE);
	assert.match(c.sid, B64URL_RE);
	// jti is unique, sid is per refresh family
	const b2 = await passwordGrant(srv, 'alice', PW.alice);
	const c2 = decodeJwt(b2.access_token).payload;
	assert.notEqual(c2.jti, c.jti);
	assert.notEqual(c2.sid, c.sid, 'each password grant starts a new family');
	assert.equal(c2.sub, c.sub);
	// and it is accepted, with the same identity, at /me and /auth/verify
	const { verify, me } = await assertAccepted(srv, b.access_token);
	assert.equal(verify.headers.get('x-auth-subject'), c.sub);
	assert.equal(verify.headers.get('x-auth-user'), 'alice');
	assert.equal(verify.headers.get('x-auth-roles'), 'dev,ops');
	assert.equal(verify.headers.get('x-auth-scope'), 'read write');
	assert.equal(me.json_.name, 'alice');
	assert.equal(me.json_.sub, c.sub);
	assert.deepEqual(me.json_.roles, ['dev', 'ops']);
});

test('POST /token: session cookie -> 300 s token tied to the session (sid = /sessions id)', async () => {
	const cookie = await srv.session('alice', PW.alice);
	const res = await hybridReq(srv, cookie);
	assert.equal(res.status, 200, res.text_);
	assert.equal(res.json_.token_type, 'Bearer');
	assert.equal(res.json_.expires_in, 300);
	assert.ok(!('refresh_token' in res.json_), 'the hybrid exchange gives no refresh token');
	assert.match(res.headers.get('cache-control') || '', /no-store/);
	const { header, payload: c } = decodeJwt(res.json_.access_token);
	assert.equal(header.typ, 'at+jwt');
	assert.ok(header.kid);
	for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'roles', 'sid'])
		assert.ok(name in c, `claim ${name} present`);
	assert.equal(c.exp - c.iat, 300);
	assert.deepEqual(c.roles, ['dev', 'ops']);
	const sessions = (await srv.fetch('/sessions', { cookie })).json_;
	const current = sessions.find((s) => s.current);
	assert.equal(c.sid, current.id, 'sid is the public session id from GET /sessions');
	const me = (await srv.me(cookie)).json_;
	assert.equal(c.sub, me.sub);
	const { me: bm } = await assertAccepted(srv, res.json_.access_token, 'hybrid token');
	assert.equal(bm.json_.session?.id, current.id, '/me by Bearer names the session');
});

test('POST /token requires a live session cookie and is CSRF-checked', async () => {
	const none = await hybridReq(srv, undefined);
	assert.equal(none.status, 401, 'no cookie');
	const bogus = await hybridReq(srv, 'A'.repeat(43));
	assert.equal(bogus.status, 401, 'unknown cookie');
	// a Bearer token is not a session
	const at = (await passwordGrant(srv, 'bob', PW.bob)).access_token;
	const viaBearer = await srv.fetch('/token', { method: 'POST', headers: { Authorization: `Bearer ${at}` } });
	assert.equal(viaBearer.status, 401, 'Bearer is not accepted at /token');

	const cookie = await srv.session('bob', PW.bob);
	const xsite = await hybridReq(srv, cookie, { headers: { Origin: 'https://evil.example' } });
	assert.equal(xsite.status, 403, `cross-site Origin: ${xsite.text_}`);
	assert.ok(!xsite.json_?.access_token);
	const xsite2 = await hybridReq(srv, cookie, { browser: false, headers: { 'Sec-Fetch-Site': 'cross-site' } });
	assert.equal(xsite2.status, 403, 'Sec-Fetch-Site: cross-site without Origin');
	const ok = await hybridReq(srv, cookie);
	assert.equal(ok.status, 200);
	// after sign-out the cookie no longer buys tokens
	const out = await srv.fetch('/logout', { method: 'POST', cookie });
	assert.equal(out.status, 200);
	assert.equal((await hybridReq(srv, cookie)).status, 401, 'the session is over');
	assert.equal((await srv.fetch('/token', { cookie })).status, 405, 'GET /token');
});

test('client_credentials with HTTP Basic: the client\'s scopes, sub = client_id, no refresh token', async () => {
	const res = await tokenReq(srv, { grant_type: 'client_credentials' }, { client: svc });
	assert.equal(res.status, 200, res.text_);
	assert.match(res.headers.get('cache-control') || '', /no-store/);
	assert.equal(res.headers.get('pragma'), 'no-cache', 'RFC 6749 §5.1: Pragma: no-cache');
	const b = res.json_;
	assert.equal(b.token_type, 'Bearer');
	assert.equal(b.expires_in, 900);
	assert.equal(b.scope, 'read write');
	assert.ok(!('refresh_token' in b), 'RFC 6749 §4.4.3: no refresh token');
	const { header, payload: c } = decodeJwt(b.access_token);
	assert.equal(header.typ, 'at+jwt');
	assert.equal(c.sub, svc.id);
	assert.equal(c.client_id, svc.id);
	assert.equal(c.scope, 'read write');
	assert.deepEqual(c.roles, []);
	assert.ok(!('sid' in c), 'not tied to a session');
	const v = await verifyReq(srv, b.access_token);
	assert.equal(v.status, 200);
	assert.equal(v.headers.get('x-auth-subject'), svc.id);
	assert.equal(v.headers.get('x-auth-scope'), 'read write');
	// a narrower scope
	const narrow = await tokenReq(srv, { grant_type: 'client_credentials', scope: 'read' }, { client: svc });
	assert.equal(narrow.status, 200);
	assert.equal(narrow.json_.scope, 'read');
	assert.equal(decodeJwt(narrow.json_.access_token).payload.scope, 'read');
});

test('client_credentials with client_secret_post', async () => {
	const res = await tokenReq(srv, { grant_type: 'client_credentials', client_id: svc.id, client_secret: svc.secret });
	assert.equal(res.status, 200, res.text_);
	assert.equal(decodeJwt(res.json_.access_token).payload.client_id, svc.id);
});

test('scope beyond the client\'s -> 400 invalid_scope', async () => {
	const r1 = await tokenReq(srv, { grant_type: 'client_credentials', scope: 'read admin' }, { client: svc });
	assertOAuthError(r1, 400, 'invalid_scope', 'client_credentials, scope beyond');
	const r2 = await tokenReq(srv, { grant_type: 'client_credentials', scope: 'admin', client_id: svc.id, client_secret: svc.secret });
	assertOAuthError(r2, 400, 'invalid_scope', 'client_secret_post, scope beyond');
	const r3 = await tokenReq(srv, { grant_type: 'password', username: 'alice', password: PW.alice, scope: 'write admin' }, { client: svc });
	assertOAuthError(r3, 400, 'invalid_scope', 'password grant by a client, scope beyond');
});

test('wrong client credentials -> 401 invalid_client with WWW-Authenticate: Basic', async () => {
	const cases = [
		['wrong secret (Basic)', {}, { client: { id: svc.id, secret: 'x'.repeat(43) } }],
		['unknown client (Basic)', {}, { client: { id: 'no-such-client', secret: svc.secret } }],
		['malformed Basic', {}, { headers: { Authorization: 'Basic !!!not-base64' } }],
		['wrong secret (post)', { client_id: svc.id, client_secret: svc.secret.slice(0, -1) + (svc.secret.endsWith('A') ? 'B' : 'A') }, {}],
	];
	for (const [what, extra, opts] of cases) {
		const res = await tokenReq(srv, { grant_type: 'client_credentials', ...extra }, opts);
		assertOAuthError(res, 401, 'invalid_client', what);
		if (opts.client || opts.headers)
			assert.match(res.headers.get('www-authenticate') || '', /^Basic\b/, `${what}: WWW-Authenticate: Basic`);
		assert.ok(!res.json_.access_token);
	}
	const none = await tokenReq(srv, { grant_type: 'client_credentials' });
	assertOAuthError(none, 401, 'invalid_client', 'client_credentials without client authentication');
	// the right secret for another client's id
	const other = await addClient(srv, 'other', 'read');
	const swapped = await tokenReq(srv, { grant_type: 'client_credentials' }, { client: { id: other.id, secret: svc.secret } });
	assertOAuthError(swapped, 401, 'invalid_client', 'one client\'s secret with another\'s id');
});

test('RFC 6749 §5.2 errors: invalid_grant, unsupported_grant_type, invalid_request', async () => {
	assertOAuthError(await tokenReq(srv, { grant_type: 'password', username: 'alice', password: 'wrong-password-1' }),
		400, 'invalid_grant', 'wrong password');
	assertOAuthError(await tokenReq(srv, { grant_type: 'password', username: 'nobody-here', password: 'whatever-123456' }),
		400, 'invalid_grant', 'unknown user');
	assertOAuthError(await refreshReq(srv, 'A'.repeat(43)), 400, 'invalid_grant', 'unknown refresh token');
	assertOAuthError(await refreshReq(srv, 'not a token'), 400, 'invalid_grant', 'malformed refresh token');
	assertOAuthError(await tokenReq(srv, { grant_type: 'authorization_code', code: 'x', redirect_uri: 'http://x/' }),
		400, 'unsupported_grant_type', 'authorization_code');
	assertOAuthError(await tokenReq(srv, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, { client: svc }),
		400, 'unsupported_grant_type', 'device_code with client auth');
	assertOAuthError(await tokenReq(srv, { username: 'alice', password: PW.alice }), 400, 'invalid_request', 'no grant_type');
	assertOAuthError(await tokenReq(srv, { grant_type: 'refresh_token' }), 400, 'invalid_request', 'no refresh_token');
	assertOAuthError(await tokenReq(srv, { grant_type: 'password', username: 'alice' }), 400, 'invalid_request', 'no password');
	const json = await srv.fetch('/oauth2/token', {
		method: 'POST', browser: false,
		json: { grant_type: 'password', username: 'alice', password: PW.alice },
	});
	assertOAuthError(json, 400, 'invalid_request', 'a JSON body');
	assert.equal((await srv.fetch('/oauth2/token')).status, 405, 'GET /oauth2/token');
});

test('a refresh token issued to a confidential client works only with that client\'s authentication', async () => {
	const b = await passwordGrant(srv, 'alice', PW.alice, {}, { client: svc });
	assert.equal(decodeJwt(b.access_token).payload.client_id, svc.id);
	assertOAuthError(await refreshReq(srv, b.refresh_token), 400, 'invalid_grant', 'without client auth');
	const other = await addClient(srv, 'other2', '');
	assertOAuthError(await refreshReq(srv, b.refresh_token, { client: other }), 400, 'invalid_grant', 'another client');
	const ok = await refreshReq(srv, b.refresh_token, { client: svc });
	assert.equal(ok.status, 200, ok.text_);
	assert.match(ok.headers.get('cache-control') || '', /no-store/);
	assert.equal(ok.headers.get('pragma'), 'no-cache', 'the refresh grant\'s response: Pragma: no-cache');
	assert.equal(decodeJwt(ok.json_.access_token).payload.client_id, svc.id);
});

test('browser password grant: refresh token only as HttpOnly cookie on /oauth2, refresh works from it', async () => {
	const res = await tokenReq(srv, { grant_type: 'password', username: 'alice', password: PW.alice },
		{ browser: true });
	assert.equal(res.status, 200, res.text_);
	assert.ok(!('refresh_token' in res.json_), 'not in the body for a browser');
	assert.equal(res.json_.expires_in, 900);
	const rc = refreshCookie(srv, res);
	assert.ok(rc, `Set-Cookie latchkey-refresh (got ${JSON.stringify(res.headers.getSetCookie())})`);
	srv.secrets.add(rc.value);
	const attrs = rc.setCookie.split(';').map((s) => s.trim().toLowerCase());
	assert.ok(attrs.includes('path=/oauth2'), `Path=/oauth2: ${rc.setCookie}`);
	assert.ok(attrs.includes('httponly'), 'HttpOnly');
	assert.ok(attrs.includes('samesite=strict'), `SameSite=Strict: ${rc.setCookie}`);
	assert.ok(!attrs.includes('secure'), '--insecure-cookies drops Secure');
	assert.match(rc.value, /^[A-Za-z0-9_-]{43}$/);
	assert.ok(!res.text_.includes(rc.value), 'the body does not repeat the cookie');

	// refresh from the cookie alone, as a same-origin script would
	const cookieHdr = `latchkey-refresh=${rc.value}`;
	const r2 = await tokenReq(srv, { grant_type: 'refresh_token' }, { browser: true, headers: { Cookie: cookieHdr } });
	assert.equal(r2.status, 200, r2.text_);
	assert.ok(!('refresh_token' in r2.json_), 'the successor also only as a cookie');
	const rc2 = refreshCookie(srv, r2);
	assert.ok(rc2, 'a rotated refresh cookie');
	assert.notEqual(rc2.value, rc.value, 'rotated');
	await assertAccepted(srv, r2.json_.access_token, 'access token from the cookie refresh');

	// a cross-site page cannot ride on the cookie
	const x = await tokenReq(srv, { grant_type: 'refresh_token' },
		{ headers: { Cookie: `latchkey-refresh=${rc2.value}`, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
	assert.equal(x.status, 403, `cross-site refresh: ${x.text_}`);
	assert.ok(!x.json_?.access_token);
	// and the cookie still works for the right origin afterwards (the refusal used nothing)
	const r3 = await tokenReq(srv, { grant_type: 'refresh_token' }, { browser: true, headers: { Cookie: `latchkey-refresh=${rc2.value}` } });
	assert.equal(r3.status, 200, r3.text_);
	// a cross-site sign-in through the password grant is refused too
	const xs = await tokenReq(srv, { grant_type: 'password', username: 'alice', password: PW.alice },
		{ headers: { Origin: 'https://evil.example' } });
	assert.equal(xs.status, 403);
});

test('the refresh cookie is __Secure- and Secure without --insecure-cookies', async () => {
	const s2 = await startServer({ insecure: false });
	await s2.addUser('carol', 'carol-pw-5555555555');
	const res = await tokenReq(s2, { grant_type: 'password', username: 'carol', password: 'carol-pw-5555555555' }, { browser: true });
	assert.equal(res.status, 200, res.text_);
	const rc = refreshCookie(s2, res);
	assert.ok(rc, `Set-Cookie __Secure-latchkey-refresh (got ${JSON.stringify(res.headers.getSetCookie())})`);
	// RFC 6265 §5.2: attributes are split on ";" — "Secure SameSite=Strict" is one unknown
	// attribute, which loses both Secure and SameSite
	const attrs = rc.setCookie.split(';').map((s) => s.trim().toLowerCase());
	for (const a of ['secure', 'httponly', 'path=/oauth2', 'samesite=strict'])
		assert.ok(attrs.includes(a), `attribute "${a}" in ${rc.setCookie}`);
	assert.ok(!('refresh_token' in res.json_));
	await stopClean(s2);
});

test('bearer failures: 401 with WWW-Authenticate: Bearer error="invalid_token"', async () => {
	const good = (await passwordGrant(srv, 'bob', PW.bob)).access_token;
	const [h, p, s] = good.split('.');
	const claims = decodeJwt(good).payload;
	const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	const { header } = decodeJwt(good);

	await assertRejected(srv, 'garbage', 'garbage');
	await assertRejected(srv, `${h}.${p}.${s.slice(0, -4)}AAAA`, 'bad signature');
	await assertRejected(srv, `${h}.${enc({ ...claims, sub: '1', roles: ['admin'] })}.${s}`, 'payload swapped');
	await assertRejected(srv, `${enc({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${p}.`, 'alg none');
	// our kid, someone else's key
	const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
	const fh = enc({ alg: 'ES256', typ: 'at+jwt', kid: header.kid });
	const fp = enc({ ...claims, sub: '1', roles: ['admin'], jti: 'forged' });
	const sig = crypto.sign('sha256', Buffer.from(`${fh}.${fp}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
	await assertRejected(srv, `${fh}.${fp}.${sig.toString('base64url')}`, 'forged with our kid');
	// HS256 keyed with our public key (algorithm confusion)
	const pub = (await jwks(srv)).keys.find((k) => k.kid === header.kid);
	const hh = enc({ alg: 'HS256', typ: 'at+jwt', kid: header.kid });
	const mac = crypto.createHmac('sha256', JSON.stringify(pub)).update(`${hh}.${p}`).digest('base64url');
	await assertRejected(srv, `${hh}.${p}.${mac}`, 'HS256 with the public key as secret');
	// more than 8 KiB is refused before parsing
	await assertRejected(srv, `${h}.${'A'.repeat(9000)}.${s}`, 'over 8 KiB');
	// a lowercase scheme still counts as Bearer (RFC 7235: case-insensitive)
	const lc = await srv.fetch('/auth/verify', { headers: { Authorization: `bearer ${good}` } });
	assert.equal(lc.status, 200, 'scheme is case-insensitive');
	// no credentials at all: 401 with a bare challenge
	const bare = await srv.fetch('/auth/verify');
	assert.equal(bare.status, 401);
	assert.match(bare.headers.get('www-authenticate') || '', /^Bearer\b/);
	assert.equal((await meReq(srv, good)).status, 200, 'the good token still works');
});

test('no password, client secret, refresh token or access token reaches the server\'s logs', async () => {
	const b = await passwordGrant(srv, 'alice', PW.alice);
	const cc = (await tokenReq(srv, { grant_type: 'client_credentials' }, { client: svc })).json_.access_token;
	await verifyReq(srv, b.access_token);
	await verifyReq(srv, 'not-a-token-but-secret-looking');
	const leaks = srv.leaks([b.access_token, cc, svc.secret, b.refresh_token, 'not-a-token-but-secret-looking']);
	assert.deepEqual(leaks, []);
});

// A user could otherwise mint "scope=admin" for themselves and an app trusting
// X-Auth-Scope would believe it: without a client, only --user-scopes may be asked for.
test('password grant: a scope outside --user-scopes is invalid_scope (400), no token issued', async () => {
	const res = await tokenReq(srv, { grant_type: 'password', username: 'alice', password: PW.alice, scope: 'read admin' });
	assert.equal(res.status, 400, res.text_);
	assert.equal(res.json_.error, 'invalid_scope');
	assert.equal(res.json_.access_token, undefined);
});
