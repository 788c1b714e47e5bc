// SPDX-License-Identifier: MIT
// Expiry with short lifetimes (--access-ttl 2s, --hybrid-ttl 2s): tokens signed before a
// key rotation and a server restart keep verifying until they expire, and stop then; the
// retired key leaves the JWKS once every token it signed has expired. The server checks
// exp with a leeway (token_leeway, 60 s by default); this file sets it to 3 s so the wait
// stays short while still proving that the leeway is honoured and then ends.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import {
	startServer, passwordGrant, hybrid, tokenReq, addClient, decodeJwt, kidOf, jwks, verifyReq, meReq,
	waitFor, nowSec, tmpDir,
	stopClean,
} from './lib.mjs';

const LEEWAY = 3; // token_leeway below (SPEC default 60 s, configurable)
const TTL = 2;
const PW = 'alice-pw-0123456789';
let srv, conf, tokens, k0, k1;

before(async () => {
	const tmp = tmpDir();
	conf = path.join(tmp, 'latchkey.conf');
	writeFileSync(conf, `access_ttl = ${TTL}s\nhybrid_ttl = ${TTL}s\njwks_max_age = 1s\npurge_interval = 1s\ntoken_leeway = ${LEEWAY}s\n`);
	const s1 = await startServer({ tmp, args: ['--config', conf] });
	await s1.addUser('alice', PW);
	const svc = await addClient(s1, 'svc', 'read');
	const pg = await passwordGrant(s1, 'alice', PW);
	const hy = await hybrid(s1, await s1.session('alice', PW));
	const cc = (await tokenReq(s1, { grant_type: 'client_credentials' }, { client: svc })).json_.access_token;
	k0 = kidOf(pg.access_token);
	const rot = await s1.cli(['keys', 'rotate', '--config', conf]);
	assert.equal(rot.code, 0, rot.stderr);
	let fresh;
	await waitFor(async () => kidOf(fresh = (await passwordGrant(s1, 'alice', PW)).access_token) !== k0,
		{ ms: 5000, every: 200, what: 'the new key to sign' });
	k1 = kidOf(fresh);
	await stopClean(s1);
	srv = await startServer({ tmp, store: s1.store, port: s1.port, args: ['--config', conf] });
	tokens = { 'password grant (old key)': pg.access_token, 'hybrid (old key)': hy, 'client_credentials (old key)': cc, 'password grant (new key)': fresh };
});

test('the exp claim is exact: iat + --access-ttl / --hybrid-ttl; jose (no tolerance) rejects after it', async () => {
	for (const [what, t] of Object.entries(tokens)) {
		const c = decodeJwt(t).payload;
		assert.equal(c.exp - c.iat, TTL, what);
	}
	const JWKS = jose.createRemoteJWKSet(new URL(`${srv.base}/.well-known/jwks.json`));
	const t = tokens['password grant (new key)'];
	const { exp } = decodeJwt(t).payload;
	await waitFor(() => nowSec() >= exp + 1, { ms: (TTL + 3) * 1000, what: 'exp to pass' });
	await assert.rejects(jose.jwtVerify(t, JWKS, { clockTolerance: 0 }), { code: 'ERR_JWT_EXPIRED' });
	const ok = await jose.jwtVerify(t, JWKS, { clockTolerance: LEEWAY });
	assert.equal(ok.protectedHeader.kid, k1);
});

test('tokens signed before a rotation and a restart verify until they expire, then fail; the old key leaves the JWKS', async () => {
	const { kids } = await jwks(srv);
	assert.deepEqual(kids.sort(), [k0, k1].sort(), 'both keys published after the restart');
	const pending = new Map(Object.entries(tokens).map(([what, t]) => [what, { t, exp: decodeJwt(t).payload.exp }]));
	const lastExp = Math.max(...[...pending.values()].map((p) => p.exp));
	const deadline = lastExp + LEEWAY + 4;
	while (pending.size && nowSec() <= deadline) {
		for (const [what, p] of pending) {
			const [v, m] = await Promise.all([verifyReq(srv, p.t), meReq(srv, p.t)]);
			const at = Date.now() / 1000;
			if (at < p.exp + LEEWAY - 1) {
				assert.equal(v.status, 200, `${what} must verify until it expires (exp ${p.exp}, now ${at.toFixed(1)}): ${v.text_}`);
				if (!what.startsWith('client_credentials')) assert.equal(m.status, 200, `${what} at /me`);
			} else if (v.status === 401) {
				assert.ok(at >= p.exp + LEEWAY - 0.5, `${what} failed before exp + leeway`);
				assert.match(v.headers.get('www-authenticate') || '', /error="invalid_token"/);
				assert.match(v.json_.error_description, /expired/, `${what}: says why`);
				assert.equal(m.status, 401, `${what} at /me`);
				pending.delete(what);
			}
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	assert.deepEqual([...pending.keys()], [], `still accepted past exp + ${LEEWAY} s leeway + 4 s`);
	// the retired key is removed once every token it could have signed has expired
	await waitFor(async () => !(await jwks(srv)).kids.includes(k0), { ms: 8000, every: 250, what: `the old key ${k0} to leave the JWKS` });
	assert.deepEqual((await jwks(srv)).kids, [k1]);
	assert.equal(kidOf((await passwordGrant(srv, 'alice', PW)).access_token), k1);
});
