// SPDX-License-Identifier: MIT
// Redis with AOF (appendonly yes, appendfsync always) under three instances: a Redis
// restart, graceful (SIGTERM) or not (SIGKILL), loses no session, no revocation, no key,
// and no refresh rotation: a refresh token used once before the restart is refused after
// it (beyond the grace window) and its family is revoked at every instance.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startCluster, haveNginx, haveRedis, passwordGrant, refreshReq, hybrid, verifyReq, revokeReq, jwks,
	waitFor, sleep, onAll, addClient,
} from './lib.mjs';

const skip = (!haveRedis && 'redis-server is not installed') || (!haveNginx && 'nginx is not installed');
const GRACE = 1;
const PW = { alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210' };
let C, all, app;

before(async () => {
	if (skip) return;
	C = await startCluster({ redis: { aof: true, fsync: 'always' }, config: [`refresh_grace = ${GRACE}s`] });
	all = C.nodes;
	for (const [u, p] of Object.entries(PW)) await C.addUser(u, p);
	app = await addClient(all[0], 'app', '');
});

const meAll = (cookie) => onAll(all, (s) => s.me(cookie)).then((r) => r.map((x) => x.status));
const verifyAll = (token) => onAll(all, (s) => verifyReq(s, token)).then((r) => r.map((x) => x.status));

async function waitReady() {
	await waitFor(async () => (await onAll(all, (s) => s.fetch('/readyz'))).every((r) => r.status === 200),
		{ ms: 8000, every: 100, what: 'every instance ready again' });
}

// Past the grace window of a refresh made at `at` (ms): the server counts whole seconds.
const pastGrace = (at) => sleep(Math.max(0, at + (GRACE + 1) * 1000 + 200 - Date.now()));

function assertInvalidGrant(res, what) {
	assert.equal(res.status, 400, `${what}: ${res.status} ${res.text_}`);
	assert.equal(res.json_?.error, 'invalid_grant', what);
}

async function scenario(restart) {
	const [A, B, Cc] = all;
	const s1 = await A.session('alice', PW.alice);
	const s2 = await B.session('bob', PW.bob);
	const ended = await Cc.session('bob', PW.bob);
	const h = await hybrid(A, s1);
	const g0 = await passwordGrant(A, 'alice', PW.alice);
	const fresh = await passwordGrant(Cc, 'bob', PW.bob);   // a family not used before the restart
	// revoked by the client it was issued to (RFC 7009 §2.1)
	const revoked = await passwordGrant(B, 'bob', PW.bob, {}, { client: app });
	assert.equal((await revokeReq(B, revoked.access_token, { client: app })).status, 200);
	assert.ok([200, 204, 303].includes((await A.fetch('/logout', { method: 'POST', cookie: ended })).status));
	const g1res = await refreshReq(B, g0.refresh_token);   // g0 is now used
	const usedAt = Date.now();
	assert.equal(g1res.status, 200, g1res.text_);
	const g1 = g1res.json_;
	const kids = (await jwks(A)).kids.sort();

	await restart();
	await waitReady();

	assert.deepEqual(await meAll(s1), [200, 200, 200], 'a session from before the restart');
	assert.deepEqual(await meAll(s2), [200, 200, 200], 'another session from before the restart');
	assert.deepEqual(await meAll(ended), [401, 401, 401], 'a session ended before the restart stays ended');
	assert.deepEqual(await verifyAll(h), [200, 200, 200], 'a hybrid token');
	assert.deepEqual(await verifyAll(revoked.access_token), [401, 401, 401], 'a revocation from before the restart');
	for (const j of await onAll(all, jwks)) assert.deepEqual(j.kids.sort(), kids, 'the same key ring');

	await pastGrace(usedAt);
	assertInvalidGrant(await refreshReq(Cc, g0.refresh_token), 'the refresh token used before the restart');
	// reuse detected: the whole family is gone everywhere
	assertInvalidGrant(await refreshReq(A, g1.refresh_token), "the family's live token after the reuse");
	assert.deepEqual(await verifyAll(g1.access_token), [401, 401, 401], "the family's access token after the reuse");
	// the untouched family rotates once, and only once
	const f1 = await refreshReq(A, fresh.refresh_token);
	assert.equal(f1.status, 200, `a family untouched before the restart: ${f1.text_}`);
	assert.deepEqual(await verifyAll(f1.json_.access_token), [200, 200, 200]);
}

test('AOF: Redis stopped with SIGTERM and started again on the same directory loses nothing; a used refresh token stays used', { skip }, async () => {
	await scenario(async () => {
		const st = await C.redis.stop();
		assert.equal(st.code, 0, `redis-server exit: ${JSON.stringify(st)}`);
		await C.redis.start();
	});
});

test('AOF with appendfsync always: even a SIGKILL right after a refresh loses nothing', { skip }, async () => {
	await scenario(async () => {
		await C.redis.kill9();
		await C.redis.start();
	});
});

test('AOF: the instances ride through the restart: during it, 503 (never 401) for a live session', { skip }, async () => {
	const cookie = await all[0].session('alice', PW.alice);
	await C.redis.stop();
	const during = await meAll(cookie);
	assert.deepEqual(during, [503, 503, 503]);
	await C.redis.start();
	await waitFor(async () => (await meAll(cookie)).every((s) => s === 200), { ms: 5000, every: 100, what: 'the session back at every instance' });
});

test('every instance stops cleanly on SIGTERM: exit 0, no sanitizer report, no secret in the logs', { skip }, async () => {
	await C.stopClean();
});
