// SPDX-License-Identifier: MIT
// Hostile clients that hold connections rather than send garbage: slowloris (many
// connections that send a request a byte at a time) and hundreds of idle connections.
// Meanwhile legitimate requests keep being answered, and the server closes the slow ones
// after --conn-timeout. A head dripped slowly enough to beat --conn-timeout is cut by
// --header-timeout, which spares keep-alive connections that keep sending requests, the
// revocation stream and sign-ins waiting for Argon2; --max-conn-per-ip caps what one
// address holds. Also log injection: whatever a client puts in a user name, the log
// stays one JSON object per line (no forged field or line).
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import {
	startServer, sleep, waitFor, requestFrom, parseMetrics, isRedisTemplate, isClusterTemplate,
} from './lib.mjs';

// the store plays no part here: run once, on SQLite
const skip = (isRedisTemplate() || isClusterTemplate()) && 'store-independent: runs on SQLite only';

let srv;
before(async () => {
	if (skip) return;
	srv = await startServer({ args: ['--conn-timeout', '3s'] });
});

// A raw connection to port (default: srv's) from localAddress (default 127.0.0.1); resolves
// once connected or failed. s.closedAt: when the server closed it (or it failed).
function open(port = srv.port, localAddress = '127.0.0.1') {
	return new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port, localAddress });
		s.openedAt = Date.now();
		s.closedAt = null;
		s.on('connect', () => resolve(s));
		s.on('error', () => { s.closedAt ??= Date.now(); resolve(s); });
		s.on('close', () => { s.closedAt ??= Date.now(); });
		s.got = '';
		s.on('data', (d) => { s.got += d.toString('latin1'); });
	});
}

test('slowloris: 100 connections sending a byte a second do not stop other clients, and are closed by --conn-timeout', { skip }, async () => {
	const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(64);
	const socks = await Promise.all(Array.from({ length: 100 }, () => open()));
	const t0 = Date.now();
	let sent = 0;
	const drip = setInterval(() => {
		for (const s of socks) if (!s.destroyed && !s.closedAt) s.write(req[sent % req.length]);
		sent++;
	}, 1000);
	// legitimate requests all the while: every one answered
	const answers = [];
	while (Date.now() - t0 < 6000) {
		const r = await srv.fetch('/healthz');
		answers.push(r.status);
		await sleep(100);
	}
	clearInterval(drip);
	assert.ok(answers.length >= 20);
	assert.deepEqual([...new Set(answers)], [200], 'every legitimate request was answered 200');
	// a byte a second is activity, so the server's idle timeout alone does not end them;
	// stop dripping and they are closed within the timeout (3 s) and some slack
	await sleep(5000);
	const open_ = socks.filter((s) => !s.closedAt).length;
	for (const s of socks) s.destroy();
	assert.equal(open_, 0, `${open_} slow connections still open 5 s after they went silent`);
});

test('800 idle connections: other clients are served; the idle ones are closed after --conn-timeout', { skip }, async () => {
	// from eight loopback addresses, 100 each: under --max-conn-per-ip's default (256)
	const socks = [];
	for (let i = 0; i < 8; i++)
		socks.push(...await Promise.all(Array.from({ length: 100 }, () => open(srv.port, `127.0.0.${i + 2}`))));
	const opened = socks.filter((s) => !s.closedAt).length;
	assert.ok(opened >= 700, `${opened} idle connections open`);
	for (let i = 0; i < 20; i++) assert.equal((await srv.fetch('/healthz')).status, 200);
	const me = await srv.me(await srv.session('admin', srv.adminPassword));
	assert.equal(me.status, 200);
	await sleep(5000);
	const still = socks.filter((s) => !s.closedAt).length;
	for (const s of socks) s.destroy();
	assert.equal(still, 0, `${still} idle connections left open past --conn-timeout`);
});

test('log injection: a user name with quotes, newlines and a forged field stays inside one JSON string', { skip }, async () => {
	const evil = 'x"}\n{"level":"error","msg":"forged","user":"admin';
	const r = await srv.login(evil, 'whatever-password');
	assert.ok([400, 401].includes(r.status), `${r.status}`);
	await sleep(200);
	const lines = srv.logLines(); // throws on any line that is not JSON
	assert.ok(!lines.some((l) => l.msg === 'forged'), 'no forged line');
	const failed = lines.filter((l) => l.event === 'login_failed');
	assert.ok(failed.some((l) => l.user === evil), 'the name is logged whole, as one escaped string');
	const audit = JSON.parse((await srv.cli(['audit', 'list', '--limit', '20', '--json'])).stdout);
	assert.ok(audit.some((e) => e.user === evil), 'and audited the same');
});

// ---------------------------------------------------------------- the head deadline, the per-address cap

