// SPDX-License-Identifier: MIT
// Redis faults under three instances: with redis-server killed or frozen (SIGSTOP),
// requests that need the store get 503 store_unavailable (never 401, and the cookie is
// not cleared, so an outage logs nobody out), /healthz stays 200 and /readyz goes 503,
// access tokens still verify without the store, and service comes back by itself when
// Redis does. At start: an unreachable Redis, a wrong password or an evicting
// maxmemory-policy is refused with a clear message that never shows the password.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startCluster, startRedis, haveNginx, haveRedis, passwordGrant, refreshReq, hybrid, verifyReq,
	meReq, jwks, waitFor, sleep, onAll, findSetCookie, runServeExpectExit, freePort, cli,
} from './lib.mjs';

const skip = (!haveRedis && 'redis-server is not installed') || (!haveNginx && 'nginx is not installed');
const PW = 'alice-pw-0123456789';
let C, all;

before(async () => {
	if (skip) return;
	// AOF with fsync on every write: a killed Redis loses nothing, so "comes back" means
	// with the same sessions
	C = await startCluster({ redis: { aof: true, fsync: 'always' }, config: ['refresh_grace = 1s'] });
	all = C.nodes;
	await C.addUser('alice', PW);
});

async function timed(fn) {
	const t0 = Date.now();
	const res = await fn();
	return { res, ms: Date.now() - t0 };
}

// What needs the store fails with 503 and a clear error; what does not, works.
async function assertDegraded(s, { cookie, bearer, hybridToken, refreshToken, limitMs }) {
	const what = `instance ${s.port}`;
	const check503 = async (name, fn) => {
		const { res, ms } = await timed(fn);
		assert.equal(res.status, 503, `${what}: ${name} while Redis is down: ${res.status} ${res.text_}`);
		assert.equal(res.json_?.error, 'store_unavailable', `${what}: ${name}: ${res.text_}`);
		assert.ok(ms <= limitMs, `${what}: ${name} answered in ${ms} ms (limit ${limitMs})`);
		assert.equal(findSetCookie(res, s.cookieName), undefined,
			`${what}: ${name} must not touch the session cookie: ${res.headers.getSetCookie()}`);
		return res;
	};
	await check503('GET /me with a cookie', () => s.me(cookie));
	await check503('GET /auth/verify with a cookie', () => s.fetch('/auth/verify', { cookie }));
	await check503('GET /sessions', () => s.fetch('/sessions', { cookie }));
	await check503('POST /token', () => s.fetch('/token', { method: 'POST', cookie }));
	await check503('POST /login', () => s.fetch('/login', { method: 'POST', json: { username: 'alice', password: PW } }));
	await check503('refresh_token grant', () => refreshReq(s, refreshToken));
	const hz = await timed(() => s.fetch('/healthz'));
	assert.equal(hz.res.status, 200, `${what}: /healthz stays up`);
	assert.ok(hz.ms < 500, `${what}: /healthz in ${hz.ms} ms`);
	const rz = await timed(() => s.fetch('/readyz'));
	assert.equal(rz.res.status, 503, `${what}: /readyz goes down: ${rz.res.text_}`);
	assert.ok(rz.ms <= limitMs, `${what}: /readyz in ${rz.ms} ms`);
	// stateless: access tokens verify with the keys in memory
	for (const [name, t] of [['password-grant token', bearer], ['hybrid token', hybridToken]]) {
		const v = await timed(() => verifyReq(s, t));
		assert.equal(v.res.status, 200, `${what}: ${name} at /auth/verify while Redis is down: ${v.res.status} ${v.res.text_}`);
		assert.ok(v.ms <= limitMs, `${what}: ${name} verified in ${v.ms} ms`);
		const m = await meReq(s, t);
		assert.equal(m.status, 200, `${what}: ${name} at /me while Redis is down: ${m.status} ${m.text_}`);
	}
	assert.equal((await s.fetch('/.well-known/jwks.json')).status, 200, `${what}: the JWKS is still served`);
}

async function setup() {
	const cookie = await all[0].session('alice', PW);
	const g = await passwordGrant(all[1], 'alice', PW);
	const h = await hybrid(all[2], cookie);
	assert.deepEqual((await onAll(all, (s) => s.me(cookie))).map((r) => r.status), [200, 200, 200]);
	assert.deepEqual((await onAll(all, (s) => verifyReq(s, g.access_token))).map((r) => r.status), [200, 200, 200]);
	return { cookie, bearer: g.access_token, hybridToken: h, refreshToken: g.refresh_token };
}

async function assertBack(t, ms = 5000) {
	const t0 = Date.now();
	await waitFor(async () => {
		const r = await onAll(all, (s) => s.me(t.cookie));
		return r.every((x) => x.status === 200);
	}, { ms, every: 100, what: 'every instance serving the same session again' });
	const took = Date.now() - t0;
	assert.deepEqual((await onAll(all, (s) => s.fetch('/readyz'))).map((r) => r.status), [200, 200, 200]);
	// the refresh token presented during the outage was not used up
	const n = await refreshReq(all[0], t.refreshToken);
	assert.equal(n.status, 200, `the refresh token after the outage: ${n.text_}`);
	assert.equal((await all[2].login('alice', PW)).status, 200, 'sign-in works again');
	return took;
}

