// SPDX-License-Identifier: MIT
// The signing key ring from the outside: `latchkey keys rotate` on a running server
// (publish first, sign one JWKS lifetime later, old tokens keep verifying, also after a
// restart), HS256 (never published: an empty JWKS, tokens still verify), and private keys
// sealed at rest with LATCHKEY_MASTER_KEY ("enc:v1:" in the keys table; a restart without
// the key fails with a clear error).
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
	startServer, runServeExpectExit, passwordGrant, tokenReq, hybrid, decodeJwt, kidOf, jwks, assertAccepted,
	assertRejected, addClient, active, waitFor, serverNowMin, sqlitePath, isSqlite, fileBytes, sqlite3,
	freePort, cliEnv, tmpDir,
	stopClean,
} from './lib.mjs';

const sqliteOnly = { skip: !isSqlite(process.env.LATCHKEY_TEST_STORE || 'sqlite:') && 'the store is not SQLite' };
const PW = 'alice-pw-0123456789';
const masterKey = () => crypto.randomBytes(32).toString('base64url');

test('keys rotate while running: new kid published at once, signs after jwks-max-age; old tokens verify, also after a restart', async () => {
	// server and CLI share one configuration file, as in a real deployment: `keys rotate`
	// takes the ring's timing (jwks_max_age, lifetimes) from it
	const MAX_AGE = 3;
	const tmp = tmpDir();
	const conf = path.join(tmp, 'latchkey.conf');
	writeFileSync(conf, `jwks_max_age = ${MAX_AGE}s\n`);
	const srv = await startServer({ tmp, args: ['--config', conf] });
	await srv.addUser('alice', PW);
	const svc = await addClient(srv, 'svc', 'read');
	// client_credentials: no password hashing, so issuing is quick even on a slow build
	const cc = async () => {
		const res = await tokenReq(srv, { grant_type: 'client_credentials' }, { client: svc });
		assert.equal(res.status, 200, res.text_);
		return res.json_.access_token;
	};
	const t0 = (await passwordGrant(srv, 'alice', PW)).access_token;
	const h0 = await hybrid(srv, await srv.session('alice', PW));
	const k0 = kidOf(t0);
	assert.deepEqual((await jwks(srv)).kids, [k0]);
	assert.match((await jwks(srv)).res.headers.get('cache-control'), new RegExp(`max-age=${MAX_AGE}\\b`));

	const before = serverNowMin(); // the CLI's time(2) is at least this
	const r = await srv.cli(['keys', 'rotate', '--config', conf]);
	assert.equal(r.code, 0, r.stderr);
	const issued = [await cc()];
	// the new key is in the JWKS on the very next request
	const ring = await jwks(srv);
	assert.equal(ring.kids.length, 2, `two keys published: ${ring.kids}`);
	assert.ok(ring.kids.includes(k0), 'the old key stays published');
	const k1 = ring.kids.find((k) => k !== k0);
	assert.equal(ring.keys.find((k) => k.kid === k1).alg, 'ES256');
	assert.equal(kidOf(issued[0]), k0, 'right after the rotation tokens are still signed with the old key');

	// until jwks-max-age has passed, tokens are still signed with the old key; then the new
	await waitFor(async () => {
		const t = await cc();
		issued.push(t);
		return kidOf(t) === k1;
	}, { ms: (MAX_AGE + 4) * 1000, every: 200, what: 'tokens signed with the new key' });
	const first = issued.findIndex((t) => kidOf(t) === k1);
	for (const t of issued.slice(0, first)) assert.equal(kidOf(t), k0);
	assert.ok(decodeJwt(issued[first]).payload.iat >= before + MAX_AGE,
		`the new key did not sign before jwks-max-age (${MAX_AGE} s) had passed`);
	const t1 = (await passwordGrant(srv, 'alice', PW)).access_token;
	assert.equal(kidOf(t1), k1, 'the password grant signs with the new key');
	const h1 = await hybrid(srv, await srv.session('alice', PW));
	assert.equal(kidOf(h1), k1, 'the hybrid exchange signs with the new key');
	const list = await srv.cli(['keys', 'list', '--config', conf]);
	assert.equal(list.code, 0);
	assert.ok(list.stdout.includes(k0) && list.stdout.includes(k1), list.stdout);

	const all = [['old-key token', t0], ['old-key hybrid', h0], ['old-key token after rotation', issued[0]],
		['new-key token', t1], ['new-key hybrid', h1]];
	for (const [what, t] of all) await assertAccepted(srv, t, what);

	// restart on the same store: every one still verifies, both keys still published
	await stopClean(srv);
	// same port, so the same issuer
	const s2 = await startServer({ tmp, store: srv.store, port: srv.port, args: ['--config', conf] });
	assert.deepEqual((await jwks(s2)).kids.sort(), [k0, k1].sort());
	for (const [what, t] of all) await assertAccepted(s2, t, `${what}, after a restart`);
	assert.equal(kidOf((await passwordGrant(s2, 'alice', PW)).access_token), k1, 'the new key signs after the restart');
	await stopClean(s2);
});

