/**
 * The sensor simulator: publishes realistic readings for a set of stations to an MQTT broker
 * at a steady pace, optionally mixed with malformed payloads to exercise the server.
 *
 * ```ts
 * import { runSimulator } from "./sim/mod.ts";
 * const summary = await runSimulator({
 *   mqttUrl: "mqtt://localhost:1883",
 *   sensors: ["V1", "V2"],
 *   intervalMs: 1_000,
 *   count: 10,
 *   seed: 1,
 * });
 * // summary: { published: 10, invalid: 0, failed: 0, elapsedMs: ..., seed: 1 }
 * ```
 * @module
 */
import type { MqttClient } from "mqtt";
import { type Logger, silentLogger } from "../lib/log.ts";
import { sensorTopic } from "../protocol/mod.ts";
import { connectWithRetry } from "./connect.ts";
import { redactUrl } from "../lib/broker_url.ts";
import { resolveOptions, type SimulatorOptions } from "./options.ts";
import { createRandom } from "./random.ts";
import { initialState, invalidPayload, nextReading, readingPayload } from "./sensors.ts";
import type { SensorState } from "./sensors.ts";
import { sleep } from "../lib/sleep.ts";
import { waitConnected, withTimeout } from "./wait.ts";

export { createRandom } from "./random.ts";
export type { SimulatorOptions } from "./options.ts";

/** Model time of the first reading when only a seed is given: 06:00 UTC, sunrise. */
const REPLAY_START = Date.UTC(2024, 5, 1, 6);

/** State of the link to the broker. */
export type BrokerState = "connecting" | "connected" | "reconnecting";

/** Progress, reported on every change. */
export interface SimulatorStatus {
  broker: BrokerState;
  /** Messages the broker took (QoS 1) or that were written to it (QoS 0), invalid included. */
  published: number;
  /** How many of `published` were deliberately malformed. */
  invalid: number;
  /** Messages lost to a dropped connection. */
  failed: number;
  /** Time since the broker first accepted the connection, ms. */
  elapsedMs: number;
  /** Simulated time of the latest reading, ms since the epoch. */
  simulatedTime?: number | undefined;
}

/** Totals of a finished run. */
export interface SimulatorSummary {
  published: number;
  invalid: number;
  failed: number;
  elapsedMs: number;
  /** Seed used, so the run can be replayed. */
  seed: number;
}

/** Injected clock, sleep, progress callback and logger (for tests and the CLI). */
export interface SimulatorDeps {
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onStatus?: (status: SimulatorStatus) => void;
  logger?: Logger;
}

/** Publishes in flight at once; bounds memory when the broker is slower than the schedule. */
const MAX_IN_FLIGHT = 256;
/** How long a stop by `signal` waits for unacknowledged messages. */
const ABORT_FLUSH_MS = 2_000;

/**
 * Connects, publishes on an absolute schedule (message k is due at start + k·gap, so the
 * rate does not drift) until `count`, `durationMs` or `signal`, then flushes and disconnects.
 * Throws `RangeError` for bad options and `StartupError` when the broker cannot be reached
 * within `connectTimeoutMs`.
 */
export async function runSimulator(
  options: SimulatorOptions,
  deps: SimulatorDeps = {},
): Promise<SimulatorSummary> {
  const o = resolveOptions(options);
  const now = deps.now ?? Date.now;
  const pause = deps.sleep ?? sleep;
  const logger = deps.logger ?? silentLogger;
  const signal = options.signal;
  const status: SimulatorStatus = {
    broker: "connecting",
    published: 0,
    invalid: 0,
    failed: 0,
    elapsedMs: 0,
  };
  const report = () => deps.onStatus?.({ ...status });
  const summary = (): SimulatorSummary => {
    const { published, invalid, failed, elapsedMs } = status;
    return { published, invalid, failed, elapsedMs, seed: o.seed };
  };
  report();

  const client = await connectWithRetry(
    { ...o, url: o.mqttUrl, timeoutMs: o.connectTimeoutMs, signal },
    { now, sleep: pause, logger },
  );
  if (!client) return summary();
  const shown = redactUrl(o.mqttUrl);
  logger.info("connected to MQTT broker", { url: shown, seed: o.seed });
  status.broker = "connected";
  watchConnection(client, logger, shown, (state) => {
    status.broker = state;
    report();
  });
  report();

  const random = createRandom(o.seed);
  const startReal = now();
  // The model's clock: --start, or a fixed morning when only --seed is given (so the same seed
  // gives the same values whenever it runs), or now. Timestamps follow --start, else real time.
  const stampStart = o.startTime ?? startReal;
  const simStart = o.startTime ??
    (options.seed !== undefined ? REPLAY_START : startReal);
  const gap = o.ratePerSec !== undefined ? 1_000 / o.ratePerSec : o.intervalMs / o.sensors.length;
  const end = o.durationMs !== undefined ? startReal + o.durationMs : Infinity;
  const states = new Map<string, SensorState>();
  for (const id of o.sensors) states.set(id, initialState(id, random, simStart));

  let pending = 0;
  let wake: (() => void) | undefined;
  const settled = () => {
    pending--;
    wake?.();
  };
  let pausedMs = 0;
  for (let k = 0; o.count === undefined || k < o.count; k++) {
    const due = startReal + pausedMs + k * gap;
    if (due >= end) break;
    if (due > now()) await pause(due - now(), signal);
    if (signal?.aborted || now() >= end) break;
    if (!client.connected) {
      // Hold the schedule while the broker is away rather than bursting to catch up.
      const since = now();
      if (!await waitConnected(client, end - since, signal)) break;
      pausedMs += now() - since;
    }
    // Check the signal now and then: a stalled broker must not hold off Ctrl-C.
    while (pending >= MAX_IN_FLIGHT && !signal?.aborted) {
      await withTimeout(new Promise<void>((r) => wake = r), 250);
    }
    if (signal?.aborted) break;

    const id = o.sensors[k % o.sensors.length]!;
    // Time spent waiting for the broker moves the simulated clock too, so readings stay current.
    const elapsed = (k * gap + pausedMs) * o.timeScale;
    const t = simStart + elapsed;
    const stamp = stampStart + elapsed;
    const invalid = random() < o.invalidRatio;
    let payload: string;
    if (invalid) {
      payload = invalidPayload(random, id, stamp);
    } else {
      const reading = nextReading(states.get(id)!, t, random);
      states.set(id, reading.state);
      payload = readingPayload(id, stamp, reading.values);
    }
    pending++;
    status.simulatedTime = stamp;
    client.publish(sensorTopic(id, o.topic), payload, { qos: o.qos }, (error) => {
      if (error) {
        status.failed++;
        logger.debug("publish failed", { sensor: id, error });
      } else {
        status.published++;
        if (invalid) status.invalid++;
      }
      status.elapsedMs = now() - startReal;
      settled();
      report();
    });
  }

  const flushed = pending === 0 ||
    await withTimeout(
      new Promise<void>((resolve) => wake = () => pending === 0 && resolve()),
      signal?.aborted ? ABORT_FLUSH_MS : o.connectTimeoutMs,
    );
  if (!flushed) logger.warn("some messages were not acknowledged", { pending });
  await client.endAsync(!flushed || !client.connected);
  status.elapsedMs = now() - startReal;
  report();
  return summary();
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
