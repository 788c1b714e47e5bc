// SPDX-License-Identifier: MIT
// latchkey on `redis+cluster://` (issue 16): a real Redis Cluster of 3 primaries and 3
// replicas on loopback (tests/server/lib.mjs startRedisCluster), layout 3 (every script in
// one slot, docs/redis-keys.md "Slots"), calls routed by slot and following MOVED, ASK and
// TRYAGAIN (src/store/redis_conn.c `route`).
//
//  1. The fault workload (tests/server/workload.mjs) while the cluster changes under it:
//     100 slots resharded by redis-cli, the global slot {g} and the slots of two users
//     moved by hand key by key (the workload meets them in motion), a graceful
//     CLUSTER FAILOVER of one primary and kill -9 of another. A fresh server then finds
//     everything acknowledged: no lost user, session or rotation, no refresh token
//     accepted twice (RFC 9700 §4.14.2), no revoked token accepted (RFC 7009 §2.1).
//  2. Revocation fan-out: two instances on the cluster; a sign-out and a token
//     revocation made through one reach the other's /revocations/stream and are refused
//     by it at the next request.
//  3. Nodes that do not list their own address (a nil or "?" endpoint in CLUSTER SLOTS).
//  4. The URL: a bad namespace, no node reachable: a clear message, never the password.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
	startServer, startRedisCluster, sleep, waitFor, freePort, stopClean, cli, REDIS_SERVER, ROOT,
	passwordGrant, addClient, revokeReq, verifyReq, basic, decodeJwt,
} from '../tokens/lib.mjs';
import {
	rng, SEED, figures, Life, Workload, prepare, USERS, LIMITS, verifyAfterStoreFaults,
} from '../server/workload.mjs';

const skip = !existsSync(REDIS_SERVER) && 'redis-server is not installed';
let cluster;
after(async () => { await cluster?.stop(); });

async function slotOf(key) { return cluster.nodes[0].call('CLUSTER', 'KEYSLOT', key); }

test('Cluster: resharding, slots moved key by key, a failover and kill -9 of a primary under the workload: invariants hold', { skip }, async (t) => {
	const rand = rng(SEED + 17);
	t.diagnostic(`faults: seed ${SEED} (FAULTS_SEED=${SEED} replays the schedule)`);
	cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
	const opts = { port: await freePort(), args: LIMITS };
	const srv = await startServer({ ...opts, store: cluster.url('faults'), admin: true });
	const life = new Life(srv, 'redis');
	const fig = figures('Redis Cluster');
	const load = new Workload(life, { users: { ...USERS }, rand, fig });
	await prepare(srv, load);

	const gslot = await slotOf('lk.faults:{g}:~');
	const uslots = [await slotOf('lk.faults:{u:2}:~'), await slotOf('lk.faults:{u:3}:~')];
	const running = load.run();
	const done = [];
	const other = async (p) => (await cluster.primaries()).map((x) => cluster.byPort(x.port)).find((x) => x !== p);
	try {
		await sleep(500);
		// 1. redis-cli moves 100 slots from one primary to another
		let [a, b] = (await cluster.primaries()).map((x) => cluster.byPort(x.port));
		life.note('reshard 100 slots');
		await cluster.reshard(100, a, b);
		done.push(`reshard 100 slots ${a.port} -> ${b.port}`);
		fig.faults++;
		// 2. {g} and two users' slots, key by key with pauses: the load meets them in motion
		for (const slot of [gslot, ...uslots]) {
			const from = await cluster.primaryFor(slot);
			const to = await other(from);
			life.note(`move slot ${slot}`);
			await cluster.moveSlots([slot], from, to, { batch: 1, pauseMs: 10 });
			done.push(`slot ${slot} ${from.port} -> ${to.port}`);
			fig.faults++;
		}
		await sleep(300);
		// 3. a graceful failover of the primary serving {g}
		let p = await cluster.primaryFor(gslot);
		life.note(`CLUSTER FAILOVER of ${p.port}`);
		const np = await cluster.failover(p);
		done.push(`failover ${p.port} -> ${np.port}`);
		fig.faults++;
		await sleep(500);
		// 4. kill -9 of the primary serving the first user's slot
		p = await cluster.primaryFor(uslots[0]);
		life.note(`kill -9 of ${p.port}`);
		const kp = await cluster.kill9(p);
		done.push(`kill -9 ${p.port} -> ${kp?.port}`);
		fig.faults++;
		await waitFor(async () => (await srv.fetch('/readyz')).status === 200, { ms: 15000, every: 100, what: '/readyz after the faults' });
		await sleep(800);
	} finally {
		life.stop = true;
		await running;
	}
	await verifyAfterStoreFaults(t, srv, opts, load, done);
	await cluster.stop();
	cluster = null;
});

// The text of a /revocations/stream as it comes, until stop().
async function stream(srv, client) {
	const ac = new AbortController();
	const res = await fetch(`${srv.base}/revocations/stream`, {
		headers: { Authorization: basic(client.id, client.secret), Accept: 'text/event-stream' }, signal: ac.signal,
	});
	assert.equal(res.status, 200, 'the stream opens');
	const out = { text: '', stop: () => ac.abort() };
	(async () => {
		const reader = res.body.getReader();
		const dec = new TextDecoder();
		for (;;) {
			const { value, done } = await reader.read();
			if (done) return;
			out.text += dec.decode(value, { stream: true });
		}
	})().catch(() => {});
	return out;
}

