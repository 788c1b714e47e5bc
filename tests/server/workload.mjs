// SPDX-License-Identifier: MIT
// The fault-injection workload, shared by the tests that break something under load
// (tests/server/faults.test.mjs: kill -9, Redis frozen and restarted, a full disk;
// tests/rcluster: a Sentinel failover, a Redis Cluster resharding and failover): concurrent
// clients sign in, use and end their sessions, obtain tokens with the password grant,
// rotate and revoke refresh tokens, revoke access tokens and verify them; every answer is
// recorded client-side, and afterwards checkInvariants() checks a server on the same store
// against what was acknowledged. The invariants and the standards that fix them are listed
// at the top of faults.test.mjs.
import assert from 'node:assert/strict';
import {
	pool, sleep, addClient, tokenReq, refreshReq, revokeReq, verifyReq, hybridReq, decodeJwt,
	untilServerSec, startServer, stopClean,
} from '../tokens/lib.mjs';

export const GRACE = 10;                 // SPEC: the refresh grace window, seconds (the default)
const RETRY_WITHIN_MS = 8000;     // retry an unknown rotation only while surely inside it
const REQ_MS = 15000;             // no request of the workload may hang longer than this
export const LIMITS = ['--rate-pair-free', '1000', '--rate-ip-per-min', '100000'];

// ---------------------------------------------------------------- randomness

// A seeded generator: the schedule of a failing run can be replayed with FAULTS_SEED.
export const SEED = Number(process.env.FAULTS_SEED) || (Date.now() % 1e9);
export function rng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

// ---------------------------------------------------------------- figures

export function figures(name) {
	return { name, faults: 0, acked: 0, unknown: 0, refused: 0, checks: 0, violations: [] };
}
export function report(t, f, extra = '') {
	t.diagnostic(`faults: ${f.name}: faults injected ${f.faults}, operations acknowledged ${f.acked}, ` +
		`unknown outcomes ${f.unknown} (no answer) + ${f.refused} (503/429), invariant checks ${f.checks}, ` +
		`violations ${f.violations.length}${extra ? `; ${extra}` : ''}`);
	for (const v of f.violations.slice(0, 30)) t.diagnostic(`faults: violation: ${v}`);
}

// ---------------------------------------------------------------- the workload

export const short = (s) => (s ? `${String(s).slice(0, 8)}…` : String(s));
export const jtiOf = (at) => decodeJwt(at).payload.jti;
const sidOf = (at) => decodeJwt(at).payload.sid;

// What the workload talks to: the current server, and a fault in progress. For kill -9 the
// injector bumps `epoch` at each restart and workers wait for `ready()` after a reset; for
// Redis faults the server is never killed, so any transport error is a violation.
export class Life {
	constructor(srv, mode) {
		this.srv = srv;
		this.mode = mode;          // 'kill' | 'redis'
		this.epoch = 0;
		this.faulting = false;
		this.stop = false;
		this.readyP = Promise.resolve();
		this.resolveReady = null;
		this.events = [];          // [ms, what]: the faults, for the violations' context
	}
	note(what) { this.events.push([Date.now(), what]); }
	context() {
		const e = this.events.at(-1);
		return e ? ` [${Date.now() - e[0]} ms after ${e[1]}]` : ' [before any fault]';
	}
	beginKill() {
		this.faulting = true;
		this.readyP = new Promise((r) => { this.resolveReady = r; });
	}
	endKill(srv) {
		this.srv = srv;
		this.epoch++;
		this.faulting = false;
		this.resolveReady();
	}
	ready() { return this.readyP; }
}

// Records, per client, what was acknowledged:
//   sessions: {cookie, user, state: live|ended|unknown (ending while a sign-out is out),
//              tokens: [access token records]}
//   families: {user, sid, rts: [used: {rt, at, next, sentAt, ackAt, tries}], head,
//              state: live|revoked|unknown (pending while a revocation is out),
//              stuck (an unresolved rotation: the head may be used up), ats: [records]}
//   access tokens: {at, jti, family|session, revoked: no|yes|unknown (pending while out)}
// A request whose standing changes while it is out is not judged.
export class Workload {
	constructor(life, { users, client, rand, fig }) {
		this.life = life;
		this.users = users;            // name -> password
		this.names = Object.keys(users);
		this.client = client;
		this.rand = rand;
		this.f = fig;
		this.sessions = [];
		this.families = [];
		this.ats = [];
		this.store503 = 0;
	}
	get redis() { return this.life.mode === 'redis'; }
	violate(msg) { this.f.violations.push(msg + this.life.context()); }
	pick(a) { return a[Math.floor(this.rand() * a.length)]; }

