/**
 * Abuse phase 1: fuzzed MQTT payloads. Every message that matches the subscription must be
 * counted by serve as received and as either forwarded or invalid (by the intended reason), and
 * a connected client must receive every valid reading.
 * @module
 */
import {
  publishAll,
  publishEachFromThrowaway,
  type PublishTally,
  type Refusal,
} from "./abuse_mqtt.ts";
import { type FuzzMessage, generateFuzz } from "./abuse_payloads.ts";
import { breakdown, conditions, n, type PhaseResult } from "./abuse_report.ts";
import {
  labeledDelta,
  metric,
  type MetricSample,
  type ServeProcess,
  settle,
} from "./abuse_serve.ts";
import { StreamClient } from "./abuse_ws.ts";

const RECEIVED = "sensorstream_mqtt_messages_received_total";
const FORWARDED = "sensorstream_readings_forwarded_total";
const INVALID = "sensorstream_mqtt_messages_invalid_total";
const THROTTLED = "sensorstream_mqtt_messages_throttled_total";
/** Longest wait for serve's counters to account for every message, ms. */
const SETTLE_MS = 15_000;

/** What serve should count for the generated messages. */
interface Expected {
  /** Messages by outcome (valid, each invalid reason, refused, outside). */
  byOutcome: Map<string, number>;
  /** Invalid messages by reason. */
  invalid: Map<string, number>;
  valid: number;
  /** Messages that match the subscription, so reach serve. */
  reaching: number;
  /** Valid readings per sensor. */
  perSensor: Map<string, number>;
}

/** What the phase saw. */
interface Observed {
  alive: boolean;
  received: number;
  forwarded: number;
  invalid: Map<string, number>;
  throttled: number;
  client: StreamClient;
  tally: PublishTally;
  refusals: Map<Refusal, number>;
  publishSeconds: number;
  settled: { settled: boolean; ms: number };
}

/** Runs phase 1 against `serve`; `token` is a valid token for the watching client. */
export async function fuzzPhase(
  serve: ServeProcess,
  options: { seed: number; token: string },
): Promise<PhaseResult> {
  const started = performance.now();
  const messages = generateFuzz(options.seed);
  const expected = expectations(messages);
  const before = await serve.metrics();
  const client = new StreamClient(serve.wsUrl, { token: options.token, transport: "header" });
  try {
    const admitted = await client.admittedWithin(5_000);
    const publishStart = performance.now();
    const [tally, refusals] = await Promise.all([
      publishAll(serve.mqttUrl, messages.filter((m) => m.expect !== "refused_by_broker"), {
        clients: 4,
        window: 64,
      }),
      publishEachFromThrowaway(
        serve.mqttUrl,
        messages.filter((m) => m.expect === "refused_by_broker"),
      ),
    ]);
    const publishSeconds = (performance.now() - publishStart) / 1000;
    const d = (s: MetricSample, name: string) => metric(s, name) - metric(before, name);
    const invalidSum = (s: MetricSample) => sum(labeledDelta(before, s, INVALID));
    const settled = await settle(
      serve,
      (s) =>
        d(s, RECEIVED) >= expected.reaching && d(s, FORWARDED) + invalidSum(s) >= d(s, RECEIVED),
      SETTLE_MS,
    );
    await client.until(() => client.readings >= expected.valid, 5_000);
    const after = settled.sample;
    const observed: Observed = {
      alive: serve.alive,
      received: d(after, RECEIVED),
      forwarded: d(after, FORWARDED),
      invalid: labeledDelta(before, after, INVALID),
      throttled: d(after, THROTTLED),
      client,
      tally,
      refusals,
      publishSeconds,
      settled,
    };
    const failures = judge(expected, observed);
    if (!admitted) failures.unshift("the watching client was not admitted within 5 s");
    return report(messages, expected, observed, { started, seed: options.seed, failures });
  } finally {
    await client.close();
  }
}

function expectations(messages: readonly FuzzMessage[]): Expected {
  const e: Expected = {
    byOutcome: countBy(messages, (m) => m.expect),
    invalid: new Map(),
    valid: 0,
    reaching: 0,
    perSensor: new Map(),
  };
  for (const m of messages) {
    if (m.expect === "refused_by_broker" || m.expect === "outside_subscription") continue;
    e.reaching++;
    if (m.expect !== "valid") e.invalid.set(m.expect, (e.invalid.get(m.expect) ?? 0) + 1);
    else {
      e.valid++;
      e.perSensor.set(m.sensorId!, (e.perSensor.get(m.sensorId!) ?? 0) + 1);
    }
  }
  return e;
}

