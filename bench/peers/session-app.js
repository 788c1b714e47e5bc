// bench/peers/session-app.js: the seed's "Session-based auth with Express +
// express-session" app (shared/seeds/002), the peer that latchkey's GET /me is
// measured against (issue 3, bench/http/run.sh).
//
// The session options, /login, /profile and /logout are the seed's, as written.
// What had to be added for the app to run at all, and nothing else:
//   - express.json(): the seed reads req.body in POST /login but installs no body
//     parser, so req.body would be undefined.
//   - redisClient.connect() and REDIS_URL: node-redis 4 does not connect by
//     itself; the seed's createClient() would only reach a redis on 6379.
//   - verifyCredentials(): the seed leaves it undefined. Here it is one fixed
//     in-memory user whose password is checked with a constant-time compare and
//     NO password hash (no bcrypt/argon2), so logins are cheap. That only makes
//     the peer's login faster; GET /me never touches it.
//   - `trust proxy`: the seed's cookie has `secure: true`, and express-session
//     then refuses to send Set-Cookie over plain http. With trust proxy set, a
//     login sent with `X-Forwarded-Proto: https` (as run.sh does) gets its
//     cookie. The Secure flag changes nothing on the benchmark itself: wrk sends
//     the Cookie header directly, and express-session reads it regardless.
//   - GET /me: same handler as the seed's /profile (kept as well).
//   - PORT and SESSION_SECRET from the environment.
'use strict';

const crypto = require('crypto');
const express = require('express');
const session = require('express-session');
const RedisStore = require('connect-redis').default;
const redis = require('redis');

if (!process.env.SESSION_SECRET) {
  console.error('session-app: SESSION_SECRET must be set');
  process.exit(2);
}

const app = express();
const redisClient = redis.createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
redisClient.on('error', (err) => console.error('session-app: redis:', err.message));

app.set('trust proxy', 1);
app.use(express.json());

app.use(session({
  store: new RedisStore({ client: redisClient }),
  secret: process.env.SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
  cookie: {
    httpOnly: true,      // JS cannot access this cookie
    secure: true,        // HTTPS only
    sameSite: 'strict',  // No cross-site requests
    maxAge: 24 * 60 * 60 * 1000  // 24 hours
  }
}));

// One fixed user; constant-time password compare, no password hashing (see above).
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

// Login
app.post('/login', async (req, res) => {
  const { email, password } = req.body;
  const user = await verifyCredentials(email, password);

  if (!user) return res.status(401).json({ error: 'Invalid credentials' });

  // Session created automatically, stored in Redis
  req.session.userId = user.id;
  req.session.role = user.role;
  res.json({ message: 'Logged in' });
});

// Protected route
function profile(req, res) {
  if (!req.session.userId) {
    return res.status(401).json({ error: 'Not authenticated' });
  }
  res.json({ userId: req.session.userId, role: req.session.role });
}
app.get('/profile', profile);
app.get('/me', profile);

// Logout -- instant revocation
app.post('/logout', (req, res) => {
  req.session.destroy();  // Session deleted from Redis
  res.clearCookie('connect.sid');
  res.json({ message: 'Logged out' });
});

const port = Number(process.env.PORT || 3000);
redisClient.connect().then(() => {
  const server = app.listen(port, process.env.HOST || '127.0.0.1', () => {
    console.log(`session-app listening on ${server.address().address}:${server.address().port}`);
  });
  const stop = () => {
    setTimeout(() => process.exit(0), 1000).unref();
    server.close(() => redisClient.quit().finally(() => process.exit(0)));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}, (err) => {
  console.error('session-app: cannot connect to redis:', err.message);
  process.exit(1);
});