// GET on a new connection from localAddress: {status} or, when the server refused the
// connection, {error}.
const getFrom = (port, p, localAddress = '127.0.0.1') =>
	requestFrom(localAddress, port, p).then((r) => ({ status: r.status }), (e) => ({ error: e.code || e.message }));
// /metrics, asked from an address the caps in these tests leave alone
const metricsOf = async (s) => parseMetrics((await requestFrom('127.0.0.2', s.port, '/metrics')).body);
const HEAD_CUT = 'latchkey_http_unanswered_total{reason="header_timeout",status="none"}';
const PER_IP = 'latchkey_http_connections_refused_total{reason="max_conn_per_ip"}';
const replies = (got) => (got.match(/HTTP\/1\.1 200 /g) || []).length;

test('--header-timeout 2s: heads dripped a byte every 0.5 s are cut after about 2 s, long before --conn-timeout; other clients are answered all along', { skip }, async () => {
	const s = await startServer({ args: ['--header-timeout', '2s', '--conn-timeout', '15s'] });
	try {
		const cut0 = (await metricsOf(s))[HEAD_CUT];
		assert.equal(typeof cut0, 'number', 'the metric is there');
		const line = 'GET /healthz HTTP/1.1\r\n';
		const head = line + 'Host: x\r\nX-Slow: ' + 'a'.repeat(60) + '\r\n\r\n';
		// five drip the request line itself, five send it whole and drip the headers (the
		// URI callback has seen theirs); none gets near the end of its head in 9 s
		const socks = await Promise.all(Array.from({ length: 10 }, () => open(s.port)));
		socks.forEach((k, i) => {
			k.sent = i < 5 ? 0 : line.length;
			if (i >= 5) k.write(line);
		});
		const t0 = Date.now();
		const drip = setInterval(() => {
			for (const k of socks)
				if (!k.closedAt && !k.destroyed && k.sent < head.length - 4) k.write(head[k.sent++]);
		}, 500);
		const answers = [];
		try {
			while (Date.now() - t0 < 9000 && answers.length < 200) {
				answers.push(await getFrom(s.port, '/healthz'));
				if (socks.every((k) => k.closedAt) && Date.now() - t0 > 3000) break;
				await sleep(100);
			}
		} finally {
			clearInterval(drip);
		}
		const held = socks.map((k) => (k.closedAt ? k.closedAt - k.openedAt : null));
		for (const k of socks) k.destroy();
		assert.ok(answers.length >= 15, `${answers.length} legitimate requests`);
		assert.deepEqual(answers.filter((a) => a.status !== 200), [], 'every legitimate request was answered 200');
		for (const [i, ms] of held.entries()) {
			assert.ok(ms !== null, `slow connection ${i} still open after 9 s`);
			assert.ok(ms >= 1500 && ms <= 8000, `slow connection ${i} closed after ${ms} ms, not about 2 s`);
		}
		assert.ok(socks.every((k) => k.got === ''), 'no reply on a cut connection');
		const cut = (await metricsOf(s))[HEAD_CUT] - cut0;
		assert.ok(cut >= 10, `latchkey_http_unanswered_total{reason="header_timeout"} grew by ${cut}, want >= 10`);
		await sleep(100);
		const lines = s.logLines();
		assert.ok(lines.some((l) => l.level === 'warn' && /request head was not complete/.test(l.msg) &&
			l.header_timeout === '2s'), 'a log line for the cut connections');
		assert.ok(!s.err.includes('X-Slow') && !s.err.includes('aaaa'), 'no byte of the heads in the log');
	} finally {
		await s.stop();
	}
});

test('--header-timeout 2s: a keep-alive connection that keeps sending whole requests, each head over 0.9 s, is served for 7 s', { skip }, async () => {
	const s = await startServer({ args: ['--header-timeout', '2s', '--conn-timeout', '15s'] });
	try {
		const k = await open(s.port);
		const t0 = Date.now();
		const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Part: one\r\n\r\n';
		const q = Math.ceil(req.length / 4);
		let answered = 0;
		// the head in four parts 300 ms apart (the clock starts again at each reply)
		for (let i = 0; i < 6 && !k.closedAt && Date.now() - t0 < 20000; i++) {
			for (let j = 0; j < 4 && !k.closedAt; j++) {
				k.write(req.slice(j * q, (j + 1) * q));
				await sleep(300);
			}
			await waitFor(() => replies(k.got) > answered || k.closedAt, { ms: 3000, what: `reply ${i + 1}` });
			answered = replies(k.got);
		}
		const ms = Date.now() - t0, closed = k.closedAt;
		k.destroy();
		assert.equal(closed, null, `the connection was closed after ${closed && closed - t0} ms`);
		assert.equal(answered, 6, 'six requests answered 200 on the one connection');
		assert.ok(ms > 2 * 2000, `ran ${ms} ms, more than twice the deadline`);
	} finally {
		await s.stop();
	}
});

