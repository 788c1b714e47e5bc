// SPDX-License-Identifier: MIT
// Token introspection (RFC 7662) through oauth4webapi and openid-client: the client a token
// was issued to sees its access and refresh tokens active with client_id, sub, scope and
// exp (§2.2); any other client learns nothing, {"active":false} and no other member
// (§2.2, §4), unless the server names it a resource server (--resource-servers), which
// may introspect every token.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startOAuthServer, discover, oidc, oidcConfig, passwordFor, grant, introspect, rejectsOAuth,
	plainClient, isPlain, decodeJwt, nowSec, tmpDir, cli, storeUrl, oauth, HTTP_OK,
	stopClean,
} from './lib.mjs';

let srv, as, A, B;

before(async () => {
	srv = await startOAuthServer();
	as = await discover(srv);
	A = await plainClient(srv, 'owner');
	B = await plainClient(srv, 'other');
});

test('introspection of an access token by its client: active, client_id, sub, scope, exp (RFC 7662 §2.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice', 'read');
	const claims = decodeJwt(t.access_token).payload;
	const { body } = await introspect(as, A, t.access_token);
	assert.equal(body.active, true);
	assert.equal(body.client_id, A.id);
	assert.equal(body.sub, claims.sub);
	assert.equal(body.scope, 'read');
	assert.equal(body.exp, claims.exp);
	// the same through openid-client, with client_secret_post (RFC 7662 §2.1 allows any client auth)
	const r = await oidc.tokenIntrospection(oidcConfig(as, A, 'post'), t.access_token);
	assert.equal(r.active, true);
	assert.equal(r.client_id, A.id);
});

test('introspection of a refresh token by its client: active with client_id, sub, scope, exp; inactive once revoked (RFC 7662 §2.1, §2.2)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice', 'read write');
	const claims = decodeJwt(t.access_token).payload;
	// RFC 7662 §2.1: token_type_hint is only a hint; try without and with it
	for (const hint of [undefined, 'refresh_token']) {
		const r = await oidc.tokenIntrospection(oidcConfig(as, A), t.refresh_token, hint ? { token_type_hint: hint } : undefined);
		assert.equal(r.active, true, `refresh token introspected by its client (hint ${hint}): ${JSON.stringify(r)}`);
		assert.equal(r.client_id, A.id, 'client_id');
		assert.equal(r.sub, claims.sub, 'sub: the resource owner');
		assert.equal(r.scope, 'read write', 'scope');
		assert.equal(typeof r.exp, 'number', 'exp');
		// the refresh token lives 7 days by default
		assert.ok(r.exp > nowSec() + 6 * 86400 && r.exp <= nowSec() + 7 * 86400 + 60, `exp ${r.exp}`);
	}
	const rev = await oidc.tokenRevocation(oidcConfig(as, A), t.refresh_token);
	assert.equal(rev, undefined);
	const { body } = await introspect(as, A, t.refresh_token);
	assert.deepEqual(body, { active: false }, 'RFC 7662 §2.2: a revoked token is not active');
});

test('another client introspecting a token gets {"active":false} and nothing else (RFC 7662 §2.2, §4)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice', 'read');
	const { body: cc } = await grant(as, A, 'client_credentials', { scope: 'read' });
	for (const [what, token] of [['access token (password grant)', t.access_token],
		['access token (client_credentials)', cc.access_token], ['refresh token', t.refresh_token]]) {
		const { body, text } = await introspect(as, B, token);
		assert.deepEqual(body, { active: false }, `${what} of client A introspected by client B: ${text}`);
	}
	// and the owner still sees its access token active: the answer above was about who asked
	assert.equal((await introspect(as, A, t.access_token)).body.active, true);
});

test('unknown or malformed tokens: {"active":false} and nothing else (RFC 7662 §2.2)', async () => {
	for (const token of ['not-a-token', 'A'.repeat(43), 'eyJhbGciOiJub25lIn0.e30.']) {
		const { body, text } = await introspect(as, A, token);
		assert.deepEqual(body, { active: false }, `${token}: ${text}`);
	}
});

test('introspection without client authentication or with a wrong secret: 401 invalid_client (RFC 7662 §2.1, §2.3)', async () => {
	const { body: t } = await passwordFor(as, A, 'alice');
	const res = await oauth.introspectionRequest(as, { client_id: A.id }, oauth.None(), t.access_token, HTTP_OK);
	await rejectsOAuth(oauth.processIntrospectionResponse(as, { client_id: A.id }, res), 401, 'invalid_client');
	const wrong = { ...A, secret: A.secret.slice(0, -2) + (A.secret.endsWith('AA') ? 'BA' : 'AA') };
	await rejectsOAuth(introspect(as, wrong, t.access_token), 401, 'invalid_client');
});

test('a client configured as a resource server (--resource-servers ID) introspects any client\'s token (RFC 7662 §2.1, §4)', async () => {
	// the resource server's client exists before the server starts, to be named in its flags
	const tmp = tmpDir();
	let rs;
	for (let i = 0; i < 80 && !rs; i++) {
		const r = await cli(['client', 'add', `rs-${i}`, '--scope', 'read', '--store', storeUrl(tmp)]);
		assert.equal(r.code, 0, r.stderr);
		const c = { id: r.stdout.match(/^client_id=(\S+)$/m)[1], secret: r.stdout.match(/^client_secret=(\S+)$/m)[1] };
		if (isPlain(c)) rs = c;
	}
	assert.ok(rs, 'a resource-server client');
	const s2 = await startOAuthServer({ tmp, args: ['--resource-servers', rs.id] });
	const as2 = await discover(s2);
	const a = await plainClient(s2, 'owner');
	const other = await plainClient(s2, 'other');
	const { body: t } = await passwordFor(as2, a, 'alice', 'read');
	const { body: seen } = await introspect(as2, rs, t.access_token);
	assert.equal(seen.active, true, `the resource server sees another client's token: ${JSON.stringify(seen)}`);
	assert.equal(seen.client_id, a.id);
	assert.equal(seen.sub, decodeJwt(t.access_token).payload.sub);
	// a client that is not named still learns nothing
	assert.deepEqual((await introspect(as2, other, t.access_token)).body, { active: false });
	await s2.stop();
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
