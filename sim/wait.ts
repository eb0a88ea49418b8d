/**
 * Small abortable waits for the simulator loop; each clears its timer and listeners so
 * nothing outlives the run.
 * @module
 */
import type { MqttClient } from "mqtt";
import { sleep } from "../lib/sleep.ts";

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise. */
export async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const stop = new AbortController();
  let timedOut = true;
  try {
    await Promise.race([promise.then(() => timedOut = false), sleep(ms, stop.signal)]);
  } finally {
    stop.abort();
  }
  return !timedOut;
}

/**
 * Waits for `client` to (re)connect. Resolves `true` when it did, `false` when `ms` passed
 * or `signal` aborted first.
 */
export function waitConnected(
  client: MqttClient,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (client.connected) return Promise.resolve(true);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let connected = false;
  const onConnect = () => {
    connected = true;
    stop.abort();
  };
  client.once("connect", onConnect);
  const limit = Math.min(ms, 2 ** 31 - 1); // setTimeout's largest delay
  return sleep(limit, stop.signal).then(() => {
    client.off("connect", onConnect);
    signal?.removeEventListener("abort", onAbort);
    return connected;
  });
}
