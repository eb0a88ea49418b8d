/**
 * The stations' side of commands, over MQTT: listens on the command topic of each simulated
 * sensor (and no other), answers with acks on its ack topic (QoS 1), opens valves and closes
 * them when their time is up. What to answer and the words are in `command_reply.ts`; the water
 * in `irrigation.ts`.
 * @module
 */
import type { MqttClient } from "mqtt";
import type { Logger } from "../lib/log.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import { clipForLog, escapeControl } from "../lib/sanitize.ts";
import { type CommandAck, commandTopic } from "../protocol/mod.ts";
import {
  acceptedDetail,
  ackDetail,
  answer,
  AnsweredIds,
  commandLine,
  type CommandReply,
  commandTitle,
  doneDetail,
  readCommand,
  stoppedDetail,
  STUCK_DETAIL,
} from "./command_reply.ts";
import { SATURATION, type ValveRun, type Valves } from "./irrigation.ts";
import type { OutagePlan } from "./outage.ts";
import type { PayloadSource } from "./payloads.ts";
import type { Progress } from "./progress.ts";
import { withTimeout } from "./wait.ts";

/** At most one line per this about malformed commands (the rest are counted), ms. */
const MALFORMED_LOG_INTERVAL_MS = 10_000;

/** Options of {@link CommandStations}. */
export interface CommandStationsOptions {
  /** The simulated sensors: only their command topics are listened to. */
  sensors: readonly string[];
  /** Command topic template (`{id}`). */
  commandTopic: string;
  /** Ack topic template (`{id}`). */
  commandAckTopic: string;
  /** How to answer (`off` is handled by not creating the stations). */
  commandReply: Exclude<CommandReply, "off">;
}

/** What the stations work with: the run's client, model, plan, progress, clock and log. */
export interface CommandStationsDeps {
  client: MqttClient;
  /** The run's readings: their soil takes the valves' water. */
  source: PayloadSource;
  valves: Valves;
  outages: OutagePlan;
  progress: Progress;
  logger: Logger;
  /** Time into the run, ms (the clock readings and outages are on). */
  elapsed: () => number;
  /** Wall clock, ms since the epoch (how old a command is). */
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The simulated stations answering commands; {@link listen}, then {@link stop} at the end. */
export class CommandStations {
  readonly #o: CommandStationsOptions;
  readonly #d: CommandStationsDeps;
  /** Command topic → sensor id, for the sensors of this run. */
  readonly #topics: Map<string, string>;
  readonly #answered = new AnsweredIds();
  readonly #malformedLog = new LogLimiter(1, MALFORMED_LOG_INTERVAL_MS);
  /** Aborts the valves' waits when the run stops. */
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();
  #acksInFlight = 0;
  #acksSettled: (() => void) | undefined;
  readonly #onMessage = (topic: string, payload: Uint8Array, packet: { retain?: boolean }) =>
    this.#received(topic, payload, packet.retain === true);

  /** Stations for `options.sensors`; nothing happens until {@link listen}. */
  constructor(options: CommandStationsOptions, deps: CommandStationsDeps) {
    this.#o = options;
    this.#d = deps;
    this.#topics = new Map(
      options.sensors.map((id) => [commandTopic(options.commandTopic, id), id]),
    );
  }

