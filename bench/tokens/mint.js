// bench/tokens/mint.js: mint N distinct access tokens from latchkey's hybrid endpoint
// (POST /token with a session cookie; one sign each, no Argon2, no store write) over
// CONC keep-alive connections, and write them to OUT, one a line.
//
//   node mint.js URL COOKIE N OUT [CONC=8]
//
// Bounded: exactly N successful requests are needed; it gives up after 100 failures
// or 120 s. Exits non-zero unless all N tokens were minted and are pairwise distinct.
'use strict';

const fs = require('fs');
const http = require('http');

const [url, cookie, nArg, out, concArg] = process.argv.slice(2);
const N = Number(nArg);
const CONC = Number(concArg || 8);
if (!url || !cookie || !out || !(N >= 1 && N <= 1000000) || !(CONC >= 1 && CONC <= 256)) {
  console.error('usage: node mint.js URL COOKIE N OUT [CONC]');
  process.exit(2);
}

const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
const tokens = [];
let started = 0, failures = 0, done = false;
const t0 = Date.now();
const deadline = setTimeout(() => finish(`timed out after 120 s with ${tokens.length}/${N} tokens`), 120000);

function finish(err) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  agent.destroy();
  if (err) {
    console.error(`mint.js: ${err}`);
    process.exit(1);
  }
  const distinct = new Set(tokens).size;
  if (distinct !== N) {
    console.error(`mint.js: only ${distinct} of ${N} tokens are distinct`);
    process.exit(1);
  }
  fs.writeFileSync(out, tokens.join('\n') + '\n');
  const s = (Date.now() - t0) / 1000;
  console.log(JSON.stringify({ minted: N, distinct, seconds: s, per_second: Math.round(N / s), failures }));
  process.exit(0);
}

function one() {
  if (done) return;
  if (started >= N + failures) return;
  started++;
  const req = http.request({
    host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
    headers: { Cookie: cookie, 'Content-Length': 0 },
  }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      let tok;
      if (res.statusCode === 200) {
        try { tok = JSON.parse(body).access_token; } catch (e) { tok = undefined; }
      }
      if (typeof tok === 'string' && tok.length > 0) {
        tokens.push(tok);
      } else if (++failures > 100) {
        return finish(`too many failures; last: ${res.statusCode} ${body.slice(0, 200)}`);
      }
      if (tokens.length >= N) return finish();
      one();
    });
  });
  req.on('error', (e) => {
    if (++failures > 100) return finish(`too many failures; last: ${e.message}`);
    one();
  });
  req.end();
}

for (let i = 0; i < CONC; i++) one();
