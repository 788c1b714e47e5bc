// SPDX-License-Identifier: MIT
// Refresh tokens from the outside: rotation on every use, concurrent use of one token gets
// one successor, a used token inside the grace window returns that same successor, reuse
// after the window ends the whole family and its access tokens, refresh tokens expire,
// and the SQLite file never holds a refresh token in clear.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
	startServer, passwordGrant, refreshReq, decodeJwt, assertAccepted, assertRejected, untilServerSec,
	sqlitePath, isSqlite, fileBytes, sqlite3,
	stopClean,
} from './lib.mjs';

let srv;
const GRACE = 1; // --refresh-grace, seconds
const PW = { alice: 'alice-pw-0123456789', dave: 'dave-pw-0123456789' };
const seen = []; // every refresh token handed out, for the at-rest check

before(async () => {
	srv = await startServer({ args: ['--refresh-grace', `${GRACE}s`] });
	await srv.addUser('alice', PW.alice);
	await srv.addUser('dave', PW.dave);
});

async function grant(user = 'alice') {
	const b = await passwordGrant(srv, user, PW[user]);
	seen.push(b.refresh_token);
	return b;
}

async function refresh(rt) {
	const res = await refreshReq(srv, rt);
	assert.equal(res.status, 200, `refresh: ${res.status} ${res.text_}`);
	assert.match(res.json_.refresh_token, /^[A-Za-z0-9_-]{43}$/);
	srv.secrets.add(res.json_.refresh_token);
	seen.push(res.json_.refresh_token);
	return res.json_;
}

