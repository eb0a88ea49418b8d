/**
 * What the tail client says on one admitted connection besides listening: it asks for history
 * (after a reconnect, what it missed), tells what a resume brought back, and renews the token
 * when the server says it expires. Every server message passes through here on its way to the
 * caller, parsed; duplicates of readings already passed on are dropped.
 * @module
 */
import type { ClientMessage, ServerMessage } from "../protocol/mod.ts";
import type { TailEvents } from "./client.ts";
import { historyRequests, type ReadingMemory, ResumeTally } from "./history.ts";
import { TokenRefresher, type TokenSource } from "./refresh.ts";

/** How long a resume waits for its next reply before it says what it got, ms. */
export const RESUME_QUIET_MS = 10_000;

/** What the connections of one run share. */
export interface Shared {
  /** Live readings handed on so far. */
  readings: number;
  /** The readings passed on, per sensor: duplicates and where a resume starts. */
  memory: ReadingMemory;
  /** A connection was admitted before: the next one resumes. */
  admitted: boolean;
}

/** Options of {@link Conversation}. */
export interface ConversationOptions {
  /** Readings per sensor asked for on the first connection; 0: none. */
  history: number;
  /** Where a new token comes from; `undefined` when it was given. */
  tokenSource: TokenSource | undefined;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Where the connection's socket is: what the conversation sends, and how it fails it. */
export interface Link {
  /** Writes a client message to the connection. */
  send(message: ClientMessage): void;
  /** Ends the connection with an exception thrown by the caller's events off the message path. */
  fail(error: unknown): void;
}

/** One connection's exchange; {@link Conversation.close} when it ends. */
export class Conversation {
  readonly #link: Link;
  readonly #o: ConversationOptions;
  readonly #events: TailEvents;
  readonly #shared: Shared;
  readonly #refresher: TokenRefresher;
  #resume: ResumeTally | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;

  /** Talks over `link`, telling `events`. */
  constructor(link: Link, options: ConversationOptions, events: TailEvents, shared: Shared) {
    this.#link = link;
    this.#o = options;
    this.#events = events;
    this.#shared = shared;
    this.#refresher = new TokenRefresher({
      source: options.tokenSource,
      send: (token) => link.send({ type: "refresh", token }),
      fail: (error) => link.fail(error),
      notice: (n) => events.onNotice?.(n),
      now: options.now,
      sleep: options.sleep,
    });
  }

  /** Takes one server message; true when it was a new live reading. */
  receive(msg: ServerMessage, raw: string): boolean {
    const events = this.#events;
    switch (msg.type) {
      case "connection_status":
        events.onState("connected");
        events.onMessage(msg, raw);
        this.#admitted();
        return false;
      case "sensor_reading":
        if (!this.#shared.memory.takeLive(msg)) return false;
        this.#shared.readings++;
        events.onMessage(msg, raw);
        return true;
      case "history": {
        const { sensor_id, readings, complete } = msg.data;
        const fresh = this.#shared.memory.takeHistory(sensor_id, readings);
        events.onMessage(msg, raw);
        events.onHistory?.(fresh, complete);
        if (this.#resume) this.#tally(sensor_id, fresh.length, complete);
        return false;
      }
      case "token_expiring":
        events.onMessage(msg, raw);
        this.#refresher.expiring(msg.data.expires_at);
        return false;
      case "token_refreshed":
        events.onMessage(msg, raw);
        this.#refresher.refreshed(msg.data.expires_at);
        return false;
      case "error":
        events.onMessage(msg, raw);
        if (msg.data.code === "invalid_token") this.#refresher.refused();
        return false;
      default:
        events.onMessage(msg, raw);
        return false;
    }
  }

  /** Stops timers and any token renewal, and waits for them. */
  async close(): Promise<void> {
    clearTimeout(this.#quiet);
    this.#resume = undefined;
    await this.#refresher.close();
  }

  /** Admitted: ask for history, resuming where the last connection left off. */
  #admitted(): void {
    const resume = this.#shared.admitted ? this.#shared.memory.resumePoints() : undefined;
    this.#shared.admitted = true;
    const requests = historyRequests({ resume, limit: this.#o.history });
    for (const request of requests) this.#link.send(request);
    const asked = requests.flatMap((r) => typeof r.since === "object" ? Object.keys(r.since) : []);
    if (asked.length > 0) {
      this.#resume = new ResumeTally(asked);
      this.#armQuiet();
    }
  }

  #tally(sensorId: string, fresh: number, complete: boolean): void {
    if (this.#resume!.take(sensorId, fresh, complete)) this.#finishResume();
    else this.#armQuiet();
  }

  /** A resume whose replies stop coming says what it got; the rest count as gaps. */
  #armQuiet(): void {
    clearTimeout(this.#quiet);
    this.#quiet = setTimeout(() => {
      try {
        this.#finishResume();
      } catch (error) {
        this.#link.fail(error);
      }
    }, RESUME_QUIET_MS);
  }

  #finishResume(): void {
    clearTimeout(this.#quiet);
    const summary = this.#resume?.summary();
    this.#resume = undefined;
    if (summary) this.#events.onNotice?.({ kind: "resumed", ...summary });
  }
}
