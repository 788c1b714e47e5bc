// SPDX-License-Identifier: MIT
// Setting up: three instances (one public issuer, as behind a load balancer) started at the same moment on an empty Redis (as an
// orchestrator rolls out replicas) all come up, exactly one creates and announces the first
// admin, and they agree on the key ring; the Redis configuration of docs/deploy.md works
// as written.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
	ROOT, startServer, startRedis, startCluster, haveRedis, passwordGrant, refreshReq, jwks, verifyReq, onAll,
	tmpDir, waitFor,
} from './lib.mjs';

const skip = !haveRedis && 'redis-server is not installed';

test('three instances started at once on an empty Redis all come up, with one admin and one key ring', { skip }, async () => {
	for (let round = 0; round < 3; round++) {
		const r = await startRedis();
		const started = await Promise.allSettled([0, 1, 2].map(() => startServer({ store: r.url(), admin: false, args: ['--issuer', 'http://latchkey.test'] })));
		const nodes = started.filter((x) => x.status === 'fulfilled').map((x) => x.value);
		try {
			const failed = started.filter((x) => x.status === 'rejected').map((x) => x.reason.message.split('\n').find((l) => /latchkey:/.test(l)) || x.reason.message.slice(0, 200));
			assert.deepEqual(failed, [], `round ${round}: every instance starts`);
			const announced = nodes.filter((s) => /created user "admin" with password/.test(s.out));
			assert.equal(announced.length, 1, `round ${round}: exactly one instance announces the admin password`);
			const pw = announced[0].out.match(/created user "admin" with password (\S+)/)[1];
			for (const s of nodes) s.secrets.add(pw);
			const users = await nodes[0].cli(['user', 'list', '--json']);
			assert.equal(JSON.parse(users.stdout).length, 1, `one user: ${users.stdout}`);
			const rings = await onAll(nodes, jwks);
			const kids = rings.map((x) => x.kids.slice().sort().join(','));
			assert.deepEqual(kids, [kids[0], kids[0], kids[0]], `round ${round}: one key ring everywhere`);
			const g = await passwordGrant(nodes[1], 'admin', pw);
			assert.deepEqual((await onAll(nodes, (s) => verifyReq(s, g.access_token))).map((x) => x.status), [200, 200, 200]);
		} finally {
			await Promise.all(nodes.map((s) => s.stop()));
			await r.stop();
		}
	}
});

// The redis.conf of docs/deploy.md as written (its bind, port and passwords swapped for the
// test's): Redis starts with it, latchkey accepts it (noeviction, the ACL user with the
// password from LATCHKEY_REDIS_PASSWORD) for the server and the CLI, and a restart keeps
// the sessions (appendonly yes). With `user default off` this last step fails on Redis
// 7.0: the AOF is replayed as the default user and every script's MULTI/EXEC is dropped
// (redis/redis#14541), which is why the page keeps the default user.
test('the redis.conf of docs/deploy.md works as written: ACL user, noeviction, AOF', { skip }, async () => {
	const doc = readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
	const m = doc.match(/```conf\n([\s\S]*?)```/);
	assert.ok(m, 'docs/deploy.md has a ```conf block');
	const pass = 'redis-acl-pass-0123456789';
	let conf = m[1];
	for (const [from, to] of [['bind 10.0.0.20', 'bind 127.0.0.1'], ['>CHANGE-ME-LONG-RANDOM-PASSWORD', `>${pass}`],
		['>CHANGE-ME-ADMIN-PASSWORD', '>redis-admin-pass-0123456789']]) {
		assert.ok(conf.includes(from), `the documented block has "${from}"`);
		conf = conf.replace(from, to);
	}
	const dir = tmpDir();
	const file = path.join(dir, 'redis.conf');
	writeFileSync(file, conf);
	const r = await startRedis({ dir, conf: file, auth: ['latchkey', pass] });
	const C = await startCluster({ redis: r, n: 2, proxy: false, redisUser: 'latchkey:', env: { LATCHKEY_REDIS_PASSWORD: pass } });
	try {
		const info = await r.call('INFO', 'everything');
		assert.match(info, /\r\naof_enabled:1\r\n/, 'appendonly yes');
		assert.match(info, /\r\nmaxmemory_policy:noeviction\r\n/);
		const [a, b] = C.nodes;
		const cookie = await a.session('admin', C.adminPassword);
		const g = await passwordGrant(b, 'admin', C.adminPassword);
		assert.equal((await refreshReq(a, g.refresh_token)).status, 200);
		for (const args of [['keys', 'rotate'], ['sessions', 'list'], ['user', 'list'], ['audit', 'list', '--limit', '5']]) {
			const x = await C.cli(args);
			assert.equal(x.code, 0, `latchkey ${args.join(' ')} as the ACL user: ${x.stderr}`);
		}
		const denied = await r.call('ACL', 'LOG').catch((e) => e);
		assert.ok(denied instanceof Error, 'the latchkey user cannot read the ACL log (no admin commands)');
		await r.restart();
		await waitFor(async () => (await b.me(cookie)).status === 200, { ms: 5000, what: 'the session after a Redis restart' })
			.catch(async (e) => { e.message += `\n/me: ${(await b.me(cookie)).status}; dbsize ${await r.call('DBSIZE').catch((x) => x.message)}\n${r.out.slice(-3000)}`; throw e; });
		const ok = await C.cli(['sessions', 'revoke', '--all']);
		assert.equal(ok.code, 0, ok.stderr);
		assert.equal((await a.me(cookie)).status, 401);
		await C.stopClean();
	} finally {
		await Promise.all(C.nodes.map((s) => s.stop()));
		await r.stop();
	}
});
