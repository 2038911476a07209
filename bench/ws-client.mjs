// The client side of bench/ws.mjs, in a process of its own (never the server's event loop).
// Input: a JSON job in argv[2], its tokens in the file `tokensFile` (ten thousand tokens are more
// than one argument may hold: Linux caps each at 128 KiB). Progress goes to stdout as JSON lines with an `event`; the last line
// is the result. Modes:
//
// - `load`: one `/v1/ws` socket per token (`Authorization: Bearer`, as a Node client sends it), each
//   keeping exactly one heartbeat in flight: send `{"type":"heartbeat","state","requestId"}`, wait
//   for the `status` answering that requestId, send the next — what autocannon does over HTTP with
//   one request in flight per connection. `warmUpSeconds` uncounted, then `seconds` counted
//   (`counting` / `counted` events mark the window, so the parent can read the server's CPU around
//   it). Result: messages/s and the round-trip's p50/p99.
// - `hold-ws`: after a warm-up (see `hold`), opens one socket per token, waits for each one's first
//   status (authenticated), prints `ready`, then holds them idle until stdin closes (the parent is
//   done, or gone).
// - `hold-http`: the same with plain keep-alive HTTP connections, each having had one authenticated
//   `GET /v1/session` answered, then left idle: the comparison for memory per open connection.
//
// Every mode exits by itself after `maxSeconds`, whatever happens to the parent.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const job = JSON.parse(process.argv[2]);
const tokens = JSON.parse(readFileSync(job.tokensFile, 'utf8'));
const OPEN_CONCURRENCY = 64;

setTimeout(() => {
  process.stderr.write(`ws-client: still running after ${job.maxSeconds} s, giving up\n`);
  process.exit(2);
}, job.maxSeconds * 1000).unref();

const emit = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens one connection per token, `OPEN_CONCURRENCY` handshakes at a time. */
async function openAll(list, open) {
  const opened = [];
  const failures = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(OPEN_CONCURRENCY, list.length) }, async () => {
      while (next < list.length) {
        const token = list[next++];
        try {
          opened.push(await open(token));
        } catch (error) {
          failures[error.message] = (failures[error.message] ?? 0) + 1;
        }
      }
    }),
  );
  const failed = Object.values(failures).reduce((sum, n) => sum + n, 0);
  return { opened, failed, failures };
}

/** An authenticated socket: resolves once the server's first `status` has arrived. */
function openSocket(token) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(job.url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    const fail = (message) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.terminate();
      reject(new Error(message));
    };
    socket.once('unexpected-response', (request, response) => {
      request.destroy();
      fail(`upgrade answered ${response.statusCode}`);
    });
    socket.once('error', (error) => fail(`error ${error.code ?? error.message}`));
    socket.once('close', (code) => fail(`closed ${code} before its first status`));
    socket.once('message', (data) => {
      const type = JSON.parse(data.toString()).type;
      if (type !== 'status') return fail(`first message ${type}`);
      socket.removeAllListeners();
      resolve(socket);
    });
  });
}

/** A keep-alive HTTP connection that has had one `GET /v1/session` answered `200`. */
function openHttp(token) {
  const { hostname, port } = new URL(job.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    const fail = (message) => {
      socket.destroy();
      reject(new Error(message));
    };
    socket.setTimeout(10_000, () => fail('timeout'));
    socket.once('error', (error) => fail(`error ${error.code ?? error.message}`));
    socket.once('close', () => fail('closed before its answer'));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = received.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (received.length < end + 4 + length) return;
      if (!head.startsWith('HTTP/1.1 200 ')) return fail(`answered ${head.split('\r\n')[0]}`);
      if (/\r\nconnection: *close/i.test(head)) return fail('answered with connection: close');
      socket.removeAllListeners();
      socket.setTimeout(0);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.write(
      `GET /v1/session HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${token}\r\n\r\n`,
    );
  });
}

/** Closes a connection of either kind; resolves once the server's side is gone too. */
function closeGracefully(connection) {
  return new Promise((resolve) => {
    connection.once('close', resolve);
    if (connection instanceof WebSocket) connection.close(1000);
    else connection.end();
  });
}

/**
 * Opens and closes the first `warmUp` tokens (so that what the server compiles and pools on its
 * first connections is in the parent's baseline), prints `warmed`, waits for an `open` line on
 * stdin, opens one connection per token, prints `ready`, and holds them idle until stdin closes.
 */
async function hold(open) {
  const commands = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const warm = await openAll(tokens.slice(0, job.warmUp ?? 0), open);
  await Promise.all(warm.opened.map(closeGracefully));
  emit({ event: 'warmed', failed: warm.failed });
  if ((await commands.next()).done) process.exit(0);
  const { opened, failed, failures } = await openAll(tokens, open);
  let closedMeanwhile = 0;
  for (const connection of opened) {
    connection.on('error', () => {});
    connection.on('close', () => closedMeanwhile++);
  }
  emit({ event: 'ready', open: opened.length, failed, failures });
  while (!(await commands.next()).done) {
    // only the end of stdin means anything now
  }
  emit({ open: opened.length, failed, failures, closedMeanwhile });
  process.exit(0);
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(2));
}

async function load() {
  const { opened, failed, failures } = await openAll(tokens, openSocket);
  emit({ event: 'ready', open: opened.length, failed, failures });
  const state = job.state ?? 'active';
  let phase = 'warm';
  let unexpected = failed;
  const samples = [];

  const connections = opened.map((socket) => ({ socket, requestId: 0, sentAt: 0, counted: false }));
  const send = (connection) => {
    connection.requestId++;
    connection.counted = phase === 'count';
    connection.sentAt = performance.now();
    connection.socket.send(`{"type":"heartbeat","state":"${state}","requestId":${connection.requestId}}`);
  };
  for (const connection of connections) {
    connection.socket.on('error', () => {});
    connection.socket.on('close', () => {
      if (phase !== 'stop') unexpected++;
    });
    connection.socket.on('message', (data) => {
      const at = performance.now();
      const message = JSON.parse(data.toString());
      // The answer to the beat in flight (a status, or an error frame) lets the next one go; only a
      // status counts. Anything else (an error, a push) is unexpected: none should come in this run.
      const answered =
        message.requestId === connection.requestId && (message.type === 'status' || message.type === 'error');
      if (!answered || message.type !== 'status') unexpected++;
      if (!answered) return;
      if (message.type === 'status' && connection.counted && phase === 'count') {
        samples.push(at - connection.sentAt);
      }
      if (phase !== 'stop') send(connection);
    });
    send(connection);
  }

  await sleep(job.warmUpSeconds * 1000);
  phase = 'count';
  emit({ event: 'counting' });
  const started = performance.now();
  await sleep(job.seconds * 1000);
  phase = 'stop';
  const elapsedSeconds = (performance.now() - started) / 1000;
  emit({ event: 'counted' });

  const sorted = Float64Array.from(samples).sort();
  emit({
    messagesPerSecond: Math.round(sorted.length / elapsedSeconds),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    total: sorted.length,
    sockets: opened.length,
    unexpected,
    failures,
  });
  process.exit(0);
}

if (job.mode === 'load') await load();
else if (job.mode === 'hold-ws') await hold(openSocket);
else if (job.mode === 'hold-http') await hold(openHttp);
else throw new Error(`unknown mode ${job.mode}`);
