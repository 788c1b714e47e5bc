// SPDX-License-Identifier: MIT
// Three `latchkey serve` instances on one Redis behind nginx (round-robin): a sign-in
// through one is good at the others, cookies and tokens alike; a revocation made through
// one instance (sign-out, DELETE /sessions/{id}, /oauth2/revoke, the CLI, a password
// change) is refused by every instance at its next request and reaches an open
// revocation stream on another instance; a key rotated by the CLI is published by every
// instance at once and signs everywhere after jwks_max_age; Redis holds no secret.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startCluster, onAll, haveNginx, haveRedis, passwordGrant, refreshReq, hybrid, verifyReq, meReq,
	revokeReq, addClient, tokenReq, active, kidOf, decodeJwt, jwks, waitFor, sleep, basic, findSetCookie,
	cookieValue, redisCall, cli,
} from './lib.mjs';

const skip = (!haveRedis && 'redis-server is not installed') || (!haveNginx && 'nginx is not installed');
const JWKS_MAX_AGE = 2;
const PW = {
	alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210', carol: 'carol-pw-0123456789',
	dave: 'dave-pw-0123456789', erin: 'erin-pw-0123456789', fay: 'fay-pw-0123456789',
};
let C, A, B, Cc, all, rs, app;

before(async () => {
	if (skip) return;
	// `rs` introspects every client's tokens (RFC 7662 §4); `app` is the client users sign
	// in through, so its tokens can be revoked by it (RFC 7009 §2.1)
	C = await startCluster({ config: [`jwks_max_age = ${JWKS_MAX_AGE}s`, 'refresh_grace = 1s',
		'resource_servers = resource-server'] });
	[A, B, Cc] = C.nodes;
	all = C.nodes;
	for (const [u, p] of Object.entries(PW)) await C.addUser(u, p);
	rs = await addClient(A, 'resource-server', 'read');
	app = await addClient(A, 'app', '');
});

const statuses = (rs_) => rs_.map((r) => r.status);
const where = (res) => res.headers.get('x-upstream');

// The statuses at A, B and C, asked at once.
const meEverywhere = (cookie) => onAll(all, (s) => s.me(cookie)).then(statuses);
const verifyEverywhere = (token) => onAll(all, (s) => verifyReq(s, token)).then(statuses);
const bearerMeEverywhere = (token) => onAll(all, (s) => meReq(s, token)).then(statuses);

test('nginx spreads requests over all three instances', { skip }, async () => {
	const seen = new Set();
	for (let i = 0; i < 6; i++) {
		const res = await C.proxy.fetch('/healthz');
		assert.equal(res.status, 200);
		seen.add(where(res));
	}
	assert.deepEqual([...seen].sort(), all.map((s) => `127.0.0.1:${s.port}`).sort(),
		'round-robin reached every instance');
});

test('a sign-in through the proxy: the cookie works directly at every instance; sessions and tokens are shared', { skip }, async () => {
	const r = await C.proxy.login('alice', PW.alice);
	assert.equal(r.status, 200, r.res.text_);
	assert.ok(r.cookie, 'a session cookie through the proxy');
	assert.deepEqual(await meEverywhere(r.cookie), [200, 200, 200]);
	// the session list is the same everywhere, and names one current session
	const lists = await onAll(all, (s) => s.fetch('/sessions', { cookie: r.cookie }));
	const ids = lists.map((l) => l.json_.filter((x) => x.current).map((x) => x.id));
	assert.deepEqual(ids, [ids[0], ids[0], ids[0]]);
	assert.equal(ids[0].length, 1);
	// a hybrid token minted at B verifies at A and C; same sub and sid everywhere
	const h = await hybrid(B, r.cookie);
	assert.deepEqual(await verifyEverywhere(h), [200, 200, 200]);
	const mes = await onAll(all, (s) => meReq(s, h));
	assert.deepEqual(new Set(mes.map((m) => m.json_.sub)).size, 1);
	assert.equal(decodeJwt(h).payload.sid, ids[0][0], 'sid is the public session id');
	// a password grant at C: its access token verifies everywhere, its refresh token
	// rotates at A, and the new access token verifies everywhere too
	const g = await passwordGrant(Cc, 'alice', PW.alice);
	assert.deepEqual(await verifyEverywhere(g.access_token), [200, 200, 200]);
	const n = await refreshReq(A, g.refresh_token);
	assert.equal(n.status, 200, n.text_);
	assert.deepEqual(await bearerMeEverywhere(n.json_.access_token), [200, 200, 200]);
	// the iss every instance writes is the public issuer (the proxy)
	assert.equal(decodeJwt(g.access_token).payload.iss, C.issuer);
	assert.equal(decodeJwt(h).payload.iss, C.issuer);
	// a CSRF token from one instance's sign-in form is good at another
	const form = await A.fetch('/login');
	const csrf = form.text_.match(/name="csrf" value="([^"]+)"/)?.[1];
	assert.ok(csrf, 'the sign-in form carries a CSRF token');
	const setc = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
	const post = await B.fetch('/login', {
		method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(setc ? { Cookie: setc } : {}) },
		body: new URLSearchParams({ username: 'alice', password: PW.alice, csrf }).toString(),
	});
	assert.equal(post.status, 303, `form sign-in at B with A's form: ${post.status} ${post.text_.slice(0, 200)}`);
	const fc = cookieValue(findSetCookie(post, B.cookieName));
	assert.deepEqual(await meEverywhere(fc), [200, 200, 200]);
});