test('--header-timeout 1s spares long responses: the revocation stream, and sign-ins waiting for the one Argon2 worker', { skip }, async () => {
	const s = await startServer({
		args: ['--header-timeout', '1s', '--conn-timeout', '15s', '--login-workers', '1', '--login-wait', '0',
			'--argon2-ops', '100'],
	});
	try {
		const r = await s.cli(['client', 'add', 'feed', '--scope', 'read']);
		const id = r.stdout.match(/^client_id=(\S+)$/m)?.[1], secret = r.stdout.match(/^client_secret=(\S+)$/m)?.[1];
		assert.ok(id && secret, `client add: ${r.stdout} ${r.stderr}`);
		s.secrets.add(secret);
		// the stream, idle (the default ping is 15 s): nothing on it for 3.5 s
		const st = { status: null, ended: false, text: '' };
		const req = http.request({
			host: '127.0.0.1', port: s.port, path: '/revocations/stream', agent: false,
			headers: { Authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'), Accept: 'text/event-stream' },
		});
		req.on('response', (res) => {
			st.status = res.statusCode;
			res.on('data', (d) => { st.text += d; });
			res.on('close', () => { st.ended = true; });
		});
		req.on('error', () => { st.ended = true; });
		req.end();
		await waitFor(() => st.status !== null || st.ended, { ms: 3000, what: 'the stream answered' });
		// sign-ins queued behind one worker: the last waits, suspended, past the deadline
		const t0 = Date.now();
		const took = await Promise.all(Array.from({ length: 5 }, async () => {
			const l = await s.login('admin', s.adminPassword);
			return { status: l.status, ms: Date.now() - t0 };
		}));
		await sleep(Math.max(0, 3500 - (Date.now() - t0)));
		const ended = st.ended;
		req.destroy();
		assert.equal(st.status, 200);
		assert.equal(ended, false, 'the stream outlived --header-timeout');
		assert.deepEqual(took.map((x) => x.status), [200, 200, 200, 200, 200], JSON.stringify(took));
		const slowest = Math.max(...took.map((x) => x.ms));
		assert.ok(slowest > 1500, `the slowest sign-in took ${slowest} ms: not past the deadline, the test proves nothing`);
	} finally {
		await s.stop();
	}
});

test('--max-conn-per-ip 20: an address holding 20 connections has more closed at once; other addresses are served, and it is again once some closed', { skip }, async () => {
	// 127.0.0.3, an address the harness itself never uses (its own fetches come from 127.0.0.1)
	const s = await startServer({ args: ['--max-conn-per-ip', '20', '--header-timeout', '30s', '--conn-timeout', '30s'] });
	const held = [], extra = [];
	try {
		const refused0 = (await metricsOf(s))[PER_IP];
		assert.equal(typeof refused0, 'number', 'the metric is there');
		for (let i = 0; i < 20; i++) held.push(await open(s.port, '127.0.0.3'));
		await sleep(300);
		assert.equal(held.filter((k) => k.closedAt).length, 0, 'the first 20 stay open');
		for (let i = 0; i < 5; i++) extra.push(await open(s.port, '127.0.0.3'));
		await waitFor(() => extra.every((k) => k.closedAt), { ms: 2000, what: 'the 21st to 25th closed' });
		assert.ok(extra.every((k) => k.closedAt - k.openedAt < 2000 && k.got === ''), 'closed at once, unanswered');
		assert.ok((await getFrom(s.port, '/healthz', '127.0.0.3')).error, 'a request from the capped address is refused');
		assert.equal((await getFrom(s.port, '/healthz', '127.0.0.1')).status, 200, 'another address is served');
		assert.equal((await getFrom(s.port, '/healthz', '127.0.0.4')).status, 200, 'and another');
		const refused = (await metricsOf(s))[PER_IP] - refused0;
		assert.ok(refused >= 6, `latchkey_http_connections_refused_total grew by ${refused}, want >= 6`);
		// five let go: the address is served again (once the server has seen them close)
		for (const k of held.splice(0, 5)) k.destroy();
		let again = null;
		for (const t1 = Date.now(); Date.now() - t1 < 3000 && again?.status !== 200;) {
			await sleep(100);
			again = await getFrom(s.port, '/healthz', '127.0.0.3');
		}
		assert.equal(again?.status, 200, `after five closed: ${JSON.stringify(again)}`);
		assert.equal(held.filter((k) => k.closedAt).length, 0, 'the 15 others still open');
	} finally {
		for (const k of [...held, ...extra]) k.destroy();
		await s.stop();
	}
});
