/**
 * Commands at work: a client's `command` checked by the policy (`commands.ts`), published with
 * QoS 1 on the sensor's command topic, followed through the device's acks on its ack topic to
 * its end or timeout; each change goes to the issuing client as `command_status` and to every
 * client that sees the sensor as `command_event`, is logged (never the token) and counted.
 * Commands another instance sent are seen on the command topic and shown the same way.
 * @module
 */
import { type Clock, MAX_TIMER_MS } from "../lib/clock.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import type { Logger } from "../lib/log.ts";
import { clipForLog } from "../lib/sanitize.ts";
import {
  CommandAckSchema,
  CommandPublishSchema,
  commandTopic,
  envelopeOf,
} from "../protocol/mod.ts";
import type { Claims } from "./auth.ts";
import { type CommandChange, type CommandRequest, Commands, type SentCommand } from "./commands.ts";
import type { CommandsConfig } from "./config.ts";
import type { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";

/** Largest command or ack payload read, bytes (they are ~150). */
export const MAX_COMMAND_PAYLOAD_BYTES = 4 * 1024;
/** Lines for refusals and bad payloads: at most this many per second, then a count of the rest. */
const PEER_LOGS_PER_SECOND = 5;

/** What the service needs of the MQTT link (the bridge). */
export interface CommandLink {
  readonly connected: boolean;
  publish(topic: string, text: string): Promise<void>;
}

/** Options of {@link CommandService}. */
export interface CommandServiceOptions {
  config: CommandsConfig;
  hub: Pick<Hub, "sendTo" | "publishCommandEvent">;
  metrics: Pick<Metrics, "commands" | "commandAcksIgnored" | "mqttInvalid">;
  logger: Logger;
  clock: Clock;
}

/** A client's `command` message. */
export interface CommandMessage {
  id: string;
  sensor_id: string;
  action: string;
  params: Record<string, unknown>;
}

/** The commands of one serving process. */
export class CommandService {
  readonly #o: CommandServiceOptions;
  readonly #commands: Commands;
  /** Lines for refused commands (audit: apart from the MQTT side, which anyone may flood). */
  readonly #refusalLog = new LogLimiter(PEER_LOGS_PER_SECOND, 1_000);
  /** Lines for invalid payloads and acks of no command in flight. */
  readonly #mqttLog = new LogLimiter(PEER_LOGS_PER_SECOND, 1_000);
  #link: CommandLink | undefined;
  #timer: unknown;
  #timerAt: number | undefined;
  #closed = false;

  /** Ready for requests once {@link CommandService.attach} gives it the link. */
  constructor(options: CommandServiceOptions) {
    this.#o = options;
    this.#commands = new Commands({
      intervalMs: options.config.intervalMs,
      timeoutMs: options.config.timeoutMs,
      clock: options.clock,
    });
  }

  /** The MQTT link commands go out on. */
  attach(link: CommandLink): void {
    this.#link = link;
  }

  /** Commands followed now. */
  get pending(): number {
    return this.#commands.pending;
  }

  /** A client's `command`: refused with its reason, or published. */
  request(
    clientId: string,
    claims: Pick<Claims, "sub" | "sensors" | "commands">,
    message: CommandMessage,
  ): void {
    const request: CommandRequest = {
      clientId,
      claims,
      id: message.id,
      sensorId: message.sensor_id,
      action: message.action,
      params: message.params,
    };
    const link = this.#closed ? undefined : this.#link;
    const verdict = this.#commands.check(request, link?.connected ?? false);
    if ("reason" in verdict) return this.#reject(request, verdict.reason);
    const { command } = verdict;
    const { clock, config } = this.#o;
    const text = JSON.stringify({
      id: command.id,
      action: command.action,
      params: command.params,
      issued_by: command.sub,
      issued_at: new Date(clock.now()).toISOString(),
    });
    link!.publish(commandTopic(config.topic, command.sensorId), text).then(
      () => this.#changed(this.#commands.published(command)),
      (error: unknown) =>
        this.#changed(
          this.#commands.publishFailed(command, `could not publish: ${messageOf(error)}`),
        ),
    );
    this.#arm();
  }

  /** A message on `sensorId`'s ack topic. */
  onAck(sensorId: string, payload: Uint8Array): void {
    const ack = this.#parse(payload, CommandAckSchema, "bad_command_ack", sensorId);
    if (!ack) return;
    const changes = this.#commands.ack(sensorId, ack);
    if (changes.length === 0) return this.#unmatched(sensorId, ack);
    for (const change of changes) this.#changed(change);
    this.#arm();
  }

  /** A message on `sensorId`'s command topic: ours coming back, or another publisher's. */
  onCommand(sensorId: string, payload: Uint8Array, retained: boolean): void {
    // A retained command is an old one replayed on subscribe, not a valve opening now.
    if (retained) return;
    const published = this.#parse(payload, CommandPublishSchema, "bad_command", sensorId);
    if (!published) return;
    // One redelivered long after it was issued (a persistent session) is over by now.
    const age = this.#o.clock.now() - Date.parse(published.issued_at);
    if (age > this.#o.config.timeoutMs) return;
    this.#changed(this.#commands.observe(sensorId, published));
    this.#arm();
  }

  /** The latest `command_event` of each command in flight, for a client that joins now. */
  *events(): IterableIterator<{ sensorId: string; text: string }> {
    for (const command of this.#commands.inFlight()) {
      if (command.event !== undefined) yield { sensorId: command.sensorId, text: command.event };
    }
  }

  /** Stops the timeout timer; commands in flight are no longer followed. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #reject(request: CommandRequest, reason: string): void {
    const { hub, metrics, logger, clock } = this.#o;
    metrics.commands.inc(request.action, "rejected");
    const data = {
      id: request.id,
      sensor_id: request.sensorId,
      status: "rejected" as const,
      reason,
    };
    hub.sendTo(request.clientId, JSON.stringify(envelopeOf("command_status", data, now(clock))));
    const decision = this.#refusalLog.take(clock.now());
    if (!decision.log) return;
    logger.info("command rejected", {
      client: request.clientId,
      sub: clipForLog(request.claims.sub),
      sensor: request.sensorId,
      action: clipForLog(request.action),
      id: request.id,
      params: clipForLog(JSON.stringify(request.params)),
      reason,
      ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
    });
  }

  #changed(change: CommandChange | undefined): void {
    if (!change) return;
    const { hub, metrics, logger, clock } = this.#o;
    const { command, status, detail } = change;
    const at = now(clock);
    if (command.clientId !== undefined) {
      const data = {
        id: command.id,
        sensor_id: command.sensorId,
        status,
        ...(detail === undefined ? {} : { detail }),
      };
      hub.sendTo(command.clientId, JSON.stringify(envelopeOf("command_status", data, at)));
      metrics.commands.inc(command.action, status);
      const level = status === "failed" || status === "timeout" ? "warn" : "info";
      logger[level](`command ${status}`, fieldsOf(command, detail));
    } else if (status === "sent") {
      logger.debug("command seen", fieldsOf(command, detail));
    }
    const event = {
      id: command.id,
      sensor_id: command.sensorId,
      action: command.action,
      status,
      issued_by: command.sub,
    };
    const text = JSON.stringify(envelopeOf("command_event", event, at));
    command.event = text;
    hub.publishCommandEvent(command.sensorId, text);
  }

  /**
   * An ack of no command in flight: a repeated one, one for another server's command it has not
   * seen, or one after the command timed out (the valve may be open although `timeout` was said).
   * Logged and counted, never forwarded.
   */
  #unmatched(sensorId: string, ack: { id: string; status: string }): void {
    const { metrics, logger, clock } = this.#o;
    metrics.commandAcksIgnored.inc();
    const decision = this.#mqttLog.take(clock.now());
    if (!decision.log) return;
    logger.info("command ack ignored", {
      sensor: sensorId,
      id: clipForLog(ack.id),
      status: ack.status,
      ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
    });
  }

  /** One timer, at the earliest deadline of the commands in flight. */
  #arm(): void {
    if (this.#closed) return;
    const next = this.#commands.nextDeadline();
    if (next === this.#timerAt) return;
    const { clock } = this.#o;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === undefined) return;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      for (const change of this.#commands.expire()) this.#changed(change);
      this.#arm();
    }, Math.min(MAX_TIMER_MS, Math.max(0, next - clock.now())));
  }

  /** A payload checked against `schema`; logged (rate-limited) and counted when it fails. */
  #parse<T>(
    payload: Uint8Array,
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
    reason: "bad_command" | "bad_command_ack",
    sensorId: string,
  ): T | undefined {
    let value: unknown;
    if (payload.byteLength <= MAX_COMMAND_PAYLOAD_BYTES) {
      try {
        value = JSON.parse(decoder.decode(payload));
      } catch { /* not JSON: invalid below */ }
    }
    const parsed = value === undefined ? undefined : schema.safeParse(value);
    if (parsed?.success) return parsed.data;
    this.#o.metrics.mqttInvalid.inc(reason);
    const decision = this.#mqttLog.take(this.#o.clock.now());
    if (decision.log) {
      this.#o.logger.warn("mqtt message invalid", {
        reason,
        sensor: sensorId,
        bytes: payload.byteLength,
        expected: reason === "bad_command_ack"
          ? '{"id":"…","status":"accepted"|"done"|"failed","detail":"…"}'
          : '{"id":"…","action":"irrigate","params":{…},"issued_by":"…","issued_at":"…"}',
        ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
      });
    }
    return undefined;
  }
}

const decoder = new TextDecoder();

function now(clock: Pick<Clock, "now">): Date {
  return new Date(clock.now());
}

function fieldsOf(command: SentCommand, detail: string | undefined): Record<string, unknown> {
  return {
    id: command.id,
    sub: clipForLog(command.sub),
    sensor: command.sensorId,
    action: command.action,
    params: JSON.stringify(command.params),
    ...(detail === undefined ? {} : { detail: clipForLog(detail) }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