	// One request against the current server. Returns the response, or null when its
	// outcome is unknown (a reset connection across a kill). Any 5xx but 503, any reset
	// without a fault, or a 503 that is not store_unavailable (nor busy, for a sign-in)
	// is a violation.
	async req(what, fn, { busyOk = false } = {}) {
		const epoch = this.life.epoch, srv = this.life.srv;
		let res;
		try {
			res = await fn(srv, AbortSignal.timeout(REQ_MS));
		} catch (e) {
			const cause = e.cause?.code || e.cause?.message || e.name || e.message;
			if (this.life.mode === 'kill' && (this.life.epoch !== epoch || this.life.faulting)) {
				this.f.unknown++;
				if (!this.life.stop) await this.life.ready(); // one unknown per client per kill
				return null;
			}
			this.violate(`${what}: no answer (${cause}) while ${this.life.mode === 'kill' ? 'no kill was in progress' : 'the server should keep answering'}`);
			this.f.unknown++;
			return null;
		}
		if (res.status >= 500) {
			const err = res.json_?.error;
			if (res.status !== 503 || !(err === 'store_unavailable' || (busyOk && err === 'busy')))
				this.violate(`${what}: ${res.status} ${res.text_?.slice(0, 120)}`);
			if (res.status === 503 && err === 'store_unavailable') this.store503++;
			if (res.status === 503 && err === 'store_unavailable' && !this.redis)
				this.violate(`${what}: 503 store_unavailable with a healthy store: ${res.text_?.slice(0, 120)}`);
			this.f.refused++;
		} else if (res.status === 429) {
			this.f.refused++;
		}
		return res;
	}
	// After an unknown outcome: wait for the restarted server (kill), or a moment (Redis).
	async settle() {
		if (this.life.mode === 'kill') await this.life.ready();
		else await sleep(200);
	}

	// ------------------------------------------------------------ sessions

	async signIn(user) {
		const res = await this.req(`sign-in ${user}`, (s, signal) => s.fetch('/login',
			{ method: 'POST', json: { username: user, password: this.users[user] }, signal }), { busyOk: true });
		if (!res) return null;
		if (res.status === 200) {
			const sc = res.headers.getSetCookie().find((c) => c.startsWith(`${this.life.srv.cookieName}=`));
			const cookie = sc?.split(';')[0].split('=').slice(1).join('=');
			if (!cookie) { this.violate(`sign-in ${user}: 200 without a session cookie`); return null; }
			this.f.acked++;
			const s = { cookie, user, state: 'live', tokens: [] };
			this.sessions.push(s);
			return s;
		}
		if (res.status !== 503 && res.status !== 429) this.violate(`sign-in ${user} with the right password: ${res.status} ${res.text_.slice(0, 100)}`);
		return null;
	}

	// Judged only when the session's standing did not change while the request was out
	// (another client may be signing it out meanwhile).
	async me(s) {
		const st = s.state;
		const res = await this.req('GET /me', (srv, signal) => srv.fetch('/me', { cookie: s.cookie, signal }));
		if (!res) return;
		if (res.status === 200) this.f.acked++;
		if (s.state !== st) return;
		if (s.state === 'live' && res.status === 401) this.violate(`GET /me: 401 for a live session of ${s.user}`);
		if (s.state === 'live' && res.status === 200 && res.json_?.name !== s.user) this.violate(`GET /me: session of ${s.user} answered as ${res.json_?.name}`);
		if (s.state === 'ended' && res.status === 200) this.violate(`GET /me: 200 for a session of ${s.user} whose sign-out was acknowledged`);
		if (![200, 401, 503].includes(res.status)) this.violate(`GET /me: ${res.status}`);
	}

	async hybrid(s) {
		const res = await this.req('POST /token', (srv, signal) => hybridReq(srv, s.cookie, { signal }));
		if (!res) return null;
		if (res.status === 200) {
			this.f.acked++;
			const rec = { at: res.json_.access_token, session: s, revoked: 'no' };
			rec.jti = jtiOf(rec.at);
			if (s.state !== 'live') return null; // a sign-out raced it: do not judge it
			s.tokens.push(rec);
			this.ats.push(rec);
			return rec;
		}
		if (s.state === 'live' && res.status === 401) this.violate(`POST /token: 401 for a live session of ${s.user}`);
		return null;
	}

