#!/usr/bin/env node
// bench/soak/workload.js: the soak's mixed load, on loopback, for a bounded time: at a
// fixed rate per second, sign-ins (POST /login, Argon2), GET /me with the new cookie,
// password grants and refresh-token rotations (POST /oauth2/token), revocations of the
// refresh token (RFC 7009, POST /oauth2/revoke), sign-outs. Counts every status, and
// prints one JSON line at the end. wrk runs beside it for the GET /me volume.
//
//   node workload.js BASE_URL RATE_PER_S SECONDS USER PASSWORD CLIENT_ID CLIENT_SECRET
'use strict';
const http = require('http');

const [base, rateArg, secsArg, user, pw, cid, csecret] = process.argv.slice(2);
if (!base || !rateArg || !secsArg || !user || !pw || !cid || !csecret) {
  console.error('usage: workload.js BASE_URL RATE_PER_S SECONDS USER PASSWORD CLIENT_ID CLIENT_SECRET');
  process.exit(2);
}
const u = new URL(base);
if (!u.hostname.startsWith('127.') && u.hostname !== 'localhost') {
  console.error('workload.js: loopback only');
  process.exit(2);
}
const rate = Number(rateArg), secs = Number(secsArg);
if (!(rate > 0 && rate <= 200 && secs > 0 && secs <= 3600)) {
  console.error('workload.js: RATE in (0,200], SECONDS in (0,3600]');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(cid)}:${encodeURIComponent(csecret)}`).toString('base64');
const statuses = {};
let errors = 0, flows = 0, inflight = 0;

function req(method, path, headers, body) {
  return new Promise((resolve) => {
    const r = http.request({ host: u.hostname, port: u.port, path, method, agent, timeout: 10000, headers }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        resolve({ status: res.statusCode, headers: res.headers, body: b });
      });
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', () => { errors++; resolve({ status: 0, headers: {}, body: '' }); });
    r.end(body);
  });
}
const json = (o) => [JSON.stringify(o), { 'Content-Type': 'application/json', Origin: base }];
const form = (o) => [new URLSearchParams(o).toString(), { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic }];

async function flow() {
  inflight++;
  flows++;
  try {
    const [b, h] = json({ username: user, password: pw });
    const login = await req('POST', '/login', h, b);
    const sc = [].concat(login.headers['set-cookie'] || []).find((c) => /^(__Host-)?latchkey=/.test(c));
    const cookie = sc ? sc.split(';')[0] : '';
    if (cookie) {
      await req('GET', '/me', { Cookie: cookie });
      await req('GET', '/sessions', { Cookie: cookie });
      await req('POST', '/logout', { Cookie: cookie, Origin: base, 'Content-Type': 'application/json' }, '{}');
    }
    const [gb, gh] = form({ grant_type: 'password', username: user, password: pw });
    const g = await req('POST', '/oauth2/token', gh, gb);
    let rt = g.status === 200 ? JSON.parse(g.body).refresh_token : null;
    for (let i = 0; rt && i < 3; i++) {
      const [rb, rh] = form({ grant_type: 'refresh_token', refresh_token: rt });
      const r = await req('POST', '/oauth2/token', rh, rb);
      if (r.status !== 200) break;
      const t = JSON.parse(r.body);
      await req('GET', '/auth/verify', { Authorization: `Bearer ${t.access_token}` });
      rt = t.refresh_token;
    }
    if (rt) {
      const [vb, vh] = form({ token: rt });
      await req('POST', '/oauth2/revoke', vh, vb);
    }
  } finally {
    inflight--;
  }
}

const t0 = Date.now();
const total = Math.round(rate * secs);
let started = 0, skipped = 0;
function tick() {
  const elapsed = (Date.now() - t0) / 1000;
  while (started + skipped < total && (started + skipped) / rate <= elapsed) {
    if (inflight >= 32) skipped++; else { started++; flow(); }
  }
  if (started + skipped < total) setTimeout(tick, 20);
  else finish();
}
async function finish() {
  for (let i = 0; i < 200 && inflight > 0; i++) await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify({ flows, skipped, errors, statuses, wall_s: (Date.now() - t0) / 1000 }));
  agent.destroy();
  process.exit(0);
}
setTimeout(() => { console.log(JSON.stringify({ flows, skipped, errors: errors + inflight, statuses, cut: true })); process.exit(0); }, (secs + 30) * 1000).unref();
tick();
