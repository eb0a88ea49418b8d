/**
 * The sensor simulator: publishes realistic readings for a set of stations to an MQTT broker
 * at a steady pace, optionally mixed with malformed payloads to exercise the server, and
 * answers `irrigate` commands (the soil moisture of the station rises). Start with
 * {@link runSimulator}; the sensor model is in `sensors.ts`, the timetable in `schedule.ts`,
 * the seeded payload stream in `payloads.ts`, planned outages in `outage.ts`, commands in
 * `commands.ts` (MQTT), `command_reply.ts` (the answers) and `irrigation.ts` (the water).
 * @module
 */
import type { MqttClient } from "mqtt";
import { redactUrl } from "../lib/broker_url.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { sleep } from "../lib/sleep.ts";
import { CommandStations } from "./commands.ts";
import { connectWithRetry } from "./connect.ts";
import { Valves } from "./irrigation.ts";
import { resolveOptions, type SimulatorOptions } from "./options.ts";
import { type OutageChange, OutagePlan } from "./outage.ts";
import { clockStarts, PayloadSource } from "./payloads.ts";
import {
  type BrokerState,
  Progress,
  type SimulatorStatus,
  type SimulatorSummary,
} from "./progress.ts";
import { Publisher } from "./publisher.ts";
import { Schedule } from "./schedule.ts";
import { waitConnected } from "./wait.ts";

export { createRandom } from "./random.ts";
export type { SimulatorOptions } from "./options.ts";
export { COMMAND_REPLIES, type CommandReply } from "./command_reply.ts";
export { DEFAULT_OUTAGE_START_MS, type Outage, type OutageChange } from "./outage.ts";
export type { BrokerState, CommandCounts, SimulatorStatus, SimulatorSummary } from "./progress.ts";

/** Injected clock, sleep, progress callback and logger (for tests and the CLI). */
export interface SimulatorDeps {
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called with a copy of the status on every change. */
  onStatus?: (status: SimulatorStatus) => void;
  /** Where connects, reconnects, failures, outages and commands are logged. Default: nowhere. */
  logger?: Logger;
}

/** How long a stop by `signal` waits for unacknowledged messages. */
const ABORT_FLUSH_MS = 2_000;

/**
 * Connects, publishes on an absolute schedule (message k is due at start + k·gap, so the
 * rate does not drift) until `count`, `durationMs` or `signal`, then flushes and disconnects.
 * Meanwhile the stations answer commands on their command topics (see `commandReply`); a valve
 * still open at the end closes, and its command is acked `failed`.
 * Throws `RangeError` (an `OptionError` naming the option) for bad options, and `StartupError`
 * when the broker cannot be reached within `connectTimeoutMs`.
 *
 * @example Ten readings from two stations to a local broker, replayable with seed 1
 * ```ts
 * import { runSimulator } from "./mod.ts";
 *
 * export async function simulateTen(): Promise<void> {
 *   const summary = await runSimulator({
 *     mqttUrl: "mqtt://localhost:1883",
 *     sensors: ["V1", "V2"],
 *     intervalMs: 1_000,
 *     count: 10,
 *     seed: 1,
 *   });
 *   console.log(summary); // { published: 10, invalid: 0, failed: 0, elapsedMs: …, seed: 1 }
 * }
 * ```
 */
