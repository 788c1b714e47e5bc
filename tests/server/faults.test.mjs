// SPDX-License-Identifier: MIT
// Faults injected under a workload of concurrent clients that sign in, use and end their
// sessions, obtain tokens with the password grant, rotate and revoke refresh tokens, revoke
// access tokens and verify them; every answer is recorded client-side, and afterwards a
// fresh server on the same store is checked against what was acknowledged. A request in
// flight at a fault has an unknown outcome (connection reset, or a 503 whose write may
// still have landed): no invariant assumes it happened or did not; only acknowledged
// operations count.
//
//  1. kill -9 of the server at random moments (5 kills), restarted on the same store.
//  2. Redis frozen (SIGSTOP for 1.5 s) and restarted (same port, AOF) under the load: the
//     server answers 503 store_unavailable, never 401 for a live session, never another
//     5xx, never crashes (Redis store only).
//  3. A full filesystem under the SQLite file (a tmpfs the test mounts and fills): writes
//     get 503 store_unavailable, reads of live sessions and /healthz go on, and once there
//     is room again everything works and PRAGMA integrity_check says ok (SQLite only). A
//     read-only one is in readonly.test.mjs.
//  4. The revocation stream cut in the middle of an event, resumed with Last-Event-ID:
//     every revocation arrives, none twice.
//
// The invariants, and what fixes each:
//  - no lost user, no lost session: an acknowledged sign-in is durable (SPEC: sessions live
//    in the store; "Same behaviour on both" stores);
//  - refresh tokens are single use (RFC 6749 §10.4; OAuth 2.0 Security BCP, RFC 9700
//    §4.14.2: rotation with reuse detection). SPEC "Tokens": presented again within the
//    grace window (10 s) a used token returns the same successor; after it, it is refused
//    (invalid_grant, RFC 6749 §5.2) and its whole family is revoked, access tokens too;
//  - an acknowledged rotation is not lost: the successor handed out refreshes again;
//  - a revoked token is never accepted again: RFC 7009 §2.1 (an access token by its jti; a
//    refresh token with its whole grant, access tokens included), sign-out ends the
//    session and every token carrying its sid (SPEC "Revocation events"); a refused bearer
//    token gets 401 (RFC 6750 §3.1);
//  - the revocation stream resumes from Last-Event-ID (WHATWG HTML, server-sent events:
//    the last event ID is set only when an event is dispatched, at its blank line).
//
// Each test prints its figures as TAP comments: "# faults: ..." (faults injected,
// operations acknowledged, invariant checks made, violations found). FAULTS_SEED=N
// replays the random schedule of a run (its seed is printed too). The workload and the
// invariant checks live in workload.mjs (shared with the failover tests of tests/rcluster).
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
	startServer, startRedis, sleep, waitFor, freePort, isRedisTemplate, addClient, basic, tokenReq, refreshReq, revokeReq, verifyReq, sqlite3, stopClean, passwordGrant,
} from '../tokens/lib.mjs';
import {
	rng, SEED, figures, report, Life, Workload, checkInvariants, prepare, USERS, LIMITS, short, jtiOf,
} from './workload.mjs';

const onRedis = isRedisTemplate();
// ---------------------------------------------------------------- 1. kill -9

