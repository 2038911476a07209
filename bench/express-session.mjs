// The setup most Node teams run today, as the comparison for Vigil on Redis: Express +
// express-session + connect-redis, configured the way its docs recommend for a keepalive — cookie
// sessions, `resave: false` (no write when nothing changed), `rolling: true` (every request pushes
// the expiry: a TTL refresh in Redis and a new Set-Cookie), `saveUninitialized: false` (no session
// until login). `POST /login` creates a session (the bench pre-creates them and keeps the cookies);
// `POST /v1/heartbeat` is the keepalive: `req.session.touch()`, 401 without a session, else 200 with
// the remaining time, like Vigil's status. REDIS_URL (required), PORT (default 0), SESSION_TTL_S.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

const ttlSeconds = Number(process.env.SESSION_TTL_S ?? 900);
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error) => process.stderr.write(`redis: ${error.message}\n`));
await client.connect();

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '64kb' }));
app.use(
  session({
    store: new RedisStore({ client, prefix: 'sess:', ttl: ttlSeconds }),
    // A fixed secret: bench-only, loopback-only.
    secret: 'bench-only-secret-not-for-production',
    resave: false,
    rolling: true,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: false, maxAge: ttlSeconds * 1000 },
  }),
);

app.post('/login', (req, res) => {
  const subject = typeof req.body?.subject === 'string' ? req.body.subject : 'anonymous';
  req.session.regenerate((error) => {
    if (error) return res.status(503).json({ error: { code: 'store_unavailable' } });
    req.session.user = { subject, loggedInAt: Date.now() };
    res.status(201).json({ subject });
  });
});

app.post('/v1/heartbeat', (req, res) => {
  if (req.session.user === undefined) {
    return res.status(401).json({ error: { code: 'unauthenticated' } });
  }
  req.session.touch();
  res.json({ subject: req.session.user.subject, idleExpiresInMs: req.session.cookie.maxAge });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  process.stderr.write(`express-session listening on http://127.0.0.1:${port}/ \n`);
});
const stop = () => server.close(() => client.quit().finally(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
