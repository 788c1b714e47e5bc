// SPDX-License-Identifier: MIT
//
// Token helpers on top of the server harness (tests/server/lib.mjs, re-exported): form
// posts to the OAuth endpoints, client registration through the CLI, HTTP Basic client
// authentication, JWT decoding, /auth/verify and /me with a Bearer token, the sqlite3
// CLI, and nginx started on loopback from a generated configuration (stopped by PID).

import { spawn, execFile } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { cli, waitFor, tmpDir, sleep, freePort, findSetCookie, cookieValue } from '../server/lib.mjs';

export * from '../server/lib.mjs';

export const B64URL_RE = /^[A-Za-z0-9_-]+$/;
export const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const nowSec = () => Math.floor(Date.now() / 1000);
// The server reads time(2), which on Linux is the coarse clock: it can lag the precise one
// by a few milliseconds, so just after a second ticks over the server may still be in the
// previous one. A lower bound for the server's "now", and a wait until the server's clock
// has surely reached second `sec`:
export const serverNowMin = () => Math.floor((Date.now() - 100) / 1000);
export const untilServerSec = (sec, what = `second ${sec}`) =>
	waitFor(() => serverNowMin() >= sec, { ms: Math.max(1000, (sec + 2) * 1000 - Date.now()), every: 20, what });

export const form = (fields) => new URLSearchParams(fields).toString();

// RFC 6749 §2.3.1: each part form-urlencoded, then base64.
export function basic(id, secret) {
	const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
	return 'Basic ' + Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64');
}

// POST a form. By default as a non-browser client (no Origin, no Sec-Fetch-Site).
// opts.client = {id, secret}: HTTP Basic; opts.cookie: session cookie; opts.headers.
export function post(srv, p, fields, opts = {}) {
	const { client, headers = {}, browser = false, ...rest } = opts;
	const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
	if (client) h.Authorization = basic(client.id, client.secret);
	return srv.fetch(p, { method: 'POST', body: form(fields), headers: h, browser, ...rest });
}

export const tokenReq = (srv, fields, opts) => post(srv, '/oauth2/token', fields, opts);

// The password grant, insisting on 200. Returns the JSON body.
export async function passwordGrant(srv, username, password, extra = {}, opts = {}) {
	srv.secrets.add(password);
	const res = await tokenReq(srv, { grant_type: 'password', username, password, ...extra }, opts);
	assert.equal(res.status, 200, `password grant for ${username}: ${res.status} ${res.text_}`);
	if (res.json_.refresh_token) srv.secrets.add(res.json_.refresh_token);
	return res.json_;
}

// The refresh grant; returns the response (not asserted).
export const refreshReq = (srv, refresh_token, opts) =>
	tokenReq(srv, { grant_type: 'refresh_token', refresh_token }, opts);

// The hybrid exchange: a session cookie -> access token. Returns the response.
export const hybridReq = (srv, cookie, opts = {}) =>
	srv.fetch('/token', { method: 'POST', cookie, ...opts });

export async function hybrid(srv, cookie) {
	const res = await hybridReq(srv, cookie);
	assert.equal(res.status, 200, `/token: ${res.status} ${res.text_}`);
	return res.json_.access_token;
}

const bearer = (token) => ({ Authorization: `Bearer ${token}` });
export const verifyReq = (srv, token) => srv.fetch('/auth/verify', { headers: bearer(token) });
export const meReq = (srv, token) => srv.fetch('/me', { headers: bearer(token) });

// Status of /auth/verify and /me for a token: "200/200", "401/401", ...
export async function bearerStatus(srv, token) {
	const [v, m] = await Promise.all([verifyReq(srv, token), meReq(srv, token)]);
	return `${v.status}/${m.status}`;
}

// A rejected bearer token: 401 and the RFC 6750 challenge, at /auth/verify and /me.
export async function assertRejected(srv, token, what = 'token') {
	for (const res of [await verifyReq(srv, token), await meReq(srv, token)]) {
		assert.equal(res.status, 401, `${what} at ${res.url}: ${res.status} ${res.text_}`);
		const wa = res.headers.get('www-authenticate') || '';
		assert.match(wa, /^Bearer\b/, `${what}: WWW-Authenticate is a Bearer challenge (${wa})`);
		assert.match(wa, /error="invalid_token"/, `${what}: WWW-Authenticate carries error="invalid_token" (${wa})`);
		assert.equal(res.json_?.error, 'invalid_token', `${what}: JSON error`);
	}
}

export async function assertAccepted(srv, token, what = 'token') {
	const v = await verifyReq(srv, token);
	assert.equal(v.status, 200, `${what} at /auth/verify: ${v.status} ${v.text_}`);
	const m = await meReq(srv, token);
	assert.equal(m.status, 200, `${what} at /me: ${m.status} ${m.text_}`);
	return { verify: v, me: m };
}

// Stop a server and insist it went cleanly: exit 0, nothing from a sanitizer.
export async function stopClean(srv) {
	const ex = await srv.stop();
	assert.ok(!/Sanitizer|runtime error:/.test(srv.err), `sanitizer report:\n${srv.err.slice(-2000)}`);
	assert.deepEqual({ code: ex.code, signal: ex.signal, killed: !!ex.killed }, { code: 0, signal: null, killed: false },
		`server exit after SIGTERM: ${srv.err.slice(-500)}`);
}

