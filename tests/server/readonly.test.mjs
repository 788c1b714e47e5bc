// SPDX-License-Identifier: MIT
// A read-only SQLite database, on a real file (issue: "a full disk or a read-only database
// gives a clear error and no corruption"; the full disk is in faults.test.mjs).
//
// What latchkey does, and why:
//  - At start (`latchkey serve`, and every store command of the CLI) it refuses, exit 1,
//    with one line naming the file and the cause: "store_readonly: database is read-only
//    (Read-only file system): sqlite:PATH". It cannot serve even reads: the database is in
//    WAL mode, and SQLite reads a WAL database only through its -shm file, which a
//    read-only directory cannot hold; nor could it run a migration. A server that started
//    anyway would answer every sign-in 503 with nobody told why.
//  - When the filesystem turns read-only under a running server (ext4 with
//    errors=remount-ro after an I/O error: Debian's default), it goes on serving what only
//    reads (live sessions, /healthz, token verification) and answers every write 503
//    store_unavailable, JSON, "the store is read-only: ...", logged as store_readonly.
//  - Nothing is damaged: PRAGMA integrity_check is ok afterwards, and a restart on the
//    filesystem made writable again sees exactly what was acknowledged.
//
// Three ways to get a database root cannot write (the tests run as root in CI, where file
// modes do not stop writes):
//  1. a read-only bind mount of the database's directory (EROFS at start);
//  2. the server run as an unprivileged user (setpriv) on a file mode 0444, and on a
//     writable file in a directory it cannot write (EACCES at start);
//  3. an ext4 image on a loop device mounted errors=remount-ro, turned read-only by
//     /sys/fs/ext4/DEV/trigger_fs_error while the server has it open. Remounting a bind
//     mount read-only under a running server is not possible: mount(2) with
//     MS_REMOUNT|MS_BIND|MS_RDONLY fails with EBUSY while any file on it is open for
//     writing (the server holds PATH, PATH-wal and PATH-shm read-write), so the kernel's
//     own error path is the way to turn it read-only under the server.
// Each is skipped with the reason when this machine does not allow it (not root, no
// mount, no setpriv, no loop device or ext4).
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, rmdirSync, readFileSync, writeFileSync, chmodSync, chownSync, copyFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
	startServer, runServeExpectExit, cli, BIN, freePort, isRedisTemplate, addClient, tokenReq, refreshReq, revokeReq, verifyReq, sqlite3, stopClean, passwordGrant,
} from '../tokens/lib.mjs';

const onRedis = isRedisTemplate();
const skipRedis = onRedis && 'the store is Redis: these tests are about the SQLite file and its filesystem';
const PW = 'ro-password-0123456789';

