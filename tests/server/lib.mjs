// SPDX-License-Identifier: MIT
//
// Black-box harness for `latchkey serve`: start a server on a free port with its own
// temporary directory and store, capture its output, parse the first admin password,
// wait for /healthz, stop it by PID (SIGTERM, then SIGKILL after 5 s) and always clean up
// (after() hooks and process exit). Plus small helpers: fetch with redirect:'manual' and
// browser-like headers, sign-in, cookie parsing, the CLI, raw sockets and bounded polling.
//
// Environment:
//   LATCHKEY            the binary (default build/latchkey, relative to the repo root)
//   LATCHKEY_TEST_STORE store URL template for every server; "{tmp}" is replaced by the
//                       server's temporary directory (default sqlite:{tmp}/lk.db). The
//                       literal "redis" instead runs every server on Redis: the harness
//                       starts one redis-server per test file on a free loopback port
//                       (no persistence, stopped by PID with everything else) and gives
//                       each temporary directory its own database, redis://127.0.0.1:P/N,
//                       so a new server sees an empty store and a restart on the same
//                       directory or store sees the same one.
//   REDIS_SERVER        the redis-server binary (default /usr/bin/redis-server)
//   LATCHKEY_TEST_KEEP  keep temporary directories (for debugging)
//
// startRedis() starts a redis-server of a test's own (for fault tests: stop, freeze,
// restart on the same port and directory, with or without AOF).

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { after } from 'node:test';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = (() => {
	const b = process.env.LATCHKEY || 'build/latchkey';
	return path.isAbsolute(b) ? b : path.resolve(ROOT, b);
})();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- cleanup

const live = new Set();      // child processes not yet known to have exited
const tmpdirs = new Set();

function killAllSync() {
	for (const r of redises) {
		try { process.kill(r.pid, 'SIGKILL'); } catch { /* already gone */ }
	}
	for (const p of live) {
		try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
	}
	live.clear();
	if (!process.env.LATCHKEY_TEST_KEEP)
		for (const d of tmpdirs) {
			try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
		}
	tmpdirs.clear();
}
process.on('exit', killAllSync);
// An error thrown at a file's top level (outside any test) reaches node:test's handler of
// uncaught exceptions, which throws it again: Node then exits with code 7 without an
// 'exit' event, and every Redis started so far would live on. The monitor runs first.
process.on('uncaughtExceptionMonitor', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
	process.once(sig, () => { killAllSync(); process.exit(130); });

const servers = new Set();
const redises = new Set();   // Redis instances started and not yet stopped
// Registered at import, so on the file's root test: after the last test, stop what is
// left (gracefully, then by force): servers first, then the Redis they use; and remove
// the temporary directories.
after(async () => {
	await Promise.all([...servers].map((s) => s.stop().catch(() => {})));
	await Promise.all([...redises].map((r) => r.stop().catch(() => {})));
	killAllSync();
});

export function tmpDir() {
	const d = mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
	tmpdirs.add(d);
	return d;
}

// ---------------------------------------------------------------- store, ports

// LATCHKEY_TEST_STORE: unset (SQLite in the temporary directory), "redis" (a redis-server
// per test file, a database per store), or a URL template where {tmp} is the temporary
// directory and {ns} a namespace made from it (redis+cluster://.../{ns}: one cluster
// shared by a whole suite, a namespace per store; tests/rcluster/cluster-up.mjs).
export function storeUrl(tmp) {
	const t = process.env.LATCHKEY_TEST_STORE;
	if (t === 'redis') return sharedRedisUrl(tmp);
	if (t) return t.replaceAll('{tmp}', tmp).replaceAll('{ns}', `t${createHash('sha256').update(tmp).digest('hex').slice(0, 20)}`);
	return `sqlite:${tmp}/lk.db`;
}
export const isRedisTemplate = () => process.env.LATCHKEY_TEST_STORE === 'redis' ||
	(process.env.LATCHKEY_TEST_STORE || '').startsWith('redis:');
export const isClusterTemplate = () => (process.env.LATCHKEY_TEST_STORE || '').startsWith('redis+cluster:');
export const isSqlite = (url) => url.startsWith('sqlite:');
export const isRedis = (url) => url.startsWith('redis:');
export const sqlitePath = (url) => url.slice('sqlite:'.length);

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// Poll fn (async, truthy = done) every `every` ms for at most `ms`; returns its value or
// throws with `what`.
// Fail on until a pair is held back with time to spare. The first backoff step is 1 s on a
// whole-second clock, counted from when the attempt was reserved (before its hash), so a
// slow hash or a second boundary can end it before the next attempt: attempt(i) makes
// failing sign-in i (up to `tries` of them); a 401 grows the backoff, a 429 with
// Retry-After 1 is waited out. Returns the 429 with Retry-After >= 2, so that checks
// made at once after it still run inside the backoff.
export async function holdBack(attempt, { tries = 8 } = {}) {
	const seen = [];
	for (let i = 1; i <= tries; i++) {
		const r = await attempt(i);
		const ra = Number(r.headers.get ? r.headers.get('retry-after') : r.headers['retry-after']);
		seen.push(`${r.status}${r.status === 429 ? `/${ra}` : ''}`);
		if (r.status === 429 && ra >= 2) return r;
		assert.ok(r.status === 401 || (r.status === 429 && ra === 1), `attempt ${i}: ${r.status} (${seen})`);
		if (r.status === 429) await sleep(1150);
	}
	assert.fail(`not held back after ${tries} failing attempts: ${seen}`);
}

export async function waitFor(fn, { ms = 5000, every = 50, what = 'condition' } = {}) {
	const end = Date.now() + ms;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) { last = e; }
		if (Date.now() > end)
			throw new Error(`timed out after ${ms} ms waiting for ${what}` +
				(last instanceof Error ? `: ${last.message}` : ''));
		await sleep(every);
	}
}

