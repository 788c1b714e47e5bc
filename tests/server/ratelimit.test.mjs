// SPDX-License-Identifier: MIT
// Sign-in limits: per (account, IP) backoff after --rate-pair-free failures, 429 with
// Retry-After, the cap --rate-backoff-max, no lock-out of the owner from another IP, and
// the per-IP budget across accounts, and concurrent sign-ins (each reserves a failure before
// Argon2). Other client IPs come from 127.0.0.0/8.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, requestFrom, sleep, parseMetrics, pool } from './lib.mjs';

let srv;
const PW = 'alice-pw-0123456789';
before(async () => {
	srv = await startServer({ args: ['--rate-pair-free', '2', '--rate-backoff-max', '2s', '--rate-ip-per-min', '6'] });
	await srv.addUser('alice', PW);
});

function loginFrom(ip, username, password) {
	srv.secrets.add(password);
	return requestFrom(ip, srv.port, '/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', Origin: srv.origin },
		body: JSON.stringify({ username, password }),
	});
}

// The first backoff step is 1 s measured on a whole-second clock, so it can end at once
// when a second boundary passes between a failure and the next attempt: allow one more
// try for it. (The 2 s step that follows always holds for an immediate retry.)
async function failUntilLimited(ip, tag) {
	assert.equal((await loginFrom(ip, 'alice', `${tag}-1`)).status, 401, 'failure 1 is not limited');
	assert.equal((await loginFrom(ip, 'alice', `${tag}-2`)).status, 401, 'failure 2 is not limited');
	let r = await loginFrom(ip, 'alice', `${tag}-3`);
	if (r.status === 401) r = await loginFrom(ip, 'alice', `${tag}-4`);
	assert.equal(r.status, 429, 'limited after --rate-pair-free failures');
	return r;
}

test('after N failures for a pair: 429 with Retry-After, even for the right password', async () => {
	const ip = '127.0.0.11';
	let r = await failUntilLimited(ip, 'wrong');
	assert.equal(r.json.error, 'rate_limited');
	const ra = Number(r.headers['retry-after']);
	assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 2, `Retry-After ${r.headers['retry-after']}`);
	// one more failure after the wait puts the pair on the 2 s step
	await sleep(ra * 1000 + 150);
	assert.equal((await loginFrom(ip, 'alice', 'wrong-5')).status, 401);
	// while limited, this pair cannot even try, whatever the password
	r = await loginFrom(ip, 'alice', PW);
	assert.equal(r.status, 429);
	assert.ok(Number(r.headers['retry-after']) >= 1);
});

test('the account is not locked for everyone: its owner signs in from another IP', async () => {
	const r = await loginFrom('127.0.0.12', 'alice', PW);
	assert.equal(r.status, 200);
	assert.ok(r.headers['set-cookie']);
});

test('after Retry-After the pair may try again; backoff doubles up to --rate-backoff-max', async () => {
	const ip = '127.0.0.13';
	let r = await failUntilLimited(ip, 'wrong-b');
	const waits = [];
	for (let round = 0; round < 2; round++) {
		const ra = Number(r.headers['retry-after']);
		assert.ok(ra >= 1 && ra <= 2, `Retry-After ${ra} within the 2 s cap`);
		await sleep(ra * 1000 + 150);
		r = await loginFrom(ip, 'alice', `wrong-again-${round}`);
		assert.equal(r.status, 401, `allowed to try after waiting (round ${round})`);
		r = await loginFrom(ip, 'alice', `wrong-more-${round}`);
		assert.equal(r.status, 429);
		waits.push(Number(r.headers['retry-after']));
	}
	assert.ok(waits.every((w) => w <= 2), `capped: ${waits}`);
	assert.ok(waits.includes(2), `the 1 s backoff grew: ${waits}`);
	// a success from this IP once allowed clears the pair's count
	await sleep(waits.at(-1) * 1000 + 150);
	assert.equal((await loginFrom(ip, 'alice', PW)).status, 200);
	assert.equal((await loginFrom(ip, 'alice', 'wrong-after-success')).status, 401, 'counting starts over');
});