const run = (cmd, args, opts = {}) => new Promise((resolve) => {
	execFile(cmd, args, { timeout: 20000, ...opts }, (err, stdout, stderr) =>
		resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
});
const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

// Mounts and loop images of this file, undone after the last test whatever happened
// (servers on them are killed first, by PID, through their handles).
const undo = [];
async function cleanup() {
	for (const u of undo.splice(0).reverse()) {
		if (u.srv && !u.srv.exited) await u.srv.kill9().catch(() => {});
		if (u.mount) {
			let r = await run('umount', [u.mount]);
			for (let i = 0; r.code !== 0 && i < 20 && /busy/i.test(r.stderr); i++) {
				await new Promise((res) => setTimeout(res, 100));
				r = await run('umount', [u.mount]);
			}
			if (r.code !== 0) await run('umount', ['-l', u.mount]);
		}
		if (u.rm) rmSync(u.rm, { recursive: true, force: true });
	}
}
after(cleanup);

// A store with a user, three sessions and a refresh token, made by a server that then
// stopped cleanly (no -wal, no -shm left: what a stopped server leaves behind).
async function seed(dir) {
	const db = path.join(dir, 'lk.db');
	const srv = await startServer({ store: `sqlite:${db}`, admin: true });
	await srv.addUser('ro', PW);
	const app = await addClient(srv, 'ro-app');
	const sessions = [await srv.session('ro', PW), await srv.session('ro', PW)];
	const g = await passwordGrant(srv, 'ro', PW, {}, { client: app });
	await stopClean(srv);
	return { db, sessions, app, g, secrets: [PW, srv.adminPassword, app.secret, g.access_token, g.refresh_token] };
}

// The one line a refusal must be: the store named, the code, the cause, the file.
function assertRefusal(what, r, dbShown, cause, secrets) {
	assert.notEqual(r.code, 0, `${what}: exit status non-zero (${r.code}); stderr: ${r.stderr}`);
	assert.notEqual(r.code, null, `${what}: it exited by itself; stderr: ${r.stderr}`);
	const lines = r.stderr.split('\n').filter(Boolean);
	assert.equal(lines.length, 1, `${what}: one line on stderr: ${JSON.stringify(r.stderr)}`);
	const re = new RegExp(`^latchkey: store sqlite:\\S+: store_readonly: database is read-only \\(${cause}\\): sqlite:${dbShown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
	assert.match(lines[0], re, `${what}: the line names the file and the cause`);
	for (const s of secrets) assert.ok(!r.stderr.includes(s) && !r.stdout.includes(s), `${what}: no secret in the output`);
}

// After the episode, on the filesystem made writable again: nothing changed, nothing damaged.
async function assertUntouched(t, db, before, seedInfo) {
	assert.equal(sha(db), before, 'the database file is byte for byte what it was');
	assert.equal((await sqlite3(db, 'PRAGMA integrity_check;')).trim(), 'ok');
	const srv = await startServer({ store: `sqlite:${db}`, admin: false });
	try {
		for (const c of seedInfo.sessions) assert.equal((await srv.me(c)).status, 200, 'a session from before is live');
		const list = await srv.cli(['user', 'list']);
		assert.equal(list.code, 0, list.stderr);
		assert.match(list.stdout, /\bro\b/);
		assert.doesNotMatch(list.stdout, /\bnewbie\b/, 'the refused user add left no user');
		const n = await refreshReq(srv, seedInfo.g.refresh_token, { client: seedInfo.app });
		assert.equal(n.status, 200, `the refresh token is still unused: ${n.status} ${n.text_?.slice(0, 100)}`);
	} finally {
		await stopClean(srv);
	}
}

// CLI commands on a read-only database: each refuses with the same line.
async function cliRefuses(dbShown, cause, secrets, env = {}, wrap = null) {
	const cmds = [
		[['user', 'add', 'newbie'], PW + '\n'],
		[['user', 'list'], ''],
		[['sessions', 'revoke', '--all'], ''],
		[['audit', 'list'], ''],
	];
	for (const [args, input] of cmds) {
		const full = [...args, '--store', `sqlite:${dbShown}`];
		const r = wrap ? await run(wrap[0], [...wrap.slice(1), BIN, ...full], { env: { ...process.env, ...env } })
			: await cli(full, { input, env });
		assertRefusal(`latchkey ${args.join(' ')}`, r, dbShown, cause, secrets);
	}
}

test('a database on a read-only mount: serve and every store command refuse at start with one line naming the file and "Read-only file system"; nothing changed',
	{ skip: skipRedis }, async (t) => {
		if (process.getuid?.() !== 0) { t.skip('not root: a bind mount needs root'); return; }
		const top = mkdtempSync(path.join(os.tmpdir(), 'latchkey-ro-'));
		undo.push({ rm: top });
		const rw = path.join(top, 'rw'), ro = path.join(top, 'ro');
		mkdirSync(rw); mkdirSync(ro);
		const s = await seed(rw);
		const before = sha(s.db);
		const files = readdirSync(rw).sort();
		let m = await run('mount', ['--bind', rw, ro]);
		if (m.code !== 0) { t.skip(`mount --bind is not permitted here (${m.stderr.trim() || `exit ${m.code}`})`); return; }
		const u = { mount: ro };
		undo.push(u);
		m = await run('mount', ['-o', 'remount,bind,ro', ro]);
		if (m.code !== 0) { t.skip(`mount -o remount,bind,ro is not permitted here (${m.stderr.trim() || `exit ${m.code}`})`); return; }
		const rodb = path.join(ro, 'lk.db');

		const port = await freePort();
		const r = await runServeExpectExit(['--listen', `127.0.0.1:${port}`, '--store', `sqlite:${rodb}`]);
		assertRefusal('latchkey serve', r, rodb, 'Read-only file system', s.secrets);
		assert.ok(r.ms < 5000, `it refused at once (${r.ms} ms)`);
		await cliRefuses(rodb, 'Read-only file system', s.secrets);
		// a new file on it: the same code, the cause named
		const nf = await cli(['user', 'list', '--store', `sqlite:${path.join(ro, 'new.db')}`]);
		assert.match(nf.stderr, /^latchkey: store sqlite:\S+: store_readonly: cannot create store \(Read-only file system\): sqlite:\S+new\.db\n$/);

		await run('umount', [ro]);
		u.mount = null;
		assert.deepEqual(readdirSync(rw).sort(), files, 'no file appeared or went beside the database');
		await assertUntouched(t, s.db, before, s);
	});

test('a database the server\'s user cannot write (setpriv to nobody): mode 0444 says "Permission denied", a directory it cannot write names the -wal/-shm files; nothing changed',
	{ skip: skipRedis }, async (t) => {
		if (process.getuid?.() !== 0) { t.skip('not root: cannot switch to another user'); return; }
		const sp = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']);
		if (sp.code !== 0) { t.skip(`setpriv to uid 65534 does not work here (${sp.stderr.trim() || `exit ${sp.code}`})`); return; }
		const top = mkdtempSync(path.join(os.tmpdir(), 'latchkey-ro-'));
		undo.push({ rm: top });
		chmodSync(top, 0o755);
		const s = await seed(top);
		const before = sha(s.db);
		const wrap = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
		// the binary must be reachable by nobody (a build under /root is not)
		const probe = await run(wrap[0], [...wrap.slice(1), BIN, 'version']);
		if (probe.code !== 0) { t.skip(`uid 65534 cannot run ${BIN} (${probe.stderr.trim() || `exit ${probe.code}`})`); return; }

		// 1. the file mode 0444, root's, in root's directory
		chmodSync(s.db, 0o444);
		const port = await freePort();
		let r = await run(wrap[0], [...wrap.slice(1), BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--store', `sqlite:${s.db}`]);
		assertRefusal('latchkey serve as nobody, file 0444', r, s.db, 'Permission denied', s.secrets);
		await cliRefuses(s.db, 'Permission denied', s.secrets, {}, wrap);

		// 2. the file nobody's and writable, the directory not: WAL mode cannot make -wal, -shm
		chownSync(s.db, 65534, 65534);
		chmodSync(s.db, 0o600);
		r = await run(wrap[0], [...wrap.slice(1), BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--store', `sqlite:${s.db}`]);
		assertRefusal('latchkey serve as nobody, directory not writable', r, s.db, 'directory not writable: WAL needs -wal, -shm', s.secrets);

		chownSync(s.db, 0, 0);
		assert.deepEqual(readdirSync(top).filter((f) => f.startsWith('lk.db')).sort(), ['lk.db', 'lk.db-gen']);
		await assertUntouched(t, s.db, before, s);
	});

test('the filesystem turns read-only under a running server (ext4 errors=remount-ro): reads go on, every write 503 store_unavailable "read-only", then integrity_check ok and a restart sees what was acknowledged',
	{ skip: skipRedis }, async (t) => {
		if (process.getuid?.() !== 0) { t.skip('not root: a loop mount needs root'); return; }
		const top = mkdtempSync(path.join(os.tmpdir(), 'latchkey-ro-'));
		undo.push({ rm: top });
		const img = path.join(top, 'ext4.img'), dir = path.join(top, 'mnt');
		mkdirSync(dir);
		writeFileSync(img, '');
		let m = await run('truncate', ['-s', '32M', img]);
		if (m.code === 0) m = await run('mkfs.ext4', ['-q', '-F', img]);
		if (m.code !== 0) { t.skip(`cannot make an ext4 image (${m.stderr.trim() || `exit ${m.code}`})`); return; }
		m = await run('mount', ['-o', 'loop,errors=remount-ro', img, dir]);
		if (m.code !== 0) { t.skip(`mount -o loop of an ext4 image is not permitted here (${m.stderr.trim() || `exit ${m.code}`})`); return; }
		const u = { mount: dir, srv: null };
		undo.push(u);
		const src = (await run('findmnt', ['-n', '-o', 'SOURCE', dir])).stdout.trim();
		const trigger = `/sys/fs/ext4/${path.basename(src)}/trigger_fs_error`;
		if (!existsSync(trigger)) { t.skip(`${trigger} does not exist: this kernel cannot be told to turn the filesystem read-only`); return; }

		const db = path.join(dir, 'lk.db');
		const srv = await startServer({ store: `sqlite:${db}`, admin: true });
		u.srv = srv;
		await srv.addUser('ro', PW);
		const app = await addClient(srv, 'ro-app');
		const [a, b, c] = [await srv.session('ro', PW), await srv.session('ro', PW), await srv.session('ro', PW)];
		const g = await passwordGrant(srv, 'ro', PW, {}, { client: app });
		const secrets = [PW, srv.adminPassword, app.secret, g.access_token, g.refresh_token, a, b, c];
		// What was acknowledged is on the disk before the fault (synchronous=NORMAL leaves
		// the last commits in the page cache; ext4 drops dirty pages of a filesystem it
		// aborts, as a power cut would).
		assert.equal((await run('sync', ['-f', db])).code, 0);
		writeFileSync(trigger, 'latchkey readonly test');
		const touch = await run('touch', [path.join(dir, 'x')]);
		assert.match(touch.stderr, /Read-only file system/, 'the filesystem is read-only now');

		const is503 = (r, what) => {
			assert.equal(r.status, 503, `${what}: ${r.status} ${r.text_?.slice(0, 200)}`);
			assert.match(r.headers.get('content-type') || '', /^application\/json/, `${what}: JSON`);
			assert.equal(r.json_?.error, 'store_unavailable', `${what}: ${r.text_?.slice(0, 200)}`);
			assert.match(r.json_?.error_description || '', /the store is read-only/, `${what}: says why`);
		};
		assert.equal((await srv.fetch('/healthz')).status, 200, '/healthz');
		assert.equal((await srv.fetch('/readyz')).status, 200, '/readyz: the store answers reads');
		const me = await srv.me(a);
		assert.equal(me.status, 200, `a live session is read: ${me.status}`);
		assert.equal((await verifyReq(srv, g.access_token)).status, 200, 'an access token verifies');
		is503((await srv.login('ro', PW)).res, 'sign-in');
		is503(await srv.fetch('/logout', { method: 'POST', cookie: b }), 'sign-out');
		assert.equal((await srv.me(b)).status, 200, 'the sign-out answered 503 left the session live');
		is503(await tokenReq(srv, { grant_type: 'password', username: 'ro', password: PW }, { client: app }), 'password grant');
		is503(await refreshReq(srv, g.refresh_token, { client: app }), 'refresh_token grant');
		is503(await revokeReq(srv, g.access_token, { client: app }), 'RFC 7009 revoke');
		assert.equal((await verifyReq(srv, g.access_token)).status, 200, 'the revocation answered 503 did not happen');
		// several HTTP threads: each has its connection, opened before or after the fault
		for (let i = 0; i < 8; i++) assert.equal((await srv.me(c)).status, 200, `read ${i}`);
		// the CLI beside it: a new process opens the database now read-only
		const add = await srv.cli(['user', 'add', 'newbie'], { input: PW + '\n' });
		assertRefusal('latchkey user add while read-only', add, db, 'Read-only file system', secrets);
		assert.equal(srv.exited, null, 'the server is still running');
		const logged = srv.logLines().filter((l) => l.msg === 'request failed');
		assert.ok(logged.length === 5 && logged.every((l) => l.reason === 'store_readonly'),
			`each refused write logged as store_readonly: ${JSON.stringify(logged.map((l) => [l.reason, l.path]))}`);
		for (const s of secrets) assert.ok(!srv.err.includes(s), 'no secret in the log');
		await stopClean(srv);

		// writable again: the operator unmounts, checks the filesystem and mounts it again
		let r = await run('umount', [dir]);
		assert.equal(r.code, 0, `umount: ${r.stderr}`);
		r = await run('e2fsck', ['-f', '-y', img]);
		assert.ok(r.code === 0 || r.code === 1, `e2fsck: exit ${r.code} ${r.stdout.slice(-300)}`);
		r = await run('mount', ['-o', 'loop', img, dir]);
		assert.equal(r.code, 0, `mount again: ${r.stderr}`);
		assert.equal((await sqlite3(db, 'PRAGMA integrity_check;')).trim(), 'ok');
		// the same port: the issuer (and so the tokens' iss) is http://127.0.0.1:PORT
		const again = await startServer({ store: `sqlite:${db}`, admin: false, port: srv.port });
		u.srv = again;
		for (const [cookie, what] of [[a, 'a'], [b, 'b (its sign-out was refused)'], [c, 'c']])
			assert.equal((await again.me(cookie)).status, 200, `after a restart: session ${what} is live`);
		assert.equal((await verifyReq(again, g.access_token)).status, 200, 'after a restart: the token whose revocation was refused verifies');
		const n = await refreshReq(again, g.refresh_token, { client: app });
		assert.equal(n.status, 200, `after a restart: the refresh token refused while read-only was not used up: ${n.status} ${n.text_?.slice(0, 100)}`);
		const list = await again.cli(['user', 'list']);
		assert.doesNotMatch(list.stdout, /\bnewbie\b/, 'the refused user add left no user');
		const d = await again.login('ro', PW);
		assert.equal(d.status, 200, 'sign-in works again');
		await stopClean(again);
	});