test('a refresh token is single-use across instances: reuse at another instance past the grace window kills the family everywhere', { skip }, async () => {
	const g = await passwordGrant(A, 'bob', PW.bob);
	const n1 = await refreshReq(B, g.refresh_token);
	assert.equal(n1.status, 200, n1.text_);
	await sleep(2100); // past refresh_grace = 1s, on whole seconds
	const again = await refreshReq(Cc, g.refresh_token);
	assert.equal(again.status, 400, `reuse at C: ${again.text_}`);
	assert.equal(again.json_.error, 'invalid_grant');
	// the whole family is gone at every instance
	const live = await refreshReq(A, n1.json_.refresh_token);
	assert.equal(live.status, 400, `the family's live token at A after reuse: ${live.text_}`);
	assert.deepEqual(await verifyEverywhere(n1.json_.access_token), [401, 401, 401]);
});

test('one refresh token presented at A, B and C at once: one successor, the same at all three', { skip }, async () => {
	for (let round = 0; round < 3; round++) {
		const g = await passwordGrant(B, 'bob', PW.bob);
		const rs_ = await onAll(all, (s) => refreshReq(s, g.refresh_token));
		for (const r of rs_) assert.equal(r.status, 200, `round ${round}: ${r.status} ${r.text_}`);
		assert.equal(new Set(rs_.map((r) => r.json_.refresh_token)).size, 1, `round ${round}: one successor refresh token`);
		assert.equal(new Set(rs_.map((r) => r.json_.access_token)).size, 1, `round ${round}: one access token`);
		const next = rs_[0].json_.refresh_token;
		const again = await refreshReq(Cc, next);
		assert.equal(again.status, 200, `the successor rotates once more: ${again.text_}`);
	}
});

test('sign-out through C: every instance refuses the cookie and its hybrid tokens at the next request', { skip }, async () => {
	const cookie = await A.session('carol', PW.carol);
	const h = await hybrid(A, cookie);
	// warm every instance's session cache and verify cache
	assert.deepEqual(await meEverywhere(cookie), [200, 200, 200]);
	assert.deepEqual(await verifyEverywhere(h), [200, 200, 200]);
	const out = await Cc.fetch('/logout', { method: 'POST', cookie });
	assert.ok([200, 204, 303].includes(out.status), `logout: ${out.status} ${out.text_}`);
	assert.deepEqual(await meEverywhere(cookie), [401, 401, 401]);
	assert.deepEqual(await verifyEverywhere(h), [401, 401, 401]);
	const p = await C.proxy.me(cookie);
	assert.equal(p.status, 401, 'through the proxy too');
});

test('DELETE /sessions/{id} through C: the other session is refused everywhere at once', { skip }, async () => {
	const victim = await A.session('dave', PW.dave);
	const h = await hybrid(B, victim);
	const admin = await B.session('dave', PW.dave);
	assert.deepEqual(await meEverywhere(victim), [200, 200, 200]);
	assert.deepEqual(await verifyEverywhere(h), [200, 200, 200]);
	const id = (await A.me(victim)).json_.session.id;
	const del = await Cc.fetch(`/sessions/${id}`, { method: 'DELETE', cookie: admin });
	assert.ok([200, 204].includes(del.status), `DELETE /sessions/${id}: ${del.status} ${del.text_}`);
	assert.deepEqual(await meEverywhere(victim), [401, 401, 401]);
	assert.deepEqual(await verifyEverywhere(h), [401, 401, 401]);
	assert.deepEqual(await meEverywhere(admin), [200, 200, 200], 'the session that revoked lives on');
});