test('Redis killed: 503 store_unavailable (not 401, cookie kept), /healthz up, /readyz down, tokens verify; back by itself', { skip }, async () => {
	const t = await setup();
	await C.redis.kill9();
	for (const s of all) await assertDegraded(s, { ...t, limitMs: 1500 });
	// through the proxy as well, whichever instance answers
	for (let i = 0; i < 3; i++) {
		const r = await C.proxy.me(t.cookie);
		assert.equal(r.status, 503, `through nginx: ${r.status} ${r.text_}`);
		assert.equal(findSetCookie(r, 'latchkey'), undefined);
	}
	await sleep(300);
	await C.redis.start(); // same port, same directory: the AOF is read back
	await assertBack(t);
});

test('Redis frozen (SIGSTOP): requests fail within one command timeout, tokens still verify; back after SIGCONT', { skip }, async () => {
	const t = await setup();
	C.redis.freeze();
	try {
		// A cached session may be served until the pushed generation's trust runs out
		// (1.5 s after the subscription's last word, src/store/redis_sub.c): no revocation
		// can be made through a frozen Redis meanwhile. Past that every instance reads the
		// store, and fails within its 2 s command timeout.
		const t0 = Date.now();
		await onAll(all, (s) => waitFor(async () => (await s.me(t.cookie)).status === 503,
			{ ms: 6000, every: 100, what: `instance ${s.port}: GET /me with a cookie answers 503` }));
		assert.ok(Date.now() - t0 < 1500 + 2000 + 1500, `all degraded after ${Date.now() - t0} ms`);
		// the store's command timeout is 2 s: nothing waits much longer than that
		for (const s of all) await assertDegraded(s, { ...t, limitMs: 3500 });
	} finally {
		C.redis.resume();
	}
	await assertBack(t);
});

test('bearer verification stays up during a long freeze: every request answers 200 within one command timeout', { skip }, async () => {
	const t = await setup();
	C.redis.freeze();
	const lat = [];
	try {
		const end = Date.now() + 4000;
		while (Date.now() < end) {
			const { res, ms } = await timed(() => verifyReq(all[0], t.bearer));
			assert.equal(res.status, 200, `bearer during the freeze: ${res.status} ${res.text_}`);
			lat.push(ms);
			await sleep(100);
		}
	} finally {
		C.redis.resume();
	}
	assert.ok(Math.max(...lat) <= 3500, `latencies ${lat.join(',')}`);
	await assertBack(t);
});

test('serve with Redis unreachable: exit 1 at once, a message naming redis://HOST:PORT/DB and never the password', { skip }, async () => {
	const port = await freePort();     // nothing listens there
	const lk = await freePort();
	const secret = 'pw-never-printed-4242';
	for (const [url, env] of [[`redis://:${secret}@127.0.0.1:${port}/3`, {}], [`redis://127.0.0.1:${port}/3`, { LATCHKEY_REDIS_PASSWORD: secret }]]) {
		const r = await runServeExpectExit(['--listen', `127.0.0.1:${lk}`, '--store', url, '--insecure-cookies'], { env, ms: 8000 });
		assert.equal(r.code, 1, `exit code: ${r.code} ${r.stderr}`);
		assert.ok(r.ms < 5000, `gave up in ${r.ms} ms`);
		assert.match(r.stderr, new RegExp(`redis://127\\.0\\.0\\.1:${port}/3`));
		assert.match(r.stderr, /store_unavailable|cannot connect/);
		assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `the password is printed: ${r.stderr}`);
	}
	const c = await cli(['user', 'list', '--store', `redis://:${secret}@127.0.0.1:${port}/0`]);
	assert.equal(c.code, 1, `the CLI: ${c.code} ${c.stderr}`);
	assert.ok(!c.stderr.includes(secret));
});

test('a Redis with requirepass: the password from the URL or LATCHKEY_REDIS_PASSWORD; a wrong one fails at start', { skip }, async () => {
	const secret = 'redis-pass-0123456789';
	const r = await startRedis({ args: ['--requirepass', secret] });
	try {
		const lk = await freePort();
		const bad = await runServeExpectExit(['--listen', `127.0.0.1:${lk}`, '--store', `redis://:wrong-pass-77@127.0.0.1:${r.port}/0`,
			'--insecure-cookies'], { ms: 8000 });
		assert.equal(bad.code, 1, bad.stderr);
		assert.ok(!bad.stderr.includes('wrong-pass-77'), bad.stderr);
		const none = await runServeExpectExit(['--listen', `127.0.0.1:${lk}`, '--store', r.url(), '--insecure-cookies'], { ms: 8000 });
		assert.equal(none.code, 1, `no password: ${none.stderr}`);
		const ok = await cli(['user', 'list', '--store', r.url()], { env: { LATCHKEY_REDIS_PASSWORD: secret } });
		assert.equal(ok.code, 0, `password from the environment: ${ok.stderr}`);
		const ok2 = await cli(['user', 'list', '--store', `redis://:${secret}@127.0.0.1:${r.port}/0`]);
		assert.equal(ok2.code, 0, `password in the URL: ${ok2.stderr}`);
	} finally {
		await r.stop();
	}
});

