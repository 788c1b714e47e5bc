// SPDX-License-Identifier: MIT
// latchkey on `redis+sentinel://` (issue 16): a real primary, one replica and three
// sentinels on loopback (tests/server/lib.mjs startRedisSentinel), latchkey following the
// primary the sentinels name (src/store/redis_conn.c lk_rd_sentinel_primary; the design and
// what a failover can lose are in docs/redis-keys.md "Sentinel").
//
//  1. A failover in the middle of the fault workload (tests/server/workload.mjs): first a
//     graceful SENTINEL FAILOVER, then kill -9 of the primary (the sentinels promote the
//     replica after their down-after-milliseconds). The server answers 503 while there is
//     no primary, never crashes, and a fresh server on the same URL finds everything that
//     was acknowledged: no lost user, session or rotation, no refresh token accepted twice
//     (RFC 9700 §4.14.2), no revoked token accepted (RFC 7009 §2.1).
//  2. Why that holds across kill -9: every write waits for a replica (WAIT 1 500). With the
//     only replica frozen a write is not acknowledged (503 store_unavailable after the
//     500 ms), reads of live sessions go on, and writes are acknowledged again once it
//     resumes.
//  3. The stale side of a failover: a primary with no replica connected while the sentinels
//     consider one alive still makes every write wait for a replica (503 until one is
//     connected), so a server about to be demoted cannot acknowledge a write it will lose.
//  4. A connection made when there was no replica at all writes without waiting; once a
//     replica is back, the server's heartbeat has every connection made again, and writes
//     wait for it (503 with it frozen) rather than being acknowledged unconfirmed.
//  5. The URL and the sentinels: a name the sentinels do not know, no sentinel reachable,
//     a malformed URL: a clear message naming redis+sentinel://..., never the password.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
	startServer, startRedisSentinel, sleep, waitFor, freePort, stopClean, cli, REDIS_SERVER,
} from '../tokens/lib.mjs';
import {
	rng, SEED, figures, Life, Workload, prepare, USERS, LIMITS, verifyAfterStoreFaults,
} from '../server/workload.mjs';

const skip = !existsSync(REDIS_SERVER) && 'redis-server is not installed';
let set;
after(async () => { await set?.stop(); });

test('Sentinel: failovers (graceful, then kill -9 of the primary) under the workload: 503 only, no crash, invariants hold', { skip }, async (t) => {
	const rand = rng(SEED + 16);
	t.diagnostic(`faults: seed ${SEED} (FAULTS_SEED=${SEED} replays the schedule)`);
	set = await startRedisSentinel({ replicas: 1, sentinels: 3 });
	const opts = { port: await freePort(), args: LIMITS };
	const srv = await startServer({ ...opts, store: set.url(), admin: true });
	const life = new Life(srv, 'redis');
	const fig = figures('Sentinel failover');
	const load = new Workload(life, { users: { ...USERS }, rand, fig });
	await prepare(srv, load);

	const running = load.run();
	const done = [];
	try {
		for (const fault of ['failover', 'kill -9']) {
			await sleep(400 + Math.floor(rand() * 600));
			const before = set.primary();
			life.note(`${fault} of ${before.port}`);
			if (fault === 'failover') await set.failover();
			else await set.kill9Primary();
			fig.faults++;
			done.push(`${fault} ${before.port} -> ${set.primary().port}`);
			assert.notEqual(set.primary().port, before.port, 'the sentinels named a new primary');
			if (srv.exited) break;
			await waitFor(async () => (await srv.fetch('/readyz')).status === 200, { ms: 10000, every: 100, what: '/readyz after the failover' });
			life.note(`${fault}: ready`);
			// the load runs on the new primary for a while
			await sleep(600);
		}
	} finally {
		life.stop = true;
		await running;
	}
	await verifyAfterStoreFaults(t, srv, opts, load, done);
	await set.stop();
	set = null;
});

test('Sentinel: every write waits for a replica: with it frozen a sign-in gets 503 and reads go on; resumed, writes are acknowledged again', { skip }, async () => {
	set = await startRedisSentinel({ replicas: 1, sentinels: 3 });
	const srv = await startServer({ store: set.url(), admin: true });
	const cookie = await srv.session('admin', srv.adminPassword);
	const replica = set.replicas()[0];
	replica.freeze();
	try {
		const t0 = Date.now();
		const r = await srv.login('admin', srv.adminPassword);
		const ms = Date.now() - t0;
		assert.equal(r.status, 503, `a sign-in the replica cannot confirm: ${r.status}`);
		assert.equal(r.body?.error, 'store_unavailable');
		assert.ok(ms >= 450, `it waited for the replica (WAIT 1 500): ${ms} ms`);
		const me = await srv.me(cookie);
		assert.equal(me.status, 200, 'a live session is still read');
	} finally {
		replica.resume();
	}
	await waitFor(async () => (await srv.login('admin', srv.adminPassword)).status === 200,
		{ ms: 5000, every: 100, what: 'a sign-in acknowledged once the replica is back' });
	await stopClean(srv);
	await set.stop();
	set = null;
});