// ---------------------------------------------------------------- Redis

export const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

// One command over RESP on a new connection; resolves the raw reply text (e.g. "+PONG\r\n")
// or null when there is no answer within `ms`. Enough for PING, INFO, CONFIG GET, DBSIZE,
// MEMORY USAGE, KEYS and friends in tests.
// opts.auth = [user, password] (or [password]) sends AUTH first and returns the reply
// to the command only.
export function redisCmd(port, args, { ms = 2000, auth } = {}) {
	const enc = (argv) => `*${argv.length}\r\n` + argv.map((a) => {
		const b = Buffer.from(String(a));
		return `$${b.length}\r\n${b.toString('latin1')}\r\n`;
	}).join('');
	const req = (auth ? enc(['AUTH', ...auth]) : '') + enc(args);
	const replies = auth ? 2 : 1;
	const complete = (s) => {
		let j = 0;
		for (let k = 0; k < replies; k++) { j = respEnd(s, j); if (!j) return false; }
		return j === s.length;
	};
	const last = (s) => (auth ? s.slice(respEnd(s, 0)) : s);
	return new Promise((resolve) => {
		const sock = net.connect({ port, host: '127.0.0.1' });
		let data = '', done = false;
		const finish = (v) => { if (!done) { done = true; clearTimeout(t); sock.destroy(); resolve(v); } };
		const t = setTimeout(() => finish(null), ms);
		sock.setEncoding('latin1');
		sock.on('error', () => finish(null));
		sock.on('close', () => finish(data && complete(data) ? last(data) : data || null));
		sock.on('connect', () => sock.write(req, 'latin1'));
		sock.on('data', (d) => { data += d; if (complete(data)) finish(last(data)); });
	});
}
// Is `s` one complete RESP reply? (returns the index after it, or 0)
function respEnd(s, i) {
	const nl = s.indexOf('\r\n', i);
	if (nl < 0) return 0;
	const type = s[i], head = s.slice(i + 1, nl);
	if ('+-:'.includes(type)) return nl + 2;
	const n = Number(head);
	if (type === '$') return n < 0 ? nl + 2 : (s.length >= nl + 2 + n + 2 ? nl + 2 + n + 2 : 0);
	if (type === '*') {
		let j = nl + 2;
		for (let k = 0; k < n; k++) { j = respEnd(s, j); if (!j) return 0; }
		return j;
	}
	return 0;
}
// Decode one RESP reply into JS values: strings, numbers, arrays, null; errors as Error.
export function respParse(s) {
	const at = (i) => {
		const nl = s.indexOf('\r\n', i);
		const type = s[i], head = s.slice(i + 1, nl);
		if (type === '+') return [head, nl + 2];
		if (type === '-') return [new Error(head), nl + 2];
		if (type === ':') return [Number(head), nl + 2];
		const n = Number(head);
		if (type === '$') return n < 0 ? [null, nl + 2] : [s.slice(nl + 2, nl + 2 + n), nl + 2 + n + 2];
		if (type === '*') {
			if (n < 0) return [null, nl + 2];
			const out = [];
			let j = nl + 2;
			for (let k = 0; k < n; k++) { const [v, e] = at(j); out.push(v); j = e; }
			return [out, j];
		}
		throw new Error(`bad RESP: ${JSON.stringify(s.slice(i, i + 40))}`);
	};
	return at(0)[0];
}
export async function redisCall(port, ...args) {
	let auth;
	if (typeof port === 'object') ({ port, auth } = port);
	const r = await redisCmd(port, args, { auth });
	if (r === null) throw new Error(`redis on port ${port}: no answer to ${args[0]}`);
	const v = respParse(r);
	if (v instanceof Error) throw v;
	return v;
}

// A redis-server in the foreground on 127.0.0.1:port with its working directory `dir`
// (both new unless given), stopped by PID. opts.aof: appendonly yes with appendfsync
// opts.fsync (default always); otherwise no persistence at all. opts.args: more flags.
// opts.conf: a redis.conf to start from (its persistence settings then apply; port, bind
// and dir are still the harness's); opts.auth: [user, password] for call().
export class Redis {
	constructor(opts) {
		Object.assign(this, opts);
		this.out = '';
		this.proc = null;
		this.exited = null;
	}
	get pid() { return this.proc?.pid; }
	url(db = 0, user) { return `redis://${user ? `${user}@` : ''}127.0.0.1:${this.port}/${db}`; }
	get running() { return !!this.proc && !this.exited; }
	call(...args) { return redisCall({ port: this.port, auth: this.auth }, ...args); }