test('Cluster: revocations fan out: made through one instance, seen by the other\'s stream and refused by it at once', { skip }, async () => {
	cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
	// one public issuer for both, as instances behind one name (tests/multi)
	const ISS = `http://127.0.0.1:${await freePort()}`;
	const args = ['--resource-servers', 'resource-server', '--issuer', ISS];
	const A = await startServer({ store: cluster.url('fan'), admin: true, args });
	const B = await startServer({ store: cluster.url('fan'), admin: false, args });
	A.issuerOrigin = B.issuerOrigin = ISS;
	const rs = await addClient(A, 'resource-server');
	const app = await addClient(A, 'app');
	const s = await stream(B, rs);
	await sleep(200); // the stream is open and has sent its snapshot
	// a session signed in at A works at B; signed out at A, B refuses it at once
	const cookie = await A.session('admin', A.adminPassword);
	assert.equal((await B.me(cookie)).status, 200);
	const sid = (await A.me(cookie)).json_.session.id;
	assert.equal((await A.fetch('/logout', { method: 'POST', cookie })).status, 200);
	assert.equal((await B.me(cookie)).status, 401, 'signed out through A: refused by B');
	// an access token revoked through A: refused by B
	const g = await passwordGrant(A, 'admin', A.adminPassword, {}, { client: app });
	const jti = decodeJwt(g.access_token).payload.jti;
	assert.equal((await verifyReq(B, g.access_token)).status, 200);
	assert.equal((await revokeReq(A, g.access_token, { client: app })).status, 200);
	assert.equal((await verifyReq(B, g.access_token)).status, 401, 'revoked through A: refused by B');
	// B's stream saw both
	await waitFor(() => s.text.includes(sid) && s.text.includes(jti),
		{ ms: 3000, every: 20, what: `the sign-out and the revocation on B's stream: ${s.text.slice(-400)}` });
	s.stop();
	await stopClean(A);
	await stopClean(B);
	await cluster.stop();
	cluster = null;
});

test('Cluster: the ACL of docs/deploy.md ("Beyond one Redis") is enough: sign-in, sign-out, the CLI', { skip }, async () => {
	const doc = readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
	const section = doc.slice(doc.indexOf('## Beyond one Redis'));
	const line = section.match(/^user latchkey on >\S+ (.*\+asking.*)$/m);
	assert.ok(line, 'the section has the cluster ACL line');
	cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
	for (const n of cluster.nodes) await n.call('ACL', 'SETUSER', 'latchkey', 'on', '>acl-test-pw', ...line[1].split(' '));
	const url = cluster.url('acl').replace('redis+cluster://', 'redis+cluster://latchkey:acl-test-pw@');
	const srv = await startServer({ store: url, admin: true });
	const cookie = await srv.session('admin', srv.adminPassword);
	assert.equal((await srv.me(cookie)).status, 200);
	assert.equal((await srv.fetch('/logout', { method: 'POST', cookie })).status, 200);
	assert.equal((await srv.me(cookie)).status, 401);
	const r = await cli(['user', 'list', '--store', url]);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /admin/);
	await stopClean(srv);
	await cluster.stop();
	cluster = null;
});

// The nodes need not list their addresses. With cluster-preferred-endpoint-type
// unknown-endpoint (nodes behind a load balancer) CLUSTER SLOTS gives a nil endpoint, which
// means "the address you asked", and MOVED an empty host (":PORT"); with hostname and no
// cluster-announce-hostname it gives "?" beside the node's ip in the metadata, and MOVED
// "?:PORT". The slot map once refused the nil (every call: "no node known for the slot")
// and took "?" for a host name ("Name or service not known").
test('Cluster: nodes that list no address (nil endpoint, or "?" with the ip beside it): sign-in, sign-out and the CLI work', { skip }, async () => {
	for (const type of ['unknown-endpoint', 'hostname']) {
		cluster = await startRedisCluster({ primaries: 3, replicas: 1, args: ['--cluster-preferred-endpoint-type', type] });
		const ep = (await cluster.nodes[0].call('CLUSTER', 'SLOTS'))[0][2][0];
		assert.equal(ep, type === 'hostname' ? '?' : null, `${type}: the endpoint CLUSTER SLOTS gives`);
		const srv = await startServer({ store: cluster.url('ep'), admin: true });
		const cookie = await srv.session('admin', srv.adminPassword);
		assert.equal((await srv.me(cookie)).status, 200, `${type}: signed in`);
		assert.equal((await srv.fetch('/logout', { method: 'POST', cookie })).status, 200);
		assert.equal((await srv.me(cookie)).status, 401, `${type}: signed out`);
		const r = await cli(['user', 'list', '--store', cluster.url('ep')]);
		assert.equal(r.code, 0, `${type}: ${r.stderr}`);
		assert.match(r.stdout, /admin/);
		await stopClean(srv);
		await cluster.stop();
		cluster = null;
	}
});

test('Cluster URL: a bad namespace, no node reachable: a clear error naming redis+cluster://, never the password', { skip }, async () => {
	const pw = 'cluster-url-secret-pw';
	const cases = [
		[`redis+cluster://:${pw}@127.0.0.1:${await freePort()}/x`, 1, /redis\+cluster:\/\/127\.0\.0\.1:\d+\/x/],
		[`redis+cluster://:${pw}@127.0.0.1:6379/bad:ns`, 2, /the namespace is 1 to 32/],
		[`redis+cluster://:${pw}@127.0.0.1:6379/${'n'.repeat(33)}`, 2, /the namespace is 1 to 32/],
		[`redis+cluster://:${pw}@,127.0.0.1:6379`, 2, /an empty address/],
	];
	for (const [url, code, re] of cases) {
		const r = await cli(['user', 'list', '--store', url]);
		assert.equal(r.code, code, `${url.replace(pw, '***')}: exit ${r.code}: ${r.stderr}`);
		assert.match(r.stderr, re);
		assert.doesNotMatch(r.stderr + r.stdout, new RegExp(pw), 'the password is never printed');
	}
});
