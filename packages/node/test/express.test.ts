import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import express from 'express';
import { vigilExpress } from '../src/index.js';
import { describeEnforcement } from './behaviours.js';
import { bearer, expressFramework, get, makeBackend } from './helpers.js';

describeEnforcement(expressFramework, 'local');

describe('vigilExpress in an Express app', () => {
  test('on one route; a throwing passive callback goes to the app error handler, not a 401', async () => {
    const backend = await makeBackend('local');
    const app = express();
    const guard = vigilExpress({
      checker: backend.checker,
      passive: (req) => {
        if (req.query.explode !== undefined) throw new Error('callback failed');
        return req.path === '/status';
      },
    });
    app.get('/status', guard, (req, res) => {
      res.json(req.vigil);
    });
    app.get('/open', (_req, res) => {
      res.json({ open: true });
    });
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handledBy: 'app', message: error.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { token } = await backend.createSession();
      backend.clock.advance(3000);
      const status = await get(`${url}/status`, bearer(token));
      assert.equal(status.status, 200);
      assert.equal((status.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 7000);
      assert.equal((await get(`${url}/open`)).status, 200);
      const boom = await get(`${url}/status?explode=1`, bearer(token));
      assert.equal(boom.status, 500);
      assert.deepEqual(boom.body, { handledBy: 'app', message: 'callback failed' });
    } finally {
      server.closeAllConnections();
      server.close();
      await backend.close();
    }
  });
});