	async signOut(s) {
		s.state = 'ending';
		const res = await this.req('POST /logout', (srv, signal) => srv.fetch('/logout', { method: 'POST', cookie: s.cookie, signal }));
		if (!res || res.status === 503) { s.state = 'unknown'; return; }
		if (res.status === 200) {
			this.f.acked++;
			s.state = 'ended';
			// read-your-writes: its tokens are refused on the very next request
			for (const rec of s.tokens.slice(-1)) await this.verify(rec);
			await this.me(s);
			return;
		}
		this.violate(`POST /logout of a live session: ${res.status} ${res.text_.slice(0, 100)}`);
		s.state = 'unknown';
	}

	// ------------------------------------------------------------ tokens

	// The access token's standing: 'live', 'revoked' or 'unknown'.
	atState(rec) {
		const owner = rec.family || rec.session;
		if (rec.revoked === 'unknown' || rec.revoked === 'pending' || ['unknown', 'pending', 'ending'].includes(owner.state)) return 'unknown';
		if (rec.revoked === 'yes' || owner.state === 'revoked' || owner.state === 'ended') return 'revoked';
		return 'live';
	}

	async verify(rec) {
		const st = this.atState(rec);
		const res = await this.req('GET /auth/verify', (srv, signal) => srv.fetch('/auth/verify',
			{ headers: { Authorization: `Bearer ${rec.at}` }, signal }));
		if (!res) return;
		if (res.status === 200) this.f.acked++;
		if (this.atState(rec) !== st) return;
		if (st === 'live' && res.status !== 200) this.violate(`/auth/verify: ${res.status} for a live access token (${rec.family ? 'password grant' : 'session'})`);
		if (st === 'revoked' && res.status !== 401) this.violate(`/auth/verify: ${res.status} for a revoked access token (${rec.family ? (rec.revoked === 'yes' ? 'RFC 7009' : 'family revoked') : 'signed out'})`);
	}

	async grant(user) {
		const res = await this.req(`password grant ${user}`, (srv, signal) => tokenReq(srv,
			{ grant_type: 'password', username: user, password: this.users[user] }, { client: this.client, signal }), { busyOk: true });
		if (!res) return null;
		if (res.status !== 200) {
			if (res.status !== 503 && res.status !== 429) this.violate(`password grant ${user}: ${res.status} ${res.text_.slice(0, 100)}`);
			return null;
		}
		this.f.acked++;
		const { access_token: at, refresh_token: rt } = res.json_;
		const fam = { user, sid: sidOf(at), rts: [], head: rt, state: 'live', stuck: false, ats: [] };
		this.addAt(fam, at);
		this.families.push(fam);
		return fam;
	}
	addAt(fam, at) {
		const rec = { at, jti: jtiOf(at), family: fam, revoked: 'no' };
		fam.ats.push(rec);
		this.ats.push(rec);
		return rec;
	}

	// Rotate the family's head. An unknown outcome is retried with the same token while
	// surely inside the grace window: the same successor comes back whether or not the
	// first attempt landed (that is what the window is for). Returns true when rotated.
	async rotate(fam) {
		const rt = fam.head, sentAt = Date.now();
		for (let tries = 0; ; tries++) {
			const res = await this.req('refresh_token grant', (srv, signal) => refreshReq(srv, rt, { client: this.client, signal }));
			if (res && res.status === 200) {
				this.f.acked++;
				const { refresh_token: next, access_token: at } = res.json_;
				if (!next || next === rt) { this.violate('refresh: no new refresh token'); return false; }
				if (sidOf(at) !== fam.sid) this.violate('refresh: the access token left the family');
				const used = { rt, at, next, sentAt, ackAt: Date.now(), tries };
				fam.rts.push(used);
				fam.head = next;
				this.addAt(fam, at);
				// sometimes a client retries at once (two tabs): the same successor
				if (this.rand() < 0.3) await this.replay(fam, used);
				return true;
			}
			if (res && res.status !== 503) {
				if (fam.state === 'live') {
					const prev = fam.rts[fam.rts.length - 1];
					this.violate(`refresh of the live head of a family (${fam.user}): ${res.status} ${res.json_?.error} ${res.json_?.error_description}` +
						` (the head came from ${prev ? `a rotation acknowledged after ${prev.tries} unknown attempt(s)` : 'the password grant'}, this is attempt ${tries + 1})`);
				}
				fam.stuck = true;
				return false;
			}
			// unknown: retry while inside the window, unless the load is over
			if (this.life.stop || Date.now() - sentAt > RETRY_WITHIN_MS) { fam.stuck = true; return false; }
			await this.settle();
			if (Date.now() - sentAt > RETRY_WITHIN_MS) { fam.stuck = true; return false; }
		}
	}

