/**
 * One worker's place in `serve --workers`: the Web Worker now in it, its messages, its end
 * (error, failure, stop, or the supervisor ending it), and its restart after a delay. The
 * policy (when to restart, what to do with messages) is the supervisor's (`workers.ts`).
 * @module
 */
import { StartupError } from "../lib/errors.ts";
import type { ErrorData, FromWorker, ToWorker } from "./worker_protocol.ts";

/** What a slot tells its supervisor. */
export interface SlotHooks {
  /** The worker's module. */
  url: URL;
  /** The `start` message for a new worker in this slot. */
  start: () => ToWorker;
  /** Every message of the current worker. */
  onMessage: (message: FromWorker) => void;
  /** The current worker is gone (ended), with why when it did not just stop, and how long it ran. */
  onGone: (why: string | undefined, livedMs: number) => void;
}

/** One worker's place: the worker in it now, if any. */
export class WorkerSlot {
  /** Quick deaths in a row (the supervisor's backoff). */
  failures = 0;
  /** Open sockets, as last reported. */
  sockets = 0;
  /** When the current worker last said anything (`Date.now()`). */
  heardAt = 0;
  /** The current worker serves. */
  listening = false;
  /** A report was asked for and has not come yet. */
  awaitingReport = false;
  readonly #hooks: SlotHooks;
  #worker: Worker | undefined;
  #startedAt = 0;
  #restart: ReturnType<typeof setTimeout> | undefined;
  #stopped: PromiseWithResolvers<void> | undefined;

  /** A slot for worker `index`. */
  constructor(readonly index: number, hooks: SlotHooks) {
    this.#hooks = hooks;
  }

  /** Starts a worker here; resolves once it listens, rejects when it cannot start. */
  spawn(): Promise<void> {
    const ready = Promise.withResolvers<void>();
    // Whoever awaits sees the rejection; a restart does not await (end() deals with it).
    ready.promise.catch(() => {});
    const worker = new Worker(this.#hooks.url, {
      type: "module",
      name: `sensorstream worker ${this.index}`,
    });
    this.#worker = worker;
    this.#startedAt = this.heardAt = Date.now();
    this.listening = this.awaitingReport = false;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (this.#worker !== worker) return;
      const m = event.data;
      this.heardAt = Date.now();
      if (m.type === "report") {
        this.awaitingReport = false;
        this.sockets = m.sockets;
      } else if (m.type === "listening") {
        this.listening = true;
        ready.resolve();
      }
      this.#hooks.onMessage(m);
      if (m.type === "failed") {
        ready.reject(errorOf(m.error));
        this.end(m.error.message);
      } else if (m.type === "stopped") this.end(m.error?.message);
    };
    worker.onerror = (event: ErrorEvent) => {
      // Handled here: unhandled, a worker's uncaught error would end this thread too.
      event.preventDefault();
      if (this.#worker !== worker) return;
      ready.reject(new Error(`worker ${this.index} failed: ${event.message}`));
      this.end(event.message);
    };
    worker.onmessageerror = () => {
      if (this.#worker === worker) this.end("a message could not be read");
    };
    worker.postMessage(this.#hooks.start());
    return ready.promise;
  }

  /** Sends to the current worker, if any. */
  send(message: ToWorker): void {
    this.#worker?.postMessage(message);
  }

  /** Asks a serving worker for its report. */
  askReport(): void {
    if (!this.#worker || !this.listening) return;
    this.awaitingReport = true;
    this.#worker.postMessage({ type: "report" });
  }

  /** Ends the current worker at once (its sockets drop); `why` says why when it is a failure. */
  end(why?: string): void {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    worker.terminate();
    this.listening = this.awaitingReport = false;
    this.sockets = 0;
    this.#stopped?.resolve();
    this.#hooks.onGone(why, Date.now() - this.#startedAt);
  }

  /** Starts a new worker here after `ms`; `onListening` is called once it serves. */
  restartAfter(ms: number, onListening: () => void): void {
    clearTimeout(this.#restart);
    this.#restart = setTimeout(() => this.spawn().then(onListening, () => {}), ms);
  }

  /**
   * Tells the worker to stop (draining first when `drain`) and waits until it has, or until
   * `graceMs` pass and it is ended. A pending restart is cancelled.
   */
  async stop(drain: boolean, graceMs: number): Promise<void> {
    clearTimeout(this.#restart);
    const worker = this.#worker;
    if (!worker) return;
    this.#stopped = Promise.withResolvers<void>();
    worker.postMessage({ type: "shutdown", drain });
    const timer = setTimeout(() => this.end("did not stop in time"), graceMs);
    await this.#stopped.promise;
    clearTimeout(timer);
  }
}

/** The error a worker reported, rebuilt (a `StartupError` keeps its template for the CLI). */
export function errorOf(data: ErrorData): Error {
  if (data.template !== undefined) return new StartupError(data.template);
  const error = new Error(data.message);
  error.name = data.name;
  return error;
}
