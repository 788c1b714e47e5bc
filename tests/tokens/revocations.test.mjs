// SPDX-License-Identifier: MIT
// The revocation feed (SPEC "Revocation events"): GET /revocations (snapshot) and
// GET /revocations/stream (Server-Sent Events), both behind HTTP Basic client
// authentication. Every way of ending access produces its event on an open stream within a
// second: sign-out, DELETE /sessions/{id}, the admin's revoke-all, `latchkey sessions
// revoke` from another process, RFC 7009 revocation; a stream resumes with Last-Event-ID
// across a server restart without losing what was revoked while it was down; an idle
// stream gets `: ping` every revocation_ping seconds. Runs on SQLite and (run.sh with
// LATCHKEY_TEST_STORE=redis) on Redis.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import {
	startServer, addClient, passwordGrant, hybrid, decodeJwt, revokeReq, basic, waitFor, sleep,
	stopClean,
} from './lib.mjs';

let srv, rs, app;
const PW = {
	alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210', carl: 'carl-pw-0123456789',
	dina: 'dina-pw-0123456789', eve: 'eve-pw-0123456789',
};

before(async () => {
	srv = await startServer({ args: ['--revocation-ping', '1s'] });
	await Promise.all(Object.entries(PW).map(([u, p]) => srv.addUser(u, p)));
	rs = await addClient(srv, 'resource-server', 'read');
	app = await addClient(srv, 'app', 'read');
});

const session = (u, s = srv) => s.session(u, PW[u]);

// Events of an SSE text: [{id, cursor, type, value, expires, before?}].
function parseEvents(text) {
	const out = [];
	for (const block of text.split('\n\n')) {
		const id = /^id: (\d+)$/m.exec(block);
		const data = /^data: (.*)$/m.exec(block);
		if (id && data) out.push({ id: Number(id[1]), ...JSON.parse(data[1]) });
	}
	return out;
}

async function openStream(s, client, { headers = {}, query = '' } = {}) {
	const ac = new AbortController();
	const res = await fetch(`${s.base}/revocations/stream${query}`, {
		headers: { Authorization: basic(client.id, client.secret), Accept: 'text/event-stream', ...headers },
		signal: ac.signal,
	});
	const st = { res, text: '', ended: false, close: () => ac.abort() };
	st.done = (async () => {
		if (res.status !== 200) { st.text = await res.text(); return; }
		const reader = res.body.getReader();
		const dec = new TextDecoder();
		for (;;) {
			const { value, done } = await reader.read();
			if (done) { st.ended = true; return; }
			st.text += dec.decode(value, { stream: true });
		}
	})().catch(() => {});
	st.events = () => parseEvents(st.text);
	// the first event matching pred, within ms of now
	st.wait = (pred, what, ms = 1000) =>
		waitFor(() => st.events().find(pred), { ms, every: 10, what: `${what} on the stream` });
	return st;
}

test('both endpoints refuse a wrong client secret, or none, with 401 Basic invalid_client', async () => {
	for (const p of ['/revocations', '/revocations/stream']) {
		for (const auth of [basic(rs.id, 'wrong-secret'), basic('no-such-client', rs.secret), undefined]) {
			const res = await srv.fetch(p, { headers: auth ? { Authorization: auth } : {} });
			assert.equal(res.status, 401, `${p} with ${auth ? 'wrong' : 'no'} credentials`);
			assert.equal(res.headers.get('www-authenticate'), 'Basic realm="latchkey"');
			assert.equal(res.json_.error, 'invalid_client');
		}
	}
	const ok = await srv.fetch('/revocations', { headers: { Authorization: basic(rs.id, rs.secret) } });
	assert.equal(ok.status, 200, ok.text_);
});