	// Present a used token again within the window: exactly the same successor and access token.
	async replay(fam, used) {
		const res = await this.req('refresh_token replay in the grace window', (srv, signal) => refreshReq(srv, used.rt, { client: this.client, signal }));
		if (!res || res.status === 503) return;
		if (Date.now() - used.sentAt > (GRACE - 1) * 1000) return; // too late to judge
		this.f.acked++;
		if (res.status !== 200) {
			if (fam.state === 'live') this.violate(`used refresh token inside the grace window: ${res.status} ${res.json_?.error}`);
			return;
		}
		if (res.json_.refresh_token !== used.next) this.violate('used refresh token inside the grace window: a different successor');
		if (res.json_.access_token !== used.at) this.violate('used refresh token inside the grace window: a different access token');
	}

	// RFC 7009 for an access token; idempotent, so an unknown outcome is retried.
	async revokeAt(rec) {
		rec.revoked = 'pending';
		for (let tries = 0; ; tries++) {
			const res = await this.req('RFC 7009 revoke (access token)', (srv, signal) => revokeReq(srv, rec.at, { client: this.client, signal }));
			if (res && res.status === 200) {
				this.f.acked++;
				rec.revoked = 'yes';
				await this.verify(rec);
				return;
			}
			if (res && res.status !== 503) { this.violate(`RFC 7009 revoke (access token): ${res.status} ${res.text_.slice(0, 100)}`); rec.revoked = 'unknown'; return; }
			rec.revoked = 'unknown';
			if (this.life.stop || tries >= 5) return;
			await this.settle();
		}
	}

	// RFC 7009 for a refresh token: the whole family, its access tokens included.
	async revokeFamily(fam) {
		fam.state = 'pending';
		for (let tries = 0; ; tries++) {
			const res = await this.req('RFC 7009 revoke (refresh token)', (srv, signal) => revokeReq(srv, fam.head, { client: this.client, signal }));
			if (res && res.status === 200) {
				this.f.acked++;
				fam.state = 'revoked';
				await this.verify(fam.ats[fam.ats.length - 1]);
				const r = await this.req('refresh of a revoked family', (srv, signal) => refreshReq(srv, fam.head, { client: this.client, signal }));
				if (r && r.status !== 503 && !(r.status === 400 && r.json_?.error === 'invalid_grant'))
					this.violate(`refresh token of a revoked family: ${r.status} ${r.text_.slice(0, 100)}`);
				return;
			}
			if (res && res.status !== 503) { this.violate(`RFC 7009 revoke (refresh token): ${res.status} ${res.text_.slice(0, 100)}`); fam.state = 'unknown'; return; }
			fam.state = 'unknown';
			if (this.life.stop || tries >= 5) return;
			await this.settle();
		}
	}

	// ------------------------------------------------------------ clients

	async sessionClient(w) {
		while (!this.life.stop) {
			const s = await this.signIn(this.names[(w + this.sessions.length) % this.names.length]);
			if (!s) { if (!this.life.stop) await this.settle(); continue; }
			await this.me(s);
			const known = this.sessions.filter((x) => x.state === 'live' || x.state === 'ended');
			for (let k = 0; k < 2 && !this.life.stop; k++) await this.me(this.pick(known));
			if (this.rand() < 0.6) {
				const rec = await this.hybrid(s);
				if (rec) await this.verify(rec);
			}
			if (this.rand() < 0.4) await this.signOut(s);
		}
	}