test('/oauth2/revoke through C: an access token, then a refresh family, refused at every instance at once', { skip }, async () => {
	const g = await passwordGrant(A, 'erin', PW.erin, {}, { client: app });
	const other = await passwordGrant(B, 'erin', PW.erin, {}, { client: app });
	assert.deepEqual(await verifyEverywhere(g.access_token), [200, 200, 200]);
	assert.equal((await revokeReq(Cc, g.access_token, { client: app })).status, 200);
	assert.deepEqual(await verifyEverywhere(g.access_token), [401, 401, 401]);
	assert.deepEqual(await bearerMeEverywhere(g.access_token), [401, 401, 401]);
	// the refresh token lives on (only the jti was revoked): rotate at B
	const n = await refreshReq(B, g.refresh_token, { client: app });
	assert.equal(n.status, 200, n.text_);
	assert.deepEqual(await verifyEverywhere(n.json_.access_token), [200, 200, 200]);
	for (const s of [A, B]) assert.equal(await active(s, rs, n.json_.access_token), true, `introspection at ${s.port}`);
	// now the family, through C
	assert.equal((await revokeReq(Cc, n.json_.refresh_token, { client: app })).status, 200);
	assert.deepEqual(await verifyEverywhere(n.json_.access_token), [401, 401, 401]);
	const r = await refreshReq(A, n.json_.refresh_token, { client: app });
	assert.equal(r.status, 400, r.text_);
	assert.equal(r.json_.error, 'invalid_grant');
	// introspection at A and B says so too; another family of the same user is untouched
	for (const s of [A, B]) assert.equal(await active(s, rs, n.json_.access_token), false, `introspection at ${s.port}`);
	assert.deepEqual(await verifyEverywhere(other.access_token), [200, 200, 200]);
});

test('`latchkey sessions revoke ID --store redis://`: every instance refuses that session at the next request', { skip }, async () => {
	const cookie = await Cc.session('fay', PW.fay);
	const keep = await A.session('fay', PW.fay);
	const h = await hybrid(Cc, cookie);
	assert.deepEqual(await meEverywhere(cookie), [200, 200, 200]);
	assert.deepEqual(await verifyEverywhere(h), [200, 200, 200]);
	const id = (await B.me(cookie)).json_.session.id;
	const list = await C.cli(['sessions', 'list', '--user', 'fay', '--json']);
	assert.equal(list.code, 0, list.stderr);
	assert.ok(list.stdout.includes(id), `the CLI lists the session ${id}: ${list.stdout}`);
	const r = await cli(['sessions', 'revoke', id, '--store', C.store]);
	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(await meEverywhere(cookie), [401, 401, 401]);
	assert.deepEqual(await verifyEverywhere(h), [401, 401, 401]);
	assert.deepEqual(await meEverywhere(keep), [200, 200, 200]);
	// a password change from the CLI ends the rest, everywhere
	const g = await passwordGrant(B, 'fay', PW.fay);
	const pw = await C.cli(['user', 'passwd', 'fay'], { input: 'fay-new-pw-0123456789\n' });
	assert.equal(pw.code, 0, pw.stderr);
	assert.deepEqual(await meEverywhere(keep), [401, 401, 401]);
	assert.deepEqual(await verifyEverywhere(g.access_token), [401, 401, 401]);
	const rr = await refreshReq(A, g.refresh_token);
	assert.equal(rr.status, 400, rr.text_);
});

