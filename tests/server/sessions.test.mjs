// SPDX-License-Identifier: MIT
// Sessions from the outside: fixation, the device list, revoking one / the others /
// everyone, ownership and role checks, password change over the CLI, the `sessions` and
// `audit` commands, and the database file holding no session secret in clear.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, isSqlite, sqlitePath, fileBytes, b64urlDecode, findSetCookie, cookieValue, sleep } from './lib.mjs';

let srv;
const PW = { alice: 'alice-pw-0123456789', bob: 'bob-pw-9876543210', carol: 'carol-pw-5555555555' };

before(async () => {
	srv = await startServer();
	await Promise.all(Object.entries(PW).map(([u, p]) => srv.addUser(u, p)));
});

const as = (user, opts) => srv.session(user, PW[user], opts);

test('fixation: sign-in never adopts a presented cookie and ends the session it names', async () => {
	const a = await as('alice');
	// signing in again while presenting the old cookie: a new id, the old one is dead
	const r = await srv.login('alice', PW.alice, { cookie: a });
	assert.equal(r.status, 200);
	assert.ok(r.cookie);
	assert.notEqual(r.cookie, a);
	assert.equal((await srv.me(a)).status, 401, 'the presented session ended');
	assert.equal((await srv.me(r.cookie)).status, 200);
	// an attacker-chosen, well-formed id is never adopted
	const planted = 'P'.repeat(43);
	const r2 = await srv.login('alice', PW.alice, { cookie: planted });
	assert.equal(r2.status, 200);
	assert.notEqual(r2.cookie, planted);
	assert.equal((await srv.me(planted)).status, 401);
	// every sign-in gets a fresh id
	const ids = new Set([a, r.cookie, r2.cookie, await as('alice'), await as('alice')]);
	assert.equal(ids.size, 5);
});

test('GET /sessions lists your devices with ip, user_agent and current', async () => {
	const c1 = await as('carol', { headers: { 'User-Agent': 'UA-one/1.0' } });
	const c2 = await as('carol', { headers: { 'User-Agent': 'UA-two/2.0' } });
	const res = await srv.fetch('/sessions', { cookie: c1, headers: { 'User-Agent': 'UA-one/1.0' } });
	assert.equal(res.status, 200);
	const list = res.json_;
	assert.equal(list.length, 2);
	const me = (await srv.me(c1)).json_;
	for (const s of list) {
		assert.deepEqual(Object.keys(s).sort(), ['created', 'current', 'id', 'ip', 'last_seen', 'user_agent']);
		assert.equal(s.ip, '127.0.0.1');
		assert.match(s.id, /^[A-Za-z0-9_-]{22}$/);
		assert.ok(![c1, c2].includes(s.id), 'the id is a public handle, not the cookie');
	}
	const cur = list.filter((s) => s.current);
	assert.equal(cur.length, 1);
	assert.equal(cur[0].id, me.session.id);
	assert.equal(cur[0].user_agent, 'UA-one/1.0');
	assert.equal(list.find((s) => !s.current).user_agent, 'UA-two/2.0');
	// the other device sees the same two, with itself current
	const l2 = (await srv.fetch('/sessions', { cookie: c2 })).json_;
	assert.equal(l2.find((s) => s.current).user_agent, 'UA-two/2.0');
});

test('DELETE /sessions/{id}: revoke one of yours; another user\'s gives 404', async () => {
	const a1 = await as('alice'), a2 = await as('alice');
	const b1 = await as('bob');
	const bobId = (await srv.me(b1)).json_.session.id;
	const a2Id = (await srv.me(a2)).json_.session.id;

	const other = await srv.fetch(`/sessions/${bobId}`, { method: 'DELETE', cookie: a1 });
	assert.equal(other.status, 404);
	assert.equal(other.json_.error, 'not_found');
	assert.equal((await srv.me(b1)).status, 200, 'bob\'s session is untouched');
	assert.equal((await srv.fetch('/sessions/not-a-handle', { method: 'DELETE', cookie: a1 })).status, 404);

	const del = await srv.fetch(`/sessions/${a2Id}`, { method: 'DELETE', cookie: a1 });
	assert.equal(del.status, 204);
	assert.equal((await srv.me(a2)).status, 401, 'the revoked device is signed out');
	assert.equal((await srv.me(a1)).status, 200, 'the revoking device is not');
	assert.equal((await srv.fetch(`/sessions/${a2Id}`, { method: 'DELETE', cookie: a1 })).status, 404, 'gone');

	// revoking the current session clears its cookie
	const a1Id = (await srv.me(a1)).json_.session.id;
	const self = await srv.fetch(`/sessions/${a1Id}`, { method: 'DELETE', cookie: a1 });
	assert.equal(self.status, 204);
	assert.equal(cookieValue(findSetCookie(self, srv.cookieName)), '');
	assert.equal((await srv.me(a1)).status, 401);
});

