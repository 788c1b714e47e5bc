#!/usr/bin/env node
// bench/http/login-load.js: POST logins at a fixed rate for a bounded time, on
// loopback, then print one JSON line of what happened. Used by run.sh to keep
// latchkey's password hashing busy while wrk measures GET /me.
//
//   node login-load.js URL RATE_PER_S SECONDS JSON_BODY
//
// Requests are started on a fixed schedule (not back to back), so a slow login
// does not lower the offered rate; at most MAX_INFLIGHT are outstanding, beyond
// that a tick is skipped and counted. Every request has a 10 s timeout.
'use strict';

const http = require('http');

const [url, rateArg, secsArg, body] = process.argv.slice(2);
if (!url || !rateArg || !secsArg || body === undefined) {
  console.error('usage: login-load.js URL RATE_PER_S SECONDS JSON_BODY');
  process.exit(2);
}
const u = new URL(url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !u.hostname.startsWith('127.')) {
  console.error('login-load.js: loopback targets only');
  process.exit(2);
}
const rate = Number(rateArg);
const secs = Number(secsArg);
if (!(rate > 0 && rate <= 1000 && secs > 0 && secs <= 600)) {
  console.error('login-load.js: RATE in (0,1000], SECONDS in (0,600]');
  process.exit(2);
}
const MAX_INFLIGHT = 64;
const total = Math.round(rate * secs);
const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_INFLIGHT });
const payload = Buffer.from(body);

let started = 0, inflight = 0, skipped = 0, ok = 0, non2xx = 0, errors = 0;
const lat = [];
const statuses = {};
const t0 = process.hrtime.bigint();

function one() {
  inflight++;
  const s = process.hrtime.bigint();
  const req = http.request(u, {
    method: 'POST', agent, timeout: 10000,
    headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length },
  }, (res) => {
    res.resume();
    res.on('end', () => {
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
      if (res.statusCode >= 200 && res.statusCode < 300) ok++; else non2xx++;
      done();
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => { errors++; done(); });
  req.end(payload);
}

function done() {
  inflight--;
  if (started + skipped >= total && inflight === 0) finish();
}

function tick() {
  // Start every request whose scheduled time has come.
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  while (started + skipped < total && (started + skipped) / rate <= elapsed) {
    if (inflight >= MAX_INFLIGHT) skipped++; else { started++; one(); }
  }
  if (started + skipped < total) {
    const next = (started + skipped) / rate - elapsed;
    setTimeout(tick, Math.max(0, next * 1000));
  } else if (inflight === 0) {
    finish();
  }
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p / 100 * lat.length))] : null);
  const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
  console.log(JSON.stringify({
    offered_per_s: rate, seconds: secs, wall_s: r(wall), started, skipped, ok, non2xx, errors, statuses,
    completed_per_s: r((ok + non2xx) / wall), login_p50_ms: r(pct(50)), login_p99_ms: r(pct(99)),
  }));
  agent.destroy();
  process.exit(0);
}

// Hard bound: never run past SECONDS + 15 s.
setTimeout(() => { errors += inflight; finish(); }, (secs + 15) * 1000).unref();
tick();