test('kill -9 at random moments under the workload: no lost user, session or rotation, no revoked token accepted', async (t) => {
	const rand = rng(SEED);
	t.diagnostic(`faults: seed ${SEED} (FAULTS_SEED=${SEED} replays the schedule)`);
	const port = await freePort();
	const opts = { port, args: LIMITS };
	const first = await startServer(opts);
	const life = new Life(first, 'kill');
	const fig = figures('kill -9');
	const load = new Workload(life, { users: { ...USERS }, rand, fig });
	await prepare(first, load);
	const restart = () => startServer({ ...opts, tmp: first.tmp, store: first.store, admin: false });

	const KILLS = 5;
	const running = load.run();
	const killedAt = [];
	try {
		for (let k = 0; k < KILLS; k++) {
			const ms = 100 + Math.floor(rand() * 700);
			await sleep(ms);
			const srv = life.srv;
			if (srv.exited) fig.violations.push(`the server exited by itself: ${JSON.stringify(srv.exited)}\n${srv.err.slice(-800)}`);
			life.beginKill();
			if (k === KILLS - 1) life.stop = true;
			life.note(`kill ${k + 1}`);
			const ex = await srv.kill9();
			fig.faults++;
			killedAt.push(ms);
			if (ex.signal !== 'SIGKILL') fig.violations.push(`kill ${k + 1}: the server had exited already: ${JSON.stringify(ex)}`);
			if (/Sanitizer|runtime error:/.test(srv.err)) fig.violations.push(`sanitizer report:\n${srv.err.slice(-1500)}`);
			if (k < KILLS - 1) {
				life.endKill(await restart());
				life.note(`restart ${k + 1}`);
			}
		}
	} finally {
		life.stop = true;
		life.resolveReady?.(); // nobody waits for a restart that will not come
		await running;
	}
	assert.ok(fig.acked > 50, `the load ran: ${fig.acked} operations acknowledged`);

	// a fresh server on the same store
	const fresh = await restart();
	assert.doesNotMatch(fresh.out, /created user/, 'no new admin: the users are there');
	const r = await checkInvariants(fresh, load);
	await stopClean(fresh);
	report(t, fig, `kills after ${killedAt.join(', ')} ms of load; ${load.summary()}; reuse sample ${r.sample} tokens over ${r.families} families`);
	assert.deepEqual(fig.violations, [], `${fig.violations.length} violations`);
});

// ---------------------------------------------------------------- 2. Redis faults

test('Redis frozen (SIGSTOP) and restarted under the workload: 503 store_unavailable only, no crash, invariants hold',
	{ skip: !onRedis && 'the store is SQLite: Redis faults run with LATCHKEY_TEST_STORE=redis' }, async (t) => {
		const rand = rng(SEED + 1);
		t.diagnostic(`faults: seed ${SEED}`);
		// A Redis of this test's own, with an AOF fsynced at every write: a restart keeps
		// every acknowledged write, so the invariants can hold across it.
		const redis = await startRedis({ aof: true, fsync: 'always' });
		const port = await freePort();
		const opts = { port, args: LIMITS };
		const srv = await startServer({ ...opts, store: redis.url(0), admin: true });
		const life = new Life(srv, 'redis');
		const fig = figures('Redis');
		const load = new Workload(life, { users: { ...USERS }, rand, fig });
		await prepare(srv, load);

		const running = load.run();
		const done = [];
		try {
			for (const fault of ['freeze', 'restart', 'freeze', 'restart', 'restart']) {
				await sleep(300 + Math.floor(rand() * 500));
				if (fault === 'freeze') {
					life.note('SIGSTOP');
					redis.freeze();
					await sleep(1500);
					redis.resume();
					life.note('SIGCONT');
				} else {
					life.note('Redis stopping');
					await redis.stop();
					life.note('Redis stopped');
					await redis.start();
					life.note('Redis started');
				}
				fig.faults++;
				done.push(fault);
				if (srv.exited) break;
				// back to normal before the next fault (the load keeps going meanwhile)
				await waitFor(async () => (await srv.fetch('/readyz')).status === 200, { ms: 8000, every: 100, what: '/readyz after the fault' });
			}
			await sleep(800); // recovery under load: unknown rotations are retried meanwhile
		} finally {
			life.stop = true;
			await running;
		}
		assert.equal(srv.exited, null, `the server survived the faults: ${JSON.stringify(srv.exited)}\n${srv.err.slice(-1500)}`);
		assert.ok(load.store503 > 0, 'the faults were felt: some request got 503 store_unavailable');
		assert.ok(fig.acked > 50, `the load ran: ${fig.acked} operations acknowledged`);
		await stopClean(srv);

		const fresh = await startServer({ ...opts, tmp: srv.tmp, store: srv.store, admin: false });
		const r = await checkInvariants(fresh, load);
		await stopClean(fresh);
		await redis.stop();
		report(t, fig, `faults ${done.join(', ')}; ${load.summary()}; reuse sample ${r.sample} tokens over ${r.families} families`);
		assert.deepEqual(fig.violations, [], `${fig.violations.length} violations`);
	});