test('POST /sessions/revoke-others keeps only the current session', async () => {
	const cs = [await as('bob'), await as('bob'), await as('bob')];
	const before_ = (await srv.fetch('/sessions', { cookie: cs[0] })).json_.length;
	const r = await srv.fetch('/sessions/revoke-others', { method: 'POST', cookie: cs[0] });
	assert.equal(r.status, 200);
	// the count of sessions, and of refresh-token families (bob has none here)
	assert.deepEqual(r.json_, { revoked: before_ - 1, refresh_families: 0 });
	assert.equal((await srv.me(cs[0])).status, 200);
	assert.equal((await srv.me(cs[1])).status, 401);
	assert.equal((await srv.me(cs[2])).status, 401);
	const list = (await srv.fetch('/sessions', { cookie: cs[0] })).json_;
	assert.equal(list.length, 1);
	assert.equal(list[0].current, true);
});

test('non-admins get 403 from POST /admin/revoke-all and GET /admin', async () => {
	const c = await as('carol');
	const r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: c });
	assert.equal(r.status, 403);
	assert.equal(r.json_.error, 'forbidden');
	assert.equal((await srv.fetch('/admin', { cookie: c })).status, 403);
	assert.equal((await srv.me(c)).status, 200, 'nothing was revoked');
	const adm = await srv.session('admin', srv.adminPassword);
	const page = await srv.fetch('/admin', { cookie: adm });
	assert.equal(page.status, 200);
	assert.match(page.text_, /carol/);
});

test('password change (`latchkey user passwd`) ends that user\'s sessions at once', async () => {
	const c1 = await as('carol'), c2 = await as('carol');
	const b = await as('bob');
	const newPw = 'carol-new-pw-4242424242';
	srv.secrets.add(newPw);
	const r = await srv.cli(['user', 'passwd', 'carol'], { input: newPw + '\n' });
	assert.equal(r.code, 0, r.stderr);
	assert.equal((await srv.me(c1)).status, 401);
	assert.equal((await srv.me(c2)).status, 401);
	assert.equal((await srv.me(b)).status, 200, 'other users keep their sessions');
	assert.equal((await srv.login('carol', PW.carol)).status, 401, 'old password refused');
	PW.carol = newPw;
	assert.equal((await srv.login('carol', newPw)).status, 200, 'new password works');
});

test('the account page revokes a device by form (with its CSRF token)', async () => {
	const keep = await as('alice', { headers: { 'User-Agent': 'curl/8.5.0' } });
	const gone = await as('alice', { headers: { 'User-Agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0' } });
	const goneId = (await srv.me(gone)).json_.session.id;
	const page = await srv.fetch('/account', { cookie: keep });
	assert.equal(page.status, 200);
	// devices are named from their user agents, the current one marked
	assert.match(page.text_, /<span class="device">Firefox 128 on Windows<\/span><\/td>/);
	assert.match(page.text_, /<span class="device">curl 8<\/span> <strong class="badge">This device<\/strong>/);
	const tok = page.text_.match(/action="\/account\/revoke"><input type="hidden" name="csrf" value="([^"]+)">/)[1];
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	let r = await srv.fetch('/account/revoke', { method: 'POST', cookie: keep, headers: form, body: `id=${goneId}` });
	assert.equal(r.status, 403, 'no token');
	assert.equal((await srv.me(gone)).status, 200);
	r = await srv.fetch('/account/revoke', { method: 'POST', cookie: keep, headers: form, body: `csrf=${tok}&id=${goneId}` });
	assert.equal(r.status, 303);
	assert.equal(r.headers.get('location'), '/account?done=revoked');
	assert.equal((await srv.me(gone)).status, 401);
	assert.equal((await srv.me(keep)).status, 200);
});