test('one IP gets at most --rate-ip-per-min failures a minute across accounts', async () => {
	const ip = '127.0.0.14';
	const statuses = [];
	for (let i = 0; i < 8; i++) statuses.push((await loginFrom(ip, `user-${i}`, 'x-wrong-pw')).status);
	assert.deepEqual(statuses.slice(0, 6), [401, 401, 401, 401, 401, 401]);
	assert.deepEqual(statuses.slice(6), [429, 429]);
	const r = await loginFrom(ip, 'alice', 'x-wrong-pw');
	assert.equal(r.status, 429);
	assert.ok(Number(r.headers['retry-after']) >= 1);
	// other IPs are unaffected
	assert.equal((await loginFrom('127.0.0.15', 'user-0', 'x-wrong-pw')).status, 401);
});

test('limited attempts are counted in metrics and audited', async () => {
	const m = parseMetrics((await srv.fetch('/metrics')).text_);
	assert.ok(m['latchkey_logins_total{outcome="rate_limited"}'] >= 5);
	assert.ok(m['latchkey_http_requests_total{route="/login",method="POST",status="429"}'] >= 5);
	const a = await srv.cli(['audit', 'list', '--limit', '200', '--json']);
	const ev = JSON.parse(a.stdout).filter((e) => e.event === 'login_limited');
	assert.ok(ev.length >= 5);
	assert.ok(ev.some((e) => e.ip === '127.0.0.11' && e.user === 'alice'));
	assert.deepEqual(srv.leaks(), []);
});

test('sign-ins beyond --login-queue get 503 with Retry-After, and the server recovers', async () => {
	const busy = await startServer({ args: ['--login-workers', '1', '--login-queue', '1', '--argon2-ops', '4'] });
	const rs = await pool(Array.from({ length: 8 }, (_, i) => i), 8, () => busy.login('admin', busy.adminPassword));
	const statuses = rs.map((r) => r.status);
	assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses ${statuses}`);
	assert.ok(statuses.includes(200), `some got through: ${statuses}`);
	const shed = rs.filter((r) => r.status === 503);
	assert.ok(shed.length >= 1, `the queue overflowed: ${statuses}`);
	for (const r of shed) {
		assert.equal(r.res.headers.get('retry-after'), '1');
		assert.equal(r.body.error, 'busy');
		assert.equal(r.cookie, undefined);
	}
	for (const r of rs.filter((x) => x.status === 200)) assert.equal((await busy.me(r.cookie)).status, 200);
	assert.equal((await busy.login('admin', busy.adminPassword)).status, 200, 'recovered');
	const m = parseMetrics((await busy.fetch('/metrics')).text_);
	assert.equal(m['latchkey_logins_total{outcome="busy"}'], shed.length);
	await busy.stop();
});

// A sign-in reserves a failure for its (account, IP) before Argon2 runs and gives it back on
// success, so a burst in flight at once cannot get more than --rate-pair-free guesses.
test('concurrent wrong passwords for one (account, IP): at most --rate-pair-free get 401, the rest 429', async () => {
	const slow = await startServer({ args: ['--argon2-ops', '4', '--login-workers', '2', '--login-queue', '64',
		'--rate-pair-free', '5', '--rate-ip-per-min', '1000'] });
	await slow.addUser('bob', 'bob-pw-9876543210');
	const ip = '127.0.0.21';
	const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => {
		slow.secrets.add(`wrong-burst-${i}`);
		return requestFrom(ip, slow.port, '/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', Origin: slow.origin },
			body: JSON.stringify({ username: 'bob', password: `wrong-burst-${i}` }),
		});
	}));
	const statuses = rs.map((r) => r.status);
	const n401 = statuses.filter((s) => s === 401).length;
	const n429 = statuses.filter((s) => s === 429).length;
	assert.equal(n401 + n429, 12, `only 401 and 429: ${statuses}`);
	assert.ok(n401 >= 1 && n401 <= 5, `at most --rate-pair-free (5) wrong passwords were tried: ${statuses}`);
	assert.ok(n429 >= 7, `the rest refused: ${statuses}`);
	for (const r of rs.filter((x) => x.status === 429)) {
		assert.equal(r.json?.error, 'rate_limited');
		assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After ${r.headers['retry-after']}`);
	}
	// another IP is not affected by this pair's reservations
	const other = await requestFrom('127.0.0.22', slow.port, '/login', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json', Origin: slow.origin },
		body: JSON.stringify({ username: 'bob', password: 'bob-pw-9876543210' }),
	});
	assert.equal(other.status, 200, `the owner from another IP: ${other.body}`);
	assert.deepEqual(slow.leaks(), []);
	await slow.stop();
});
