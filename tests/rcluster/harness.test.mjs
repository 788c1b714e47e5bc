// SPDX-License-Identifier: MIT
// The harness itself (tests/server/lib.mjs startRedisCluster, startRedisSentinel), with no
// latchkey in it: what the cluster and Sentinel suites build on must do what it says.
//
//  1. Cluster: 3 primaries and 3 replicas start (timed), a key is written in each of the
//     16384 slots with redis-cli straight to the primary CLUSTER SLOTS names for it (a
//     MOVED would be an error), 100 slots are resharded (redis-cli --cluster reshard) and
//     their keys are on the new owner and gone from the old one, a primary is failed over
//     and then another killed with kill -9: after each, every key is read back from the
//     primary that serves it now, and through a node that does not (redis-cli -c follows
//     MOVED). stop() leaves no process of the six alive and no port open.
//  2. Sentinel: a primary, a replica and three sentinels start (timed); keys written are on
//     the replica (WAIT), SENTINEL FAILOVER promotes it, every sentinel names it, the old
//     primary follows it, the keys are all there and a write goes on; stop() leaves no
//     process of the five alive.
//
// The times go to the TAP output as diagnostics (docs/redis-keys.md quotes them).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import {
	startRedisCluster, startRedisSentinel, redisCli, waitFor, REDIS_SERVER, REDIS_CLI,
} from '../server/lib.mjs';

const skip = (!existsSync(REDIS_SERVER) && 'redis-server is not installed') ||
	(!existsSync(REDIS_CLI) && 'redis-cli is not installed');
const START_MS = 10000; // "under ~5 s" on an idle machine; CI runs beside other suites

// CRC16 (XMODEM) mod 16384 and the hash tag rule: the Redis Cluster specification's
// "Key distribution model" and "Hash tags" (as src/store/redis_slots.c).
function keyslot(key) {
	let b = Buffer.from(key);
	const o = b.indexOf('{');
	if (o >= 0) {
		const c = b.indexOf('}', o + 1);
		if (c > o + 1) b = b.subarray(o + 1, c);
	}
	let crc = 0;
	for (const x of b) {
		crc ^= x << 8;
		for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
	}
	return crc & 16383;
}

// One key per slot: "h:{N}" for the first N that lands in it.
function keysForEverySlot() {
	const key = new Array(16384);
	let left = 16384;
	for (let n = 0; left; n++) {
		const k = `h:{${n}}`, s = keyslot(k);
		if (key[s] === undefined) { key[s] = k; left--; }
	}
	return key;
}

const gone = (pid) => { try { process.kill(pid, 0); return false; } catch (e) { return e.code === 'ESRCH'; } };
const portClosed = (port) => new Promise((resolve) => {
	const s = net.connect({ port, host: '127.0.0.1' });
	s.once('connect', () => { s.destroy(); resolve(false); });
	s.once('error', () => resolve(true));
});

// {slot -> primary Redis}, from one node's CLUSTER SLOTS
async function owners(c) {
	const map = new Array(16384).fill(null);
	const slots = await c.live()[0].call('CLUSTER', 'SLOTS');
	for (const [a, b, p] of slots)
		for (let s = a; s <= b; s++) map[s] = c.byPort(Number(p[1]));
	return map;
}

// Send each primary the commands of the slots it serves (redis-cli, one command a line,
// no -c: a MOVED or ASK comes back as an error line and fails the check); the output lines
// in slot order.
async function perOwner(c, cmd) {
	const own = await owners(c);
	assert.ok(own.every(Boolean), 'every slot has a primary');
	const bySrv = new Map();
	for (let s = 0; s < 16384; s++) {
		if (!bySrv.has(own[s])) bySrv.set(own[s], []);
		bySrv.get(own[s]).push(s);
	}
	const out = new Array(16384);
	await Promise.all([...bySrv].map(async ([srv, slots]) => {
		const r = await redisCli(['-p', String(srv.port)], { input: slots.map(cmd).join('\n') + '\n' });
		assert.equal(r.code, 0, r.stderr);
		const lines = r.stdout.split('\n');
		slots.forEach((s, i) => { out[s] = lines[i]; });
	}));
	return out;
}

async function checkEveryKey(c, keys, what) {
	const got = await perOwner(c, (s) => `GET ${keys[s]}`);
	const bad = got.map((v, s) => (v === `v${s}` ? null : `${s}: ${JSON.stringify(v)}`)).filter(Boolean);
	assert.deepEqual(bad.slice(0, 5), [], `${what}: ${bad.length} keys not read back from their primary`);
	let total = 0;
	for (const p of (await c.primaries()).map((x) => c.byPort(x.port))) total += await p.call('DBSIZE');
	assert.equal(total, 16384, `${what}: one key per slot on the primaries, no more`);
}