test('deleting a user (`latchkey user del`) ends its sessions; it cannot sign in', async () => {
	await srv.addUser('dave', 'dave-pw-1231231231');
	const d = await srv.session('dave', 'dave-pw-1231231231');
	const r = await srv.cli(['user', 'del', 'dave']);
	assert.equal(r.code, 0, r.stderr);
	assert.equal((await srv.me(d)).status, 401);
	assert.equal((await srv.login('dave', 'dave-pw-1231231231')).status, 401);
	assert.equal((await srv.cli(['user', 'del', 'dave'])).code, 1, 'deleting again: not found');
});

test('`latchkey sessions list` and `sessions revoke ID | --user NAME`', async () => {
	const b = await as('bob', { headers: { 'User-Agent': 'cli-probe/1' } });
	const bobId = (await srv.me(b)).json_.session.id;
	const l = await srv.cli(['sessions', 'list', '--user', 'bob', '--json']);
	assert.equal(l.code, 0, l.stderr);
	const list = JSON.parse(l.stdout);
	const row = list.find((s) => s.id === bobId);
	assert.ok(row, 'the session is listed');
	assert.equal(row.user, 'bob');
	assert.equal(row.ip, '127.0.0.1');
	assert.equal(row.user_agent, 'cli-probe/1');
	assert.ok(list.every((s) => s.user === 'bob'));
	assert.ok(!l.stdout.includes(b), 'the listing never shows the cookie');
	const text = await srv.cli(['sessions', 'list']);
	assert.equal(text.code, 0);
	assert.match(text.stdout, new RegExp(bobId));

	const rv = await srv.cli(['sessions', 'revoke', bobId]);
	assert.equal(rv.code, 0, rv.stderr);
	assert.match(rv.stdout, /revoked 1 session/);
	assert.equal((await srv.me(b)).status, 401, 'revoked from the CLI, seen over HTTP');
	const again = await srv.cli(['sessions', 'revoke', bobId]);
	assert.equal(again.code, 1, 'a revoked id is not found');

	const b2 = await as('bob'), a = await as('alice');
	const ru = await srv.cli(['sessions', 'revoke', '--user', 'bob']);
	assert.equal(ru.code, 0, ru.stderr);
	assert.equal((await srv.me(b2)).status, 401);
	assert.equal((await srv.me(a)).status, 200);
	assert.equal((await srv.cli(['sessions', 'revoke'])).code, 2, 'usage error');
});

test('session secrets are absent from the database file', async (t) => {
	if (!isSqlite(srv.store)) return t.skip('sqlite store only');
	const cookies = [];
	for (let i = 0; i < 4; i++) cookies.push(await as('alice'));
	for (const c of cookies) assert.equal((await srv.me(c)).status, 200);
	const dbPath = sqlitePath(srv.store);
	const bytes = Buffer.concat([fileBytes(dbPath), fileBytes(dbPath + '-wal')]);
	assert.ok(bytes.length > 4096, 'the database exists');
	const text = bytes.toString('latin1');
	// positive control: the public handle of each session is in the file we read
	for (const c of cookies) {
		const id = (await srv.me(c)).json_.session.id;
		assert.ok(text.includes(id), 'the session rows are in the bytes read');
	}
	for (const c of cookies) {
		assert.ok(!text.includes(c), 'cookie text in the database');
		const raw = b64urlDecode(c);
		assert.equal(raw.length, 32);
		assert.equal(bytes.indexOf(raw), -1, 'raw 32-byte secret in the database');
	}
	for (const p of Object.values(PW)) assert.ok(!text.includes(p), 'a password in clear in the database');
	assert.ok(!text.includes(srv.adminPassword), 'the admin password in clear in the database');
});

test('admin POST /admin/revoke-all: one user, then everyone', async () => {
	const adm = await srv.session('admin', srv.adminPassword);
	const a = await as('alice'), b = await as('bob');
	let r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: adm, json: { user: 'bob' } });
	assert.equal(r.status, 200);
	assert.ok(r.json_.revoked >= 1);
	assert.equal((await srv.me(b)).status, 401);
	assert.equal((await srv.me(a)).status, 200);
	assert.equal((await srv.me(adm)).status, 200, 'revoking bob does not sign the admin out');
	r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: adm, json: { user: 'no-such-user' } });
	assert.equal(r.status, 404);

	// the admin page's form, with its CSRF token, for one user
	const a2 = await as('alice');
	const page = await srv.fetch('/admin', { cookie: adm });
	const tok = page.text_.match(/action="\/admin\/revoke-all"><input type="hidden" name="csrf" value="([^"]+)">/)[1];
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: adm, headers: form, body: 'user=alice' });
	assert.equal(r.status, 403, 'form without token');
	r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: adm, headers: form, body: `csrf=${tok}&user=alice` });
	assert.equal(r.status, 303);
	assert.equal(r.headers.get('location'), '/admin?done=user');
	assert.equal((await srv.me(a2)).status, 401);
	assert.equal((await srv.me(a)).status, 401);
	assert.equal((await srv.me(adm)).status, 200);

	const a3 = await as('alice');
	const b2 = await as('bob');
	r = await srv.fetch('/admin/revoke-all', { method: 'POST', cookie: adm });
	assert.equal(r.status, 200);
	assert.ok(r.json_.revoked >= 3);
	assert.equal(cookieValue(findSetCookie(r, srv.cookieName)), '', 'the admin\'s own cookie is cleared');
	for (const c of [a3, b2, adm]) assert.equal((await srv.me(c)).status, 401);
	const m = (await srv.fetch('/metrics')).text_;
	assert.match(m, /^latchkey_sessions_live 0$/m);
});