test('serve refuses a Redis whose maxmemory-policy may evict keys', { skip }, async () => {
	const r = await startRedis({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
	try {
		const lk = await freePort();
		const x = await runServeExpectExit(['--listen', `127.0.0.1:${lk}`, '--store', r.url(), '--insecure-cookies'], { ms: 8000 });
		assert.equal(x.code, 1, x.stderr);
		assert.match(x.stderr, /maxmemory-policy allkeys-lru/);
		assert.match(x.stderr, /noeviction/);
		await r.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
		const c = await cli(['user', 'list', '--store', r.url()]);
		assert.equal(c.code, 0, `with noeviction: ${c.stderr}`);
	} finally {
		await r.stop();
	}
});

// Redis full (maxmemory reached, noeviction): reads work, writes fail. Sign-in, refresh,
// revocation and sign-out cannot be stored and get 503; a failed sign-in that cannot be
// counted must not be answered as usual either: a guesser would get unlimited tries, and
// 401 for a wrong password against 503 for the right one tells them when they are right.
test('Redis out of memory: writes get 503, reads work, and sign-in limits do not open up (no password oracle)', { skip }, async () => {
	const r = await startRedis();
	const M = await startCluster({ redis: r, n: 2, proxy: false, config: ['rate_pair_free = 2', 'rate_backoff_max = 60s'] });
	try {
		const [a, b] = M.nodes;
		await M.addUser('olga', PW);
		const cookie = await a.session('olga', PW);
		const g = await passwordGrant(b, 'olga', PW);
		const used = Number((await r.call('INFO', 'memory')).match(/used_memory:(\d+)/)[1]);
		await r.call('CONFIG', 'SET', 'maxmemory', String(Math.max(1, used - 65536)));
		// reads
		assert.equal((await b.me(cookie)).status, 200, 'a live session is still served');
		assert.equal((await verifyReq(a, g.access_token)).status, 200, 'an access token still verifies');
		// writes: 503 store_unavailable
		for (const [what, res] of [
			['refresh', await refreshReq(a, g.refresh_token)],
			['sign-out', await b.fetch('/logout', { method: 'POST', cookie })],
		]) {
			assert.equal(res.status, 503, `${what} with Redis full: ${res.status} ${res.text_}`);
			assert.equal(res.json_?.error, 'store_unavailable');
		}
		// failed sign-ins spread over both instances from one address
		const wrong = [];
		for (let i = 0; i < 6; i++) wrong.push((await (i % 2 ? b : a).login('olga', `wrong-${i}`)).status);
		const right = (await a.login('olga', PW)).status;
		assert.ok(wrong.slice(2).every((x) => x !== 401),
			`failures beyond rate_pair_free are still held back (or refused) while Redis is full: wrong passwords ${wrong}, right one ${right}`);
		assert.equal(right, wrong.at(-1), `the right password is answered like a wrong one (${right} vs ${wrong})`);
		// memory back: the refresh token refused during the episode was not used up
		await r.call('CONFIG', 'SET', 'maxmemory', '0');
		const n = await refreshReq(b, g.refresh_token);
		assert.equal(n.status, 200, `refresh after the episode: ${n.text_}`);
	} finally {
		await M.stopClean().finally(() => r.stop());
	}
});

// An operator error (FLUSHALL, or a Redis without persistence that restarted): every
// session and the key ring are gone. Nothing signed by the vanished keys may verify,
// including tokens an instance verified (and cached) before.
test('a Redis emptied under running instances (FLUSHALL, or a restart without persistence) lets no old token through', { skip }, async () => {
	const r = await startRedis();
	const E = await startCluster({ redis: r, n: 2, proxy: false });
	try {
		const [a, b] = E.nodes;
		await E.addUser('zed', PW);
		const g = await passwordGrant(a, 'zed', PW);
		const cookie = await a.session('zed', PW);
		assert.equal((await verifyReq(b, g.access_token)).status, 200); // cached at b
		await r.call('FLUSHALL');
		assert.equal((await b.me(cookie)).status, 401, 'the session is gone');
		// A FLUSHALL publishes nothing: each instance's heartbeat reads the counter every
		// 0.5 s (src/store/redis_sub.c) and sees it gone.
		await waitFor(async () => (await jwks(b)).kids.length === 0,
			{ ms: 1500, every: 50, what: 'the key ring is gone at b (within one heartbeat)' });
		assert.equal((await verifyReq(a, g.access_token)).status, 401, 'not cached at a: refused');
		assert.equal((await verifyReq(b, g.access_token)).status, 401, 'cached at b: must be refused as well');
	} finally {
		await E.stopClean().finally(() => r.stop());
	}
});

test('every instance stops cleanly on SIGTERM: exit 0, no sanitizer report, no secret in the logs', { skip }, async () => {
	await C.stopClean();
});
