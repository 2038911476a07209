import { type Channel, type ChannelHandlers, deliver } from './channel.js';
import { fetchVigil, interpret, type TransportOptions } from './transport.js';

/**
 * `GET /v1/events`, read with `fetch` rather than `EventSource`, so that a token can travel in
 * `Authorization`. Only what Vigil sends is parsed: an `event:` line, then one `data:` line of JSON;
 * comments (the server's keep-alive pings) are skipped. Usable once the first status arrives.
 */
export function openEventStream(options: TransportOptions, on: ChannelHandlers): Channel {
  const controller = new AbortController();
  let ready = false;

  const read = async (): Promise<void> => {
    const response = await fetchVigil(options, '/v1/events', 'text/event-stream', controller.signal);
    if (!response.ok || !response.body) {
      const outcome = await interpret(response);
      if (outcome.kind === 'ended') on.event(outcome);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const blocks = (buffer + chunk.value).split(/\r?\n\r?\n/);
      buffer = blocks.pop() ?? '';
      for (const block of blocks) {
        const [, type, data] = /^event: ?(\w+)\r?\ndata: ?(.*)/m.exec(block) ?? [];
        if (type && data) ready = deliver(on, type, JSON.parse(data), ready);
      }
    }
  };

  void read()
    .catch(() => {
      // A network error, or our own abort: either way the stream is over.
    })
    .then(() => on.closed(ready));
  return { close: () => controller.abort() };
}
