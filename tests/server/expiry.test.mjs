// SPDX-License-Identifier: MIT
// Idle (sliding) and absolute session expiry, with timeouts of seconds:
// --idle-timeout 2s --absolute-timeout 6s --touch-interval 1s, sweeping every second.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep, waitFor } from './lib.mjs';

let srv;
before(async () => {
	srv = await startServer({ args: ['--idle-timeout', '2s', '--absolute-timeout', '6s',
		'--touch-interval', '1s', '--purge-interval', '1s'] });
});

// Keep a session busy: GET /me every 400 ms for `ms`; returns the statuses seen.
async function keepBusy(cookie, ms) {
	const seen = [];
	const end = Date.now() + ms;
	while (Date.now() < end) {
		seen.push((await srv.me(cookie)).status);
		await sleep(400);
	}
	return seen;
}

test('/me reports expires = min(last_seen + idle, created + absolute)', async () => {
	const c = await srv.session('admin', srv.adminPassword);
	const s = (await srv.me(c)).json_.session;
	assert.equal(s.expires, Math.min(s.last_seen + 2, s.created + 6));
});

test('idle timeout ends an unused session; use keeps it alive past the idle timeout', async () => {
	const idle = await srv.session('admin', srv.adminPassword);
	const busy = await srv.session('admin', srv.adminPassword);
	assert.equal((await srv.me(idle)).status, 200);
	const seen = await keepBusy(busy, 3000);
	assert.ok(seen.every((s) => s === 200), `the busy session stayed valid: ${seen}`);
	const r = await srv.me(idle);
	assert.equal(r.status, 401, 'idle for over 2 s');
	assert.equal(r.json_.error, 'unauthorized');
	assert.equal((await srv.me(busy)).status, 200);
});

test('absolute timeout ends a session however busy it is', async () => {
	const c = await srv.session('admin', srv.adminPassword);
	const created = (await srv.me(c)).json_.session.created;
	const seen = [];
	// busy until 7 s after creation (absolute is 6 s); bounded by the clock
	const end = (created + 7) * 1000 + 200;
	while (Date.now() < end) {
		// the second by the server's clock, at the latest: time(2) is the coarse clock and
		// can lag Date.now() by a tick, so a request sent just after a second boundary may
		// still be checked in the second before (100 ms covers the lag; the request is
		// checked after it was sent)
		const sent = Date.now();
		const st = (await srv.me(c)).status;
		seen.push([Math.floor((sent - 100) / 1000) - created, st]);
		await sleep(300);
	}
	const early = seen.filter(([dt]) => dt < 5);
	assert.ok(early.length > 3 && early.every(([, st]) => st === 200), `valid before 6 s: ${JSON.stringify(seen)}`);
	assert.equal((await srv.me(c)).status, 401, 'ended after 6 s');
	assert.ok(seen.filter(([dt]) => dt >= 6).every(([, st]) => st === 401), `never valid from 6 s on: ${JSON.stringify(seen)}`);
});

test('expired sessions are swept from the store and from the live gauge', async () => {
	// every session of the tests above has expired by now; the sweep runs every second
	await waitFor(async () => /^latchkey_sessions_live 0$/m.test((await srv.fetch('/metrics')).text_),
		{ ms: 4000, every: 250, what: 'latchkey_sessions_live 0' });
	await waitFor(async () => {
		const l = await srv.cli(['sessions', 'list', '--json']);
		assert.equal(l.code, 0);
		return JSON.parse(l.stdout).length === 0;
	}, { ms: 4000, every: 500, what: 'the sweep to remove the expired rows' });
});
