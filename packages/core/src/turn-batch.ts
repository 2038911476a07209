interface Waiting<Input, Output> {
  input: Input;
  resolve: (output: Output | Promise<Output>) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects the calls made during one turn of the event loop and runs them together at
 * `setImmediate`, after every I/O callback of that turn: under load, the heartbeats of all the
 * requests that arrived together then share one commit or one round trip (a store's group commit).
 * Alone, a call waits only for the rest of its turn.
 *
 * `runAll` answers every input, in order, or throws — and then every call of the batch fails with
 * that error. An answer may be a promise, which settles that one call alone.
 */
export class TurnBatch<Input, Output> {
  readonly #runAll: (inputs: readonly Input[]) => ReadonlyArray<Output | Promise<Output>>;
  #waiting: Array<Waiting<Input, Output>> = [];
  #scheduled: ReturnType<typeof setImmediate> | null = null;

  constructor(runAll: (inputs: readonly Input[]) => ReadonlyArray<Output | Promise<Output>>) {
    this.#runAll = runAll;
  }

  add(input: Input): Promise<Output> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Runs what is waiting now: before any call that must come after it, and before closing. */
  flush(): void {
    if (this.#scheduled !== null) {
      clearImmediate(this.#scheduled);
      this.#scheduled = null;
    }
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    let outputs: ReadonlyArray<Output | Promise<Output>>;
    try {
      outputs = this.#runAll(batch.map((call) => call.input));
    } catch (error) {
      for (const call of batch) call.reject(error);
      return;
    }
    batch.forEach((call, index) => {
      call.resolve(outputs[index] as Output | Promise<Output>);
    });
  }
}