// ---------------------------------------------------------------- 3. a full filesystem

// Mount points of this file, unmounted after the last test whatever happened (servers on
// them are stopped first).
const mounts = [];
const run = (cmd, args) => new Promise((resolve) => {
	execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) =>
		resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
});
async function unmountAll() {
	for (const m of mounts.splice(0)) {
		if (m.srv && !m.srv.exited) await m.srv.kill9().catch(() => {});
		let r = await run('umount', [m.dir]);
		for (let i = 0; r.code !== 0 && i < 20 && /busy/i.test(r.stderr); i++) {
			await sleep(100);
			r = await run('umount', [m.dir]);
		}
		if (r.code !== 0) await run('umount', ['-l', m.dir]);
		try { rmdirSync(m.dir); } catch { /* best effort */ }
	}
}
after(unmountAll);

test('a full filesystem under the SQLite store: writes 503 store_unavailable, reads and /healthz go on, then all works and integrity_check is ok',
	{ skip: onRedis && 'the store is Redis: this test is about the SQLite file and its filesystem' }, async (t) => {
		if (process.getuid?.() !== 0) { t.skip('not root: mounting a tmpfs needs root'); return; }
		const dir = mkdtempSync(path.join(os.tmpdir(), 'latchkey-full-'));
		const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'latchkey-faults', dir]);
		if (m.code !== 0) {
			rmdirSync(dir);
			t.skip(`mount -t tmpfs is not permitted here (${m.stderr.trim() || `exit ${m.code}`}): cannot fill a filesystem under the store`);
			return;
		}
		const mount = { dir, srv: null };
		mounts.push(mount);
		const fig = figures('full filesystem');
		const check = (ok, msg) => { fig.checks++; if (!ok) fig.violations.push(msg); };
		const db = path.join(dir, 'lk.db');
		const store = `sqlite:${db}`;
		const srv = await startServer({ store, admin: true });
		mount.srv = srv;
		const PW = 'fay-password-0123456789';
		await srv.addUser('fay', PW);
		const app = await addClient(srv, 'full-app');
		// Sessions signed in before the disk fills; nothing has been revoked on this store
		// yet (a store's first revocation is what first writes beside it, in PATH-gen).
		const [a, b, c] = [await srv.session('fay', PW), await srv.session('fay', PW), await srv.session('fay', PW)];
		const g = await passwordGrant(srv, 'fay', PW, {}, { client: app });
		fig.acked += 4;

		// fill it up: big writes, then smaller ones until not one more byte fits
		const fill = path.join(dir, 'fill');
		const fd = openSync(fill, 'w');
		let filled = 0;
		for (const size of [1 << 20, 1 << 16, 4096, 512, 1]) {
			const buf = Buffer.alloc(size);
			for (;;) {
				try { filled += writeSync(fd, buf); } catch (e) { if (e.code === 'ENOSPC') break; throw e; }
			}
		}
		closeSync(fd);
		fig.faults++;

		const is503 = (r, what) => {
			check(r.status === 503, `${what} with the filesystem full: ${r.status} ${r.text_?.slice(0, 100)}`);
			check(r.json_?.error === 'store_unavailable' && typeof r.json_?.error_description === 'string' && r.json_.error_description.length > 0,
				`${what}: a clear JSON error: ${r.text_?.slice(0, 100)}`);
			check(/^application\/json/.test(r.headers.get('content-type') || ''), `${what}: JSON content type`);
		};
		try {
			check((await srv.fetch('/healthz')).status === 200, '/healthz with the filesystem full');
			const me = await srv.me(a);
			check(me.status === 200 && me.json_?.name === 'fay', `a live session is read with the filesystem full: ${me.status}`);
			is503((await srv.login('fay', PW)).res, 'sign-in');
			is503(await srv.fetch('/logout', { method: 'POST', cookie: b }), 'sign-out');
			check(srv.exited === null, `the server is still running after a sign-out on a full filesystem: ${JSON.stringify(srv.exited)} ${srv.err.slice(-400)}`);
			if (srv.exited) throw new Error('the server died');
			// the sign-out did not happen: the session is still there
			const stillB = await srv.me(b);
			check(stillB.status === 200, `a sign-out answered 503 left the session live: ${stillB.status}`);
			is503(await tokenReq(srv, { grant_type: 'password', username: 'fay', password: PW }, { client: app }), 'password grant');
			is503(await refreshReq(srv, g.refresh_token, { client: app }), 'refresh_token grant');
			is503(await revokeReq(srv, g.access_token, { client: app }), 'RFC 7009 revoke');
			check((await verifyReq(srv, g.access_token)).status === 200, 'an access token still verifies');
			check((await srv.fetch('/healthz')).status === 200, '/healthz after the failed writes');
			const rz = await srv.fetch('/readyz');
			t.diagnostic(`faults: full filesystem: /readyz answered ${rz.status} while full (${filled} bytes filled)`);
			check(srv.exited === null, 'the server is still running');
		} finally {
			rmSync(fill, { force: true });
		}

		// room again: everything works, nothing half-done is visible
		const d = await srv.login('fay', PW);
		check(d.status === 200, `sign-in once there is room again: ${d.status} ${d.res.text_.slice(0, 100)}`);
		check((await srv.fetch('/logout', { method: 'POST', cookie: b })).status === 200, 'sign-out once there is room again');
		check((await srv.me(b)).status === 401, 'the session signed out is gone');
		check((await srv.me(a)).status === 200, 'the other sessions are still live');
		const n = await refreshReq(srv, g.refresh_token, { client: app });
		check(n.status === 200, `the refresh token refused while full was not used up: ${n.status} ${n.text_.slice(0, 100)}`);
		check((await revokeReq(srv, g.access_token, { client: app })).status === 200, 'RFC 7009 revoke once there is room again');
		check((await verifyReq(srv, g.access_token)).status === 401, 'the revoked access token is refused');
		fig.acked += 6;
		await stopClean(srv);
		const ic = (await sqlite3(db, 'PRAGMA integrity_check;')).trim();
		check(ic === 'ok', `PRAGMA integrity_check: ${ic}`);
		// and a restart on it sees exactly what was acknowledged
		const again = await startServer({ store, admin: false });
		mount.srv = again;
		check((await again.me(a)).status === 200, 'after a restart: a live session');
		check((await again.me(c)).status === 200, 'after a restart: another live session');
		check((await again.me(b)).status === 401, 'after a restart: the session signed out');
		check((await again.me(d.cookie)).status === 200, 'after a restart: the session signed in after the episode');
		await stopClean(again);
		await unmountAll();
		report(t, fig, `tmpfs of 8 MiB filled with ${filled} bytes`);
		assert.deepEqual(fig.violations, [], `${fig.violations.length} violations`);
	});