	async start() {
		if (this.running) throw new Error('redis is already running');
		const args = [...(this.conf ? [this.conf] : []), '--port', String(this.port), '--bind', '127.0.0.1',
			'--dir', this.dir, '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'notice',
			'--logfile', ''];
		if (!this.conf) {
			args.push('--save', '', '--databases', String(this.databases || 16));
			if (this.aof) args.push('--appendonly', 'yes', '--appendfsync', this.fsync || 'always');
			else args.push('--appendonly', 'no');
		}
		args.push(...(this.args || []));
		const proc = spawn(REDIS_SERVER, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
		this.proc = proc;
		this.exited = null;
		redises.add(this);
		proc.stdout.setEncoding('utf8').on('data', (d) => { this.out += d; });
		proc.stderr.setEncoding('utf8').on('data', (d) => { this.out += d; });
		this.gone = new Promise((resolve) => {
			proc.once('exit', (code, signal) => {
				if (this.proc === proc) { this.exited = { code, signal }; redises.delete(this); }
				resolve({ code, signal });
			});
			proc.once('error', (e) => {
				if (this.proc === proc && !this.exited) {
					this.exited = { code: null, signal: null, error: `cannot run ${REDIS_SERVER}: ${e.code || e.message}` };
					this.out += this.exited.error + '\n';
					redises.delete(this);
				}
				resolve(this.exited);
			});
		});
		// ready when it answers PING with PONG, or NOAUTH with requirepass (not -LOADING
		// while it reads the AOF)
		await waitFor(async () => {
			if (this.exited) throw new Error(`redis-server exited ${JSON.stringify(this.exited)}:\n${this.out.slice(-1500)}`);
			const r = await redisCmd(this.port, ['PING'], { ms: 500 });
			return r === '+PONG\r\n' || /^-NOAUTH/.test(r || '');
		}, { ms: 10000, every: 30, what: `redis-server on port ${this.port}` });
		return this;
	}

	// SIGTERM (Redis then writes and fsyncs its AOF), SIGKILL after graceMs.
	async stop(graceMs = 5000) {
		if (!this.running) return this.exited;
		const proc = this.proc;
		if (this.frozen) this.resume();
		try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
		const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
		await this.gone;
		clearTimeout(t);
		return this.exited;
	}
	async kill9() {
		if (!this.running) return this.exited;
		try { process.kill(this.proc.pid, 'SIGKILL'); } catch { /* gone */ }
		await this.gone;
		this.frozen = false;
		return this.exited;
	}
	// SIGSTOP / SIGCONT: a frozen server (connections open, no answers).
	freeze() { process.kill(this.proc.pid, 'SIGSTOP'); this.frozen = true; }
	resume() { process.kill(this.proc.pid, 'SIGCONT'); this.frozen = false; }
	// Stop and start again on the same port and directory (AOF, if on, is reloaded).
	async restart() { await this.stop(); return this.start(); }
}

export async function startRedis(opts = {}) {
	const dir = opts.dir || tmpDir();
	for (let attempt = 0; ; attempt++) {
		const port = opts.port || (await freePort());
		const r = new Redis({ ...opts, dir, port });
		try {
			return await r.start();
		} catch (e) {
			await r.kill9().catch(() => {});
			if (!opts.port && attempt < 2 && /Address already in use/i.test(r.out)) continue;
			throw e;
		}
	}
}

export const REDIS_CLI = process.env.REDIS_CLI || '/usr/bin/redis-cli';
// Run a tool (redis-cli) to its end, within `ms`; the child is tracked like every other
// (killed by PID if the test process exits first).
const run = (cmd, args, ms = 60000) => new Promise((resolve) => {
	const p = execFile(cmd, args, { timeout: ms }, (err, stdout, stderr) =>
		resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
	live.add(p);
	p.once('exit', () => live.delete(p));
});

// redis-cli with `args`, `input` on its stdin (commands, one a line, when no command is in
// args), to its end within `ms`: {code, stdout, stderr}. Tracked like every child (killed by
// PID if the test process exits first).
export function redisCli(args, { input = '', ms = 60000 } = {}) {
	return new Promise((resolve) => {
		const p = spawn(REDIS_CLI, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		live.add(p);
		let stdout = '', stderr = '';
		const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
		p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
		p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
		p.once('error', (e) => { stderr += `cannot run ${REDIS_CLI}: ${e.code || e.message}\n`; });
		p.once('close', (code, signal) => {
			clearTimeout(t);
			live.delete(p);
			resolve({ code: code ?? -1, signal, stdout, stderr });
		});
		p.stdin.on('error', () => {});
		p.stdin.end(input);
	});
}

// CLUSTER NODES as [{id, port, role ('master'|'slave'), master (its primary's id), ok}].
function clusterNodes(text) {
	return String(text).trim().split('\n').filter(Boolean).map((l) => {
		const f = l.split(' ');
		return { id: f[0], port: Number(f[1].split('@')[0].split(':').pop()),
			role: f[2].includes('master') ? 'master' : 'slave', master: f[3],
			ok: !/fail|handshake|noaddr/.test(f[2]) && f[7] === 'connected' };
	});
}

// A real Redis Cluster on loopback: `primaries` primaries with `replicas` replicas each
// (redis-server --cluster-enabled yes, joined by redis-cli --cluster create), every node a
// Redis of this harness (stopped by PID). node-timeout 2000 ms: a primary killed is failed
// over by its replica in about 2-4 s. Each node's `role` ('primary', 'replica', or 'down'
// once killed) is as of the last start, failover(), kill9() or roles().
export class RedisCluster {
	constructor(nodes) { this.nodes = nodes; }
	get pids() { return this.nodes.map((n) => n.pid); }
	// Set each node's role from the cluster's view (a node it cannot see is 'down').
	async roles() {
		const v = await this.view();
		for (const n of this.nodes) {
			const x = n.running && v.find((y) => y.port === n.port && y.ok);
			n.role = !x ? 'down' : x.role === 'master' ? 'primary' : 'replica';
		}
		return this.nodes.map((n) => n.role);
	}
	// Every live node, replicas included, has the same slot map (which primary serves each
	// range). A move or a failover reaches the nodes over the bus one after the other, tens
	// of milliseconds apart (a failover 50-150 ms here). Without this wait a failover right
	// after a reshard once left a just-moved slot answered "CLUSTERDOWN Hash slot not
	// served" by its new owner, and once one node placing one such slot elsewhere for over
	// 5 s; cluster_state stays ok meanwhile (cluster-require-full-coverage is no). So every
	// change here ends with this wait.
	async waitAgree(ms = 15000) {
		await waitFor(async () => {
			const live = this.live();
			const maps = await Promise.all(live.map(async (n) => {
				const r = await n.call('CLUSTER', 'SLOTS').catch(() => null);
				return r && JSON.stringify(r.map((e) => [e[0], e[1], Number(e[2][1])]).sort((x, y) => x[0] - y[0]));
			}));
			if (maps.every((m) => m && m === maps[0])) return true;
			throw new Error(maps.map((m, i) => `${live[i].port}: ${m?.slice(0, 200)}`).join('; '));
		}, { ms, every: 50, what: 'every node with the same slot map' });
	}
	get seeds() { return this.live().slice(0, 3).map((n) => `127.0.0.1:${n.port}`).join(','); }
	url(ns = '') { return `redis+cluster://${this.seeds}${ns ? `/${ns}` : ''}`; }
	live() { return this.nodes.filter((n) => n.running); }
	byPort(port) { return this.nodes.find((n) => n.port === port); }
	async view() {
		for (const n of this.live()) {
			try { return clusterNodes(await n.call('CLUSTER', 'NODES')); } catch { /* next */ }
		}
		throw new Error('no cluster node answers');
	}
	async primaries() { return (await this.view()).filter((x) => x.role === 'master' && x.ok); }
	async primaryFor(slot) {
		for (const n of this.live()) {
			try {
				const slots = await n.call('CLUSTER', 'SLOTS');
				const r = slots.find((e) => e[0] <= slot && slot <= e[1]);
				if (r) return this.byPort(Number(r[2][1]));
			} catch { /* next */ }
		}
		return null;
	}
	// Every live node agrees: state ok, and the view it has of primaries matches.
	async waitOk(ms = 15000) {
		await waitFor(async () => {
			for (const n of this.live()) {
				const info = await n.call('CLUSTER', 'INFO').catch(() => '');
				if (!/cluster_state:ok/.test(info)) return false;
			}
			return true;
		}, { ms, every: 100, what: 'cluster_state:ok on every node' });
	}
	// Move `count` slots from primary `from` to primary `to` (Redis instances) with
	// redis-cli --cluster reshard: MIGRATE key by key, slot by slot, as an operator would.
	async reshard(count, from, to) {
		const v = await this.view();
		const id = (n) => v.find((x) => x.port === n.port).id;
		const r = await run(REDIS_CLI, ['--cluster', 'reshard', `127.0.0.1:${from.port}`,
			'--cluster-from', id(from), '--cluster-to', id(to), '--cluster-slots', String(count),
			'--cluster-yes', '--cluster-pipeline', '10'], 120000);
		if (r.code !== 0) throw new Error(`reshard: ${r.code} ${r.stdout.slice(-600)} ${r.stderr.slice(-600)}`);
		await this.waitOk();
		await this.waitAgree();
		return r;
	}
	// Move the given slots from primary `from` to primary `to` by hand, as the Redis Cluster
	// specification's "live resharding" does: IMPORTING on the target, MIGRATING on the
	// source, the keys MIGRATEd `batch` at a time (pausing `pauseMs` between batches, so a
	// workload meets the slot in motion: ASK and TRYAGAIN), then the slot assigned to the
	// target on every primary.
	async moveSlots(slots, from, to, { batch = 1, pauseMs = 5 } = {}) {
		const v = await this.view();
		const id = (n) => v.find((x) => x.port === n.port).id;
		const [fid, tid] = [id(from), id(to)];
		for (const slot of slots) {
			await to.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fid);
			await from.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', tid);
			for (;;) {
				const keys = await from.call('CLUSTER', 'GETKEYSINSLOT', slot, batch);
				if (!keys.length) break;
				await from.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
				if (pauseMs) await sleep(pauseMs);
			}
			for (const p of [to, from]) await p.call('CLUSTER', 'SETSLOT', slot, 'NODE', tid);
			for (const p of this.live()) await p.call('CLUSTER', 'SETSLOT', slot, 'NODE', tid).catch(() => {});
		}
		await this.waitOk();
		await this.waitAgree();
	}
	// A manual failover of primary p: CLUSTER FAILOVER on one of its replicas, which then
	// becomes the primary (no write lost: the replica catches up first).
	async failover(p) {
		const v = await this.view();
		const pid = v.find((x) => x.port === p.port).id;
		const rep = v.find((x) => x.role === 'slave' && x.master === pid && x.ok);
		if (!rep) throw new Error(`no replica of ${p.port}`);
		const node = this.byPort(rep.port);
		await node.call('CLUSTER', 'FAILOVER');
		await waitFor(async () => (await node.call('ROLE'))[0] === 'master', { ms: 15000, every: 50, what: `${rep.port} promoted` });
		await this.waitOk();
		await this.waitAgree();
		// the old primary follows its replica now: in sync, and every node knows it
		const nid = (await this.view()).find((x) => x.port === node.port).id;
		await waitFor(async () => {
			const role = await p.call('ROLE').catch(() => ['']);
			if (role[0] !== 'slave' || Number(role[2]) !== node.port || role[3] !== 'connected') return false;
			for (const n of this.live()) {
				const v = clusterNodes(await n.call('CLUSTER', 'NODES').catch(() => ''));
				if (!v.some((x) => x.port === p.port && x.role === 'slave' && x.master === nid)) return false;
			}
			return true;
		}, { ms: 15000, every: 50, what: `${p.port} a replica of ${node.port} in every node's view` });
		await this.roles();
		return node;
	}
	// kill -9 of primary p; resolves once its replica has been promoted and the cluster
	// is ok again.
	async kill9(p) {
		const v = await this.view();
		const pid = v.find((x) => x.port === p.port).id;
		const rep = v.find((x) => x.role === 'slave' && x.master === pid);
		await p.kill9();
		if (!rep) return null;
		const node = this.byPort(rep.port);
		await waitFor(async () => (await node.call('ROLE').catch(() => ['']))[0] === 'master',
			{ ms: 20000, every: 100, what: `${rep.port} promoted after kill -9 of ${p.port}` });
		await this.waitOk(20000);
		await this.waitAgree();
		await this.roles();
		return node;
	}
	async stop() { await Promise.all(this.nodes.map((n) => n.stop())); }
}

export async function startRedisCluster({ primaries = 3, replicas = 1, args = [] } = {}) {
	const nodes = [];
	const n = primaries * (1 + replicas);
	for (let i = 0; i < n; i++) {
		const dir = tmpDir();
		// repl-diskless-sync-delay 0: a primary sends its replica the data at once instead of
		// waiting 5 s (the default) for more replicas to share the transfer
		nodes.push(await startRedis({ dir, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
			'--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no',
			'--repl-diskless-sync-delay', '0', ...args] }));
	}
	const c = new RedisCluster(nodes);
	if (primaries === 1 && replicas === 0) {
		// redis-cli --cluster create wants three primaries: one node takes every slot itself
		await nodes[0].call('CLUSTER', 'ADDSLOTSRANGE', 0, 16383);
		await c.waitOk();
		await c.roles();
		return c;
	}
	const r = await run(REDIS_CLI, ['--cluster', 'create', ...nodes.map((x) => `127.0.0.1:${x.port}`),
		'--cluster-replicas', String(replicas), '--cluster-yes']);
	if (r.code !== 0) {
		await c.stop();
		throw new Error(`redis-cli --cluster create: ${r.code}\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-1000)}`);
	}
	await c.waitOk();
	// every replica linked to its primary
	await waitFor(async () => {
		for (const x of nodes) {
			const role = await x.call('ROLE');
			if (role[0] === 'slave' && role[3] !== 'connected') return false;
		}
		return true;
	}, { ms: 15000, every: 100, what: 'every replica in sync' });
	// and every node sees them so: n nodes connected, each replica under its primary
	// (the replicas' CLUSTER REPLICATE spreads by gossip, after the state is ok)
	await waitFor(async () => {
		for (const x of nodes) {
			const v = clusterNodes(await x.call('CLUSTER', 'NODES'));
			const ids = new Set(v.filter((y) => y.role === 'master').map((y) => y.id));
			if (v.length !== n || !v.every((y) => y.ok) || ids.size !== primaries ||
			    !v.every((y) => y.role === 'master' || ids.has(y.master))) return false;
		}
		return true;
	}, { ms: 15000, every: 50, what: 'every node sees every replica under its primary' });
	await c.roles();
	return c;
}

// A primary with `replicas` replicas and `sentinels` Redis Sentinels monitoring it as `lk`
// (quorum 2, down-after-milliseconds `downAfterMs` (default 1000), failover-timeout 5000),
// all on loopback. A longer down-after keeps a frozen node counted alive (no s_down) for
// longer: a sentinel closes its link to a node silent for half of it.
// Each data node's `role` ('primary' or 'replica') is as of the last start, failover() or
// kill9Primary() (then 'down' for the killed one); each sentinel's is 'sentinel'.
export class RedisSentinelSet {
	constructor(data, sentinels) {
		this.data = data;
		this.sentinels = sentinels;
		for (const s of sentinels) s.role = 'sentinel';
	}
	get nodes() { return [...this.data, ...this.sentinels]; }
	get pids() { return this.nodes.map((n) => n.pid); }
	url(db = 0) { return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/lk/${db}`; }
	async primaryPort() {
		for (const s of this.sentinels.filter((x) => x.running)) {
			const r = await s.call('SENTINEL', 'get-master-addr-by-name', 'lk').catch(() => null);
			if (r) return Number(r[1]);
		}
		return null;
	}
	primary() { return this.data.find((d) => d.port === this.current); }
	replicas() { return this.data.filter((d) => d.port !== this.current && d.running); }
	async track() {
		this.current = await this.primaryPort();
		for (const d of this.data) d.role = !d.running ? 'down' : d.port === this.current ? 'primary' : 'replica';
		return this.primary();
	}
	// SENTINEL FAILOVER, then wait until every sentinel names another primary and it says so.
	// The old primary goes on answering as a primary until a sentinel turns it into a
	// replica, up to 10 s later (sentinels ask a node's INFO every 10 s); this does not
	// wait for that.
	async failover() {
		const before = this.current;
		await this.sentinels[0].call('SENTINEL', 'FAILOVER', 'lk');
		await this.promoted(before);
	}
	// kill -9 of the primary; the sentinels promote a replica after down-after-milliseconds.
	async kill9Primary() {
		const before = this.current;
		await this.primary().kill9();
		await this.promoted(before, 20000);
	}
	// Every sentinel names a new primary, and it says it is one. Measured here after
	// SENTINEL FAILOVER: the replica says ROLE master after about 150 ms, the sentinels name
	// it after about 1.05 s (the one asked) to 1.15 s (the others, from its hello message);
	// in between they still name the old primary, which still says role:master.
	async promoted(before, ms = 15000) {
		await waitFor(async () => {
			const named = await Promise.all(this.sentinels.filter((x) => x.running).map((x) =>
				x.call('SENTINEL', 'get-master-addr-by-name', 'lk').then((r) => Number(r[1]), () => null)));
			const p = named[0];
			if (!p || p === before || !named.every((x) => x === p)) return false;
			const d = this.data.find((x) => x.port === p);
			return d && (await d.call('ROLE').catch(() => ['']))[0] === 'master';
		}, { ms, every: 100, what: `every sentinel to name a replica of ${before} as the primary` });
		await this.track();
	}
	async stop() { await Promise.all([...this.sentinels, ...this.data].map((x) => x.stop())); }
}

export async function startRedisSentinel({ replicas = 1, sentinels = 3, downAfterMs = 1000 } = {}) {
	// repl-diskless-sync-delay 0, as in startRedisCluster: replicas sync at once
	const fast = ['--repl-diskless-sync-delay', '0'];
	const primary = await startRedis({ databases: 16, args: fast });
	const data = [primary];
	for (let i = 0; i < replicas; i++)
		data.push(await startRedis({ databases: 16, args: [...fast, '--replicaof', '127.0.0.1', String(primary.port)] }));
	await waitFor(async () => {
		for (const d of data.slice(1)) if ((await d.call('ROLE'))[3] !== 'connected') return false;
		return true;
	}, { ms: 10000, every: 50, what: 'replicas in sync' });
	const sents = [];
	for (let i = 0; i < sentinels; i++) {
		const dir = tmpDir();
		const conf = path.join(dir, 'sentinel.conf');
		writeFileSync(conf, `sentinel monitor lk 127.0.0.1 ${primary.port} 2\n` +
			`sentinel down-after-milliseconds lk ${downAfterMs}\nsentinel failover-timeout lk 5000\n`);
		sents.push(await startRedis({ dir, conf, args: ['--sentinel'] }));
	}
	const set = new RedisSentinelSet(data, sents);
	// every sentinel knows the replicas and the other sentinels
	await waitFor(async () => {
		for (const s of sents) {
			const m = await s.call('SENTINEL', 'MASTER', 'lk').catch(() => null);
			if (!m) return false;
			const f = Object.fromEntries(m.reduce((a, v, i) => (i % 2 ? a : [...a, [v, m[i + 1]]]), []));
			if (Number(f['num-slaves']) < replicas || Number(f['num-other-sentinels']) < sentinels - 1) return false;
		}
		return true;
	}, { ms: 15000, every: 100, what: 'the sentinels see the replicas and each other' });
	await set.track();
	return set;
}

// LATCHKEY_TEST_STORE=redis: one redis-server for this test file (started at import),
// one database per temporary directory.
let sharedRedis = null;
const redisDbs = new Map();   // tmp dir -> database number
const SHARED_DBS = 512;
if (process.env.LATCHKEY_TEST_STORE === 'redis')
	sharedRedis = await startRedis({ databases: SHARED_DBS });
function sharedRedisUrl(tmp) {
	if (!sharedRedis) throw new Error('LATCHKEY_TEST_STORE=redis but no redis-server was started');
	if (!redisDbs.has(tmp)) {
		if (redisDbs.size >= SHARED_DBS) throw new Error(`more than ${SHARED_DBS} stores in one test file`);
		redisDbs.set(tmp, redisDbs.size);
	}
	return sharedRedis.url(redisDbs.get(tmp));
}
export const testRedis = () => sharedRedis;

// ---------------------------------------------------------------- the server

export class Server {
	constructor(opts) {
		Object.assign(this, opts);
		this.out = '';
		this.err = '';
		this.errRaw = [];           // stderr as the bytes that came
		this.secrets = new Set();   // cookie values and passwords: must never be logged
		this.exited = null;         // {code, signal} once gone
	}
	get base() { return `http://127.0.0.1:${this.port}`; }
	// what a browser page of this server sends as Origin: the configured issuer's origin
	// (the server accepts no other), set by harnesses whose servers share a public issuer
	get origin() { return this.issuerOrigin || this.base; }
	get cookieName() { return this.insecure ? 'latchkey' : '__Host-latchkey'; }
	get csrfCookieName() { return this.insecure ? 'latchkey-csrf' : '__Host-latchkey-csrf'; }
	get pid() { return this.proc.pid; }

	// fetch with redirect:'manual'; unsafe methods get the headers a same-origin page's
	// script or form would send (Origin, Sec-Fetch-Site) unless opts.browser === false or
	// the caller sets them. opts.cookie: a session cookie value; opts.json: a JSON body.
	async fetch(p, opts = {}) {
		const { cookie, json, browser = true, headers: h = {}, ...rest } = opts;
		const headers = { ...h };
		const method = (rest.method || 'GET').toUpperCase();
		const has = (n) => Object.keys(headers).some((k) => k.toLowerCase() === n);
		if (browser && !['GET', 'HEAD'].includes(method)) {
			if (!has('origin')) headers.Origin = this.origin;
			if (!has('sec-fetch-site')) headers['Sec-Fetch-Site'] = 'same-origin';
		}
		if (cookie !== undefined && !has('cookie')) headers.Cookie = `${this.cookieName}=${cookie}`;
		let body = rest.body;
		if (json !== undefined) {
			body = JSON.stringify(json);
			if (!has('content-type')) headers['Content-Type'] = 'application/json';
		}
		const res = await fetch(this.base + p, { redirect: 'manual', ...rest, method, headers, body });
		res.text_ = await res.text();
		try { res.json_ = JSON.parse(res.text_); } catch { res.json_ = undefined; }
		return res;
	}

	// JSON sign-in. Returns {res, status, body, cookie, setCookie}.
	async login(username, password, opts = {}) {
		this.secrets.add(password);
		const res = await this.fetch('/login', { method: 'POST', json: { username, password }, ...opts });
		const setCookie = findSetCookie(res, this.cookieName);
		const cookie = setCookie ? cookieValue(setCookie) : undefined;
		if (cookie) this.secrets.add(cookie);
		return { res, status: res.status, body: res.json_, cookie, setCookie };
	}

	// Sign in and insist on success; returns the cookie value.
	async session(username, password, opts = {}) {
		const r = await this.login(username, password, opts);
		if (r.status !== 200 || !r.cookie)
			throw new Error(`sign-in as ${username} failed: ${r.status} ${r.res.text_}`);
		return r.cookie;
	}

	async me(cookie, opts = {}) { return this.fetch('/me', { cookie, ...opts }); }

	// Run the CLI against this server's store.
	cli(args, opts = {}) { return cli([...args, '--store', this.store], opts); }
	async addUser(name, password, roles = []) {
		this.secrets.add(password);
		const r = await this.cli(['user', 'add', name, ...roles.flatMap((x) => ['--role', x])],
			{ input: password + '\n' });
		if (r.code !== 0) throw new Error(`user add ${name}: ${r.code} ${r.stderr}`);
	}

	// Everything written on stderr so far, byte for byte.
	errBytes() { return Buffer.concat(this.errRaw); }

	// Log lines on stderr, parsed; throws on a line that is not JSON.
	logLines() {
		return this.err.split('\n').filter((l) => l.length).map((l) => {
			try { return JSON.parse(l); } catch { throw new Error(`stderr line is not JSON: ${l}`); }
		});
	}

	// Resolves {code, signal} when the process has exited (or could not be started).
	waitExit(ms = 10000) {
		if (this.exited) return Promise.resolve(this.exited);
		let t;
		return Promise.race([
			this.gone.then(() => { clearTimeout(t); return this.exited; }),
			new Promise((_, reject) => {
				t = setTimeout(() => reject(new Error(`server pid ${this.pid} still running after ${ms} ms`)), ms);
			}),
		]);
	}

	// SIGTERM, then SIGKILL after 5 s. Resolves {code, signal, killed}.
	async stop(graceMs = 5000) {
		if (this.exited) return this.exited;
		if (!this.pid) return this.waitExit(5000);
		try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
		try {
			return await this.waitExit(graceMs);
		} catch {
			try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
			const r = await this.waitExit(5000);
			return { ...r, killed: true };
		}
	}

	async kill9() {
		if (this.exited) return this.exited;
		if (!this.pid) return this.waitExit(5000);
		process.kill(this.pid, 'SIGKILL');
		return this.waitExit(5000);
	}

	// Assert that no known secret appears in stderr, nor in stdout other than the admin
	// password's one announcement. Returns the list of leaks (empty when none).
	leaks(extra = []) {
		const found = [];
		const stdoutRest = this.adminPassword
			? this.out.replace(`with password ${this.adminPassword}`, 'with password <announced>')
			: this.out;
		for (const s of [...this.secrets, ...extra]) {
			if (!s || s.length < 6) continue;
			if (this.err.includes(s)) found.push(`stderr contains ${JSON.stringify(s)}`);
			if (stdoutRest.includes(s)) found.push(`stdout contains ${JSON.stringify(s)}`);
		}
		return found;
	}
}

// Spawn `latchkey serve` and return the child plus captured output; no waiting.
function spawnServe(args, env) {
	const proc = spawn(BIN, ['serve', ...args], {
		env: { ...process.env, ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	live.add(proc);
	proc.once('exit', () => live.delete(proc));
	return proc;
}

// Start a server and wait until /healthz answers 200.
//   args:      extra serve flags
//   env:       extra environment (LATCHKEY_* settings)
//   insecure:  add --insecure-cookies (default true: the tests speak plain http)
//   tmp/store: reuse a directory/store (a restart); default a new one
//   flags:     false to pass neither --listen nor --store (config file / env tests);
//              port must then be given
//   admin:     whether to expect the first-admin announcement (default: new store)
export async function startServer(opts = {}) {
	const tmp = opts.tmp || tmpDir();
	const store = opts.store || storeUrl(tmp);
	const insecure = opts.insecure !== false;
	const expectAdmin = opts.admin ?? !opts.store;
	for (let attempt = 0; ; attempt++) {
		const port = opts.port || (await freePort());
		const args = [];
		if (opts.flags !== false) args.push('--listen', `127.0.0.1:${port}`, '--store', store);
		if (insecure && opts.flags !== false) args.push('--insecure-cookies');
		args.push(...(opts.args || []));
		const proc = spawnServe(args, opts.env || {});
		const srv = new Server({ proc, port, tmp, store, insecure, args });
		servers.add(srv);
		proc.stdout.setEncoding('utf8').on('data', (d) => { srv.out += d; });
		// stderr as text, and as the bytes that came (errBytes(): a check of the encoding)
		const errText = new StringDecoder('utf8');
		proc.stderr.on('data', (d) => { srv.errRaw.push(d); srv.err += errText.write(d); });
		srv.gone = new Promise((resolve) => {
			proc.once('exit', (code, signal) => { srv.exited = { code, signal }; servers.delete(srv); resolve(); });
			// spawn failed (no binary, not executable): there will be no 'exit'
			proc.once('error', (e) => {
				if (srv.exited) return;
				srv.exited = { code: null, signal: null, error: `cannot run ${BIN}: ${e.code || e.message}` };
				srv.err += srv.exited.error + '\n';
				servers.delete(srv);
				resolve();
			});
		});
		try {
			const up = await waitFor(async () => {
				if (srv.exited) return 'exited';
				const r = await fetch(`${srv.base}/healthz`).catch(() => null);
				return r && r.status === 200 && 'up';
			}, { ms: 15000, every: 40, what: `/healthz on port ${port}` });
			if (up === 'exited') throw new Error(`the server exited at start ${JSON.stringify(srv.exited)}`);
		} catch (e) {
			await srv.stop();
			e.message += `\nserver stderr:\n${srv.err.slice(-2000)}\nserver stdout:\n${srv.out.slice(-500)}`;
			// another process may have taken the port between freePort() and bind()
			if (!opts.port && attempt < 2 && /cannot listen/.test(srv.err)) continue;
			throw e;
		}
		if (expectAdmin) {
			const m = await waitFor(() => srv.out.match(/created user "admin" with password (\S+)/),
				{ ms: 2000, what: 'the admin password on stdout' });
			srv.adminPassword = m[1];
			srv.secrets.add(m[1]);
		}
		return srv;
	}
}

// Run `latchkey serve` that is expected to exit (bad store, bad config): resolves
// {code, signal, stdout, stderr, ms}; kills it and reports code null after `ms`.
export function runServeExpectExit(args, { env = {}, ms = 8000 } = {}) {
	const t0 = Date.now();
	const proc = spawnServe(args, env);
	let stdout = '', stderr = '';
	proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
	proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
	return new Promise((resolve) => {
		const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
		proc.once('close', (code, signal) => {
			clearTimeout(t);
			resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
		});
		proc.once('error', (e) => {
			clearTimeout(t);
			resolve({ code: null, signal: null, stdout, stderr: stderr + `cannot run ${BIN}: ${e.code}`, ms: Date.now() - t0 });
		});
	});
}

// ---------------------------------------------------------------- CLI

// Run `latchkey ARGS`; resolves {code, stdout, stderr}. opts.input goes to stdin.
export function cli(args, { input = '', env = {}, ms = 20000 } = {}) {
	return new Promise((resolve) => {
		const p = execFile(BIN, args, { env: { ...process.env, ...env }, timeout: ms },
			(err, stdout, stderr) => {
				resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
			});
		live.add(p);
		p.once('exit', () => live.delete(p));
		p.stdin.on('error', () => {}); // a command that exits without reading stdin
		p.stdin.end(input);
	});
}

// ---------------------------------------------------------------- cookies

export function findSetCookie(res, name) {
	return res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
}
export const cookieValue = (setCookie) => setCookie.split(';')[0].split('=').slice(1).join('=');

export function b64urlDecode(s) {
	return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

// ---------------------------------------------------------------- bounded parallelism

export async function pool(items, limit, fn) {
	const out = new Array(items.length);
	let next = 0;
	async function worker() {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	}
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return out;
}

// ---------------------------------------------------------------- raw HTTP

// Send raw bytes on a new connection and collect the reply. Resolves
// {data, status, closed, error}: data is everything read; status the first status code;
// closed whether the server closed the connection within `ms`. opts.end: half-close after
// writing (default false); opts.closeAfter: destroy the socket this many ms after writing.
export function raw(port, chunks, { ms = 3000, end = false, closeAfter } = {}) {
	return new Promise((resolve) => {
		const sock = net.connect({ port, host: '127.0.0.1' });
		const bufs = [];
		let error = null, done = false;
		const finish = (closed) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			sock.destroy();
			const data = Buffer.concat(bufs).toString('latin1');
			const m = data.match(/^HTTP\/1\.[01] (\d{3})/);
			resolve({ data, status: m ? Number(m[1]) : null, closed, error });
		};
		const timer = setTimeout(() => finish(false), ms);
		sock.on('data', (d) => bufs.push(d));
		sock.on('error', (e) => { error = e.code || e.message; });
		sock.on('close', () => finish(true));
		sock.on('connect', async () => {
			for (const c of [].concat(chunks)) {
				if (sock.destroyed) break;
				sock.write(c);
			}
			if (end) sock.end();
			if (closeAfter !== undefined) {
				await sleep(closeAfter);
				finish(false);
			}
		});
	});
}

// http.request with a chosen local (source) address: to act as another client IP on the
// loopback network (127.0.0.0/8). Resolves {status, headers, body, json}.
export function requestFrom(localAddress, port, p, { method = 'GET', headers = {}, body } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, path: p, method, headers, localAddress, agent: false },
			(res) => {
				let b = '';
				res.setEncoding('utf8');
				res.on('data', (d) => { b += d; });
				res.on('end', () => {
					let json;
					try { json = JSON.parse(b); } catch { json = undefined; }
					resolve({ status: res.statusCode, headers: res.headers, body: b, json });
				});
			});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error('timeout')));
		if (body !== undefined) req.write(body);
		req.end();
	});
}

// ---------------------------------------------------------------- metrics

// Parse Prometheus text into {"name{labels}": value}. Throws on a malformed line.
export function parseMetrics(text) {
	const out = {};
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?) (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/);
		if (!m) throw new Error(`bad metrics line: ${line}`);
		out[m[1]] = Number(m[2]);
	}
	return out;
}

export function fileBytes(p) {
	return existsSync(p) ? readFileSync(p) : Buffer.alloc(0);
}
