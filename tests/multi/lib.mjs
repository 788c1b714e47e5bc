// SPDX-License-Identifier: MIT
//
// Many instances on one Redis: a redis-server of the test's own (tests/server/lib.mjs
// startRedis, on a free loopback port, stopped by PID), N `latchkey serve` processes on it
// sharing one configuration file and one public issuer, and Debian's nginx in front of
// them (round-robin, loopback, generated configuration in a temporary directory, stopped
// by PID). Everything the token and server harnesses export is re-exported.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
	startServer, startRedis, startNginx, freePort, tmpDir, Server, cli, NGINX, REDIS_SERVER,
} from '../tokens/lib.mjs';

export * from '../tokens/lib.mjs';

export const haveNginx = existsSync(NGINX);
export const haveRedis = existsSync(REDIS_SERVER);

// nginx: round-robin over the instances, one worker so the rotation is exact; no
// keepalive to the upstreams and no retry at the next instance (a POST must reach exactly
// one). $upstream_addr comes back in X-Upstream so tests can see who answered.
export function nginxConfig(ports, listen) {
	return `
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log notice;
events { worker_connections 256; }
http {
    access_log {dir}/logs/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    upstream latchkey {
${ports.map((p) => `        server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    }
    server {
        listen 127.0.0.1:${listen};
        location / {
            proxy_pass http://latchkey;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream off;
            proxy_buffering off;
            proxy_read_timeout 30s;
            add_header X-Upstream $upstream_addr always;
        }
    }
}
`;
}

// Start Redis, `n` instances on it and (opts.proxy !== false) nginx in front.
//   opts.redis:  options for startRedis (aof, fsync, ...), or an already running Redis
//   opts.config: lines for the configuration file every instance and the CLI read
//   opts.args:   more serve flags for every instance
//   opts.env:    environment for every instance and the CLI (LATCHKEY_REDIS_PASSWORD)
//   opts.db:     the Redis database (default 0); opts.redisUser: an ACL user for the URL
// Returns {redis, nodes, proxy, nginx, issuer, store, conf, cli(args)}; `proxy` is a
// Server-like client for nginx (fetch, login, session, me) that is never stopped.
export async function startCluster(opts = {}) {
	const n = opts.n ?? 3;
	const redis = opts.redis?.call ? opts.redis : await startRedis(opts.redis || {});
	const store = redis.url(opts.db ?? 0, opts.redisUser);
	const proxyPort = await freePort();
	const issuer = `http://127.0.0.1:${proxyPort}`;
	const dir = tmpDir();
	const conf = path.join(dir, 'latchkey.conf');
	writeFileSync(conf, [`store = ${store}`, `issuer = ${issuer}`, ...(opts.config || []), ''].join('\n'));
	const args = ['--config', conf, ...(opts.args || [])];
	// the first creates the admin and the key ring; the others join a store in use
	const env = opts.env || {};
	const first = await startServer({ store, admin: opts.admin ?? true, args, env });
	const rest = await Promise.all(Array.from({ length: n - 1 }, () => startServer({ store, admin: false, args, env })));
	const nodes = [first, ...rest];
	// every instance serves the one public issuer: pages come from its origin
	for (const node of nodes) node.issuerOrigin = issuer;
	let nginx = null, proxy = null;
	if (opts.proxy !== false) {
		nginx = await startNginx(nginxConfig(nodes.map((s) => s.port), proxyPort), proxyPort);
		proxy = new Server({ proc: { pid: 0 }, port: proxyPort, tmp: dir, store, insecure: true, args: [] });
		proxy.adminPassword = first.adminPassword;
	}
	const c = {
		redis, nodes, proxy, nginx, issuer, store, conf, adminPassword: first.adminPassword,
		// the CLI with the instances' configuration file (store, issuer, timings)
		cli: (a, o = {}) => cli([...a, '--config', conf], { ...o, env: { ...env, ...(o.env || {}) } }),
		async addUser(name, password, roles = []) {
			for (const s of nodes) s.secrets.add(password);
			const r = await c.cli(['user', 'add', name, ...roles.flatMap((x) => ['--role', x])], { input: password + '\n' });
			assert.equal(r.code, 0, `user add ${name}: ${r.stderr}`);
		},
		leaks(extra = []) { return nodes.flatMap((s) => s.leaks(extra)); },
		// Stop everything (instances first, then nginx and Redis); insist each instance
		// exited 0 on SIGTERM with no sanitizer report and no secret in its output.
		async stopClean() {
			const exits = await Promise.all(nodes.map((s) => s.stop()));
			if (nginx) await nginx.stop();
			if (!opts.redis?.call) await redis.stop();
			nodes.forEach((s, i) => {
				assert.ok(!/Sanitizer|runtime error:/.test(s.err), `instance ${i}: sanitizer report:\n${s.err.slice(-3000)}`);
				assert.deepEqual({ code: exits[i].code, signal: exits[i].signal, killed: !!exits[i].killed },
					{ code: 0, signal: null, killed: false }, `instance ${i} after SIGTERM: ${s.err.slice(-500)}`);
			});
			assert.deepEqual(c.leaks(), [], 'no secret in any instance\'s output');
		},
	};
	return c;
}

// Run fn(node, index) on every instance at once; returns the results in order.
export const onAll = (nodes, fn) => Promise.all(nodes.map((s, i) => fn(s, i)));
