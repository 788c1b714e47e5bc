// SPDX-License-Identifier: MIT
// Sign-in limits count across instances: failed sign-ins spread over three instances on
// one Redis hit 429 exactly where one instance would, for the (account, IP) pair and for
// the per-IP budget; behind nginx with trusted_proxies, each client is counted by its own
// address from X-Forwarded-For, not the proxy's. Client addresses come from 127.0.0.0/8.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, haveNginx, haveRedis, requestFrom, sleep, raw } from './lib.mjs';

const skip = (!haveRedis && 'redis-server is not installed') || (!haveNginx && 'nginx is not installed');
const PW = 'alice-pw-0123456789';
let C, A, B, Cc;

before(async () => {
	if (skip) return;
	C = await startCluster({
		config: ['rate_pair_free = 3', 'rate_backoff_max = 4s', 'rate_ip_per_min = 6', 'trusted_proxies = 127.0.0.1'],
	});
	[A, B, Cc] = C.nodes;
	await C.addUser('alice', PW);
});

function loginFrom(ip, port, username, password, headers = {}) {
	for (const s of C.nodes) s.secrets.add(password);
	return requestFrom(ip, port, '/login', {
		method: 'POST',
		// the page comes from the instances' shared public issuer, the only accepted origin
		headers: { 'Content-Type': 'application/json', Origin: C.issuer, ...headers },
		body: JSON.stringify({ username, password }),
	});
}

// The first backoff step is 1 s on a whole-second clock: it can end at once when a
// second boundary passes between a failure and the next try, so allow one more try.
async function limitedAfter(tries) {
	let r = await tries();
	if (r.status === 401) r = await tries();
	return r;
}

test('(account, IP) failures spread over A, B and C: 429 after rate_pair_free in all, as on one instance', { skip }, async () => {
	const ip = '127.0.0.21';
	const got = [];
	for (const [i, s] of [A, B, Cc].entries()) got.push((await loginFrom(ip, s.port, 'alice', `wrong-${i}`)).status);
	assert.deepEqual(got, [401, 401, 401], 'the first rate_pair_free failures are answered');
	const r = await limitedAfter(() => loginFrom(ip, A.port, 'alice', 'wrong-more'));
	assert.equal(r.status, 429, `A after failures at A, B and C: ${r.status} ${r.body}`);
	assert.equal(r.json.error, 'rate_limited');
	const ra = Number(r.headers['retry-after']);
	assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 4, `Retry-After ${r.headers['retry-after']}`);
	// the pair is held at every instance, even with the right password
	for (const s of [B, Cc]) {
		const x = await loginFrom(ip, s.port, 'alice', PW);
		assert.equal(x.status, 429, `pair held at ${s.port}: ${x.status}`);
		assert.ok(Number(x.headers['retry-after']) >= 1);
	}
	// not locked for everyone: the owner from another address, at any instance
	assert.equal((await loginFrom('127.0.0.22', Cc.port, 'alice', PW)).status, 200);
	// after the wait, a success at B clears the pair for all
	await sleep(Number(r.headers['retry-after']) * 1000 + 1100);
	const ok = await loginFrom(ip, B.port, 'alice', PW);
	assert.equal(ok.status, 200, `after Retry-After at B: ${ok.status} ${ok.body}`);
	assert.equal((await loginFrom(ip, Cc.port, 'alice', 'wrong-after')).status, 401, 'counting starts over at C');
});

test('one IP\'s per-minute budget is shared: rate_ip_per_min failures across accounts over A, B, C, then 429 everywhere', { skip }, async () => {
	const ip = '127.0.0.23';
	const nodes = [A, B, Cc];
	const got = [];
	for (let i = 0; i < 8; i++) got.push((await loginFrom(ip, nodes[i % 3].port, `nobody-${i}`, 'x-wrong-pw')).status);
	assert.deepEqual(got, [401, 401, 401, 401, 401, 401, 429, 429]);
	for (const s of nodes) assert.equal((await loginFrom(ip, s.port, 'alice', 'x-wrong-pw')).status, 429);
	assert.equal((await loginFrom('127.0.0.24', A.port, 'nobody-0', 'x-wrong-pw')).status, 401, 'other IPs are unaffected');
});

