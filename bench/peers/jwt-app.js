// bench/peers/jwt-app.js: the seed's "JWT authentication with Express +
// jsonwebtoken" app (shared/seeds/002), the peer for latchkey's /auth/verify
// comparisons.
//
// ALG=HS256 (default): the seed as written. jwt.sign(..., ACCESS_SECRET,
//   { algorithm: 'HS256', expiresIn: '15m' }) at POST /login, and the
//   `authenticate` middleware's jwt.verify(token, ACCESS_SECRET,
//   { algorithms: ['HS256'] }) in front of GET /profile.
// ALG=ES256: the same app, but the access token is signed with an EC P-256
//   private key and verified with its public key, { algorithms: ['ES256'] }.
//   Keys are PEM files named by JWT_ES256_PRIVATE_KEY_FILE and
//   JWT_ES256_PUBLIC_KEY_FILE, e.g. made with
//     openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out es256.key
//     openssl ec -in es256.key -pubout -out es256.pub
//   The refresh token stays HS256 with JWT_REFRESH_SECRET, as in the seed.
//
// Added so it runs at all: express.json() (the seed reads req.body without a body
// parser), a fixed in-memory user for the seed's undefined verifyCredentials()
// (constant-time compare, no password hash: only login gets cheaper), PORT from
// the environment. POST /login {"email","password"} answers {"accessToken"} as in
// the seed, so a benchmark can fetch a token and send `Authorization: Bearer ...`.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const express = require('express');
const jwt = require('jsonwebtoken');

const app = express();
app.use(express.json());

const ALG = process.env.ALG || 'HS256';
const ACCESS_SECRET = process.env.JWT_ACCESS_SECRET;
const REFRESH_SECRET = process.env.JWT_REFRESH_SECRET;

let ACCESS_SIGN_KEY, ACCESS_VERIFY_KEY;
if (ALG === 'HS256') {
  ACCESS_SIGN_KEY = ACCESS_VERIFY_KEY = ACCESS_SECRET;
  if (!ACCESS_SECRET) {
    console.error('jwt-app: JWT_ACCESS_SECRET must be set');
    process.exit(2);
  }
} else if (ALG === 'ES256') {
  const priv = process.env.JWT_ES256_PRIVATE_KEY_FILE;
  const pub = process.env.JWT_ES256_PUBLIC_KEY_FILE;
  if (!priv || !pub) {
    console.error('jwt-app: ALG=ES256 needs JWT_ES256_PRIVATE_KEY_FILE and JWT_ES256_PUBLIC_KEY_FILE');
    process.exit(2);
  }
  ACCESS_SIGN_KEY = fs.readFileSync(priv, 'utf8');
  ACCESS_VERIFY_KEY = fs.readFileSync(pub, 'utf8');
} else {
  console.error(`jwt-app: ALG must be HS256 or ES256, not ${ALG}`);
  process.exit(2);
}
if (!REFRESH_SECRET) {
  console.error('jwt-app: JWT_REFRESH_SECRET must be set');
  process.exit(2);
}

// One fixed user; constant-time password compare, no password hashing.
const USER = {
  id: 1,
  email: process.env.BENCH_EMAIL || 'bench@example.com',
  role: 'user',
  password: Buffer.from(process.env.BENCH_PASSWORD || 'pw'),
};

async function verifyCredentials(email, password) {
  if (typeof email !== 'string' || typeof password !== 'string') return null;
  const given = crypto.createHash('sha256').update(password).digest();
  const want = crypto.createHash('sha256').update(USER.password).digest();
  const ok = crypto.timingSafeEqual(given, want);
  if (!ok || email !== USER.email) return null;
  return { id: USER.id, email: USER.email, role: USER.role };
}

// Login -- returns tokens instead of creating a session
app.post('/login', async (req, res) => {
  const { email, password } = req.body;
  const user = await verifyCredentials(email, password);

  if (!user) return res.status(401).json({ error: 'Invalid credentials' });

  const accessToken = jwt.sign(
    { sub: user.id, email: user.email, role: user.role },
    ACCESS_SIGN_KEY,
    { algorithm: ALG, expiresIn: '15m' }
  );

  const refreshToken = jwt.sign(
    { sub: user.id },
    REFRESH_SECRET,
    { algorithm: 'HS256', expiresIn: '7d' }
  );

  // Refresh token in HttpOnly cookie, access token in body
  res.cookie('refresh_token', refreshToken, {
    httpOnly: true, secure: true, sameSite: 'strict',
    maxAge: 7 * 24 * 60 * 60 * 1000
  });

  res.json({ accessToken });
});

// Auth middleware -- no database lookup needed
function authenticate(req, res, next) {
  const token = req.headers.authorization?.split(' ')[1];
  if (!token) return res.status(401).json({ error: 'No token provided' });

  try {
    req.user = jwt.verify(token, ACCESS_VERIFY_KEY, {
      algorithms: [ALG]
    });
    next();
  } catch (err) {
    res.status(401).json({ error: 'Invalid or expired token' });
  }
}

// Protected route -- user data comes from the token itself
app.get('/profile', authenticate, (req, res) => {
  res.json({ userId: req.user.sub, email: req.user.email });
});

const port = Number(process.env.PORT || 3000);
const server = app.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`jwt-app (${ALG}) listening on ${server.address().address}:${server.address().port}`);
});
const stop = () => {
  setTimeout(() => process.exit(0), 1000).unref();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
