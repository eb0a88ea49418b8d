/**
 * Command policy: whether a client's `command` may go to the devices (the checks in the order
 * the protocol names them, each with its reason), and each command's life from its publication
 * through the device's acks to its end or its timeout. Commands this server did not send but saw
 * on the command topic (another instance's, another tool's) are followed too, so every instance
 * shows every valve and holds every sensor to the same interval. Pure: time comes from the
 * injected clock, and the caller publishes, forwards and ticks.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import {
  COMMAND_ACTIONS,
  type CommandAck,
  type CommandAction,
  type CommandEventStatus,
  type CommandPublish,
  IrrigateParamsSchema,
} from "../protocol/mod.ts";
import type { Claims } from "./auth.ts";

/** Most commands one client (one token subject) sends per minute. */
export const COMMANDS_PER_CLIENT_MINUTE = 10;
/** Most of this server's commands in flight; beyond it new ones are refused (bounds memory). */
export const MAX_PENDING_COMMANDS = 10_000;
/**
 * Most commands seen on the topic (other instances', other publishers') followed at once; beyond
 * it they are not shown. Apart from {@link MAX_PENDING_COMMANDS}, so that a publisher flooding the
 * command topic cannot stop this server's clients from sending theirs.
 */
export const MAX_SEEN_COMMANDS = 1_000;
/** Longest `issued_by` (a token's `sub`) put in a published command or a `command_event`. */
export const MAX_ISSUED_BY = 1_024;
/** The exact reason of a refusal while the broker link is down. */
export const BROKER_UNAVAILABLE = "broker unavailable";

/** A client's `command`, with who sent it. */
export interface CommandRequest {
  clientId: string;
  claims: Pick<Claims, "sub" | "sensors" | "commands">;
  id: string;
  sensorId: string;
  action: string;
  params: Record<string, unknown>;
}

/** A command being followed: one of ours (it has the issuing client) or one seen on the topic. */
export interface SentCommand {
  /** The issuing client, for one this server sent; `undefined` for one it only saw. */
  clientId: string | undefined;
  sub: string;
  id: string;
  sensorId: string;
  action: CommandAction;
  params: Record<string, unknown>;
  /** How long the device will run it, ms (irrigate: its duration). */
  runsMs: number;
  /** When it passed the checks (or was seen), ms. */
  at: number;
  /** Its latest `command_event`, serialized (set by the caller): what a client joining now gets. */
  event?: string;
}

/** A change of a command's state. */
export interface CommandChange {
  command: SentCommand;
  status: CommandEventStatus;
  detail?: string;
}

/** Options of {@link Commands}. */
export interface CommandsOptions {
  /** At most one accepted command per sensor per this, ms; 0 = no limit. */
  intervalMs: number;
  /** No ack within this of sending (or no end within the run time plus this) is a timeout, ms. */
  timeoutMs: number;
  clock: Pick<Clock, "now">;
  perClientMinute?: number;
  maxPending?: number;
  maxSeen?: number;
}

interface Entry {
  command: SentCommand;
  deadline: number;
  /** `sent` was reported (the broker acknowledged the publication, or we saw it on the topic). */
  sent: boolean;
  /** The device said `accepted`: a repeated one (QoS 1 may deliver twice) changes nothing. */
  accepted: boolean;
}

const MINUTE_MS = 60_000;

/** The policy and the commands in flight. */
export class Commands {
  readonly #o: Required<CommandsOptions>;
  /** Last accepted command's time per sensor; entries older than the interval are dropped. */
  readonly #lastBySensor = new Map<string, number>();
  /** Times of each client's accepted commands in the last minute, oldest first. */
  readonly #byClient = new Map<string, number[]>();
  /** In flight, by sensor and id, oldest first. */
  readonly #pending = new Map<string, Entry>();
  /** How many of {@link Commands.#pending} this server sent (the rest were seen). */
  #own = 0;