	async tokenClient(w) {
		while (!this.life.stop) {
			const fam = await this.grant(this.names[(w + this.families.length) % this.names.length]);
			if (!fam) { if (!this.life.stop) await this.settle(); continue; }
			await this.verify(fam.ats[0]);
			const n = 1 + Math.floor(this.rand() * 6);
			for (let i = 0; i < n && !this.life.stop; i++) {
				if (!(await this.rotate(fam))) break;
				await this.verify(fam.ats[fam.ats.length - 1]);
			}
			if (fam.stuck || this.life.stop) continue;
			const x = this.rand();
			if (x < 0.35) await this.revokeAt(this.pick(fam.ats));
			else if (x < 0.6) await this.revokeFamily(fam);
			// else: the family stays live for the checks afterwards
		}
	}

	async verifyClient() {
		while (!this.life.stop) {
			const ats = this.ats.filter((r) => this.atState(r) !== 'unknown');
			const ss = this.sessions.filter((s) => s.state === 'live' || s.state === 'ended');
			if (ats.length) await this.verify(this.pick(ats));
			if (ss.length && !this.life.stop) await this.me(this.pick(ss));
			if (!ats.length && !ss.length) await sleep(20);
		}
	}

	run({ sessionClients = 3, tokenClients = 4, verifiers = 1 } = {}) {
		return Promise.all([
			...Array.from({ length: sessionClients }, (_, w) => this.sessionClient(w)),
			...Array.from({ length: tokenClients }, (_, w) => this.tokenClient(w)),
			...Array.from({ length: verifiers }, () => this.verifyClient()),
		]);
	}

	summary() {
		const by = (a, k) => a.reduce((m, x) => ((m[x[k]] = (m[x[k]] || 0) + 1), m), {});
		return `sessions ${JSON.stringify(by(this.sessions, 'state'))}, families ${JSON.stringify(by(this.families, 'state'))}` +
			` (${this.families.filter((f) => f.stuck).length} stuck), rotations ${this.families.reduce((n, f) => n + f.rts.length, 0)}` +
			` (${this.families.reduce((n, f) => n + f.rts.filter((u) => u.tries > 0).length, 0)} acknowledged on a retry in the grace window),` +
			` access tokens ${this.ats.length}, 503 store_unavailable ${this.store503}`;
	}
}

// ---------------------------------------------------------------- the invariants

