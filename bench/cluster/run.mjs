// SPDX-License-Identifier: MIT
// bench/cluster/run.mjs: latchkey on one Redis, behind Sentinel, and on Redis Cluster of
// one and three primaries (issue 16), side by side in one run on this machine. For each
// store: `latchkey serve` (defaults, request log off, sign-in limits lifted) on a fresh
// store, then
//   GET /me     wrk -t1 -c32 with a session cookie (the hot path: a cached session, an
//               atomic load of the generation; the store is not read);
//   rotations   CHAINS concurrent clients each refreshing its own refresh-token chain
//               (POST /oauth2/token, grant_type=refresh_token, RFC 6749 §6): every call
//               reads the token, stores the successor, claims the token, indexes it;
//               the store-bound path.
// Prints a markdown table and writes it to bench/cluster/RESULTS.md. Everything listens on
// loopback and is stopped by PID (tests/server/lib.mjs).
//   LATCHKEY=build/latchkey DURATION=8 CHAINS=16 node bench/cluster/run.mjs
import { execFile } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	startServer, startRedis, startRedisCluster, startRedisSentinel, stopClean, addClient, basic,
	sleep,
} from '../../tests/tokens/lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.DURATION || 8);
const WARMUP = Number(process.env.WARMUP || 2);
const CHAINS = Number(process.env.CHAINS || 16);
const ARGS = ['--log-requests', 'false', '--rate-pair-free', '1000000', '--rate-ip-per-min', '1000000'];
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const sh = (cmd, args, ms) => new Promise((resolve) => execFile(cmd, args, { timeout: ms },
	(err, stdout, stderr) => resolve({ code: err ? err.code ?? -1 : 0, stdout, stderr })));

// wrk's req/s, p50 and p99 (ms) from --latency output
function wrkParse(out) {
	const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
	const ms = (k) => {
		const m = out.match(new RegExp(`\\s${k}%\\s+([\\d.]+)(us|ms|s)`));
		if (!m) return NaN;
		return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
	};
	const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] || 0);
	return { rps, p50: ms(50), p99: ms(99), non2xx };
}

async function getMe(srv, cookie) {
	const hdr = `Cookie: ${srv.cookieName}=${cookie}`;
	await sh('wrk', ['-t1', '-c32', `-d${WARMUP}s`, '-H', hdr, `${srv.base}/me`], 60000);
	const r = await sh('wrk', ['-t1', '-c32', `-d${DURATION}s`, '--latency', '-H', hdr, `${srv.base}/me`], 120000);
	return wrkParse(r.stdout);
}

async function rotations(srv, client) {
	const auth = basic(client.id, client.secret);
	const grant = async (fields) => {
		const res = await fetch(`${srv.base}/oauth2/token`, {
			method: 'POST', body: new URLSearchParams(fields).toString(),
			headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: auth },
		});
		return { status: res.status, json: await res.json().catch(() => null) };
	};
	const heads = [];
	for (let i = 0; i < CHAINS; i++) {
		const g = await grant({ grant_type: 'password', username: 'admin', password: srv.adminPassword });
		if (g.status !== 200) throw new Error(`password grant: ${g.status} ${JSON.stringify(g.json)}`);
		heads.push(g.json.refresh_token);
	}
	const lat = [];
	let bad = 0, stop = false;
	const chain = async (i) => {
		while (!stop) {
			const t0 = performance.now();
			const g = await grant({ grant_type: 'refresh_token', refresh_token: heads[i] });
			if (stop) break;
			if (g.status !== 200) { bad++; continue; }
			heads[i] = g.json.refresh_token;
			lat.push(performance.now() - t0);
		}
	};
	// warm-up, then the measured window
	let runs = heads.map((_, i) => chain(i));
	await sleep(WARMUP * 1000);
	stop = true;
	await Promise.all(runs);
	lat.length = 0;
	bad = 0;
	stop = false;
	const t0 = performance.now();
	runs = heads.map((_, i) => chain(i));
	await sleep(DURATION * 1000);
	stop = true;
	await Promise.all(runs);
	const secs = (performance.now() - t0) / 1000;
	lat.sort((a, b) => a - b);
	const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
	return { rps: lat.length / secs, p50: q(0.5), p99: q(0.99), bad };
}

