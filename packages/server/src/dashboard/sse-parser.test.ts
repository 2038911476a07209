import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type SseMessage, SseParser } from './sse-parser.js';

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** Cuts a text at the given positions (sorted, deduplicated, within the text). */
function cut(text: string, positions: number[]): string[] {
  const points = [...new Set(positions.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(text.slice(last, point));
    last = point;
  }
  chunks.push(text.slice(last));
  return chunks;
}

const safeText = fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, ''));
const message = fc.record({
  event: fc.constantFrom('session.created', 'session.revoked', 'status', ''),
  lines: fc.array(safeText, { minLength: 1, maxLength: 3 }),
  comment: fc.option(safeText, { nil: undefined }),
});
const lineEnding = fc.constantFrom('\n', '\r\n', '\r');

describe('SseParser', () => {
  test('reads named events, multi-line data, comments and the optional space', () => {
    const text = ': open\n\nevent: a\ndata: {"x":1}\n\nevent:b\ndata:one\ndata: two\n\ndata\n\n: ping\n\n';
    assert.deepEqual(parseAll([text]), [
      { event: 'a', data: '{"x":1}' },
      { event: 'b', data: 'one\ntwo' },
      { event: 'message', data: '' },
    ]);
  });

  test('keeps an unfinished message for the next chunk, and a message without data is none', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('event: a\ndata: 1'), []);
    assert.deepEqual(parser.push('\n'), []);
    assert.deepEqual(parser.push('\n'), [{ event: 'a', data: '1' }]);
    assert.deepEqual(parser.push('event: lonely\n\n'), []);
  });

  test('the same messages however the stream is cut and whichever line ending it uses', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 5 }),
        lineEnding,
        fc.array(fc.nat(), { maxLength: 12 }),
        (messages, eol, positions) => {
          const text = messages
            .map(
              ({ event, lines, comment }) =>
                (comment === undefined ? '' : `:${comment}${eol}`) +
                (event === '' ? '' : `event: ${event}${eol}`) +
                lines.map((line) => `data: ${line}${eol}`).join('') +
                eol,
            )
            .join('');
          const expected = messages.map(({ event, lines }) => ({
            event: event || 'message',
            data: lines.join('\n'),
          }));
          assert.deepEqual(parseAll([text]), expected);
          assert.deepEqual(parseAll(cut(text, positions)), expected);
          assert.deepEqual(parseAll([...text]), expected, 'one character at a time');
        },
      ),
    );
  });
});