export async function runSimulator(
  options: SimulatorOptions,
  deps: SimulatorDeps = {},
): Promise<SimulatorSummary> {
  const o = resolveOptions(options);
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const signal = options.signal;
  const progress = new Progress(o.seed, deps.onStatus);
  progress.report();
  const client = await connectWithRetry(
    { ...o, url: o.mqttUrl, timeoutMs: o.connectTimeoutMs, signal },
    { now, sleep: deps.sleep ?? sleep, logger },
  );
  if (!client) return progress.summary();
  const shown = redactUrl(o.mqttUrl);
  logger.info("connected to MQTT broker", { url: shown, seed: o.seed });
  watchConnection(client, logger, shown, (state) => progress.broker(state));
  progress.broker("connected");

  const startMs = now();
  const publisher = new Publisher(client, o, (message, error) => {
    if (error) logger.debug("publish failed", { sensor: message.sensorId, error });
    progress.settled(message, error !== undefined, now() - startMs);
  });
  const valves = new Valves();
  const source = new PayloadSource({
    ...o,
    starts: clockStarts(o.startTime, { seeded: options.seed !== undefined, nowMs: startMs }),
    valves,
  });
  const outages = new OutagePlan(o.outages);
  const stations = o.commandReply === "off" ? undefined : new CommandStations(
    { ...o, commandReply: o.commandReply },
    {
      client,
      source,
      valves,
      outages,
      progress,
      logger,
      elapsed: () => now() - startMs,
      now,
      sleep: deps.sleep ?? sleep,
    },
  );
  // Before the first reading: whoever sees a reading can send the station a command.
  await stations?.listen(o.connectTimeoutMs);
  await publishOnSchedule({
    client,
    publisher,
    progress,
    schedule: Schedule.of(o, startMs),
    source,
    outages,
    onOutage: (change) => {
      progress.outage(change.sensorId, change.silent);
      logOutage(logger, change);
    },
    now,
    pause: deps.sleep ?? sleep,
    signal,
  });

  const flushMs = signal?.aborted ? ABORT_FLUSH_MS : o.connectTimeoutMs;
  const acked = await stations?.stop(flushMs) ?? true;
  if (!acked) logger.warn("some command acks were not acknowledged");
  const flushed = await publisher.flush(flushMs);
  if (!flushed) logger.warn("some messages were not acknowledged", { pending: publisher.pending });
  await client.endAsync(!flushed || !acked || !client.connected);
  progress.finished(now() - startMs);
  return progress.summary();
}

/** What the publish loop works with. */
interface Loop {
  client: MqttClient;
  publisher: Publisher;
  progress: Progress;
  schedule: Schedule;
  source: PayloadSource;
  outages: OutagePlan;
  onOutage: (change: OutageChange) => void;
  now: () => number;
  pause: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal: AbortSignal | undefined;
}

/**
 * Publishes message after message on the schedule, until it ends or the run is stopped. A
 * sensor in an outage keeps its slots (so the others keep their pace) but its readings are
 * withheld; they are still drawn, so the other sensors' readings are those of a run without it.
 */
async function publishOnSchedule(loop: Loop): Promise<void> {
  const { schedule, source, publisher, progress, outages } = loop;
  for (let k = 0, sent = 0; schedule.includes(k, sent); k++) {
    if (!await turnOf(k, loop)) break;
    const elapsedMs = schedule.elapsedAt(k);
    const message = source.next(k, elapsedMs);
    const turn = outages.turn(message.sensorId, elapsedMs);
    if (turn.change) loop.onOutage(turn.change);
    if (!turn.publish) continue;
    progress.publishing(message.stamp);
    publisher.publish(message);
    sent++;
  }
}

/** Says that a sensor went silent (and for how long) or publishes again. */
function logOutage(logger: Logger, change: OutageChange): void {
  const s = (ms: number) => `${(ms / 1_000).toFixed(1)}s`;
  if (change.silent) {
    logger.info("outage: sensor goes silent", {
      sensor: change.sensorId,
      for: s(change.untilMs - change.atMs),
    });
  } else {
    logger.info("outage over: sensor publishes again", {
      sensor: change.sensorId,
      silent: s(change.silentMs),
    });
  }
}

/**
 * Waits until message `k` may go: its due time, a connected broker, room in flight. `false`
 * when the run ends first (signal, end of the duration).
 */
async function turnOf(k: number, loop: Loop): Promise<boolean> {
  const { schedule, now, signal, client } = loop;
  const due = schedule.dueAt(k);
  if (due > now()) await loop.pause(due - now(), signal);
  if (signal?.aborted || now() >= schedule.endMs) return false;
  if (!client.connected) {
    // Hold the schedule while the broker is away rather than bursting to catch up.
    const since = now();
    if (!await waitConnected(client, schedule.endMs - since, signal)) return false;
    schedule.hold(now() - since);
  }
  await loop.publisher.room(signal);
  return !signal?.aborted;
}

/** After the first connect, lets MQTT.js reconnect and reports the link's state. */
function watchConnection(
  client: MqttClient,
  logger: Logger,
  url: string,
  onState: (state: BrokerState) => void,
): void {
  client.options.reconnectPeriod = 1_000;
  client.on("offline", () => {
    logger.warn("lost connection to MQTT broker, reconnecting", { url });
    onState("reconnecting");
  });
  client.on("connect", () => {
    logger.info("reconnected to MQTT broker", { url });
    onState("connected");
  });
  client.on("error", (error) => logger.debug("MQTT client error", { error }));
}