const stores = [
	['one Redis (`redis://`)', async () => { const r = await startRedis({}); return { url: r.url(0), stop: () => r.stop() }; }],
	['Sentinel: a primary and a replica (`redis+sentinel://`, every write waits for the replica)', async () => {
		const s = await startRedisSentinel({ replicas: 1, sentinels: 3 });
		return { url: s.url(0), stop: () => s.stop() };
	}],
	['Redis Cluster, 1 primary', async () => {
		const c = await startRedisCluster({ primaries: 1, replicas: 0 });
		return { url: c.url(), stop: () => c.stop() };
	}],
	['Redis Cluster, 3 primaries', async () => {
		const c = await startRedisCluster({ primaries: 3, replicas: 0 });
		return { url: c.url(), stop: () => c.stop() };
	}],
	['Redis Cluster, 3 primaries + 3 replicas (every write waits for its replica)', async () => {
		const c = await startRedisCluster({ primaries: 3, replicas: 1 });
		return { url: c.url(), stop: () => c.stop() };
	}],
];

// STORES=1,3 runs those rows only (1-based), e.g. to compare another build on one Redis
const pick = (process.env.STORES || '').split(',').filter(Boolean).map(Number);
const rows = [];
const loadBefore = load();
for (const [name, start] of stores.filter((_, i) => !pick.length || pick.includes(i + 1))) {
	const st = await start();
	const srv = await startServer({ store: st.url, admin: true, args: ARGS });
	const client = await addClient(srv, 'bench');
	const cookie = await srv.session('admin', srv.adminPassword);
	const me = await getMe(srv, cookie);
	const rot = await rotations(srv, client);
	rows.push({ name, me, rot });
	process.stderr.write(`${name}: GET /me ${me.rps.toFixed(0)} req/s, rotations ${rot.rps.toFixed(0)}/s\n`);
	await stopClean(srv);
	await st.stop();
}
const base = rows[0];
const c1 = rows.find((r) => r.name === 'Redis Cluster, 1 primary') || base;
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const lines = [
	'| store | GET /me req/s | p50 ms | p99 ms | rotations/s | p50 ms | p99 ms | rotations vs one Redis | vs cluster of 1 |',
	'| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
	...rows.map((r) => `| ${r.name} | ${f(r.me.rps, 0)} | ${f(r.me.p50)} | ${f(r.me.p99)} | ${f(r.rot.rps, 0)} | ${f(r.rot.p50)} | ${f(r.rot.p99)} | ${f(r.rot.rps / base.rot.rps)}x | ${f(r.rot.rps / c1.rot.rps)}x |`),
];
const rev = (await sh('git', ['-C', path.join(HERE, '../..'), 'rev-parse', '--short', 'HEAD'])).stdout.trim();
const md = [
	'# latchkey beyond one Redis: Sentinel and Redis Cluster',
	'',
	`Written by \`bench/cluster/run.mjs\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, latchkey ${rev}. Command:`,
	'',
	'```',
	`LATCHKEY=${process.env.LATCHKEY || 'build/latchkey'} DURATION=${DURATION} WARMUP=${WARMUP} CHAINS=${CHAINS}${pick.length ? ` STORES=${pick.join(',')}` : ''} node bench/cluster/run.mjs`,
	'```',
	'',
	`Machine: ${os.cpus().length} CPUs (${os.cpus()[0].model}), everything on it: latchkey, every redis-server, wrk and the node client. Load average ${loadBefore} before, ${load()} after.`,
	`GET /me: wrk -t1 -c32 -d${DURATION}s --latency after ${WARMUP} s of warm-up, a session cookie. Rotations: ${CHAINS} concurrent chains, each refreshing its own refresh token (POST /oauth2/token, grant_type=refresh_token) as fast as the answers come, for ${DURATION} s after ${WARMUP} s; every rotation reads, stores the successor, claims and indexes. Non-2xx answers: ${rows.map((r) => r.me.non2xx + r.rot.bad).reduce((a, b) => a + b, 0)}.`,
	'',
	...lines,
	'',
];
if (!pick.length) writeFileSync(path.join(HERE, 'RESULTS.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
process.exit(0);