test('behind nginx with trusted_proxies: each client is limited by its own address, across the instances nginx picks', { skip }, async () => {
	const port = C.proxy.port;
	const got = [];
	// the client sends an X-Forwarded-For of its own, a new one each time: nginx appends
	// the real address after it, and that is the one counted
	const forged = (i) => ({ 'X-Forwarded-For': `10.77.0.${i}` });
	for (let i = 0; i < 3; i++) got.push((await loginFrom('127.0.0.31', port, 'alice', `wrong-p${i}`, forged(i))).status);
	assert.deepEqual(got, [401, 401, 401]);
	let k = 3;
	const r = await limitedAfter(() => loginFrom('127.0.0.31', port, 'alice', `wrong-p${k}`, forged(k++)));
	assert.equal(r.status, 429, `the client at 127.0.0.31 through nginx: ${r.status} ${r.body}`);
	// another client through the same proxy is not held back by it
	const other = await loginFrom('127.0.0.32', port, 'alice', PW);
	assert.equal(other.status, 200, `another client through the proxy: ${other.status} ${other.body}`);
	// the instances saw the client's address, not nginx's
	const a = await C.cli(['audit', 'list', '--limit', '100', '--json']);
	assert.equal(a.code, 0, a.stderr);
	const ev = JSON.parse(a.stdout);
	assert.ok(ev.some((e) => e.ip === '127.0.0.31' && e.user === 'alice'), 'audit names the client address');
	assert.ok(ev.some((e) => e.ip === '127.0.0.32'), 'audit names the other client');
	assert.ok(!ev.some((e) => e.ip.startsWith('10.77.')), 'never an address the client made up');
	// a client talking to an instance directly cannot pick its address with X-Forwarded-For
	const spoof = await requestFrom('127.0.0.33', A.port, '/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', Origin: A.origin, 'X-Forwarded-For': '127.0.0.32' },
		body: JSON.stringify({ username: 'alice', password: 'wrong-spoof' }),
	});
	assert.equal(spoof.status, 401);
	const a2 = JSON.parse((await C.cli(['audit', 'list', '--limit', '5', '--json'])).stdout);
	assert.ok(a2.some((e) => e.ip === '127.0.0.33'), 'an untrusted peer is counted by its own address');
});

// HAProxy's `option forwardfor` adds an X-Forwarded-For line of its own after any the
// client sent (nginx's $proxy_add_x_forwarded_for appends to one line instead). The
// client's address is then in the last line; a client must not pick its address with a
// line of its own.
test('a trusted proxy that adds its own X-Forwarded-For line (HAProxy): the last line names the client', { skip }, async () => {
	const body = JSON.stringify({ username: 'alice', password: 'wrong-xff' });
	const got = [];
	for (let i = 0; i < 5; i++) {
		const s = C.nodes[i % 3];
		const req = `POST /login HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\n` +
			`X-Forwarded-For: 10.66.0.${i + 1}\r\nX-Forwarded-For: 127.0.0.41\r\n` +
			`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
		got.push((await raw(s.port, req, { ms: 5000 })).status);
	}
	const a = JSON.parse((await C.cli(['audit', 'list', '--limit', '10', '--json'])).stdout);
	const ips = [...new Set(a.filter((e) => e.user === 'alice' && /^(10\.66\.|127\.0\.0\.41$)/.test(e.ip)).map((e) => e.ip))];
	assert.deepEqual(ips, ['127.0.0.41'], `the address the proxy added, never the client's own line: ${ips}`);
	assert.deepEqual(got.slice(0, 3), [401, 401, 401]);
	assert.ok(got.slice(3).includes(429), `one client rotating its own X-Forwarded-For line is still limited: ${got}`);
});

test('every instance stops cleanly on SIGTERM: exit 0, no sanitizer report, no secret in the logs', { skip }, async () => {
	await C.stopClean();
});
