import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeTime, settle } from '../test/support/fake-time.js';
import { openEventStream, SILENT_STREAM_MS } from './event-stream.js';

function streamOf(chunks: string[], seen: RequestInit[] = [], { keepOpen = false } = {}) {
  const time = new FakeTime();
  const got: Array<[string, unknown] | 'closed'> = [];
  const channel = openEventStream(
    {
      baseUrl: 'https://vigil.test/',
      token: 'tok',
      fetch: async (_input, init) => {
        seen.push(init ?? {});
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            // As with a real fetch, aborting the request errors its body.
            init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
            for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
            if (!keepOpen) controller.close();
          },
        });
        return new Response(body, { status: 200 });
      },
      timers: time,
      timeoutMs: 1000,
    },
    {
      message: (type, data) => got.push([type, data]),
      closed: () => got.push('closed'),
    },
  );
  return { got, channel, time };
}

const status = { idleExpiresInMs: 1, absoluteExpiresInMs: 2, warnInMs: 0, heartbeatIntervalMs: 3 };

describe('the event stream', () => {
  it('parses events split across chunks, with CRLF, skipping comments', async () => {
    const seen: RequestInit[] = [];
    const text = `: ping\n\nevent: status\ndata: ${JSON.stringify(status)}\r\n\r\nevent: warning\ndata: ${JSON.stringify(status)}\n\n: ping\n\nevent: ended\ndata: {"reason":"revoked","endedAt":"x"}\n\n`;
    const { got } = streamOf([text.slice(0, 20), text.slice(20, 77), text.slice(77)], seen);
    await settle();
    assert.deepEqual(got, [
      ['status', status],
      ['warning', status],
      ['ended', { reason: 'revoked', endedAt: 'x' }],
      'closed',
    ]);
    const headers = new Headers(seen[0]?.headers);
    assert.equal(headers.get('authorization'), 'Bearer tok');
    assert.equal(headers.get('accept'), 'text/event-stream');
  });

  it('closes a stream that stays silent past three server pings, so that it is reopened', async () => {
    const { got, time } = streamOf([`event: status\ndata: ${JSON.stringify(status)}\n\n`], [], {
      keepOpen: true,
    });
    await settle();
    assert.deepEqual(got, [['status', status]]);
    await time.advance(SILENT_STREAM_MS - 1);
    assert.equal(got.length, 1, 'still open just before the limit');
    await time.advance(1);
    await settle();
    assert.deepEqual(got.at(-1), 'closed');
  });

  it('delivers nothing from a body that is not an event stream, and closes', async () => {
    const { got } = streamOf(['<html>not a stream</html>']);
    await settle();
    assert.deepEqual(got, ['closed']);
  });
});
