// SPDX-License-Identifier: MIT
// Process life: graceful SIGTERM with a sign-in in flight, settings from a config file and
// from LATCHKEY_* (and their precedence), and a clear error plus exit code for a corrupt,
// unwritable or impossible store, and for bad configuration.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, mkdirSync, openSync, closeSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, runServeExpectExit, tmpDir, storeUrl, isSqlite, sqlitePath, freePort, cli, sleep, raw, waitFor } from './lib.mjs';

const sqliteOnly = isSqlite(storeUrl('/x'));

test('SIGTERM: in-flight sign-ins complete, new connections are refused, exit 0, store reopens', async () => {
	// One Argon2 worker and a slow hash: six sign-ins sent together queue behind each
	// other, so some are surely in flight when the signal lands, however fast the machine.
	// Eight sign-ins of one (account, IP) in flight at once each reserve a failure until
	// their password checks out: the pair must allow eight.
	const srv = await startServer({ args: ['--login-workers', '1', '--argon2-ops', '10', '--rate-pair-free', '10', '--login-wait', '0'] });
	const K = 8;
	const t0 = Date.now();
	let settled = 0;
	const inflight = Array.from({ length: K }, () =>
		srv.login('admin', srv.adminPassword)
			.catch((e) => ({ status: `${e.message} (${e.cause?.code || e.cause?.message})` }))
			.finally(() => { settled++; }));
	// once the first has been answered the server has read the others (they wait for the
	// one worker); a request still in the kernel's accept queue is not in flight
	await waitFor(() => settled >= 1, { ms: 8000, every: 10, what: 'the first sign-in' });
	const pendingAtSignal = K - settled;
	assert.ok(pendingAtSignal > 0, 'sign-ins are in flight when the signal is sent');
	process.kill(srv.pid, 'SIGTERM');
	await sleep(100);
	let refused = null, probeInfo = '';
	if (settled < K) {
		// a new connection (fetch would reuse a kept-alive one) while sign-ins still run
		const probe = await raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { ms: 300 });
		refused = probe.status === null;
		probeInfo = JSON.stringify(probe);
	}
	const rs = await Promise.all(inflight);
	assert.deepEqual(rs.map((r) => r.status), Array(K).fill(200), 'every accepted sign-in completed');
	const ex = await srv.waitExit(12000);
	assert.deepEqual(ex, { code: 0, signal: null }, 'exit code 0');
	assert.ok(Date.now() - t0 < 12000);
	if (refused !== null) assert.equal(refused, true, `no new connections after SIGTERM: ${probeInfo}`);
	const lines = srv.logLines();
	assert.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
	assert.equal(lines.at(-1).msg, 'stopped', 'the last line says the store was closed');
	const done = lines.filter((l) => l.msg === 'request' && l.path === '/login' && l.status === 200);
	assert.equal(done.length, K, 'each sign-in was logged as completed');

	// reopen the same store: no new admin, every session from those sign-ins is there
	const again = await startServer({ tmp: srv.tmp, store: srv.store, admin: false });
	assert.doesNotMatch(again.out, /created user/);
	for (const r of rs) {
		const me = await again.me(r.cookie);
		assert.equal(me.status, 200);
		assert.equal(me.json_.name, 'admin');
	}
	const st = await again.stop();
	assert.equal(st.code, 0);
	assert.deepEqual([...srv.leaks(), ...again.leaks([...rs.map((r) => r.cookie), srv.adminPassword])], []);
});

test('SIGINT stops the server cleanly too', async () => {
	const srv = await startServer();
	process.kill(srv.pid, 'SIGINT');
	assert.deepEqual(await srv.waitExit(6000), { code: 0, signal: null });
});