// The stale side of a failover, as latchkey meets it when it connects: the server the
// sentinels name says role:master with no replica connected, while the sentinels consider a
// replica alive (for about a second after a failover they still name the old primary, which
// accepts writes until it is turned into a replica). Made here without a failover: the
// replica frozen (SIGSTOP) and its link cut on the primary (CLIENT KILL TYPE replica), within
// a down-after-milliseconds long enough that no sentinel marks it down meanwhile. A write on
// a fresh connection must still wait for a replica, so it is not acknowledged; once the
// replica is back and connected, writes are.
test('Sentinel: a primary with no replica connected while the sentinels consider one alive: a fresh connection\'s write is not acknowledged until the replica is back', { skip }, async (t) => {
	set = await startRedisSentinel({ replicas: 1, sentinels: 3, downAfterMs: 30000 });
	const url = set.url();
	const pw = 'stale-side-pw-1234';
	const add = (name) => cli(['user', 'add', name, '--store', url], { input: pw + '\n', ms: 15000 });
	const flags = async () => Promise.all(set.sentinels.map(async (s) =>
		(await s.call('SENTINEL', 'REPLICAS', 'lk')).map((r) => r[r.indexOf('flags') + 1]).join(' ')));
	const connected = async (p) => Number(/connected_slaves:(\d+)/.exec(await p.call('INFO', 'replication'))[1]);

	const first = await add('before-cut');
	assert.equal(first.code, 0, `a write with the replica connected: ${first.stderr}`);
	const primary = set.primary();
	const replica = set.replicas()[0];
	replica.freeze();
	try {
		await primary.call('CLIENT', 'KILL', 'TYPE', 'replica');
		await waitFor(async () => (await connected(primary)) === 0,
			{ ms: 5000, every: 50, what: 'the primary to count no connected replica' });
		for (const f of await flags())
			assert.doesNotMatch(f, /s_down|o_down/, `the sentinels consider the replica alive: ${f}`);
		const r = await add('during-cut');
		t.diagnostic(`the write with no replica connected: exit ${r.code}: ${r.stderr.trim()}`);
		assert.notEqual(r.code, 0, `a write no replica can confirm was acknowledged: ${r.stdout}${r.stderr}`);
		assert.match(r.stderr, /store_unavailable/, `a store failure: ${r.stderr}`);
		assert.doesNotMatch(r.stderr + r.stdout, new RegExp(pw), 'the password is never printed');
		// still the situation meant: a primary with none connected, the replica alive to the sentinels
		assert.equal(await connected(primary), 0, 'still no replica connected');
		for (const f of await flags())
			assert.doesNotMatch(f, /s_down|o_down/, `the replica still alive to the sentinels: ${f}`);
		assert.equal(set.primary().port, primary.port, 'no failover happened');
	} finally {
		replica.resume();
	}
	await waitFor(async () => (await add(`after-cut-${Date.now()}`)).code === 0,
		{ ms: 15000, every: 200, what: 'a write acknowledged once the replica is back' });
	const list = await cli(['user', 'list', '--store', url]);
	assert.equal(list.code, 0, list.stderr);
	assert.match(list.stdout, /before-cut/);
	await set.stop();
	set = null;
});

