/**
 * First connection to the MQTT broker: retry with backoff until a deadline, then fail with a
 * message that names the fix. Later reconnects are MQTT.js's job.
 * @module
 */
import mqtt, { type MqttClient } from "mqtt";
import { StartupError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import { redactUrl } from "../lib/broker_url.ts";

/** Options of {@link connectWithRetry}. */
export interface ConnectOptions {
  /** Normalized broker URL. */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Give up after this many ms. */
  timeoutMs: number;
  /** Stops retrying; the function then resolves `undefined`. */
  signal?: AbortSignal | undefined;
}

/** Clock, sleep and logger of {@link connectWithRetry}. */
export interface ConnectDeps {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  logger: Logger;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 4_000;
const MAX_ATTEMPT_MS = 5_000;

/**
 * Connects, retrying with doubling delays until `timeoutMs` has passed. Resolves the
 * connected client (automatic reconnect off), or `undefined` when `signal` aborts first.
 * Throws {@link StartupError} when the broker stays unreachable or refuses the credentials.
 */
export async function connectWithRetry(
  options: ConnectOptions,
  deps: ConnectDeps,
): Promise<MqttClient | undefined> {
  const shown = redactUrl(options.url);
  const deadline = deps.now() + options.timeoutMs;
  let delay = FIRST_RETRY_MS;
  while (true) {
    if (options.signal?.aborted) return undefined;
    const attemptMs = Math.min(MAX_ATTEMPT_MS, Math.max(100, deadline - deps.now()));
    try {
      return await attempt(options, attemptMs);
    } catch (error) {
      if (options.signal?.aborted) return undefined;
      if (typeof (error as { code?: unknown }).code === "number") {
        // A CONNACK with a reason code: the broker answered and said no; retrying won't help.
        throw new StartupError(
          `MQTT broker at ${shown} refused the connection: ${(error as Error).message}. ` +
            "Check {username} and {password}",
          { cause: error },
        );
      }
      const remaining = deadline - deps.now();
      const reason = describeConnectError(error, attemptMs);
      if (remaining <= 0) {
        throw new StartupError(
          `Cannot connect to MQTT broker at ${shown}: ${reason}. ` +
            "Start `sensorstream serve` (it runs an embedded broker) or set {mqttUrl}",
          { cause: error },
        );
      }
      const wait = Math.min(delay, remaining);
      deps.logger.warn("MQTT broker unreachable, retrying", {
        url: shown,
        reason,
        retryInMs: wait,
      });
      await deps.sleep(wait, options.signal);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** One connection attempt; the client is ended on any failure so nothing is left running. */
function attempt(options: ConnectOptions, timeoutMs: number): Promise<MqttClient> {
  const client = mqtt.connect(options.url, {
    clientId: `sensorstream-sim-${crypto.randomUUID().slice(0, 8)}`,
    username: options.username,
    password: options.password,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  });
  return new Promise<MqttClient>((resolve, reject) => {
    const cleanup = () => {
      client.off("connect", onConnect);
      client.off("error", onError);
      client.off("close", onClose);
      options.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      cleanup();
      client.on("error", () => {}); // late socket errors of a client we are discarding
      client.end(true, () => reject(error));
    };
    const onConnect = () => {
      cleanup();
      resolve(client);
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(new Error("connection closed"));
    const onAbort = () => fail(options.signal?.reason);
    client.on("connect", onConnect);
    client.on("error", onError);
    client.on("close", onClose);
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Short human reason for a failed connection attempt. */
export function describeConnectError(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ECONNRESET":
      return "connection reset";
    case "ETIMEDOUT":
      return "timed out";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (message === "connack timeout") return `no MQTT answer within ${timeoutMs} ms`;
  return message;
}