test('the snapshot: {"cursor","events"} per SPEC, ?after filters, a bad cursor is 400', async () => {
	const g = await passwordGrant(srv, 'bob', PW.bob, {}, { client: app });
	const jti = decodeJwt(g.access_token).payload.jti;
	assert.equal((await revokeReq(srv, g.access_token, { client: app })).status, 200);
	const auth = { Authorization: basic(rs.id, rs.secret) };
	const res = await srv.fetch('/revocations', { headers: auth });
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type'), /^application\/json/);
	const { cursor, events } = res.json_;
	assert.deepEqual(Object.keys(res.json_).sort(), ['cursor', 'events']);
	assert.ok(Number.isInteger(cursor) && cursor > 0);
	const ev = events.find((e) => e.type === 'jti' && e.value === jti);
	assert.ok(ev, `the revoked jti is listed: ${res.text_}`);
	assert.deepEqual(Object.keys(ev).sort(), ['cursor', 'expires', 'type', 'value']);
	assert.ok(ev.cursor <= cursor);
	assert.ok(ev.expires >= decodeJwt(g.access_token).payload.exp, 'lasts as long as the token could');
	for (let i = 1; i < events.length; i++) assert.ok(events[i].cursor > events[i - 1].cursor, 'in cursor order');
	for (const e of events) {
		assert.ok(['jti', 'sid', 'sub'].includes(e.type));
		assert.equal('before' in e, e.type === 'sub', 'before only on sub');
	}
	const after = await srv.fetch(`/revocations?after=${ev.cursor - 1}`, { headers: auth });
	assert.deepEqual(after.json_.events.map((e) => e.cursor), events.filter((e) => e.cursor >= ev.cursor).map((e) => e.cursor));
	const none = await srv.fetch(`/revocations?after=${cursor}`, { headers: auth });
	assert.deepEqual(none.json_, { cursor, events: [] });
	// a cursor the store never reached (emptied, reset): everything again
	const beyond = await srv.fetch(`/revocations?after=${cursor + 1000}`, { headers: auth });
	assert.deepEqual(beyond.json_.events.map((e) => e.cursor), events.map((e) => e.cursor));
	for (const bad of ['x', '-1', '1.5', '']) {
		const r = await srv.fetch(`/revocations?after=${bad}`, { headers: auth });
		assert.equal(r.status, 400, `after=${bad}`);
		assert.equal(r.json_.error, 'invalid_request');
	}
});

test('every way of ending access reaches an open stream within a second, with the right type', async () => {
	const st = await openStream(srv, rs);
	assert.equal(st.res.status, 200);
	assert.match(st.res.headers.get('content-type'), /^text\/event-stream/);
	assert.equal(st.res.headers.get('cache-control'), 'no-store');
	assert.equal(st.res.headers.get('x-accel-buffering'), 'no');
	try {
		await sleep(100);
		const timed = async (what, act, pred) => {
			const t0 = Date.now();
			await act();
			const ev = await st.wait(pred, what, 1000);
			assert.ok(Date.now() - t0 <= 1000, `${what}: ${Date.now() - t0} ms`);
			assert.equal(ev.id, ev.cursor, 'id: is the cursor');
			return ev;
		};
		// sign-out: the sid event is the session's public id, which is the tokens' sid claim
		const c1 = await session('carl');
		const sid1 = (await srv.me(c1)).json_.session.id;
		assert.equal(decodeJwt(await hybrid(srv, c1)).payload.sid, sid1, 'the token claim sid is the session id');
		await timed('logout', async () => assert.equal((await srv.fetch('/logout', { method: 'POST', cookie: c1 })).status, 200),
			(e) => e.type === 'sid' && e.value === sid1);
		// DELETE /sessions/{id}
		const c2 = await session('carl'), c3 = await session('carl');
		const sid2 = (await srv.me(c2)).json_.session.id;
		await timed('DELETE /sessions/{id}', async () => assert.equal((await srv.fetch(`/sessions/${sid2}`, { method: 'DELETE', cookie: c3 })).status, 204),
			(e) => e.type === 'sid' && e.value === sid2);
		// the CLI, another process
		const sid3 = (await srv.me(c3)).json_.session.id;
		await timed('latchkey sessions revoke', async () => {
			const r = await srv.cli(['sessions', 'revoke', sid3]);
			assert.equal(r.code, 0, r.stderr);
		}, (e) => e.type === 'sid' && e.value === sid3);
		// the admin's revoke-all for one user: that user's session ends with a sid event
		const admin = await srv.session('admin', srv.adminPassword);
		const d1 = await session('dina');
		const sid4 = (await srv.me(d1)).json_.session.id;
		await timed('admin revoke-all', async () => {
			const res = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: { user: 'dina' } });
			assert.equal(res.status, 200, res.text_);
		}, (e) => e.type === 'sid' && e.value === sid4);
		// RFC 7009: an access token by its jti
		const g = await passwordGrant(srv, 'eve', PW.eve, {}, { client: app });
		const jti = decodeJwt(g.access_token).payload.jti;
		await timed('/oauth2/revoke', async () => assert.equal((await revokeReq(srv, g.access_token, { client: app })).status, 200),
			(e) => e.type === 'jti' && e.value === jti);
		const ids = st.events().map((e) => e.id);
		assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'events come in cursor order');
		assert.equal(new Set(ids).size, ids.length, 'no event twice');
	} finally {
		st.close();
	}
});