// `latchkey client add NAME --scope S` -> {id, secret, name, scope}
export async function addClient(srv, name, scope = '') {
	const r = await srv.cli(['client', 'add', name, ...(scope ? ['--scope', scope] : [])]);
	assert.equal(r.code, 0, `client add ${name}: ${r.stderr}`);
	const id = r.stdout.match(/^client_id=(\S+)$/m)?.[1];
	const secret = r.stdout.match(/^client_secret=(\S+)$/m)?.[1];
	assert.ok(id && secret, `client add printed client_id and client_secret: ${r.stdout}`);
	srv.secrets.add(secret);
	return { id, secret, name, scope };
}

export const introspectReq = (srv, client, token, opts = {}) =>
	post(srv, '/oauth2/introspect', { token }, { client, ...opts });

export async function active(srv, client, token) {
	const res = await introspectReq(srv, client, token);
	assert.equal(res.status, 200, `introspect: ${res.status} ${res.text_}`);
	assert.equal(typeof res.json_.active, 'boolean');
	return res.json_.active;
}

export const revokeReq = (srv, token, opts = {}) => post(srv, '/oauth2/revoke', { token }, opts);

export function decodeJwt(token) {
	assert.match(token, JWT_RE, 'a JWS compact serialization');
	const [h, p] = token.split('.');
	const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
	return { header: dec(h), payload: dec(p) };
}
export const kidOf = (token) => decodeJwt(token).header.kid;

export async function jwks(srv) {
	const res = await srv.fetch('/.well-known/jwks.json');
	assert.equal(res.status, 200);
	return { res, keys: res.json_.keys, kids: res.json_.keys.map((k) => k.kid) };
}

// Set-Cookie for the refresh token (browser clients).
export const refreshCookieName = (srv) => (srv.insecure ? 'latchkey-refresh' : '__Secure-latchkey-refresh');
export function refreshCookie(srv, res) {
	const sc = findSetCookie(res, refreshCookieName(srv));
	return sc ? { setCookie: sc, value: cookieValue(sc) } : null;
}

// ---------------------------------------------------------------- sqlite3 CLI

export function sqlite3(dbPath, sql) {
	return new Promise((resolve, reject) => {
		execFile('sqlite3', ['-readonly', dbPath, sql], { timeout: 10000 }, (err, stdout, stderr) => {
			if (err) reject(new Error(`sqlite3 ${sql}: ${stderr || err.message}`));
			else resolve(stdout);
		});
	});
}

// Run the CLI with the server's store and a given environment.
export const cliEnv = (srv, args, env) => cli([...args, '--store', srv.store], { env });

// ---------------------------------------------------------------- nginx

export const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const nginxes = new Set();
after(async () => { await Promise.all([...nginxes].map((n) => n.stop())); });
process.on('exit', () => { for (const n of nginxes) try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ } });

// Start nginx in the foreground (daemon off) with the configuration text `conf`, in which
// "{dir}" is replaced by a new temporary directory; wait until `port` accepts a request.
export async function startNginx(conf, port) {
	const dir = tmpDir();
	// run as root, nginx's workers are "nobody": they must reach the temporary files
	chmodSync(dir, 0o711);
	for (const d of ['logs', 'tmp']) mkdirSync(path.join(dir, d), { mode: 0o755 });
	const text = conf.replaceAll('{dir}', dir);
	const file = path.join(dir, 'nginx.conf');
	writeFileSync(file, text);
	const proc = spawn(NGINX, ['-p', dir + '/', '-e', path.join(dir, 'logs', 'error.log'), '-c', file],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
	const n = {
		proc, dir, conf: text, pid: proc.pid, out: '', exited: null,
		errorLog() { const f = path.join(dir, 'logs', 'error.log'); return existsSync(f) ? readFileSync(f, 'utf8') : ''; },
		async stop() {
			if (n.exited) return n.exited;
			try { process.kill(n.pid, 'SIGQUIT'); } catch { /* gone */ }
			const t0 = Date.now();
			while (!n.exited && Date.now() - t0 < 5000) await sleep(50);
			if (!n.exited) { try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ } }
			while (!n.exited && Date.now() - t0 < 8000) await sleep(50);
			nginxes.delete(n);
			return n.exited;
		},
	};
	nginxes.add(n);
	proc.stdout.setEncoding('utf8').on('data', (d) => { n.out += d; });
	proc.stderr.setEncoding('utf8').on('data', (d) => { n.out += d; });
	proc.once('exit', (code, signal) => { n.exited = { code, signal }; });
	proc.once('error', (e) => { n.exited = { code: null, error: e.message }; });
	try {
		await waitFor(async () => {
			if (n.exited) throw new Error(`nginx exited ${JSON.stringify(n.exited)}: ${n.out} ${n.errorLog()}`);
			const r = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' }).catch(() => null);
			return r !== null;
		}, { ms: 10000, every: 50, what: `nginx on port ${port}` });
	} catch (e) {
		await n.stop();
		throw e;
	}
	return n;
}

