// SPDX-License-Identifier: MIT
// Argon2 never makes a sign-in wait for long: with one slow worker, sign-ins that would
// wait past --login-wait for it are answered 503 `busy` with Retry-After (not held for
// seconds), are not counted as failed attempts, and requests that need no hashing are
// served meanwhile. (The workers also run at a lower scheduling priority; the effect on
// GET /me under load is measured by bench, not asserted here.)
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, parseMetrics } from './lib.mjs';

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