function assertInvalidGrant(res, what) {
	assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text_.slice(0, 80)}`);
	assert.equal(res.json_?.error, 'invalid_grant', what);
	assert.ok(!res.json_.access_token && !res.json_.refresh_token, `${what}: no tokens`);
}

test('rotation: every use returns a new refresh token and a new access token in the same family', async () => {
	const b0 = await grant();
	const b1 = await refresh(b0.refresh_token);
	const b2 = await refresh(b1.refresh_token);
	assert.equal(new Set([b0.refresh_token, b1.refresh_token, b2.refresh_token]).size, 3, 'rotated each time');
	const [c0, c1, c2] = [b0, b1, b2].map((b) => decodeJwt(b.access_token).payload);
	assert.equal(new Set([c0.jti, c1.jti, c2.jti]).size, 3);
	assert.equal(c1.sid, c0.sid, 'same family id');
	assert.equal(c2.sid, c0.sid);
	assert.equal(c2.sub, c0.sub);
	assert.equal(b1.expires_in, 900);
	assert.equal(b1.token_type, 'Bearer');
	for (const b of [b0, b1, b2]) await assertAccepted(srv, b.access_token);
});

test('three concurrent refreshes with one token get one successor', async () => {
	for (let round = 0; round < 5; round++) {
		const b0 = await grant();
		const rs = await Promise.all([0, 1, 2].map(() => refreshReq(srv, b0.refresh_token)));
		for (const r of rs) assert.equal(r.status, 200, `round ${round}: each concurrent refresh succeeds: ${r.status} ${r.text_}`);
		const rts = new Set(rs.map((r) => r.json_.refresh_token));
		const ats = new Set(rs.map((r) => r.json_.access_token));
		assert.equal(rts.size, 1, `round ${round}: one successor refresh token, got ${rts.size}`);
		assert.equal(ats.size, 1, `round ${round}: one access token, got ${ats.size}`);
		const [next] = rts;
		seen.push(next);
		srv.secrets.add(next);
		assert.notEqual(next, b0.refresh_token);
		await assertAccepted(srv, rs[0].json_.access_token);
		// the successor is a normal, live refresh token: it rotates once more
		const b2 = await refresh(next);
		await assertAccepted(srv, b2.access_token);
	}
});

test('inside the grace window a used refresh token returns the same successor again', async () => {
	const b0 = await grant();
	const b1 = await refresh(b0.refresh_token);
	const again = await refreshReq(srv, b0.refresh_token);
	assert.equal(again.status, 200, again.text_);
	assert.equal(again.json_.refresh_token, b1.refresh_token, 'the same successor');
	assert.equal(again.json_.access_token, b1.access_token, 'the same access token');
	await assertAccepted(srv, b1.access_token);
});

test('reuse after the grace window kills the family and every access token in it', async () => {
	const victim = await grant();
	const bystander = await grant(); // another family of the same user
	const other = await grant('dave');
	const b1 = await refresh(victim.refresh_token);
	const b2 = await refresh(b1.refresh_token); // the live head of the family
	const usedAt = decodeJwt(b1.access_token).payload.iat;
	await untilServerSec(usedAt + GRACE + 1, 'the grace window to pass');

	// the thief (or the victim) presents the old token
	assertInvalidGrant(await refreshReq(srv, victim.refresh_token), 'reused refresh token');
	// the whole family is gone: the live head too
	assertInvalidGrant(await refreshReq(srv, b2.refresh_token), 'the family\'s newest refresh token');
	assertInvalidGrant(await refreshReq(srv, b1.refresh_token), 'the family\'s middle refresh token');
	// and every access token it carries, on the very next request
	for (const [what, t] of [['first', victim.access_token], ['second', b1.access_token], ['newest', b2.access_token]])
		await assertRejected(srv, t, `${what} access token of the revoked family`);
	// other families are untouched
	await assertAccepted(srv, bystander.access_token, 'another family of the same user');
	await refresh(bystander.refresh_token);
	await assertAccepted(srv, other.access_token, 'another user');
	await refresh(other.refresh_token);
});

test('refresh tokens are not stored in clear in the SQLite file', { skip: !isSqlite(process.env.LATCHKEY_TEST_STORE || 'sqlite:') && 'the store is not SQLite' }, async () => {
	const db = sqlitePath(srv.store);
	const latest = await grant();
	const bytes = Buffer.concat([fileBytes(db), fileBytes(db + '-wal'), fileBytes(db + '-journal')]);
	assert.ok(bytes.length > 0);
	assert.ok(seen.length >= 10, 'a good number of tokens to look for');
	for (const rt of seen) {
		const raw = Buffer.from(rt, 'base64url');
		assert.equal(raw.length, 32);
		assert.equal(bytes.indexOf(Buffer.from(rt)), -1, 'the token text is not in the file');
		assert.equal(bytes.indexOf(raw), -1, 'the token bytes are not in the file');
		assert.equal(bytes.indexOf(Buffer.from(raw.toString('hex'))), -1, 'nor as lowercase hex');
		assert.equal(bytes.indexOf(Buffer.from(raw.toString('hex').toUpperCase())), -1, 'nor as uppercase hex');
	}
	// what is there is a hash of it
	const raw = Buffer.from(latest.refresh_token, 'base64url');
	const h = crypto.createHash('sha256').update(raw).digest('hex').toUpperCase();
	const rows = await sqlite3(db, 'SELECT hex(hash) FROM refresh;');
	assert.ok(rows.split('\n').includes(h), 'the refresh table holds SHA-256 of the token');
});

test('an expired refresh token -> invalid_grant (--refresh-ttl 2s)', async () => {
	const s2 = await startServer({ args: ['--refresh-ttl', '2s'] });
	await s2.addUser('erin', 'erin-pw-0123456789');
	const b0 = await passwordGrant(s2, 'erin', 'erin-pw-0123456789');
	const r1 = await refreshReq(s2, b0.refresh_token);
	assert.equal(r1.status, 200, 'fresh: it works');
	const created = decodeJwt(r1.json_.access_token).payload.iat;
	await untilServerSec(created + 2, 'the refresh token to expire');
	assertInvalidGrant(await refreshReq(s2, r1.json_.refresh_token), 'expired refresh token');
	await stopClean(s2);
});
