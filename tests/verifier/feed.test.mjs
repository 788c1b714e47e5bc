// SPDX-License-Identifier: MIT
// The verifier's feed and keys over time: the stream resumes across a server restart
// without missing an event made while the server was down (snapshot + Last-Event-ID); a
// silent stream makes verification fail closed (stale) and recover when contact is back;
// a key rotation is picked up without restarting the verifier; wrong client credentials
// are refused at start.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startServer, addClient, passwordGrant, hybrid, stopClean, startChecker, haveLkcheck, sleep,
	startRedis, haveRedis,
} from './lib.mjs';

const PW = 'correct-horse-battery-staple';
const skip = haveLkcheck ? false : 'lkcheck is not built';
const started = [];
after(async () => { for (const x of started.reverse()) await x.stop(); });

async function server(extra = [], opts = {}) {
	const s = await startServer({ ...opts, args: ['--revocation-ping', '1', ...extra] });
	started.push(s);
	return s;
}
async function checker(issuer, client, args) {
	const c = await startChecker(issuer, client, args);
	started.push(c);
	return c;
}

test('the stream resumes after a server restart without missing an event', { skip }, async () => {
	const srv = await server();
	await srv.addUser('ann', PW);
	const feed = await addClient(srv, 'feed');
	const c = await checker(srv.base, feed, ['--max-stale', '60']);
	const t1 = await hybrid(srv, await srv.session('ann', PW));
	const t2 = await hybrid(srv, await srv.session('ann', PW));
	assert.match(await c.verify(t1), /^ok /);
	assert.match(await c.verify(t2), /^ok /);
	// one event before the restart, seen live
	const s1 = (await srv.me(await srv.session('ann', PW))).json_; // a third session
	assert.ok(s1);
	await stopClean(srv);
	// while the server is down, the CLI revokes every session of ann
	const r = await srv.cli(['sessions', 'revoke', '--user', 'ann']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(await c.verify(t1), /^ok /, 'nothing reached the verifier yet (server down)');
	const again = await server([], { port: srv.port, store: srv.store, admin: false, tmp: srv.tmp });
	const v = await c.until(t1, 15000);
	assert.equal(`${v.verdict} ${v.reason}`, 'invalid revoked', `after the restart: ${v.line}`);
	assert.match(await c.verify(t2), /^invalid revoked/, 'the second session too');
	const st = await c.stats();
	assert.ok(st.reconnects >= 2, `the verifier reconnected: ${JSON.stringify(st)}`);
	assert.equal(st.subscribed, 1);
	await again.stop();
});

test('a silent stream makes verification fail closed, and contact brings it back', { skip }, async () => {
	const srv = await server();
	await srv.addUser('bea', PW);
	const feed = await addClient(srv, 'feed');
	const c = await checker(srv.base, feed, ['--max-stale', '2']);
	const t = await hybrid(srv, await srv.session('bea', PW));
	assert.match(await c.verify(t), /^ok /);
	await sleep(2500); // pings every second keep it fresh
	assert.match(await c.verify(t), /^ok /, 'pings count as contact');
	process.kill(srv.proc.pid, 'SIGSTOP');
	try {
		const v = await c.until(t, 6000);
		assert.equal(`${v.verdict} ${v.reason}`, 'invalid stale', v.line);
		assert.ok(v.ms >= 1000, `not before the bound: ${v.ms} ms`);
	} finally {
		process.kill(srv.proc.pid, 'SIGCONT');
	}
	const back = await c.until(t, 15000, true);
	assert.equal(back.verdict, 'ok', `contact is back: ${back.line}`);
});

test('a server cut off from its store stops pinging, so its verifiers fail closed', { skip: skip || (!haveRedis && 'no redis-server') }, async () => {
	// A ping says "nothing was revoked that you have not seen": a server that cannot read
	// its store (here a frozen Redis, through which others might still revoke in a
	// partition) cannot say that, so it stays silent and the verifier goes stale.
	const redis = await startRedis();
	started.push(redis);
	const srv = await server([], { store: redis.url(0) });
	await srv.addUser('dan', PW);
	const feed = await addClient(srv, 'feed');
	const c = await checker(srv.base, feed, ['--max-stale', '3']);
	const t = await hybrid(srv, await srv.session('dan', PW));
	assert.match(await c.verify(t), /^ok /);
	await sleep(2000);
	assert.match(await c.verify(t), /^ok /, 'pinged while the store answers');
	redis.freeze();
	try {
		const v = await c.until(t, 10000);
		assert.equal(`${v.verdict} ${v.reason}`, 'invalid stale', v.line);
	} finally {
		redis.resume();
	}
	const back = await c.until(t, 15000, true);
	assert.equal(back.verdict, 'ok', `the store answers again: ${back.line}`);
});

test('a key rotation is picked up without restarting the verifier', { skip }, async () => {
	// the newcomer signs one JWKS lifetime after it is published (1 s here)
	const srv = await server(['--jwks-max-age', '1s']);
	await srv.addUser('cat', PW);
	const app = await addClient(srv, 'app');
	const c = await checker(srv.base, null, ['--kid-cooldown', '1', '--jwks-refresh', '3600']);
	const before = await passwordGrant(srv, 'cat', PW, {}, { client: app });
	assert.match(await c.verify(before.access_token), /^ok /);
	// the CLI computes when the newcomer signs from its own setting: give it the same
	const r = await srv.cli(['keys', 'rotate'], { env: { LATCHKEY_JWKS_MAX_AGE: '1s' } });
	assert.equal(r.code, 0, r.stderr);
	await sleep(1500);
	const afterRot = await passwordGrant(srv, 'cat', PW, {}, { client: app });
	const kid = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url')).kid;
	assert.notEqual(kid(afterRot.access_token), kid(before.access_token), 'the new key signs');
	const v = await c.until(afterRot.access_token, 5000, true);
	assert.equal(v.verdict, 'ok', `a token of the new key: ${v.line}`);
	assert.match(await c.verify(before.access_token), /^ok /, 'the old key stays published');
	assert.ok((await c.stats()).jwks_fetches >= 2);
});

test('wrong client credentials: the verifier refuses to start, naming the cause', { skip }, async () => {
	const srv = await server();
	const feed = await addClient(srv, 'feed');
	await assert.rejects(startChecker(srv.base, { id: feed.id, secret: 'x'.repeat(43) }),
		(e) => /401|invalid_client|credentials/i.test(e.message) && !e.message.includes(feed.secret));
	await assert.rejects(startChecker(`http://127.0.0.1:${srv.port + 0}/nope`, feed), /error/);
});
