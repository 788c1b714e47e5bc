// SPDX-License-Identifier: MIT
// kill -9 of the server under load, then a restart on the same store: no session and no
// user is lost, including every session whose sign-in was answered before the kill.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServer, pool, sleep } from './lib.mjs';

const USERS = { u1: 'u1-password-111111', u2: 'u2-password-222222', u3: 'u3-password-333333', u4: 'u4-password-444444' };
const N = 50;

test('kill -9 under load, restart: all sessions and users survive', async () => {
	// Every sign-in reserves a failure until its password checks out, and a kill -9 leaves
	// the reservations of the sign-ins it interrupted counted: allow plenty per pair here,
	// where the point is durability, not limits.
	const limits = ['--rate-pair-free', '1000', '--rate-ip-per-min', '100000'];
	const srv = await startServer({ args: limits });
	USERS.admin = srv.adminPassword;
	await Promise.all(Object.entries(USERS).filter(([u]) => u !== 'admin').map(([u, p]) => srv.addUser(u, p)));
	const names = Object.keys(USERS);

	// 50 sessions, 8 sign-ins at a time
	const sessions = await pool(Array.from({ length: N }, (_, i) => names[i % names.length]), 8,
		async (user, i) => ({ user, from: 'before', cookie: await srv.session(user, USERS[user], { headers: { 'User-Agent': `crash-test/${i}` } }) }));
	assert.equal(new Set(sessions.map((s) => s.cookie)).size, N);

	// load: /me over the 50 cookies, plus sign-ins, plus sign-outs of extra sessions;
	// bounded by a stop flag and a 5 s deadline
	let stop = false, killing = false;
	const deadline = Date.now() + 5000;
	const answered = [];      // sessions whose sign-in got its 200 before the kill
	const loggedOut = [];     // sessions whose sign-out got its 200 before the kill
	let meOk = 0, errors = 0;
	const meWorker = async (w) => {
		for (let i = w; !stop && Date.now() < deadline; i += 6) {
			const s = sessions[i % N];
			try {
				const r = await srv.me(s.cookie);
				if (r.status === 200) meOk++;
				else if (!killing) throw new Error(`/me ${r.status} before the kill`);
			} catch (e) { if (!killing) throw e; errors++; }
		}
	};
	const loginWorker = async (w) => {
		for (let i = 0; !stop && Date.now() < deadline; i++) {
			const user = names[(w + i) % names.length];
			try {
				const r = await srv.login(user, USERS[user]);
				if (r.status !== 200) continue;
				if (i % 3 !== 2) {
					answered.push({ user, cookie: r.cookie, from: 'load' });
					continue;
				}
				// a sign-out whose answer is lost to the kill may or may not have happened:
				// only answered ones are checked
				const o = await srv.fetch('/logout', { method: 'POST', cookie: r.cookie });
				if (o.status === 200) loggedOut.push(r.cookie);
			} catch { errors++; }
		}
	};
	const load = Promise.all([...Array.from({ length: 6 }, (_, w) => meWorker(w)),
		...Array.from({ length: 2 }, (_, w) => loginWorker(w))]);
	await sleep(700);
	killing = true;
	const killed = await srv.kill9();
	stop = true;
	await load;
	assert.equal(killed.signal, 'SIGKILL');
	assert.ok(meOk > 20, `the load ran (${meOk} /me answered before the kill)`);
	assert.ok(answered.length >= 1, 'sign-ins were answered during the load');

	// restart on the same store
	const again = await startServer({ tmp: srv.tmp, store: srv.store, admin: false, args: limits });
	assert.doesNotMatch(again.out, /created user/, 'no new admin: the users are there');
	const all = [...sessions, ...answered];
	const results = await pool(all, 8, async (s) => {
		const r = await again.me(s.cookie);
		return { ...s, status: r.status, name: r.json_?.name };
	});
	const lost = results.filter((r) => r.status !== 200 || r.name !== r.user);
	assert.deepEqual(lost.map((l) => `${l.user}:${l.status} (${l.from})`), [], `${lost.length} of ${all.length} sessions lost`);
	for (const c of loggedOut) assert.equal((await again.me(c)).status, 401, 'a sign-out answered before the kill stays done');

	const ul = await again.cli(['user', 'list', '--json']);
	assert.equal(ul.code, 0, ul.stderr);
	assert.deepEqual(JSON.parse(ul.stdout).map((u) => u.name).sort(), names.slice().sort());
	for (const [u, p] of Object.entries(USERS)) assert.equal((await again.login(u, p)).status, 200, `${u} can sign in`);
	assert.equal((await again.fetch('/readyz')).status, 200);
	assert.equal((await again.stop()).code, 0);
});