test('harness: a Redis Cluster of 3 primaries and 3 replicas: keys in every slot survive a reshard, a failover and kill -9; stop() leaves nothing', { skip }, async (t) => {
	let t0 = Date.now();
	const c = await startRedisCluster({ primaries: 3, replicas: 1 });
	const startMs = Date.now() - t0;
	t.diagnostic(`cluster started (6 nodes, create, state ok, replicas in sync) in ${startMs} ms`);
	const pids = c.pids, ports = c.nodes.map((n) => n.port);
	try {
		assert.ok(startMs < START_MS, `started in ${startMs} ms`);
		assert.equal(pids.length, 6);
		assert.ok(pids.every((p) => p && !gone(p)), 'six live processes');
		assert.deepEqual(c.nodes.map((n) => n.role).sort(), ['primary', 'primary', 'primary', 'replica', 'replica', 'replica']);
		assert.match(c.url(), /^redis\+cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
		assert.equal(c.url(), `redis+cluster://${c.seeds}`);
		assert.equal(c.url('ns'), `redis+cluster://${c.seeds}/ns`);

		// the slot rule here agrees with the node's, on every key
		const keys = keysForEverySlot();
		const ks = await redisCli(['-p', String(ports[0])], { input: keys.map((k) => `CLUSTER KEYSLOT ${k}`).join('\n') + '\n' });
		assert.deepEqual(ks.stdout.trim().split('\n').map(Number), keys.map((_, s) => s), 'CLUSTER KEYSLOT of every key');
		const set = await perOwner(c, (s) => `SET ${keys[s]} v${s}`);
		assert.ok(set.every((x) => x === 'OK'), `SET on each slot's primary: ${set.find((x) => x !== 'OK')}`);
		for (const p of c.nodes.filter((n) => n.role === 'primary'))
			assert.equal(await p.call('WAIT', 1, 5000), 1, `${p.port}: its replica has the keys`);
		await checkEveryKey(c, keys, 'written');
		for (const s of [0, 5461, 16383]) assert.equal((await c.primaryFor(s)).role, 'primary');

		// 1. reshard 100 slots from one primary to another
		const [a, b] = c.nodes.filter((n) => n.role === 'primary');
		const before = await owners(c);
		t0 = Date.now();
		await c.reshard(100, a, b);
		t.diagnostic(`redis-cli --cluster reshard of 100 slots (one key each) in ${Date.now() - t0} ms`);
		const after = await owners(c);
		const moved = [];
		for (let s = 0; s < 16384; s++) {
			if (before[s] !== after[s]) {
				assert.ok(before[s] === a && after[s] === b, `slot ${s} moved ${before[s].port} -> ${after[s].port}`);
				moved.push(s);
			}
		}
		assert.equal(moved.length, 100, 'exactly 100 slots moved');
		for (const s of moved) {
			assert.equal(await b.call('CLUSTER', 'COUNTKEYSINSLOT', s), 1, `slot ${s}: its key on ${b.port}`);
			assert.equal(await a.call('CLUSTER', 'COUNTKEYSINSLOT', s), 0, `slot ${s}: gone from ${a.port}`);
		}
		for (const n of c.live())
			assert.doesNotMatch(await n.call('CLUSTER', 'NODES'), /\[\d+-[<>]-/, `${n.port}: no slot left open`);
		await checkEveryKey(c, keys, 'after the reshard');
		// through the node that lost them: MOVED, followed by redis-cli -c
		for (const s of [moved[0], moved[99]]) {
			const r = await redisCli(['-c', '-p', String(a.port), 'GET', keys[s]]);
			assert.equal(r.stdout.trim(), `v${s}`, `slot ${s} read through ${a.port}`);
		}

		// 2. a manual failover of the primary that took the slots
		t0 = Date.now();
		const nb = await c.failover(b);
		t.diagnostic(`CLUSTER FAILOVER of ${b.port}: ${nb.port} primary, every node agreeing, old primary in sync under it, in ${Date.now() - t0} ms`);
		assert.equal(nb.role, 'primary');
		assert.equal(b.role, 'replica');
		assert.equal((await nb.call('ROLE'))[0], 'master');
		assert.equal((await c.primaryFor(moved[0])), nb, 'the moved slots are served by the promoted replica');
		await checkEveryKey(c, keys, 'after the failover');

		// 3. kill -9 of a third primary: its replica takes over after node-timeout
		const victim = c.nodes.find((n) => n.role === 'primary' && n !== nb && n !== a) ||
			c.nodes.find((n) => n.role === 'primary' && n !== nb);
		t0 = Date.now();
		const nv = await c.kill9(victim);
		t.diagnostic(`kill -9 of ${victim.port}: ${nv.port} promoted and the cluster ok in ${Date.now() - t0} ms (node-timeout 2000)`);
		assert.equal(victim.role, 'down');
		assert.ok(gone(victim.pid), 'the killed node is gone');
		assert.equal(nv.role, 'primary');
		await checkEveryKey(c, keys, 'after kill -9');
	} finally {
		t0 = Date.now();
		await c.stop();
		t.diagnostic(`stop() in ${Date.now() - t0} ms`);
	}
	assert.deepEqual(pids.filter((p) => !gone(p)), [], 'no node process left');
	for (const p of ports) assert.ok(await portClosed(p), `port ${p} closed`);
});

test('harness: Redis Sentinel (a primary, a replica, three sentinels): SENTINEL FAILOVER keeps the keys; stop() leaves nothing', { skip }, async (t) => {
	let t0 = Date.now();
	const s = await startRedisSentinel({ replicas: 1, sentinels: 3 });
	const startMs = Date.now() - t0;
	t.diagnostic(`sentinel set started (replica in sync, every sentinel seeing the others) in ${startMs} ms`);
	const pids = s.pids, ports = s.nodes.map((n) => n.port);
	try {
		assert.ok(startMs < START_MS, `started in ${startMs} ms`);
		assert.equal(pids.length, 5);
		assert.ok(pids.every((p) => p && !gone(p)), 'five live processes');
		assert.deepEqual(s.nodes.map((n) => n.role), ['primary', 'replica', 'sentinel', 'sentinel', 'sentinel']);
		assert.equal(s.url(), `redis+sentinel://${s.sentinels.map((x) => `127.0.0.1:${x.port}`).join(',')}/lk/0`);
		const old = s.primary();
		assert.equal((await old.call('ROLE'))[0], 'master');

		const N = 1000;
		const w = await redisCli(['-p', String(old.port)], { input: Array.from({ length: N }, (_, i) => `SET k${i} v${i}`).join('\n') + '\n' });
		assert.equal(w.stdout.trim().split('\n').filter((x) => x === 'OK').length, N);
		assert.equal(await old.call('WAIT', 1, 5000), 1, 'the replica has the keys');

		t0 = Date.now();
		await s.failover();
		t.diagnostic(`SENTINEL FAILOVER: the sentinels name the replica and it answers ROLE master in ${Date.now() - t0} ms`);
		const np = s.primary();
		assert.notEqual(np, old);
		assert.equal(np.role, 'primary');
		assert.equal(old.role, 'replica');
		assert.equal((await np.call('ROLE'))[0], 'master');
		for (const x of s.sentinels) {
			const r = await x.call('SENTINEL', 'get-master-addr-by-name', 'lk');
			assert.equal(Number(r[1]), np.port, `sentinel ${x.port} names the new primary`);
		}
		// the sentinels turn the old primary into a replica of the new one
		await waitFor(async () => {
			const r = await old.call('ROLE');
			return r[0] === 'slave' && Number(r[2]) === np.port && r[3] === 'connected';
		}, { ms: 15000, every: 100, what: `${old.port} follows ${np.port}` });
		t.diagnostic(`... and the old primary is in sync under it ${Date.now() - t0} ms after the failover began`);
		assert.equal(await np.call('DBSIZE'), N);
		const r = await redisCli(['-p', String(np.port)], { input: Array.from({ length: N }, (_, i) => `GET k${i}`).join('\n') + '\n' });
		assert.deepEqual(r.stdout.trim().split('\n'), Array.from({ length: N }, (_, i) => `v${i}`));
		assert.equal(await np.call('SET', 'after', '1'), 'OK', 'the new primary takes writes');
		assert.equal(await np.call('WAIT', 1, 5000), 1, 'and the old primary gets them');
	} finally {
		await s.stop();
	}
	assert.deepEqual(pids.filter((p) => !gone(p)), [], 'no process left');
	for (const p of ports) assert.ok(await portClosed(p), `port ${p} closed`);
});