  /** Creates the policy. */
  constructor(options: CommandsOptions) {
    this.#o = {
      perClientMinute: COMMANDS_PER_CLIENT_MINUTE,
      maxPending: MAX_PENDING_COMMANDS,
      maxSeen: MAX_SEEN_COMMANDS,
      ...options,
    };
  }

  /** Commands in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Checks `request` in the protocol's order; on success records it (it counts toward the rate
   * limits) and returns it to be published, else the refusal's reason.
   */
  check(
    request: CommandRequest,
    linkUp: boolean,
  ): { command: SentCommand } | { reason: string } {
    const { claims, action, sensorId } = request;
    if (claims.commands === null || !claims.commands.has(action)) {
      return { reason: `not permitted: your token may not issue ${JSON.stringify(action)}` };
    }
    if (claims.sensors !== null && !claims.sensors.has(sensorId)) {
      return { reason: `not permitted: your token may not see ${sensorId}` };
    }
    const run = runOf(action, request.params);
    if (run === "unknown") {
      return {
        reason: `unknown action ${JSON.stringify(action)}; use ${COMMAND_ACTIONS.join(", ")}`,
      };
    }
    if (run === "invalid") {
      return { reason: "invalid params: duration_s must be an integer from 1 to 3600" };
    }
    const now = this.#o.clock.now();
    this.#prune(now);
    const last = this.#lastBySensor.get(sensorId);
    if (last !== undefined) {
      const wait = Math.max(1, Math.ceil((last + this.#o.intervalMs - now) / 1000));
      const every = this.#o.intervalMs / 1000;
      return {
        reason: `rate limited: one command per sensor every ${every} s; ${sensorId} is free ` +
          `again in ${wait} s`,
      };
    }
    const rateKey = claims.sub === "" ? `client ${request.clientId}` : `sub ${claims.sub}`;
    const times = this.#byClient.get(rateKey) ?? [];
    if (times.length >= this.#o.perClientMinute) {
      const wait = Math.max(1, Math.ceil((times[0]! + MINUTE_MS - now) / 1000));
      return {
        reason: `rate limited: at most ${this.#o.perClientMinute} commands a minute; try again ` +
          `in ${wait} s`,
      };
    }
    if (!linkUp) return { reason: BROKER_UNAVAILABLE };
    const key = keyOf(sensorId, request.id);
    if (this.#pending.has(key)) {
      return { reason: `id ${request.id} is in use on ${sensorId}; choose another id` };
    }
    if (this.#own >= this.#o.maxPending) return { reason: "too many commands in flight" };
    const command: SentCommand = {
      clientId: request.clientId,
      sub: claims.sub.slice(0, MAX_ISSUED_BY),
      id: request.id,
      sensorId,
      action: action as CommandAction,
      ...run,
      at: now,
    };
    if (this.#o.intervalMs > 0) this.#lastBySensor.set(sensorId, now);
    times.push(now);
    this.#byClient.set(rateKey, times);
    this.#add(key, { command, deadline: now + this.#o.timeoutMs, sent: false, accepted: false });
    return { command };
  }

  /** The broker acknowledged our publication of a command: `sent`, unless already reported. */
  published(command: SentCommand): CommandChange | undefined {
    const entry = this.#pending.get(keyOf(command.sensorId, command.id));
    if (!entry || entry.command !== command || entry.sent) return undefined;
    entry.sent = true;
    return { command, status: "sent" };
  }

  /** Our publication failed: the command ends as `failed` with `detail`. */
  publishFailed(command: SentCommand, detail: string): CommandChange | undefined {
    const key = keyOf(command.sensorId, command.id);
    if (this.#pending.get(key)?.command !== command) return undefined;
    this.#end(key);
    return { command, status: "failed", detail };
  }

  /**
   * A command seen on `sensorId`'s command topic. One of ours: nothing (its `sent` comes from
   * the broker's acknowledgement). Another's: followed from now, counted toward the sensor's
   * interval, and reported `sent`. Unknown actions and bad params are ignored.
   */
  observe(sensorId: string, published: CommandPublish): CommandChange | undefined {
    const key = keyOf(sensorId, published.id);
    if (this.#pending.has(key)) return undefined;
    const run = runOf(published.action, published.params);
    if (typeof run === "string") return undefined;
    const now = this.#o.clock.now();
    this.#prune(now);
    const seen = this.#pending.size - this.#own;
    if (seen >= this.#o.maxSeen || this.#lastBySensor.size >= this.#o.maxPending) return undefined;
    const command: SentCommand = {
      clientId: undefined,
      sub: published.issued_by,
      id: published.id,
      sensorId,
      action: published.action,
      ...run,
      at: now,
    };
    if (this.#o.intervalMs > 0) this.#lastBySensor.set(sensorId, now);
    this.#add(key, { command, deadline: now + this.#o.timeoutMs, sent: true, accepted: false });
    return { command, status: "sent" };
  }

  /**
   * A device's ack on `sensorId`'s ack topic: the changes it makes (`sent` first when the broker's
   * acknowledgement has not come yet); none for an id not in flight, or for an `accepted` the
   * device said already (its deadline stays where the first one set it).
   */
  ack(sensorId: string, ack: CommandAck): CommandChange[] {
    const key = keyOf(sensorId, ack.id);
    const entry = this.#pending.get(key);
    if (!entry) return [];
    const { command } = entry;
    if (ack.status === "accepted" && entry.accepted) return [];
    const changes: CommandChange[] = [];
    if (!entry.sent) {
      entry.sent = true;
      changes.push({ command, status: "sent" });
    }
    if (ack.status === "accepted") {
      entry.accepted = true;
      entry.deadline = this.#o.clock.now() + command.runsMs + this.#o.timeoutMs;
    } else this.#end(key);
    changes.push({
      command,
      status: ack.status,
      ...(ack.detail === undefined ? {} : { detail: ack.detail }),
    });
    return changes;
  }

  /** Ends and returns the commands whose deadline has passed. */
  expire(): CommandChange[] {
    const now = this.#o.clock.now();
    const ended: CommandChange[] = [];
    for (const [key, { command, deadline }] of this.#pending) {
      if (deadline > now) continue;
      this.#end(key);
      ended.push({ command, status: "timeout" });
    }
    this.#prune(now);
    return ended;
  }

  /** The earliest deadline of a command in flight, ms; `undefined` when none is. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const { deadline } of this.#pending.values()) {
      if (next === undefined || deadline < next) next = deadline;
    }
    return next;
  }

  /** The commands in flight, oldest first. */
  *inFlight(): IterableIterator<SentCommand> {
    for (const { command } of this.#pending.values()) yield command;
  }

  #add(key: string, entry: Entry): void {
    this.#pending.set(key, entry);
    if (entry.command.clientId !== undefined) this.#own++;
  }

  #end(key: string): void {
    const entry = this.#pending.get(key);
    if (!entry) return;
    this.#pending.delete(key);
    if (entry.command.clientId !== undefined) this.#own--;
  }

  #prune(now: number) {
    for (const [sensor, at] of this.#lastBySensor) {
      if (at + this.#o.intervalMs <= now) this.#lastBySensor.delete(sensor);
    }
    for (const [client, times] of this.#byClient) {
      while (times.length > 0 && times[0]! <= now - MINUTE_MS) times.shift();
      if (times.length === 0) this.#byClient.delete(client);
    }
  }
}

/**
 * What the device is told (`params` validated, unknown keys dropped) and how long it runs, ms;
 * or why it cannot be sent.
 */
function runOf(
  action: string,
  params: unknown,
): { params: Record<string, unknown>; runsMs: number } | "unknown" | "invalid" {
  if (!(COMMAND_ACTIONS as readonly string[]).includes(action)) return "unknown";
  const parsed = IrrigateParamsSchema.safeParse(params);
  return parsed.success
    ? { params: parsed.data, runsMs: parsed.data.duration_s * 1000 }
    : "invalid";
}

function keyOf(sensorId: string, id: string): string {
  return `${sensorId}\n${id}`;
}
