/** Web Locks' exclusive mode, enough for leader election: one holder per name, the rest queue. */
export class FakeLocks {
  #held = new Set<string>();
  #queues = new Map<string, Array<() => void>>();

  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        this.#held.add(name);
        void callback().then(() => {
          this.#held.delete(name);
          const next = this.#queues.get(name)?.shift();
          next?.();
          resolve(undefined);
        });
      };
      if (!this.#held.has(name)) {
        this.#held.add(name);
        queueMicrotask(grant);
        return;
      }
      const queue = this.#queues.get(name) ?? [];
      queue.push(grant);
      this.#queues.set(name, queue);
      options.signal?.addEventListener('abort', () => {
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  }
}
