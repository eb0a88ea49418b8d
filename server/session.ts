/**
 * What the server does with messages from one connected client: subscribe, unsubscribe, ping,
 * history, refresh and command, and an `error` reply for anything else, closing clients that
 * keep sending garbage.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import type { LimitsConfig } from "./config.ts";
import type { CommandService } from "./command_service.ts";
import type { HistoryReplies } from "./history_replies.ts";
import type { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";
import {
  ClientMessageSchema,
  type CloseEntry,
  CLOSES,
  envelopeOf,
  ErrorCode,
  type ServerMessage,
} from "../protocol/mod.ts";

/** The `type` of every message a client may send, from the protocol's schema. */
const CLIENT_TYPES: readonly string[] = ClientMessageSchema.options.map((o) => o.shape.type.value);

/** What sessions need from the server: shared by every session, so a session costs little. */
export interface SessionDeps {
  hub: Hub;
  metrics: Metrics;
  limits: Pick<LimitsConfig, "maxMessageBytes" | "maxErrors" | "errorWindowMs">;
  clock: Pick<Clock, "now">;
  history: Pick<HistoryReplies, "request">;
  commands: Pick<CommandService, "request">;
}

/** The client's connection, as its session sees it. */
export interface SessionOwner {
  /** Closes the client (the session has counted the disconnect). */
  close(close: CloseEntry): void;
  /** Checks a new token for the connection; answers with `token_refreshed` or {@link ClientSession.refused}. */
  refresh(token: string): void;
  /** The actions its token's `commands` claim lists (`null`: none), as of its last refresh. */
  commandClaim(): ReadonlySet<string> | null;
}

/** What each client message type looks like, for the error that says how to send it. */
const EXAMPLES: Record<string, string> = {
  subscribe: `{"type":"subscribe","sensors":["V1","V3"]}`,
  unsubscribe: `{"type":"unsubscribe","sensors":["V2"]}`,
  ping: `{"type":"ping"}`,
  history: `{"type":"history","sensors":["V1"],"since":"-15m","limit":500}`,
  refresh: `{"type":"refresh","token":"<JWT>"}`,
  command:
    `{"type":"command","id":"1","sensor_id":"V1","action":"irrigate","params":{"duration_s":30}}`,
};

/** Handles one client's incoming messages. */
export class ClientSession {
  readonly #id: string;
  readonly #deps: SessionDeps;
  readonly #owner: SessionOwner;
  /** Times of recent errors, oldest first; never longer than `maxErrors + 1`. */
  #errors: number[] | undefined;

  /** Creates the session for hub client `clientId` on `owner`, its connection. */
  constructor(clientId: string, deps: SessionDeps, owner: SessionOwner) {
    this.#id = clientId;
    this.#deps = deps;
    this.#owner = owner;
  }

  /** Handles one WebSocket message event's data. */
  onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.#error(ErrorCode.BINARY_NOT_SUPPORTED, "send JSON text messages, not binary");
      return;
    }
    if (tooLarge(data, this.#deps.limits.maxMessageBytes)) {
      this.#error(
        ErrorCode.MESSAGE_TOO_LARGE,
        `messages are limited to ${this.#deps.limits.maxMessageBytes} bytes`,
      );
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      this.#error(ErrorCode.BAD_JSON, "message is not valid JSON");
      return;
    }
    const parsed = ClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown } | null)?.type;
      if (typeof type !== "string" || !CLIENT_TYPES.includes(type)) {
        this.#error(
          ErrorCode.UNKNOWN_TYPE,
          `unknown message type ${JSON.stringify(type)}; use ${CLIENT_TYPES.join(", ")}`,
        );
      } else {
        const issue = parsed.error.issues[0];
        this.#error(
          ErrorCode.INVALID_MESSAGE,
          `${type}: ${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}` +
            ` (expected ${EXAMPLES[type] ?? `{"type":"${type}"}`})`,
        );
      }
      return;
    }
    const msg = parsed.data;
    const { hub } = this.#deps;
    switch (msg.type) {
      case "ping":
        this.#reply(envelopeOf("pong", {}, new Date(this.#deps.clock.now())));
        return;
      case "subscribe":
      case "unsubscribe": {
        const subs = msg.type === "subscribe"
          ? hub.subscribe(this.#id, msg.sensors)
          : hub.unsubscribe(this.#id, msg.sensors);
        const sensors = subs === null ? null : [...subs].sort();
        const excluded = subs === null ? [...(hub.get(this.#id)?.excluded ?? [])].sort() : [];
        this.#reply(
          envelopeOf("subscriptions", { sensors, excluded }, new Date(this.#deps.clock.now())),
        );
        return;
      }
      case "history": {
        const answer = this.#deps.history.request(this.#id, msg);
        if ("refused" in answer) {
          this.#error(ErrorCode.INVALID_MESSAGE, `history: ${answer.refused}`);
        } else if (answer.denied.length > 0) {
          this.#error(
            ErrorCode.INVALID_MESSAGE,
            `history: not permitted by your token: ${answer.denied.join(", ")}`,
          );
        }
        return;
      }
      case "refresh":
        this.#owner.refresh(msg.token);
        return;
      case "command": {
        const client = hub.get(this.#id);
        if (!client) return;
        const claims = {
          sub: client.subject,
          sensors: client.allowed,
          commands: this.#owner.commandClaim(),
        };
        this.#deps.commands.request(this.#id, claims, msg);
        return;
      }
    }
  }

  /** A `refresh` was refused: an `invalid_token` error (it counts toward the error limit). */
  refused(reason: string): void {
    this.#error(ErrorCode.INVALID_TOKEN, `refresh refused: ${reason}`);
  }

  #reply(message: ServerMessage) {
    this.#deps.hub.sendTo(this.#id, JSON.stringify(message));
  }

  #error(code: ErrorCode, message: string) {
    const { limits, clock, metrics } = this.#deps;
    metrics.clientErrors.inc(code);
    const t = clock.now();
    const errors = this.#errors ??= [];
    errors.push(t);
    while (errors.length > 0 && errors[0]! <= t - limits.errorWindowMs) errors.shift();
    if (errors.length > limits.maxErrors) {
      metrics.disconnects.inc(CLOSES.TOO_MANY_ERRORS.reason);
      this.#owner.close(CLOSES.TOO_MANY_ERRORS);
      return;
    }
    if (errors.length > limits.maxErrors + 1) errors.shift();
    this.#reply(envelopeOf("error", { code, message }, new Date(t)));
  }
}

const encoder = new TextEncoder();

/** UTF-8 size check that encodes only when the UTF-16 length leaves it in doubt. */
function tooLarge(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return encoder.encode(text).byteLength > maxBytes;
}
