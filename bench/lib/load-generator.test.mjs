// The bench's figures are only as true as its load generators: this runs one short job through each
// (wrk and autocannon) against a counting server in a process of its own, and checks that both send
// the requests the job describes and count the answers the server gave. wrk must be installed
// (`.ci/run` installs it): a missing generator fails here rather than leaving a path untested.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generators, loadGenerator } from './load-generator.mjs';
import { startServer } from './processes.mjs';

// Answers 401 to the token `gone` and 204 to any other; `GET /seen` tells what it received.
const COUNTING_SERVER = `
import { createServer } from 'node:http';
const seen = { answered: 0, byCredential: {}, shapes: {} };
createServer((request, response) => {
  if (request.url === '/seen') return response.end(JSON.stringify(seen));
  let body = '';
  request.on('data', (chunk) => { body += chunk; });
  request.on('end', () => {
    const credential = request.headers.authorization ?? request.headers.cookie ?? '(none)';
    seen.byCredential[credential] = (seen.byCredential[credential] ?? 0) + 1;
    const shape = [request.method, request.url, request.headers['content-type'] ?? '-', body || '-',
      request.headers['x-bench'] ?? '-'].join(' ');
    seen.shapes[shape] = (seen.shapes[shape] ?? 0) + 1;
    response.statusCode = /gone/.test(credential) ? 401 : 204;
    response.end();
    seen.answered++;
  });
}).listen(0, '127.0.0.1', function () {
  console.log('listening on http://127.0.0.1:' + this.address().port + ' ');
});
`;

const CONNECTIONS = 4;

async function runAgainstCountingServer(generator, job) {
  const server = await startServer('counting server', ['--input-type=module', '-e', COUNTING_SERVER]);
  try {
    const result = generators[generator]({
      url: `${server.url}/v1/heartbeat`,
      connections: CONNECTIONS,
      duration: 1,
      ...job,
    });
    const seen = await (await fetch(`${server.url}/seen`)).json();
    return { result, seen };
  } finally {
    server.stop();
  }
}

/** What holds for any run: every request answered, counted once, and the figures consistent. */
function assertConsistent(result, seen) {
  assert.equal(result.errors, 0, 'no request went unanswered');
  assert.ok(result.total > 100, `a second of load sends more than ${result.total} requests`);
  const counted = Object.values(result.statuses).reduce((sum, count) => sum + count, 0);
  assert.equal(counted, result.total, 'each answer is counted under its status once');
  // The server may answer a few requests still in flight when the run stops, never fewer.
  assert.ok(
    seen.answered >= result.total && seen.answered <= result.total + CONNECTIONS,
    `the server answered ${seen.answered}, the generator counted ${result.total}`,
  );
  const perSecond = result.total / 1;
  assert.ok(
    Math.abs(result.requestsPerSecond - perSecond) <= perSecond * 0.25,
    `${result.requestsPerSecond} requests/s for ${result.total} requests in about a second`,
  );
  // autocannon reports whole milliseconds, so a fast answer's p50 may be 0.
  assert.ok(
    result.p50Ms >= 0 && result.p50Ms <= result.p99Ms,
    `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`,
  );
}

assert.equal(loadGenerator().name, 'wrk', 'wrk is installed (apt-get install wrk; .ci/run does)');

for (const generator of Object.keys(generators)) {
  describe(`load generator: ${generator}`, () => {
    it('posts the heartbeat body with each bearer token in turn, and counts answers by status', async () => {
      const { result, seen } = await runAgainstCountingServer(generator, {
        tokens: ['a', 'b', 'gone'],
        headers: { 'x-bench': 'yes' },
      });
      assertConsistent(result, seen);
      assert.deepEqual(Object.keys(seen.shapes), [
        'POST /v1/heartbeat application/json {"state":"active"} yes',
      ]);
      assert.deepEqual(Object.keys(seen.byCredential).sort(), ['Bearer a', 'Bearer b', 'Bearer gone']);
      // The tokens take turns, so a third of the answers are 401s, give or take those in flight.
      assert.deepEqual(Object.keys(result.statuses).sort(), ['204', '401']);
      assert.ok(
        Math.abs(3 * result.statuses['401'] - result.total) <= 3 * CONNECTIONS,
        `${result.statuses['401']} of ${result.total} answers were 401`,
      );
    });

    it('sends a GET without a body, with the token as the Cookie header', async () => {
      const { result, seen } = await runAgainstCountingServer(generator, {
        method: 'GET',
        credential: 'cookie',
        tokens: ['sid=one'],
      });
      assertConsistent(result, seen);
      assert.deepEqual(Object.keys(seen.shapes), ['GET /v1/heartbeat - - -']);
      assert.deepEqual(Object.keys(seen.byCredential), ['sid=one']);
      assert.deepEqual(result.statuses, { 204: result.total });
    });
  });
}