test('`latchkey audit list --json` records the events', async () => {
	// a logout and a failed sign-in of our own, so the log has each kind
	const c = await as('alice');
	await srv.fetch('/logout', { method: 'POST', cookie: c });
	await srv.login('alice', 'definitely-wrong-pw');
	await as('alice');
	const r = await srv.cli(['audit', 'list', '--limit', '500', '--json']);
	assert.equal(r.code, 0, r.stderr);
	const events = JSON.parse(r.stdout);
	const kinds = new Set(events.map((e) => e.event));
	for (const k of ['user_add', 'login', 'login_failed', 'logout', 'revoke', 'revoke_others', 'revoke_all', 'password_changed'])
		assert.ok(kinds.has(k), `audit has a "${k}" event (has: ${[...kinds].join(', ')})`);
	const e = events.find((x) => x.event === 'login_failed');
	assert.equal(e.user, 'alice');
	assert.equal(e.ip, '127.0.0.1');
	for (const k of ['id', 'ts', 'event', 'user', 'ip', 'detail']) assert.ok(k in e, `field ${k}`);
	for (const s of srv.secrets) assert.ok(!r.stdout.includes(s), 'no secret in the audit log');
	const txt = await srv.cli(['audit', 'list']);
	assert.equal(txt.code, 0);
	assert.match(txt.stdout, /login_failed/);
});

test('no cookie value or password ever appears in stdout/stderr', async () => {
	await sleep(100);
	assert.deepEqual(srv.leaks(), []);
});

// A form sign-in's return_to must be a path on this origin; anything a browser could read
// as another host ("//host", "/\\host", or with a TAB or other control it strips) is
// ignored and the sign-in lands on /account.
test('form sign-in: return_to with //, a backslash or a control character lands on /account', async () => {
	const signIn = async (returnTo) => {
		const page = await srv.fetch('/login?return_to=' + encodeURIComponent(returnTo));
		assert.equal(page.status, 200);
		const csrfCookie = cookieValue(findSetCookie(page, srv.csrfCookieName));
		const token = page.text_.match(/name="csrf" value="([^"]+)"/)[1];
		const res = await srv.fetch('/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${srv.csrfCookieName}=${csrfCookie}` },
			body: new URLSearchParams({ csrf: token, return_to: returnTo, username: 'carol', password: PW.carol }).toString(),
		});
		assert.equal(res.status, 303, `return_to ${JSON.stringify(returnTo)}: ${res.status} ${res.text_.slice(0, 200)}`);
		const sc = findSetCookie(res, srv.cookieName);
		assert.ok(sc, `signed in (return_to ${JSON.stringify(returnTo)})`);
		srv.secrets.add(cookieValue(sc));
		return res.headers.get('location');
	};
	// a same-origin path is honoured (the control)
	assert.equal(await signIn('/sessions'), '/sessions');
	for (const [what, rt] of [
		['/%09/evil.example (TAB)', '/\t/evil.example'],
		['/%5Cevil.example (backslash)', '/\\evil.example'],
		['//evil.example', '//evil.example'],
		['/\\/evil.example', '/\\/evil.example'],
		['a newline', '/\n/evil.example'],
		['a carriage return', '/\r/evil.example'],
		['a space', '/ /evil.example'],
		['DEL (0x7f)', '/\x7f/evil.example'],
		['a backslash later on', '/x\\y'],
		['an absolute URL', 'http://evil.example/'],
	])
		assert.equal(await signIn(rt), '/account', `return_to ${what}`);
});
