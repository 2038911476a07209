import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file on a worker thread, so that the event loop does not.
 *
 * SQLite checkpoints on the connection that commits once the WAL passes `wal_autocheckpoint` pages,
 * inside that commit: with better-sqlite3 that is the event loop, blocked for milliseconds every
 * few hundred written heartbeats (most of a written touch's time, and every p99 spike). Here a
 * second connection, on its own thread, runs `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`:
 * a passive checkpoint waits for no reader or writer and syncs what it copied, so durability is
 * unchanged. The store's connection keeps a higher `wal_autocheckpoint` as a backstop (the WAL stays
 * bounded if this thread lags or dies); those checkpoints then find most frames already copied.
 */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  constructor(path: string, intervalMs: number) {
    // An eval'd CommonJS worker given the driver's resolved path: it runs the same from `src` (tsx)
    // and from `dist`, with no file of its own to find.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs } });
    this.#worker.unref();
    // Errors in the worker only stop the help; the backstop keeps the WAL bounded.
    this.#worker.on('error', () => {});
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
  }

  /** Lets a checkpoint in progress finish, closes the worker's connection and ends the thread. */
  async stop(): Promise<void> {
    this.#worker.postMessage('stop');
    const timer = setTimeout(() => void this.#worker.terminate(), 5000);
    await this.#exited;
    clearTimeout(timer);
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db = null;
try {
  // No busy wait: a checkpoint that cannot run now simply runs at the next interval.
  db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
} catch {}
const timer = setInterval(() => {
  try {
    if (db !== null) db.pragma('wal_checkpoint(PASSIVE)');
  } catch {}
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try {
    if (db !== null) db.close();
  } catch {}
  parentPort.close();
});
`;