test('settings from a config file', async () => {
	const tmp = tmpDir();
	const port = await freePort();
	const file = path.join(tmp, 'latchkey.ini');
	writeFileSync(file, [
		'; latchkey test configuration',
		'[latchkey]',
		`listen = 127.0.0.1:${port}`,
		`store = ${storeUrl(tmp)}`,
		'insecure_cookies = true',
		'samesite = strict',
		'idle_timeout = 7m',
		'log_requests = false',
		'',
	].join('\n'));
	const srv = await startServer({ tmp, port, flags: false, args: ['--config', file] });
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	assert.match(r.setCookie, /^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
	const s = (await srv.me(r.cookie)).json_.session;
	assert.equal(s.expires - s.last_seen, 7 * 60, 'idle_timeout from the file');
	await sleep(100);
	assert.ok(!srv.logLines().some((l) => l.msg === 'request'), 'log_requests = false from the file');
	assert.equal((await srv.stop()).code, 0);
});

test('settings from LATCHKEY_* env; flags beat env, env beats the config file', async () => {
	const tmp = tmpDir();
	const port = await freePort();
	const file = path.join(tmp, 'file.ini');
	writeFileSync(file, 'idle_timeout = 7m\nsamesite = lax\nlisten = 127.0.0.1:1\n');
	const env = {
		LATCHKEY_CONFIG: file,
		LATCHKEY_LISTEN: `127.0.0.1:${port}`,
		LATCHKEY_STORE: storeUrl(tmp),
		LATCHKEY_INSECURE_COOKIES: '1',
		LATCHKEY_IDLE_TIMEOUT: '9m',
		LATCHKEY_SAMESITE: 'strict',
		LATCHKEY_ABSOLUTE_TIMEOUT: '2h',
	};
	const srv = await startServer({ tmp, port, flags: false, env, args: ['--samesite', 'lax', '--idle-timeout=3h'] });
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	assert.match(r.setCookie, /^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, 'flag beats env');
	const s = (await srv.me(r.cookie)).json_.session;
	// idle 3h (flag) > absolute 2h (env): expires is the absolute bound
	assert.equal(s.expires - s.created, 2 * 3600, 'absolute_timeout from env');
	await srv.stop();

	// without the flags: env beats the config file
	const tmp2 = tmpDir(), port2 = await freePort();
	const srv2 = await startServer({ tmp: tmp2, port: port2, flags: false,
		env: { ...env, LATCHKEY_LISTEN: `127.0.0.1:${port2}`, LATCHKEY_STORE: storeUrl(tmp2) } });
	const r2 = await srv2.login('admin', srv2.adminPassword);
	const s2 = (await srv2.me(r2.cookie)).json_.session;
	assert.equal(s2.expires - s2.last_seen, 9 * 60, 'env beats the config file');
	assert.match(r2.setCookie, /SameSite=Strict$/, 'env beats the config file');
	await srv2.stop();
});

test('bad configuration: exit 2 and a message naming the setting', async () => {
	const tmp = tmpDir();
	const store = storeUrl(tmp);
	const cases = [
		[['--idle-timeout', 'soon'], {}, /idle_timeout/],
		[['--samesite', 'none'], {}, /samesite/],
		[['--no-such-flag', '1'], {}, /no-such-flag/],
		[[], { LATCHKEY_MAX_BODY: 'lots' }, /LATCHKEY_MAX_BODY.*max_body|max_body/],
		[['--config', path.join(tmp, 'missing.ini')], {}, /missing\.ini/],
		[['--listen', 'nonsense'], {}, /listen/],
	];
	const bad = path.join(tmp, 'bad.ini');
	writeFileSync(bad, 'colour = blue\n');
	cases.push([['--config', bad], {}, /colour/]);
	for (const [args, env, re] of cases) {
		const r = await runServeExpectExit(['--store', store, ...args], { env, ms: 5000 });
		const expected = args[0] === '--listen' ? [1, 2] : [2];
		assert.ok(expected.includes(r.code), `${args.join(' ')} ${JSON.stringify(env)}: exit ${r.code} ${r.stderr}`);
		assert.match(r.stderr, re);
	}
});

test('a corrupt database file: exit 1 within seconds, stderr names store_corrupt', async (t) => {
	if (!sqliteOnly) return t.skip('sqlite store only');
	const tmp = tmpDir();
	const files = {
		garbage: randomBytes(64 * 1024),
		text: Buffer.from('this is not a database\n'),
	};
	// a real store with its schema page overwritten past the 100-byte header
	const good = await startServer();
	await good.stop();
	const real = readFileSync(sqlitePath(good.store));
	const damaged = Buffer.from(real);
	for (let i = 100; i < 4096 && i < damaged.length; i++) damaged[i] = (i * 13 + 5) & 0xff;
	files.damaged = damaged;
	for (const [name, bytes] of Object.entries(files)) {
		const p = path.join(tmp, `${name}.db`);
		writeFileSync(p, bytes);
		const port = await freePort();
		const r = await runServeExpectExit(['--listen', `127.0.0.1:${port}`, '--store', `sqlite:${p}`], { ms: 5000 });
		assert.equal(r.code, 1, `${name}: exit ${r.code} signal ${r.signal} (${r.ms} ms) ${r.stderr}`);
		assert.ok(r.ms < 5000);
		assert.match(r.stderr, /store_corrupt/, name);
		assert.ok(r.stderr.includes(p), `${name}: the message names the file`);
		assert.doesNotMatch(r.stderr, /"listening"/);
		assert.doesNotMatch(r.stdout, /created user/);
		// the file is left as it was
		assert.ok(readFileSync(p).equals(bytes), `${name}: the corrupt file is not modified`);
		// the CLI says the same
		const c = await cli(['user', 'list', '--store', `sqlite:${p}`]);
		assert.equal(c.code, 1);
		assert.match(c.stderr, /store_corrupt/);
	}
});

test('an impossible store path: exit 1 and a clear message', async (t) => {
	if (!sqliteOnly) return t.skip('sqlite store only');
	const tmp = tmpDir();
	mkdirSync(path.join(tmp, 'adir'));
	const cases = [
		[path.join(tmp, 'no', 'such', 'dir', 'lk.db'), /No such file or directory/],
		[path.join(tmp, 'adir'), /not a regular file/],
		['/dev/null', /not a regular file/],
	];
	for (const [p, re] of cases) {
		const r = await runServeExpectExit(['--listen', `127.0.0.1:${await freePort()}`, '--store', `sqlite:${p}`], { ms: 5000 });
		assert.equal(r.code, 1, `${p}: exit ${r.code} ${r.stderr}`);
		assert.match(r.stderr, re);
		assert.ok(r.stderr.includes(p), 'the message names the path');
	}
});

test('an unwritable database file: exit 1 and a clear message, not a server that cannot sign in', async (t) => {
	if (!sqliteOnly) return t.skip('sqlite store only');
	const tmp = tmpDir();
	// a valid store with a user in it
	const seed = await startServer({ tmp });
	await seed.stop();
	const p = sqlitePath(seed.store);
	// make it unwritable: chmod works for non-root; root needs the immutable attribute
	chmodSync(p, 0o444);
	let immutable = false;
	try {
		if (process.getuid && process.getuid() === 0) {
			execFileSync('chattr', ['+i', p], { stdio: 'ignore' });
			immutable = true;
		}
	} catch { /* no chattr or no support on this file system */ }
	try {
		let writable = true;
		try { closeSync(openSync(p, 'r+')); } catch { writable = false; }
		if (writable) return t.skip('cannot make a file unwritable here (root without chattr +i)');
		const port = await freePort();
		const r = await runServeExpectExit(['--listen', `127.0.0.1:${port}`, '--store', seed.store, '--insecure-cookies'], { ms: 3000 });
		if (r.code === null) {
			// it kept running: show what a client would have seen
			assert.fail(`serve on an unwritable store did not exit (killed after ${r.ms} ms); stderr: ${r.stderr.trim()}`);
		}
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, /read-only|readonly|permission|not writable|unwritable/i);
		assert.ok(r.stderr.includes(p));
	} finally {
		if (immutable) execFileSync('chattr', ['-i', p], { stdio: 'ignore' });
		chmodSync(p, 0o600);
	}
});