// A server's connections live as long as their threads, and each counts the replicas
// when it is made: one made while there was no replica at all (none connected to the
// primary, none alive to the sentinels) writes without WAIT, rightly (there is nothing to
// wait for, nor to fail over to). Once a replica is back a failover to it can happen, so
// such a connection must count again, or it goes on acknowledging writes no replica has
// (src/store/redis_sub.c, recount). Here: the replica frozen and its link cut until every
// sentinel marks it s_down, then a server with one HTTP thread signs in (its connections
// count no replica); the replica resumed, connected and alive to the sentinels again, and
// frozen once more: a sign-in through the same threads must wait for it and get 503.
// Without the recount it was acknowledged (no WAIT).
test('Sentinel: a connection made with no replica at all counts again once one is back: its writes then wait for it', { skip }, async (t) => {
	set = await startRedisSentinel({ replicas: 1, sentinels: 3, downAfterMs: 1000 });
	const primary = set.primary();
	const replica = set.replicas()[0];
	const flags = async () => Promise.all(set.sentinels.map(async (s) =>
		(await s.call('SENTINEL', 'REPLICAS', 'lk')).map((r) => r[r.indexOf('flags') + 1]).join(' ')));
	const connected = async () => Number(/connected_slaves:(\d+)/.exec(await primary.call('INFO', 'replication'))[1]);
	let srv;

	replica.freeze();
	try {
		await primary.call('CLIENT', 'KILL', 'TYPE', 'replica');
		await waitFor(async () => (await connected()) === 0,
			{ ms: 5000, every: 50, what: 'the primary to count no connected replica' });
		await waitFor(async () => (await flags()).every((f) => /s_down/.test(f)),
			{ ms: 15000, every: 100, what: 'every sentinel to mark the frozen replica s_down' });
		srv = await startServer({ store: set.url(), admin: true, args: ['--threads', '1'] });
		const r = await srv.login('admin', srv.adminPassword);
		assert.equal(r.status, 200, `with no replica at all a sign-in is acknowledged: ${r.status}`);
		assert.equal(await connected(), 0, 'still no replica connected');
		for (const f of await flags())
			assert.match(f, /s_down/, `the replica still down to the sentinels: ${f}`);
	} finally {
		replica.resume();
	}
	await waitFor(async () => (await connected()) === 1,
		{ ms: 15000, every: 100, what: 'the replica connected to the primary again' });
	await waitFor(async () => (await flags()).every((f) => !/s_down|o_down/.test(f)),
		{ ms: 15000, every: 100, what: 'every sentinel to consider the replica alive again' });
	// the server's heartbeat (every 0.5 s) sees the replica: a few of them
	await sleep(2500);

	replica.freeze();
	try {
		const t0 = Date.now();
		const r = await srv.login('admin', srv.adminPassword);
		const ms = Date.now() - t0;
		t.diagnostic(`the sign-in with the replica back, then frozen: ${r.status} after ${ms} ms`);
		assert.equal(r.status, 503, `a sign-in the replica cannot confirm was answered ${r.status} (no WAIT: the connection still counts no replica)`);
		assert.equal(r.body?.error, 'store_unavailable');
		assert.ok(ms >= 450, `it waited for the replica (WAIT 1 500): ${ms} ms`);
		assert.equal(await set.primaryPort(), primary.port, 'no failover happened');
	} finally {
		replica.resume();
	}
	await waitFor(async () => (await srv.login('admin', srv.adminPassword)).status === 200,
		{ ms: 10000, every: 100, what: 'a sign-in acknowledged once the replica is back' });
	await stopClean(srv);
	await set.stop();
	set = null;
});

test('Sentinel URL: an unknown name, no sentinel, a malformed URL: a clear error naming redis+sentinel://, never the password', { skip }, async () => {
	set = await startRedisSentinel({ replicas: 1, sentinels: 3 });
	const pw = 'sentinel-url-secret-pw';
	const sentinels = set.url().replace(/^redis\+sentinel:\/\//, '').replace(/\/lk\/0$/, '');
	const cases = [
		[`redis+sentinel://:${pw}@${sentinels}/nosuch`, 1, /the sentinels know no primary named nosuch/],
		[`redis+sentinel://:${pw}@127.0.0.1:${await freePort()}/lk`, 1, /no sentinel answered/],
		[`redis+sentinel://:${pw}@${sentinels}`, 2, /bad store URL: expected redis\+sentinel:\/\//],
		[`redis+sentinel://:${pw}@${sentinels}/lk/x`, 2, /DB must be a number/],
		[`redis+sentinel://:${pw}@127.0.0.1:0/lk`, 2, /port must be 1 to 65535/],
	];
	for (const [url, code, re] of cases) {
		const r = await cli(['user', 'list', '--store', url]);
		assert.equal(r.code, code, `${url.replace(pw, '***')}: exit ${r.code}: ${r.stderr}`);
		assert.match(r.stderr, re);
		assert.doesNotMatch(r.stderr + r.stdout, new RegExp(pw), 'the password is never printed');
	}
	// and the right URL works for the CLI
	const ok = await cli(['user', 'list', '--store', set.url()]);
	assert.equal(ok.code, 0, ok.stderr);
	await set.stop();
	set = null;
});