/** The pass conditions; returns the failed ones. */
function judge(e: Expected, o: Observed): string[] {
  const { check, failures } = conditions();
  const invalid = sum(o.invalid);
  const refusedWant = e.byOutcome.get("refused_by_broker") ?? 0;
  const gaps = sensorGaps(e.perSensor, o.client.perSensor);
  check(o.alive, "serve is not running");
  check(
    o.tally.failed === 0 && o.tally.disconnects === 0,
    `${o.tally.failed} publishes failed, ${o.tally.disconnects} publisher disconnects ` +
      `(${o.tally.errors.join("; ")})`,
  );
  check(
    o.received === e.reaching,
    `received ${n(o.received)}; ${n(e.reaching)} matched the subscription`,
  );
  check(
    o.forwarded + invalid === o.received,
    `forwarded ${n(o.forwarded)} + invalid ${n(invalid)} != received ${n(o.received)}`,
  );
  check(
    o.forwarded === e.valid,
    `forwarded ${n(o.forwarded)}; ${n(e.valid)} valid readings published`,
  );
  for (const reason of new Set([...e.invalid.keys(), ...o.invalid.keys()])) {
    const [got, want] = [o.invalid.get(reason) ?? 0, e.invalid.get(reason) ?? 0];
    check(got === want, `invalid{reason="${reason}"} counted ${n(got)}, expected ${n(want)}`);
  }
  check(
    o.client.readings === e.valid && gaps.length === 0,
    `the client received ${n(o.client.readings)} of ${n(e.valid)} valid readings; sensors off ` +
      `(got/want): ${gaps.slice(0, 5).join(", ") || "none"}`,
  );
  check(
    (o.refusals.get("connection closed") ?? 0) === refusedWant,
    `oversized publishes (${refusedWant}): ${breakdown(o.refusals)}`,
  );
  check(
    o.client.closedWith === undefined,
    `the watching client was closed: ${JSON.stringify(o.client.closedWith)}`,
  );
  return failures;
}

function report(
  messages: readonly FuzzMessage[],
  e: Expected,
  o: Observed,
  meta: { started: number; seed: number; failures: string[] },
): PhaseResult {
  const outside = e.byOutcome.get("outside_subscription") ?? 0;
  const oversized = e.byOutcome.get("refused_by_broker") ?? 0;
  const refused = o.refusals.get("connection closed") ?? 0;
  const reasons = [...new Set([...e.invalid.keys(), ...o.invalid.keys()])].sort();
  return {
    name: "1. Fuzzed MQTT payloads",
    load: `${n(messages.length)} msgs at QoS 1 (seed ${meta.seed}): ${n(e.valid)} valid, ` +
      `${n(e.reaching - e.valid)} invalid, ${oversized} × 1 MiB, ${n(outside)} off-filter topics`,
    result: `received ${n(o.received)}/${n(e.reaching)}; forwarded ${n(o.forwarded)}, invalid ` +
      `${n(sum(o.invalid))}; client got ${n(o.client.readings)}/${
        n(e.valid)
      } (${o.client.perSensor.size} ` +
      `sensors); refused by the broker ${refused}/${oversized}; outside the subscription ${
        n(outside)
      }`,
    seconds: (performance.now() - meta.started) / 1000,
    pass: meta.failures.length === 0,
    failures: meta.failures,
    details: [
      `Invalid by reason, serve's count/generated: ` +
      reasons.map((r) => `${r} ${n(o.invalid.get(r) ?? 0)}/${n(e.invalid.get(r) ?? 0)}`).join(", "),
      `Generated by kind: ${breakdown(countBy(messages, (m) => m.kind))}`,
      `${n(o.tally.acked)} messages PUBACKed in ${o.publishSeconds.toFixed(1)} s from 4 clients ` +
      `(${o.tally.failed} failed); counters ` +
      (o.settled.settled
        ? `settled ${o.settled.ms} ms after the last PUBACK`
        : `NOT settled within ${SETTLE_MS} ms`),
      `Oversized (1 MiB) publishes, one throwaway client each: ${breakdown(o.refusals)}`,
      `Throttled: ${n(o.throttled)} (throttle off)`,
    ],
  };
}

/** Sensors whose received count differs from the expected one, as `id got/want`. */
function sensorGaps(want: Map<string, number>, got: Map<string, number>): string[] {
  const out: string[] = [];
  for (const id of new Set([...want.keys(), ...got.keys()])) {
    const [w, g] = [want.get(id) ?? 0, got.get(id) ?? 0];
    if (w !== g) {
      out.push(`${JSON.stringify(id.length > 12 ? id.slice(0, 12) + "…" : id)} ${g}/${w}`);
    }
  }
  return out;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  return out;
}

const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
