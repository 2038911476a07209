/** One Server-Sent Events message: its `event` name (`message` when none) and its `data` lines joined. */
export interface SseMessage {
  event: string;
  data: string;
}

/**
 * Reads a `text/event-stream` as it arrives, in chunks cut anywhere (even inside a line or between
 * `\r` and `\n`), following the HTML standard's parsing rules for the fields used here: `event`,
 * `data`, comments (`:`), the three line endings, and one optional space after the colon. `id` and
 * `retry` are ignored: the reader reconnects on its own terms. A message without data is not one.
 */
export class SseParser {
  #buffer = '';
  /** A chunk ended with `\r`: a `\n` starting the next chunk belongs to that line ending. */
  #afterCr = false;
  #event = '';
  #data: string[] = [];

  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = false;
    this.#buffer += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const char = this.#buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      this.#line(this.#buffer.slice(start, i), messages);
      if (char === '\r') {
        if (i + 1 === this.#buffer.length) this.#afterCr = true;
        else if (this.#buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return messages;
  }

  #line(line: string, messages: SseMessage[]): void {
    if (line === '') {
      if (this.#data.length > 0)
        messages.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}
