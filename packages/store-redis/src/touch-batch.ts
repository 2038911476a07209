import { TurnBatch } from '@vigil/core';
import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.js';
import { sessionTouchMany } from './scripts/session-touch.js';

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** One touch: its session's key and the five `sessionTouch` arguments. */
export interface TouchCall {
  key: string;
  args: (string | number)[];
}

/**
 * Most sessions one script touches. A script runs alone in Redis, so it must stay short: 256 active
 * touches took 2.7 ms there (Redis 7.0, on a shared CPU), 64 take 0.5 to 1.2 ms; a turn brings ~8 at 32
 * busy connections, so the bound costs nothing then.
 */
export const MAX_TOUCHES_PER_SCRIPT = 64;

/**
 * On standalone Redis, the touches of one event-loop turn (`TurnBatch`) go as one `sessionTouchMany`
 * script (up to MAX_TOUCHES_PER_SCRIPT sessions each) instead of one `sessionTouch` each; a lone touch
 * still goes as `sessionTouch`. Each call gets its own key's reply, so its caller decodes, bounds and
 * follows it up as before; a failed script fails the calls it carried, no others.
 *
 * Why: each script call costs the client a command object, its promises and its share of a write and
 * a parse, and Redis a script run. With ~8 touches per turn (32 busy connections) the server's CPU per
 * heartbeat fell from a median 89 to 79 µs and heartbeats/s rose ~10% (`bench/profile.mjs --cpu-only`
 * on Redis, 13 alternating runs each on a shared 2-CPU machine; single runs moved ±10%).
 *
 * On a cluster every touch goes alone, as before. A script's keys must share a slot there, and a
 * turn's touches rarely do (32 touches over 16384 slots: a shared slot in ~3% of turns); and ioredis'
 * auto-pipelining routes a call by its first argument, which for a script with a variable key count
 * is the count, not a key — a multi-key touch could join a pipeline bound for another node and fail
 * it. (Nor can the script be defined once per key count as needed: a command defined while an
 * auto-pipeline is open is missing from it, and the pipeline's replies then go to the wrong callers.)
 */
export class TouchBatches {
  readonly #one: ScriptCall;
  readonly #many: ScriptCall | null;
  readonly #turn = new TurnBatch<TouchCall, unknown>((calls) => this.#sendAll(calls));

  /** Call it with the other `defineCommand`s, before the client is used (see above). */
  constructor(client: RedisClient, sessionTouch: ScriptCall) {
    this.#one = sessionTouch;
    this.#many = null;
    if (!(client instanceof Cluster)) {
      // No `numberOfKeys`: the key count is the call's first argument.
      client.defineCommand('vigil_sessionTouchMany', { lua: sessionTouchMany.lua });
      const call = (client as unknown as Record<string, ScriptCall>).vigil_sessionTouchMany;
      if (call === undefined) throw new Error('defineCommand did not define vigil_sessionTouchMany');
      this.#many = call.bind(client);
    }
  }

  /** The raw `sessionTouch` reply for this touch, once its turn's script has answered. */
  send(call: TouchCall): Promise<unknown> {
    if (this.#many === null) return this.#one(call.key, ...call.args);
    return this.#turn.add(call);
  }

  /** Sends what is waiting now: before a later call on a session. */
  flush(): void {
    this.#turn.flush();
  }

  #sendAll(calls: readonly TouchCall[]): Array<Promise<unknown>> {
    const replies: Array<Promise<unknown>> = [];
    for (let from = 0; from < calls.length; from += MAX_TOUCHES_PER_SCRIPT) {
      const chunk = calls.slice(from, from + MAX_TOUCHES_PER_SCRIPT);
      const [only] = chunk;
      if (chunk.length === 1 && only !== undefined) {
        replies.push(this.#one(only.key, ...only.args));
        continue;
      }
      const args: (string | number)[] = [chunk.length];
      for (const { key } of chunk) args.push(key);
      for (const call of chunk) args.push(...call.args);
      const answer = (this.#many as ScriptCall)(...args).then((all) => {
        if (!Array.isArray(all) || all.length !== chunk.length)
          throw new TypeError('unexpected reply from a session script');
        return all;
      });
      for (let k = 0; k < chunk.length; k++) replies.push(answer.then((all) => all[k]));
    }
    return replies;
  }
}
