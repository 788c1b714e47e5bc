// SPDX-License-Identifier: MIT
// Every revocation path reaches an independent verifier process (lkcheck: liblatchkey
// alone, subscribed to /revocations/stream with client credentials) within a second:
// sign-out, DELETE /sessions/{id}, admin revoke-all, `latchkey sessions revoke` (another
// process), refresh-token reuse, a password change and RFC 7009 /oauth2/revoke. On SQLite
// with one instance, and on Redis with two instances behind nginx where the revocation is
// made on the instance that does not hold the verifier's stream.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startServer, startCluster, addClient, passwordGrant, refreshReq, hybrid, revokeReq,
	decodeJwt, stopClean, haveRedis, haveNginx, startChecker, haveLkcheck, waitFor,
} from './lib.mjs';

const PW = 'correct-horse-battery-staple';
const LIMIT = 1000; // SPEC: within a second

// Which instance holds an open revocation stream (from its /metrics).
async function streamHolder(nodes) {
	const counts = await Promise.all(nodes.map(async (s) => {
		const m = (await s.fetch('/metrics')).text_;
		const v = m.match(/^latchkey_revocation_streams(?:\{[^}]*\})? (\d+)/m);
		return v ? Number(v[1]) : 0;
	}));
	return counts.findIndex((n) => n > 0);
}

for (const kind of ['sqlite', 'redis']) {
	const skip = !haveLkcheck ? 'lkcheck is not built' :
		kind === 'redis' && !(haveRedis && haveNginx) ? 'redis-server or nginx missing' : false;
	describe(`revocation paths on ${kind}`, { skip }, () => {
		let env, nodes, issuer, app, checker, revoker, admin, n = 0;
		const cli = (args, o) => env.cli(args, o);
		const user = async () => {
			const name = `u${++n}`;
			await env.addUser(name, PW);
			return name;
		};
		before(async () => {
			if (kind === 'sqlite') {
				const srv = await startServer({ args: ['--revocation-ping', '1', '--refresh-grace', '1s'] });
				nodes = [srv];
				issuer = srv.base;
				env = {
					cli: (a, o) => srv.cli(a, o),
					addUser: (u, p) => srv.addUser(u, p),
					stop: () => stopClean(srv),
				};
			} else {
				const c = await startCluster({ n: 2, config: ['revocation_ping = 1', 'refresh_grace = 1s'] });
				nodes = c.nodes;
				issuer = c.issuer;
				env = { cli: (a, o) => c.cli(a, o), addUser: (u, p) => c.addUser(u, p), stop: () => c.stopClean() };
			}
			app = await addClient(nodes[0], 'app', 'read');
			const feed = await addClient(nodes[0], 'orders-service', 'read');
			checker = await startChecker(issuer, feed);
			// revocations are made where the verifier's stream is not (two instances)
			let holder = 0;
			if (nodes.length > 1)
				holder = await waitFor(async () => { const i = await streamHolder(nodes); return i >= 0 ? i + 1 : false; },
					{ what: 'an instance holding the stream' }) - 1;
			revoker = nodes[(holder + 1) % nodes.length];
			admin = await revoker.session('admin', nodes[0].adminPassword);
		});
		after(async () => {
			const ex = checker ? await checker.stop() : { code: 0 };
			assert.equal(ex.code, 0, `lkcheck: ${checker?.err}`);
			assert.ok(!/Sanitizer|runtime error:/.test(checker?.err || ''), checker?.err);
			await env?.stop();
		});

		// The verifier accepts t now, then refuses it as revoked within a second of `act`.
		async function seenRevoked(t, act, what) {
			assert.match(await checker.verify(t), /^ok /, `${what}: accepted before`);
			await act();
			const r = await checker.until(t, 2 * LIMIT);
			assert.equal(`${r.verdict} ${r.reason}`, 'invalid revoked', `${what}: ${r.line}`);
			assert.ok(r.ms < LIMIT, `${what}: refused ${r.ms} ms after the revoking response`);
		}

		test('sign-out (POST /logout): the session\'s hybrid tokens', async () => {
			const u = await user();
			const s = await revoker.session(u, PW);
			const t = await hybrid(revoker, s);
			await seenRevoked(t, async () => {
				assert.equal((await revoker.fetch('/logout', { method: 'POST', cookie: s })).status, 200);
			}, 'logout');
		});

		test('DELETE /sessions/{id}: that device\'s tokens', async () => {
			const u = await user();
			const s1 = await revoker.session(u, PW), s2 = await revoker.session(u, PW);
			const t = await hybrid(revoker, s2);
			const id = (await revoker.me(s2)).json_.session.id;
			assert.equal(decodeJwt(t).payload.sid, id, 'the token\'s sid is the session id');
			await seenRevoked(t, async () => {
				assert.equal((await revoker.fetch(`/sessions/${id}`, { method: 'DELETE', cookie: s1 })).status, 204);
			}, 'DELETE /sessions/{id}');
		});

		test('admin revoke-all for a user', async () => {
			const u = await user();
			const g = await passwordGrant(revoker, u, PW, {}, { client: app });
			await seenRevoked(g.access_token, async () => {
				const r = await revoker.fetch('/admin/revoke-all', { method: 'POST', cookie: admin, json: { user: u } });
				assert.equal(r.status, 200, r.text_);
			}, 'admin revoke-all');
		});

		test('latchkey sessions revoke --user (the CLI, another process)', async () => {
			const u = await user();
			const t = await hybrid(revoker, await revoker.session(u, PW));
			await seenRevoked(t, async () => {
				const r = await cli(['sessions', 'revoke', '--user', u]);
				assert.equal(r.code, 0, r.stderr);
			}, 'sessions revoke --user');
		});

		test('refresh-token reuse ends the family and its access tokens', async () => {
			const u = await user();
			const g = await passwordGrant(revoker, u, PW, {}, { client: app });
			const r1 = await refreshReq(revoker, g.refresh_token, { client: app });
			assert.equal(r1.status, 200, r1.text_);
			const t = r1.json_.access_token;
			await new Promise((r) => setTimeout(r, 2200)); // past the 1 s grace window (whole seconds)
			await seenRevoked(t, async () => {
				const again = await refreshReq(revoker, g.refresh_token, { client: app });
				assert.equal(again.status, 400, again.text_);
			}, 'refresh reuse');
		});

		test('a password change (latchkey user passwd) ends every token of the user', async () => {
			const u = await user();
			const g = await passwordGrant(revoker, u, PW, {}, { client: app });
			await seenRevoked(g.access_token, async () => {
				const r = await cli(['user', 'passwd', u], { input: 'another-long-password-42\n' });
				assert.equal(r.code, 0, r.stderr);
			}, 'user passwd');
		});

		test('RFC 7009 /oauth2/revoke of an access token (its jti)', async () => {
			const u = await user();
			const g = await passwordGrant(revoker, u, PW, {}, { client: app });
			const other = await passwordGrant(revoker, u, PW, {}, { client: app });
			await seenRevoked(g.access_token, async () => {
				assert.equal((await revokeReq(revoker, g.access_token, { client: app })).status, 200);
			}, '/oauth2/revoke');
			assert.match(await checker.verify(other.access_token), /^ok /, 'another token of the user lives');
		});
	});
}