// ---------------------------------------------------------------- 4. the stream cut mid-event

// A client of GET /revocations/stream that parses as a browser's EventSource does: a frame
// counts (and its id becomes the last event ID) only at its blank line. cut(mode) makes it
// stop reading inside the next event frame and drop the connection.
function sseClient(srv, client, lastId) {
	const c = { events: [], lastId, raw: '', status: null, ended: false, cutting: null };
	let consumed = '';  // what the parser has read (never past a cut)
	let pos = 0;        // parsed up to here in `consumed`
	let frameId = null, frameData = null;
	const parse = () => {
		for (;;) {
			const nl = consumed.indexOf('\n', pos);
			if (nl < 0) return;
			const line = consumed.slice(pos, nl);
			pos = nl + 1;
			if (line === '') {
				if (frameData !== null) {
					const ev = JSON.parse(frameData);
					c.events.push({ id: frameId, ...ev });
					if (frameId !== null) c.lastId = frameId;
				}
				frameId = frameData = null;
			} else if (line.startsWith('id: ')) frameId = Number(line.slice(4));
			else if (line.startsWith('data: ')) frameData = line.slice(6);
		}
	};
	const req = http.request({
		host: '127.0.0.1', port: srv.port, path: '/revocations/stream', agent: false,
		headers: { Authorization: basic(client.id, client.secret), Accept: 'text/event-stream', ...(lastId !== undefined ? { 'Last-Event-ID': String(lastId) } : {}) },
	});
	c.open = new Promise((resolve, reject) => {
		req.on('response', (res) => {
			c.status = res.statusCode;
			res.setEncoding('utf8');
			res.on('data', (d) => {
				if (c.cut) return;
				c.raw += d;
				const start = consumed.length;
				let take = c.raw.slice(start);
				if (c.cutting) {
					// the first event frame that begins in what is new: read part of it
					let at = -1;
					for (let p = c.raw.indexOf('id: ', start); p >= 0 && at < 0; p = c.raw.indexOf('id: ', p + 1))
						if (p === 0 || c.raw.slice(p - 2, p) === '\n\n') at = p;
					if (at >= 0) {
						const end = c.raw.indexOf('\n\n', at);
						if (end >= 0) {
							const frame = c.raw.slice(at, end + 2);
							const partial = c.cutting === 'mid-id' ? frame.slice(0, 5)
								: c.cutting === 'mid-data' ? frame.slice(0, frame.indexOf('data: ') + 6 + 10)
									: frame.slice(0, -1); // the whole data line, not the blank line
							take = c.raw.slice(start, at) + partial;
							c.cut = { mode: c.cutting, frame, partial };
						}
					}
				}
				consumed += take;
				parse();
				if (c.cut) { req.destroy(); c.cutDone?.(); }
			});
			res.on('end', () => { c.ended = true; });
			res.on('error', () => {});
			resolve();
		});
		req.on('error', (e) => { if (!c.cut && !c.closed) reject(e); });
	});
	c.close = () => { c.closed = true; req.destroy(); };
	// arm a cut inside the next event frame to arrive; resolves once cut
	c.cutNext = (mode) => new Promise((resolve) => { c.cutting = mode; c.cutDone = resolve; });
	req.end();
	return c;
}