test('a revocation made through C reaches an open /revocations/stream on A within a second', { skip }, async () => {
	const g = await passwordGrant(B, 'alice', PW.alice, {}, { client: app });
	const jti = decodeJwt(g.access_token).payload.jti;
	const ac = new AbortController();
	const res = await fetch(`${A.base}/revocations/stream`, {
		headers: { Authorization: basic(rs.id, rs.secret), Accept: 'text/event-stream' }, signal: ac.signal,
	});
	assert.equal(res.status, 200);
	const reader = res.body.getReader();
	const dec = new TextDecoder();
	let text = '';
	const seen = (async () => {
		for (;;) {
			const { value, done } = await reader.read();
			if (done) return false;
			text += dec.decode(value, { stream: true });
			if (text.includes(jti)) return true;
		}
	})().catch(() => false);
	await sleep(200); // the stream is open and has sent its snapshot
	const t0 = Date.now();
	assert.equal((await revokeReq(Cc, g.access_token, { client: app })).status, 200);
	const got = await Promise.race([seen, sleep(3000).then(() => false)]);
	const ms = Date.now() - t0;
	ac.abort();
	assert.ok(got, `the jti revoked at C appeared on A's stream (after ${ms} ms): ${text.slice(-300)}`);
	assert.ok(ms <= 1500, `within a second (took ${ms} ms)`);
});

test('`latchkey keys rotate` on the shared store: every instance publishes the new kid at its next request and signs with it after jwks_max_age', { skip }, async () => {
	const svc = rs;
	const cc = async (s) => {
		const res = await tokenReq(s, { grant_type: 'client_credentials' }, { client: svc });
		assert.equal(res.status, 200, res.text_);
		return res.json_.access_token;
	};
	const before_ = await onAll(all, jwks);
	const k0s = before_.map((j) => j.kids.slice().sort().join(','));
	assert.deepEqual(k0s, [k0s[0], k0s[0], k0s[0]], 'one key ring everywhere');
	assert.match(before_[0].res.headers.get('cache-control') || '', new RegExp(`max-age=${JWKS_MAX_AGE}\\b`));
	const old = await cc(A);
	const k0 = kidOf(old);
	const r = await C.cli(['keys', 'rotate']);
	assert.equal(r.code, 0, r.stderr);
	const after_ = await onAll(all, jwks);
	const fresh = after_.map((j) => j.kids.filter((k) => !before_[0].kids.includes(k)));
	assert.equal(fresh[0].length, 1, `one new kid at A: ${after_[0].kids}`);
	assert.deepEqual(fresh, [fresh[0], fresh[0], fresh[0]], 'the new kid at every instance at once');
	const k1 = fresh[0][0];
	// within jwks_max_age (+ a second of clock granularity) every instance signs with k1
	await waitFor(async () => {
		const kids = await onAll(all, async (s) => kidOf(await cc(s)));
		return kids.every((k) => k === k1);
	}, { ms: (JWKS_MAX_AGE + 4) * 1000, every: 200, what: `every instance signing with ${k1}` });
	// old tokens still verify everywhere, new ones too
	assert.equal(kidOf(old), k0);
	assert.deepEqual(await verifyEverywhere(old), [200, 200, 200]);
	assert.deepEqual(await verifyEverywhere(await cc(B)), [200, 200, 200]);
	assert.ok((await onAll(all, jwks)).every((j) => j.kids.includes(k0) && j.kids.includes(k1)),
		'the old key stays published while its tokens live');
});

test('Redis holds no secret: no key or value contains a session cookie, refresh token or password', { skip }, async () => {
	const cookie = await B.session('alice', PW.alice);
	const g = await passwordGrant(A, 'alice', PW.alice);
	const secrets = [cookie, g.refresh_token, PW.alice, rs.secret];
	const keys = await redisCall(C.redis.port, 'KEYS', 'lk:*');
	assert.ok(keys.length > 10, `keys in Redis: ${keys.length}`);
	let dump = keys.join('\n');
	for (const k of keys) {
		const type = await redisCall(C.redis.port, 'TYPE', k);
		const v = type === 'string' ? [await redisCall(C.redis.port, 'GET', k)]
			: type === 'hash' ? await redisCall(C.redis.port, 'HGETALL', k)
			: type === 'set' ? await redisCall(C.redis.port, 'SMEMBERS', k)
			: type === 'zset' ? await redisCall(C.redis.port, 'ZRANGE', k, 0, -1)
			: type === 'list' ? await redisCall(C.redis.port, 'LRANGE', k, 0, -1) : [];
		dump += '\n' + v.join('\n');
	}
	for (const s of secrets) assert.ok(!dump.includes(s), `a secret (${s.length} chars) is stored in Redis`);
	assert.deepEqual(C.leaks(), [], 'no secret in any instance\'s output');
});

test('every instance stops cleanly on SIGTERM: exit 0, no sanitizer report, no secret in the logs', { skip }, async () => {
	await C.stopClean();
});