test('HS256: the JWKS is empty (the secret is never published) and tokens verify at /auth/verify', async () => {
	// 'rs' may introspect every token (--resource-servers takes the client's name)
	const srv = await startServer({ args: ['--signing-alg', 'HS256', '--resource-servers', 'rs'] });
	await srv.addUser('alice', PW);
	const { res, keys } = await jwks(srv);
	assert.deepEqual(keys, [], `no key published: ${res.text_}`);
	assert.ok(!/"k"/.test(res.text_));
	assert.match(res.headers.get('cache-control') || '', /max-age=\d+/);
	const b = await passwordGrant(srv, 'alice', PW);
	const { header } = decodeJwt(b.access_token);
	assert.equal(header.alg, 'HS256');
	assert.equal(header.typ, 'at+jwt');
	const { verify } = await assertAccepted(srv, b.access_token, 'HS256 token');
	assert.equal(verify.headers.get('x-auth-user'), 'alice');
	const h = await hybrid(srv, await srv.session('alice', PW));
	await assertAccepted(srv, h, 'HS256 hybrid token');
	const rs = await addClient(srv, 'rs', '');
	assert.equal(await active(srv, rs, b.access_token), true);
	// a token MACed with another secret, or re-signed as none, does not verify
	const [hh, pp] = b.access_token.split('.');
	const forged = crypto.createHmac('sha256', crypto.randomBytes(32)).update(`${hh}.${pp}`).digest('base64url');
	await assertRejected(srv, `${hh}.${pp}.${forged}`, 'HS256 with another secret');
	// nothing about the secret in discovery either, and after a rotation still nothing
	const disc = await srv.fetch('/.well-known/openid-configuration');
	assert.equal(disc.status, 200);
	// (the CLI given the server's settings: see the next test for `keys rotate --store` alone)
	const rot = await cliEnv(srv, ['keys', 'rotate'], { LATCHKEY_SIGNING_ALG: 'HS256' });
	assert.equal(rot.code, 0, rot.stderr);
	assert.deepEqual((await jwks(srv)).keys, [], 'still empty after a rotation');
	// the store keeps the secret: tokens verify after a restart
	await stopClean(srv);
	const s2 = await startServer({ tmp: srv.tmp, store: srv.store, port: srv.port, args: ['--signing-alg', 'HS256'] });
	await assertAccepted(s2, b.access_token, 'HS256 token after a restart');
	await stopClean(s2);
});

async function sealedServer(env) {
	const srv = await startServer({ env });
	await srv.addUser('alice', PW);
	const b = await passwordGrant(srv, 'alice', PW);
	await assertAccepted(srv, b.access_token);
	const rot = await cliEnv(srv, ['keys', 'rotate'], env);
	assert.equal(rot.code, 0, rot.stderr);
	return { srv, token: b.access_token };
}

test('LATCHKEY_MASTER_KEY: private keys are stored as enc:v1: and tokens verify after a restart with the key', sqliteOnly, async () => {
	const env = { LATCHKEY_MASTER_KEY: masterKey() };
	const { srv, token } = await sealedServer(env);
	const db = sqlitePath(srv.store);
	const rows = (await sqlite3(db, 'SELECT jwk FROM keys;')).split('\n').filter(Boolean);
	assert.equal(rows.length, 2);
	for (const row of rows) assert.match(row, /^enc:v1:[A-Za-z0-9_-]+$/, 'each private key is sealed');
	const bytes = Buffer.concat([fileBytes(db), fileBytes(db + '-wal')]).toString('latin1');
	assert.ok(!bytes.includes('"d":"'), 'no private JWK member anywhere in the database file');
	const list = await cliEnv(srv, ['keys', 'list'], env);
	assert.equal((list.stdout.match(/\(encrypted\)/g) || []).length, 2, list.stdout);
	await stopClean(srv);
	const s2 = await startServer({ tmp: srv.tmp, store: srv.store, port: srv.port, env });
	await assertAccepted(s2, token, 'token after restart with the master key');
	assert.equal((await jwks(s2)).keys.length, 2);
	await stopClean(s2);
});

test('LATCHKEY_MASTER_KEY: a restart without it, or with a wrong one, fails with a clear error', sqliteOnly, async () => {
	const env = { LATCHKEY_MASTER_KEY: masterKey() };
	const { srv } = await sealedServer(env);
	await stopClean(srv);
	const port = await freePort();
	const args = ['--listen', `127.0.0.1:${port}`, '--store', srv.store, '--insecure-cookies'];
	for (const [what, key] of [['without the master key', undefined], ['with a wrong master key', masterKey()]]) {
		const r = await runServeExpectExit(args, { env: { LATCHKEY_MASTER_KEY: key }, ms: 4000 });
		assert.notEqual(r.code, null, `${what} the server must exit, not serve (still running after 4 s; stderr: ${r.stderr.slice(-300)})`);
		assert.notEqual(r.code, 0, `${what}: exit status`);
		assert.match(r.stderr, /master.key/i, `${what}: a clear error naming the master key: ${r.stderr.slice(-300)}`);
	}
});

test('`keys rotate --store URL` on an HS256 server keeps the ring\'s algorithm (no key gets published)', async () => {
	const srv = await startServer({ args: ['--signing-alg', 'HS256'] });
	const r = await srv.cli(['keys', 'rotate']);
	assert.equal(r.code, 0, r.stderr);
	const { keys } = await jwks(srv);
	assert.deepEqual(keys.map((k) => `${k.alg} ${k.kid}`), [],
		'`latchkey keys rotate --store URL` added a published key of another algorithm to an HS256 ring');
	await stopClean(srv);
});

test('keys rotate without the master key does not add an unsealed private key to a sealed ring', sqliteOnly, async () => {
	const mk = masterKey();
	const srv = await startServer({ env: { LATCHKEY_MASTER_KEY: mk } });
	const db = sqlitePath(srv.store);
	const r = await cliEnv(srv, ['keys', 'rotate'], { LATCHKEY_MASTER_KEY: undefined });
	const rows = (await sqlite3(db, 'SELECT jwk FROM keys;')).split('\n').filter(Boolean);
	const clear = rows.filter((j) => !j.startsWith('enc:v1:'));
	assert.deepEqual(clear.map((j) => j.slice(0, 16)), [],
		`keys rotate (exit ${r.code}) stored a private key in clear next to sealed ones; expected a refusal naming the master key`);
	await stopClean(srv);
});