test('an idle stream gets ": ping" every revocation_ping seconds, and is counted in /metrics', async () => {
	const res0 = await srv.fetch('/revocations');
	assert.equal(res0.status, 401);
	const st = await openStream(srv, rs, { query: `?after=${1e12}` });
	try {
		assert.equal(st.res.status, 200);
		await waitFor(() => (st.text.match(/^: ping$/gm) || []).length >= 2, { ms: 4000, every: 20, what: 'two pings' });
		const m = await srv.fetch('/metrics');
		assert.match(m.text_, /^latchkey_revocation_streams [1-9]\d*$/m);
	} finally {
		st.close();
	}
	// the stream outlives conn_timeout: see the restart test (conn_timeout 2s there)
});

test('Last-Event-ID resumes across a restart: what the CLI revoked while the server was down arrives', async () => {
	const s1 = await startServer({ args: ['--revocation-ping', '1s', '--conn-timeout', '2s'] });
	try {
		await s1.addUser('fred', 'fred-pw-0123456789');
		const c = await addClient(s1, 'rs2', 'read');
		const a = await s1.session('fred', 'fred-pw-0123456789');
		const b = await s1.session('fred', 'fred-pw-0123456789');
		const sa = (await s1.me(a)).json_.session.id, sb = (await s1.me(b)).json_.session.id;
		const st = await openStream(s1, c);
		assert.equal((await s1.fetch('/logout', { method: 'POST', cookie: a })).status, 200);
		const ev = await st.wait((e) => e.value === sa, 'the first logout');
		await sleep(3000); // past conn_timeout: the stream is still open (pings)
		assert.equal(st.ended, false, 'the stream outlived conn_timeout');
		assert.match(st.text, /^: ping$/m, 'pinged meanwhile');
		st.close();
		const store = s1.store, tmp = s1.tmp;
		assert.equal((await s1.stop()).code, 0);
		// revoke while no server runs
		const r = await s1.cli(['sessions', 'revoke', sb]);
		assert.equal(r.code, 0, r.stderr);
		const s2 = await startServer({ store, tmp, args: ['--revocation-ping', '1s'] });
		try {
			const st2 = await openStream(s2, c, { headers: { 'Last-Event-ID': String(ev.id) } });
			const missed = await st2.wait((e) => e.value === sb, 'the revocation made while the server was down', 2000);
			assert.ok(missed.id > ev.id);
			assert.ok(!st2.events().some((e) => e.id <= ev.id), 'nothing before Last-Event-ID again');
			st2.close();
			const bad = await openStream(s2, c, { headers: { 'Last-Event-ID': 'abc' } });
			assert.equal(bad.res.status, 400);
		} finally {
			await stopClean(s2);
		}
	} finally {
		if (!s1.exited) await s1.stop();
	}
});

test('a server stopping ends its open streams at once', async () => {
	const s1 = await startServer({});
	const c = await addClient(s1, 'rs3', 'read');
	const st = await openStream(s1, c);
	assert.equal(st.res.status, 200);
	await sleep(100);
	const t0 = Date.now();
	const ex = await s1.stop();
	assert.equal(ex.code, 0);
	assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms with a stream open`);
	await st.done;
});