test('the revocation stream cut in the middle of an event resumes with Last-Event-ID: nothing lost, nothing twice', async (t) => {
	const fig = figures('revocation stream');
	const check = (ok, msg) => { fig.checks++; if (!ok) fig.violations.push(msg); };
	const srv = await startServer({ args: ['--revocation-ping', '1s'] });
	const PW = 'gus-password-0123456789';
	await srv.addUser('gus', PW);
	const rs = await addClient(srv, 'faults-rs', 'read');
	const app = await addClient(srv, 'faults-stream-app');
	const auth = { Authorization: basic(rs.id, rs.secret) };
	const start = (await srv.fetch('/revocations', { headers: auth })).json_.cursor;

	// access tokens to revoke: one password grant, then rotations (cheap, no Argon2)
	const pending = [];
	let g = await passwordGrant(srv, 'gus', PW, {}, { client: app });
	pending.push(g.access_token);
	for (let i = 0; i < 40; i++) {
		const r = await refreshReq(srv, g.refresh_token, { client: app });
		assert.equal(r.status, 200, r.text_);
		g = r.json_;
		pending.push(g.access_token);
	}
	const expected = new Map(); // value -> type, for every acknowledged revocation
	const revokeSome = async (n) => {
		for (const at of pending.splice(0, n)) {
			const r = await revokeReq(srv, at, { client: app });
			assert.equal(r.status, 200, r.text_);
			fig.acked++;
			expected.set(jtiOf(at), 'jti');
		}
	};
	const signOut = async () => {
		const cookie = await srv.session('gus', PW);
		const sid = (await srv.me(cookie)).json_.session.id;
		assert.equal((await srv.fetch('/logout', { method: 'POST', cookie })).status, 200);
		fig.acked += 2;
		expected.set(sid, 'sid');
	};

	const seen = [];  // every event dispatched, over all connections
	let st = sseClient(srv, rs, start);
	await st.open;
	assert.equal(st.status, 200);
	for (const mode of ['mid-id', 'mid-data', 'before-blank']) {
		// events flow; then one is cut in the middle, and more revocations happen while
		// the client is away
		await revokeSome(2);
		await waitFor(() => [...expected.keys()].every((v) => st.events.some((e) => e.value === v) || seen.some((e) => e.value === v)),
			{ ms: 3000, every: 10, what: 'the first events on the stream' });
		const cut = st.cutNext(mode);
		await revokeSome(3);
		await Promise.race([cut, sleep(3000)]);
		check(!!st.cut, `${mode}: the stream was cut inside an event frame`);
		if (!st.cut) break;
		fig.faults++;
		const before = st.lastId;
		check(st.cut.frame.startsWith('id: ') && !st.events.some((e) => st.cut.frame.startsWith(`id: ${e.id}\n`)),
			`${mode}: the partial frame was not dispatched`);
		seen.push(...st.events);
		await revokeSome(4);
		await signOut();
		// reconnect from the last event dispatched
		st = sseClient(srv, rs, before);
		await st.open;
		check(st.status === 200, `${mode}: the stream reopens with Last-Event-ID ${before}`);
		await waitFor(() => [...expected.keys()].every((v) => seen.some((e) => e.value === v) || st.events.some((e) => e.value === v)),
			{ ms: 3000, every: 10, what: `${mode}: every revocation on the resumed stream` }).catch(() => {});
		await sleep(150); // anything sent twice would be here by now
		for (const e of st.events) check(e.id > before, `${mode}: an event at or before Last-Event-ID came again (${e.id} <= ${before})`);
		const ids = st.events.map((e) => e.id);
		check(ids.every((x, i) => i === 0 || x > ids[i - 1]), `${mode}: events in cursor order: ${ids}`);
	}
	seen.push(...st.events);
	st.close();
	// nothing lost, nothing twice by cursor, nothing unexpected
	const byCursor = new Map();
	for (const e of seen) {
		check(!byCursor.has(e.id), `event ${e.id} (${e.type} ${short(e.value)}) arrived twice`);
		byCursor.set(e.id, e);
		check(e.id === e.cursor, `id: ${e.id} is the cursor ${e.cursor}`);
	}
	for (const [v, type] of expected) {
		const got = seen.filter((e) => e.value === v);
		check(got.length === 1 && got[0].type === type, `revocation ${type} ${short(v)} arrived ${got.length} times`);
	}
	for (const e of seen) check(expected.has(e.value), `an event nobody made: ${e.type} ${short(e.value)}`);
	// the snapshot agrees
	const snap = await srv.fetch(`/revocations?after=${start}`, { headers: auth });
	check(JSON.stringify(snap.json_.events.map((e) => e.cursor)) === JSON.stringify([...byCursor.keys()].sort((x, y) => x - y)),
		'the snapshot lists the same cursors as the streams');
	await stopClean(srv);
	report(t, fig, `${expected.size} revocations, ${seen.length} events dispatched over ${fig.faults + 1} connections`);
	assert.deepEqual(fig.violations, [], `${fig.violations.length} violations`);
});
