// SPDX-License-Identifier: MIT
// Argon2 never makes a sign-in wait for long: with one slow worker, sign-ins that would
// wait past --login-wait for it are answered 503 `busy` with Retry-After (not held for
// seconds), are not counted as failed attempts, and requests that need no hashing are
// served meanwhile. (The effect of the workers on GET /me under load is measured by
// bench/http, not asserted here.) And the default counts of HTTP threads and Argon2
// workers follow the CPUs the process may run on, not the machine's.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { BIN, startServer, parseMetrics, tmpDir, freePort, storeUrl, waitFor } from './lib.mjs';

let srv;
const PW = 'gil-pw-0123456789';

before(async () => {
	// one worker, each hash ~0.3-1 s: a queue forms at once
	srv = await startServer({ args: ['--login-workers', '1', '--login-wait', '1s', '--argon2-ops', '40', '--rate-pair-free', '3'] });
	await srv.addUser('gil', PW);
});

test('sign-ins that would wait past --login-wait get 503 busy fast; nothing is counted against the account', async () => {
	const cookie = await srv.session('gil', PW);
	const t0 = Date.now();
	// sixteen accounts (unknown ones are checked against a dummy hash all the same), so the
	// per-account limit does not answer first
	const tries = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
		const t = Date.now();
		const r = await srv.login(i ? `nobody${i}` : 'gil', 'wrong-password-x');
		return { status: r.status, ms: Date.now() - t, retry: r.res.headers.get('retry-after'), error: r.body?.error };
	}));
	const busy = tries.filter((t) => t.status === 503);
	const checked = tries.filter((t) => t.status !== 503);
	assert.ok(busy.length >= 1, `some sign-ins were shed: ${JSON.stringify(tries)}`);
	assert.ok(checked.length >= 1, 'the first ones were checked');
	for (const b of busy) {
		assert.equal(b.error, 'busy');
		assert.equal(b.retry, '1');
	}
	for (const c of checked) assert.ok([401, 429].includes(c.status), JSON.stringify(c));
	// a queued check ran within about login_wait + one hash; no one waited for all sixteen
	assert.ok(Math.max(...tries.map((t) => t.ms)) < 8000, `longest wait ${Math.max(...tries.map((t) => t.ms))} ms`);
	// meanwhile a request without hashing was answered at once
	const me = await srv.me(cookie);
	assert.equal(me.status, 200);
	assert.ok(Date.now() - t0 < 15000);
	// the shed attempts were never checked, so they count neither as failures nor against
	// the account: after the backoff of the checked ones, the right password works
	const m = parseMetrics((await srv.fetch('/metrics')).text_);
	assert.ok(m['latchkey_logins_total{outcome="busy"}'] >= busy.length);
	let ok = null;
	for (let i = 0; i < 40 && !ok; i++) {
		const r = await srv.login('gil', PW);
		if (r.status === 200) ok = r;
		else await new Promise((res) => setTimeout(res, 500));
	}
	assert.ok(ok, 'gil signs in once the queue has drained');
});

// The "threads" line `latchkey serve` logs at start, run under `taskset -c CPUS` (null: not).
async function threadCounts(cpus, args = []) {
	const tmp = tmpDir();
	const argv = ['serve', '--listen', `127.0.0.1:${await freePort()}`, '--store', storeUrl(tmp), '--insecure-cookies', ...args];
	const proc = cpus === null ? spawn(BIN, argv) : spawn('taskset', ['-c', cpus, BIN, ...argv]);
	let err = '';
	proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
	proc.stdout.resume();
	try {
		const line = await waitFor(() => err.split('\n').find((l) => l.includes('"msg":"threads"')),
			{ ms: 10000, what: `the threads line (stderr: ${err.slice(-300)})` });
		const { http: h, argon2 } = JSON.parse(line);
		return { http: Number(h), argon2: Number(argon2) };
	} finally {
		proc.kill('SIGTERM');
		await new Promise((r) => proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r));
	}
}

test('the default thread counts follow the CPUs the process may run on (taskset, a container cpuset)', async (t) => {
	let cpus = 0;
	try { cpus = Number(execFileSync('nproc', [], { encoding: 'utf8' })); } catch { /* no nproc */ }
	if (cpus < 2) return t.skip(`needs 2 CPUs to tell the machine's from the allowed ones (nproc: ${cpus})`);
	try { execFileSync('taskset', ['-c', '0', 'true']); } catch { return t.skip('taskset (util-linux) cannot run here'); }
	// one CPU allowed: one request thread and one Argon2 worker, which before took one worker
	// per machine CPU and ran them all on that CPU beside the request thread
	assert.deepEqual(await threadCounts('0'), { http: 1, argon2: 1 });
	// all of them: one worker per CPU, one HTTP thread per CPU but one
	assert.deepEqual(await threadCounts(null), { http: cpus - 1, argon2: cpus });
	// what the operator sets is kept
	assert.deepEqual(await threadCounts('0', ['--threads', '2', '--login-workers', '3']), { http: 2, argon2: 3 });
});

// The Argon2 workers take a 0.1 ms scheduler slice (Linux 6.12+, sched_setattr's
// sched_runtime), so a hash sharing a CPU with a request thread hands it back quickly;
// bench/http PIN=1 measures the effect on GET /me's p99. Read from /proc: the threads
// named lk-argon2 and their se.slice (CONFIG_SCHED_DEBUG's /proc/PID/task/TID/sched).
test('the Argon2 workers run with a 0.1 ms scheduler slice, the request threads with the default', async (t) => {
	const srv = await startServer({ args: ['--login-workers', '2'] });
	const slices = readdirSync(`/proc/${srv.proc.pid}/task`).map((tid) => {
		const dir = `/proc/${srv.proc.pid}/task/${tid}`;
		let sched = '';
		try { sched = readFileSync(`${dir}/sched`, 'utf8'); } catch { /* no sched debug */ }
		const m = /^se\.slice\s*:\s*(\d+)/m.exec(sched);
		return { name: readFileSync(`${dir}/comm`, 'utf8').trim(), slice: m ? Number(m[1]) : null };
	});
	const workers = slices.filter((x) => x.name === 'lk-argon2');
	assert.equal(workers.length, 2, JSON.stringify(slices));
	if (workers.every((x) => x.slice === null)) return t.skip('this kernel does not show se.slice in /proc/PID/task/TID/sched');
	const [maj, min] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).split('.').map(Number);
	if (maj < 6 || (maj === 6 && min < 12)) return t.skip(`Linux ${maj}.${min} has no per-task slice (6.12+)`);
	for (const w of workers) assert.equal(w.slice, 100000, JSON.stringify(slices));
	const others = slices.filter((x) => x.name !== 'lk-argon2' && x.slice !== null);
	assert.ok(others.length > 0 && others.every((x) => x.slice > 100000), JSON.stringify(slices));
});