  /**
   * Subscribes (QoS 1) to the sensors' command topics; MQTT.js subscribes again after a
   * reconnect. A broker that refuses or does not answer within `timeoutMs` is logged, and the
   * run goes on without commands.
   */
  async listen(timeoutMs: number): Promise<void> {
    const { client, logger } = this.#d;
    client.on("message", this.#onMessage);
    const topics = [...this.#topics.keys()];
    const subscribed = client.subscribeAsync(topics, { qos: 1 });
    try {
      if (!await withTimeout(subscribed, timeoutMs)) {
        logger.warn("no answer to the command subscription; commands may go unanswered", {
          topic: this.#o.commandTopic,
        });
      } else {
        logger.debug("listening for commands", { topics: topics.length });
      }
    } catch (error) {
      logger.warn("the broker refused the command subscription; commands go unanswered", {
        topic: this.#o.commandTopic,
        error,
      });
    }
    subscribed.catch(() => {}); // settled late, after a timeout: already logged
  }

  /**
   * Stops answering; an open valve closes now and its command is acked `failed` (simulator
   * stopped). Resolves `true` once every ack was taken by the broker, `false` after `flushMs`.
   */
  async stop(flushMs: number): Promise<boolean> {
    this.#d.client.off("message", this.#onMessage);
    this.#stop.abort();
    await Promise.all(this.#running);
    if (this.#acksInFlight === 0) return true;
    return await withTimeout(
      new Promise<void>((resolve) => this.#acksSettled = resolve),
      flushMs,
    );
  }

  #received(topic: string, payload: Uint8Array, retained: boolean): void {
    const sensorId = this.#topics.get(topic);
    if (sensorId === undefined || this.#stop.signal.aborted) return;
    const { progress, valves, outages, elapsed } = this.#d;
    progress.command("received");
    const read = readCommand(payload);
    if (read.kind === "malformed") {
      this.#logMalformed(sensorId, payload, read.reason);
      progress.command("malformed");
      return;
    }
    const at = elapsed();
    const id = read.head.id;
    const run = valves.run(sensorId);
    const issuedAt = read.head.issuedAt;
    const reply = answer(read, {
      retained,
      ageMs: issuedAt === undefined ? undefined : this.#d.now() - issuedAt,
      offline: outages.silentUntil(sensorId, at) !== undefined,
      busyLeftMs: run && run.endMs - at,
      answeredBefore: this.#answered.has(sensorId, id),
    }, this.#o.commandReply);
    const commandMs = read.kind === "irrigate" ? read.durationMs : undefined;
    const title = commandTitle(sensorId, read.head, commandMs);
    if (reply.do === "nothing") {
      this.#d.logger.info(commandLine(title, "not answered", reply.why));
      progress.command("unanswered");
      return;
    }
    this.#answered.add(sensorId, id);
    if (reply.do === "refuse") {
      this.#ack(sensorId, title, { id, status: "failed", detail: reply.detail });
      return;
    }
    const opened = valves.open(sensorId, {
      id,
      atMs: at,
      durationMs: reply.durationMs,
      rise: reply.stuck ? 0 : undefined,
      moisture: this.#d.source.moisture(sensorId, at),
    });
    progress.irrigating(valves.irrigating);
    const ranFor = commandMs ?? reply.durationMs;
    this.#ack(sensorId, title, { id, status: "accepted", detail: acceptedDetail(ranFor) });
    const task = this.#close(opened, title, reply.stuck, ranFor).catch((error) => {
      this.#d.logger.error("closing a valve failed", { sensor: sensorId, error });
    });
    this.#running.add(task);
    task.finally(() => this.#running.delete(task));
  }

  /** Waits for the valve's end (or the run's), closes it and sends the last ack. */
  async #close(run: ValveRun, title: string, stuck: boolean, commandMs: number): Promise<void> {
    const { elapsed, sleep, source, valves, progress, outages } = this.#d;
    const stop = this.#stop.signal;
    await sleep(run.endMs - elapsed(), stop);
    const at = Math.min(elapsed(), run.endMs);
    const after = source.moisture(run.sensorId, at);
    valves.close(run.sensorId);
    progress.irrigating(valves.irrigating);
    const early = at < run.endMs;
    const ack: CommandAck = early
      ? {
        id: run.id,
        status: "failed",
        detail: stoppedDetail(
          at - run.startMs,
          commandMs,
          stuck ? undefined : { before: run.before, after },
        ),
      }
      : stuck
      ? { id: run.id, status: "failed", detail: STUCK_DETAIL }
      : {
        id: run.id,
        status: "done",
        detail: doneDetail(run.before, after, after >= SATURATION - 0.05),
      };
    if (outages.silentUntil(run.sensorId, at) !== undefined) {
      // Offline when the valve closed: the station cannot say so, and the server times it out.
      this.#d.logger.info(commandLine(title, `${ack.status}, not sent`, "offline: in an outage"));
      progress.command("unanswered");
      return;
    }
    this.#ack(run.sensorId, title, ack);
  }

  /** Publishes `ack` (QoS 1) on the sensor's ack topic, logs the line and counts it. */
  #ack(sensorId: string, title: string, ack: CommandAck): void {
    const { client, logger, progress } = this.#d;
    const message: CommandAck = ack.detail === undefined
      ? ack
      : { ...ack, detail: ackDetail(ack.detail) };
    logger.info(commandLine(title, ack.status, ack.detail));
    progress.command(ack.status);
    this.#acksInFlight++;
    const topic = commandTopic(this.#o.commandAckTopic, sensorId);
    client.publish(topic, JSON.stringify(message), { qos: 1 }, (error) => {
      if (error) logger.debug("command ack not sent", { sensor: sensorId, error });
      if (--this.#acksInFlight === 0) this.#acksSettled?.();
    });
  }

  #logMalformed(sensorId: string, payload: Uint8Array, reason: string): void {
    const decision = this.#malformedLog.take(this.#d.elapsed());
    if (!decision.log) return;
    // What a peer sent is clipped and escaped here, whatever logger writes it.
    const text = new TextDecoder().decode(payload.subarray(0, 1_024));
    this.#d.logger.warn("ignored a malformed command", {
      sensor: sensorId,
      reason: escapeControl(clipForLog(reason)),
      payload: escapeControl(clipForLog(text)),
      suppressed: decision.suppressed,
    });
  }
}
