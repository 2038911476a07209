import type { Channel, ChannelHandlers } from './channel.js';
import { asStatus, fetchVigil, interpret, type TransportOptions } from './transport.js';

/**
 * A stream that has said nothing for this long is taken for dead (a proxy or NAT dropped it without
 * a close) and closed, so that it is reopened: three of the server's keep-alive pings (15 s each).
 */
export const SILENT_STREAM_MS = 45_000;

/**
 * `GET /v1/events`, read with `fetch` rather than `EventSource`, so that a token can travel in
 * `Authorization`. Only what Vigil sends is parsed: an `event:` line, then one `data:` line of JSON;
 * comments (the server's keep-alive pings) are skipped.
 */
export function openEventStream(options: TransportOptions, on: ChannelHandlers): Channel {
  const controller = new AbortController();
  const { timers } = options;
  let watchdog: unknown;
  const heard = (): void => {
    timers.clearTimeout(watchdog);
    watchdog = timers.setTimeout(() => controller.abort(), SILENT_STREAM_MS);
  };

  const read = async (): Promise<void> => {
    const response = await fetchVigil(options, '/v1/events', 'text/event-stream', controller.signal);
    if (!response.ok || !response.body) {
      const outcome = await interpret(response, asStatus);
      if (outcome.kind === 'ended') on.message('ended', outcome);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    heard();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      heard();
      const blocks = (buffer + chunk.value).split(/\r?\n\r?\n/);
      buffer = blocks.pop() ?? '';
      for (const block of blocks) {
        const [, type, data] = /^event: ?(\w+)\r?\ndata: ?(.*)/m.exec(block) ?? [];
        if (type && data) on.message(type, JSON.parse(data));
      }
    }
  };

  void read()
    .catch(() => {
      // A network error, or our own abort: either way the stream is over.
    })
    .then(() => {
      timers.clearTimeout(watchdog);
      on.closed();
    });
  return { close: () => controller.abort() };
}