// Check everything the workload had acknowledged against `srv` (a fresh server on the same
// store). Counts checks and records violations in the workload's figures.
export async function checkInvariants(srv, load) {
	const f = load.f, client = load.client;
	const check = (ok, msg) => { f.checks++; if (!ok) f.violations.push(msg); };
	const isInvalidGrant = (r) => r.status === 400 && r.json_?.error === 'invalid_grant';

	// no lost user
	for (const [u, p] of Object.entries(load.users)) {
		const r = await srv.login(u, p);
		check(r.status === 200, `lost user: ${u} cannot sign in (${r.status} ${r.res.text_.slice(0, 80)})`);
	}
	// no lost session; no ended session back
	await pool(load.sessions.filter((s) => s.state === 'live' || s.state === 'ended'), 8, async (s) => {
		const r = await srv.me(s.cookie);
		if (s.state === 'live') check(r.status === 200 && r.json_?.name === s.user, `lost session of ${s.user}: ${r.status}`);
		else check(r.status === 401, `a session of ${s.user} signed out (acknowledged) answers ${r.status}`);
	});
	// access tokens: revoked ones refused, live ones accepted
	await pool(load.ats.filter((r) => load.atState(r) !== 'unknown'), 8, async (rec) => {
		const st = load.atState(rec);
		const r = await verifyReq(srv, rec.at);
		if (st === 'revoked') check(r.status === 401, `a revoked access token (${rec.family ? (rec.revoked === 'yes' ? 'RFC 7009' : 'family revoked') : 'signed out'}) is accepted: ${r.status}`);
		else check(r.status === 200, `a live access token is refused: ${r.status} ${r.text_.slice(0, 80)}`);
	});
	// revoked families: every refresh token of theirs is refused
	for (const fam of load.families.filter((x) => x.state === 'revoked')) {
		for (const rt of [...fam.rts.map((u) => u.rt), fam.head]) {
			const r = await refreshReq(srv, rt, { client });
			check(isInvalidGrant(r), `a refresh token of a revoked family: ${r.status} ${r.text_.slice(0, 80)}`);
		}
	}
	// no lost rotation: the head of every live family still refreshes, and presented again
	// at once it returns exactly the same successor
	const live = load.families.filter((x) => x.state === 'live' && !x.stuck);
	await pool(live, 4, async (fam) => {
		const r = await refreshReq(srv, fam.head, { client });
		const prev = fam.rts[fam.rts.length - 1];
		check(r.status === 200, `the head of a live family (${fam.user}, ${fam.rts.length} rotations) is refused: ${r.status} ${r.json_?.error} ${r.json_?.error_description}` +
			` (the head came from ${prev ? `a rotation acknowledged after ${prev.tries} unknown attempt(s)` : 'the password grant'})`);
		if (r.status !== 200) return;
		const again = await refreshReq(srv, fam.head, { client });
		check(again.status === 200 && again.json_.refresh_token === r.json_.refresh_token && again.json_.access_token === r.json_.access_token,
			`a used refresh token inside the grace window: ${again.status}, ${again.json_?.refresh_token === r.json_.refresh_token ? 'same' : 'another'} successor`);
		fam.rts.push({ rt: fam.head, at: r.json_.access_token, next: r.json_.refresh_token, sentAt: Date.now(), ackAt: Date.now(), late: true });
		fam.head = r.json_.refresh_token;
		load.addAt(fam, r.json_.access_token);
	});
	// after the window: a used refresh token is refused and its family dies, access tokens
	// and the newest refresh token included (a sample of up to 50 used tokens)
	const used = load.families.filter((x) => x.state !== 'revoked')
		.flatMap((fam) => fam.rts.filter((u) => !u.late).map((u) => ({ fam, u })));
	for (let i = used.length - 1; i > 0; i--) { // shuffle, then take 50
		const j = Math.floor(load.rand() * (i + 1));
		[used[i], used[j]] = [used[j], used[i]];
	}
	const sample = used.slice(0, 50);
	if (sample.length) {
		const last = Math.max(...sample.map((x) => x.u.ackAt));
		await untilServerSec(Math.floor(last / 1000) + GRACE + 1, 'the grace window of the last rotation to pass');
	}
	const dead = new Set();
	for (const { fam, u } of sample) {
		const r = await refreshReq(srv, u.rt, { client });
		check(isInvalidGrant(r), `a used refresh token after the grace window: ${r.status} ${r.text_.slice(0, 80)}`);
		if (dead.has(fam)) continue;
		dead.add(fam);
		const newest = await refreshReq(srv, fam.head, { client });
		check(isInvalidGrant(newest), `the newest refresh token of a family whose used token came back: ${newest.status} ${newest.text_.slice(0, 80)}`);
		for (const rec of fam.ats) {
			const v = await verifyReq(srv, rec.at);
			check(v.status === 401, `an access token of a family ended by reuse: ${v.status}`);
		}
	}
	return { sample: sample.length, families: dead.size };
}

// ---------------------------------------------------------------- setup

export const USERS = {
	ada: 'ada-password-0123456789', bo: 'bo-password-0123456789',
	cy: 'cy-password-0123456789', di: 'di-password-0123456789',
};

export async function prepare(srv, load) {
	await Promise.all(Object.entries(USERS).map(([u, p]) => srv.addUser(u, p)));
	load.users.admin = srv.adminPassword;
	load.names = Object.keys(load.users);
	load.client = await addClient(srv, 'faults-app');
	// sessions from before the load
	await pool(Array.from({ length: 8 }, (_, i) => load.names[i % load.names.length]), 4, async (u) => {
		const s = await load.signIn(u);
		assert.ok(s, `sign-in of ${u} before the load`);
	});
}


// The end of a test whose server was never killed (store faults): it survived and the load
// ran; then a fresh server on the same store (opts: how it was started) checks the
// invariants, and the figures are reported with `faults` (what was done).
export async function verifyAfterStoreFaults(t, srv, opts, load, faults) {
	const fig = load.f;
	assert.equal(srv.exited, null, `the server survived: ${JSON.stringify(srv.exited)}\n${srv.err.slice(-1500)}`);
	assert.ok(fig.acked > 50, `the load ran: ${fig.acked} operations acknowledged`);
	await stopClean(srv);
	const fresh = await startServer({ ...opts, tmp: srv.tmp, store: srv.store, admin: false });
	const r = await checkInvariants(fresh, load);
	await stopClean(fresh);
	report(t, fig, `${faults.join('; ')}; ${load.summary()}; reuse sample ${r.sample} tokens over ${r.families} families`);
	assert.deepEqual(fig.violations, [], `${fig.violations.length} violations`);
}
