// SPDX-License-Identifier: MIT
// Hostile clients that hold connections rather than send garbage: slowloris (many
// connections that send a request a byte at a time) and hundreds of idle connections.
// Meanwhile legitimate requests keep being answered, and the server closes the slow ones
// after --conn-timeout. Also log injection: whatever a client puts in a user name, the log
// stays one JSON object per line (no forged field or line).
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, sleep, isRedisTemplate, isClusterTemplate } from './lib.mjs';

// the store plays no part here: run once, on SQLite
const skip = (isRedisTemplate() || isClusterTemplate()) && 'store-independent: runs on SQLite only';

let srv;
before(async () => {
	if (skip) return;
	srv = await startServer({ args: ['--conn-timeout', '3s'] });
});

function open() {
	return new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port: srv.port });
		s.closedAt = null;
		s.on('connect', () => resolve(s));
		s.on('error', () => { s.closedAt ??= Date.now(); resolve(s); });
		s.on('close', () => { s.closedAt ??= Date.now(); });
		s.on('data', () => {});
	});
}

test('slowloris: 100 connections sending a byte a second do not stop other clients, and are closed by --conn-timeout', { skip }, async () => {
	const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(64);
	const socks = await Promise.all(Array.from({ length: 100 }, open));
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
	const socks = [];
	for (let i = 0; i < 8; i++) socks.push(...await Promise.all(Array.from({ length: 100 }, open)));
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
