// SPDX-License-Identifier: MIT
// The client_credentials grant (RFC 6749 §4.4) with client_secret_basic and
// client_secret_post (RFC 6749 §2.3.1), from openid-client and oauth4webapi, for client ids
// and secrets that contain "-" and "_". Both are base64url, and the libraries form-urlencode
// each part before base64 as RFC 6749 §2.3.1 and Appendix B say: oauth4webapi sends "-" as
// %2D and "_" as %5F, which the server must decode back.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startOAuthServer, discover, oauth, oidc, oidcConfig, grant, authOf, rejectsOAuth, errorOf, assertNoStore,
	addClient, hasDashOrUnderscore, plainClient, decodeJwt, HTTP_OK,
	stopClean,
} from './lib.mjs';

let srv, as, special;

before(async () => {
	srv = await startOAuthServer();
	as = await discover(srv);
	// Make clients until, between them, ids and secrets with "-" and with "_" all occur;
	// keep every client that has one.
	const seen = { idDash: false, idUnder: false, secretDash: false, secretUnder: false };
	special = [];
	for (let i = 0; i < 120 && !Object.values(seen).every(Boolean); i++) {
		const c = await addClient(srv, `svc-${i}`, 'read write');
		const flags = {
			idDash: c.id.includes('-'), idUnder: c.id.includes('_'),
			secretDash: c.secret.includes('-'), secretUnder: c.secret.includes('_'),
		};
		if (Object.values(flags).some(Boolean)) special.push(c);
		for (const k of Object.keys(seen)) seen[k] ||= flags[k];
	}
	assert.ok(Object.values(seen).every(Boolean), `clients with "-"/"_" in ids and secrets: ${JSON.stringify(seen)}`);
});

test('the Basic credentials oauth4webapi sends are form-urlencoded before base64 (RFC 6749 §2.3.1, Appendix B)', async () => {
	// guards the premise of the tests below: the library really does percent-encode - and _
	const c = special.find((x) => hasDashOrUnderscore(x.id)) || special[0];
	const headers = new Headers();
	await authOf(c, 'basic')(as, { client_id: c.id }, new URLSearchParams(), headers);
	const decoded = Buffer.from(headers.get('authorization').slice(6), 'base64').toString();
	const [user, pass] = decoded.split(':');
	assert.equal(decodeURIComponent(user), c.id);
	assert.equal(decodeURIComponent(pass), c.secret);
	assert.ok(!/[-_]/.test(decoded), `"-" and "_" are sent percent-encoded: ${decoded.replace(/:.*/, ':…')}`);
});

for (const method of ['basic', 'post']) {
	const name = method === 'basic' ? 'client_secret_basic' : 'client_secret_post';
	test(`client_credentials with ${name}, ids and secrets with "-" and "_" (RFC 6749 §4.4, §2.3.1, Appendix B)`, async () => {
		const failures = [];
		for (const c of special) {
			// openid-client
			try {
				const config = oidcConfig(as, c, method);
				const t = await oidc.clientCredentialsGrant(config, { scope: 'read' });
				assert.equal(t.token_type.toLowerCase(), 'bearer', 'RFC 6749 §5.1 token_type');
				assert.equal(t.scope, 'read');
				assert.equal(decodeJwt(t.access_token).payload.client_id, c.id, 'RFC 9068 §2.2 client_id');
				// oauth4webapi, without a scope: the client's own scopes (RFC 6749 §3.3)
				const { body } = await grant(as, c, 'client_credentials', {}, method);
				assert.equal(decodeJwt(body.access_token).payload.sub, c.id);
			} catch (e) {
				const got = await errorOf(e).catch(() => ({ error: e.message }));
				failures.push(`client_id=${c.id} (secret has ${[...new Set(c.secret.match(/[-_]/g) || [])].join('') || 'neither'}): ` +
					`${got.status ?? ''} ${got.error}`);
			}
		}
		assert.deepEqual(failures, [], `${failures.length} of ${special.length} clients failed`);
	});
}

test('client_credentials with a wrong secret, or none, is refused: 401 invalid_client (RFC 6749 §5.2)', async () => {
	const c = await plainClient(srv, 'wrong');
	const wrong = { ...c, secret: c.secret.slice(0, -2) + (c.secret.endsWith('AA') ? 'BA' : 'AA') };
	for (const method of ['basic', 'post'])
		await rejectsOAuth(grant(as, wrong, 'client_credentials', {}, method), 401, 'invalid_client', method);
	// no credentials at all: RFC 6749 §4.4.2 "The client MUST authenticate"
	const res = await oauth.genericTokenEndpointRequest(as, { client_id: c.id }, oauth.None(),
		'client_credentials', new URLSearchParams(), HTTP_OK);
	await rejectsOAuth(oauth.processGenericTokenEndpointResponse(as, { client_id: c.id }, res), 401, 'invalid_client',
		'no client credentials');
	// RFC 6749 §5.2: a 401 after Authorization-header client auth carries WWW-Authenticate
	const basic = await oauth.genericTokenEndpointRequest(as, { client_id: wrong.id }, authOf(wrong, 'basic'),
		'client_credentials', new URLSearchParams(), HTTP_OK);
	assert.equal(basic.status, 401);
	assert.match(basic.headers.get('www-authenticate') || '', /^Basic\b/i, 'RFC 6749 §5.2: WWW-Authenticate for Basic');
});

test('client_credentials token response: Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)', async () => {
	const c = await plainClient(srv, 'nostore');
	for (const method of ['basic', 'post']) {
		const { res } = await grant(as, c, 'client_credentials', { scope: 'read' }, method);
		assertNoStore(res, `client_credentials (${method}, oauth4webapi)`);
	}
	const config = oidcConfig(as, c);
	await oidc.clientCredentialsGrant(config, { scope: 'read' });
	assertNoStore(config.last, 'client_credentials (openid-client)');
});

// Last: the server (the sanitizer build in `make test`) survived all of the above.
test('the server exits cleanly on SIGTERM, with no sanitizer report', async () => { await stopClean(srv); });
