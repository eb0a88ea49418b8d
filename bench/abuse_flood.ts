/**
 * Abuse phase 4: clients that send nothing but invalid messages. Each must be closed with 1008
 * `too many invalid messages`, while a well-behaved client keeps receiving every reading a
 * steady publisher sends during the phase.
 * @module
 */
import { createRandom } from "../sim/random.ts";
import { invalidClientMessages } from "./abuse_client_messages.ts";
import { type PublishTally, steadyPublisher } from "./abuse_mqtt.ts";
import { breakdown, conditions, n, type PhaseResult, seconds } from "./abuse_report.ts";
import { labeledDelta, metric, type MetricSample, type ServeProcess } from "./abuse_serve.ts";
import { pool, sleep, StreamClient } from "./abuse_ws.ts";

/** Options of {@link floodPhase}. */
export interface FloodOptions {
  seed: number;
  token: string;
  /** Garbage-sending clients. Default 1,000. */
  clients?: number;
  /** Invalid messages each sends. Default 100. */
  messages?: number;
  /** Clients open at once. Default 100. */
  batch?: number;
  /** Readings per second of the steady publisher. Default 20. */
  rate?: number;
  /** Shortest time the publisher runs, s, so the delivery check has a sample. Default 5. */
  minSeconds?: number;
}

const SENSORS = ["steady-1", "steady-2", "steady-3", "steady-4", "steady-5"];
const EXPECTED_CLOSE = "1008 too many invalid messages";
const DROPPED = "sensorstream_ws_messages_dropped_total";
/** Longest one garbage client may stay open, ms. */
const CLIENT_DEADLINE_MS = 15_000;

/** One garbage client: admitted, sends its messages, waits to be closed. */
async function abuser(serve: ServeProcess, token: string, texts: string[]): Promise<string> {
  const client = new StreamClient(serve.wsUrl, {
    token,
    transport: "query",
    onAdmitted: (c) => texts.forEach((t) => c.ws.send(t)),
  });
  if (!await client.admittedWithin(10_000)) {
    const refused = client.closedWith ? `refused: ${client.closeText()}` : "not admitted in 10 s";
    await client.close();
    return refused;
  }
  if (!await client.until(() => client.closedWith !== undefined, CLIENT_DEADLINE_MS)) {
    await client.close();
    return `still open after ${CLIENT_DEADLINE_MS / 1000} s`;
  }
  return client.closeText();
}

/** What phase 4 saw. */
interface FloodRun {
  /** How each garbage client ended, counted. */
  closes: Map<string, number>;
  floodSeconds: number;
  tally: PublishTally;
  good: StreamClient;
  /** Whether the well-behaved client got every reading within 5 s of the last PUBACK. */
  delivered: boolean;
  goodOpen: boolean;
  admitted: boolean;
  before: MetricSample;
  after: MetricSample;
}

/** Runs phase 4. */
export async function floodPhase(serve: ServeProcess, options: FloodOptions): Promise<PhaseResult> {
  const o = { clients: 1_000, messages: 100, batch: 100, rate: 20, minSeconds: 5, ...options };
  const before = await serve.metrics();
  const good = new StreamClient(serve.wsUrl, { token: o.token, sensors: SENSORS });
  const admitted = await good.admittedWithin(5_000);
  const publisher = await steadyPublisher(serve.mqttUrl, { sensors: SENSORS, rate: o.rate });
  const closes = new Map<string, number>();
  const random = createRandom(o.seed);
  const floodStart = performance.now();
  await pool(Array.from({ length: o.clients }, (_, i) => i), o.batch, async () => {
    const texts = invalidClientMessages(random, o.messages).map((g) => g.text);
    const how = await abuser(serve, o.token, texts);
    closes.set(how, (closes.get(how) ?? 0) + 1);
  });
  const floodSeconds = (performance.now() - floodStart) / 1000;
  await sleep(o.minSeconds * 1000 - (performance.now() - floodStart));
  const tally = await publisher.stop();
  const delivered = await good.until(() => good.readings >= tally.acked, 5_000);
  const goodOpen = good.closedWith === undefined;
  await good.close();
  const after = await serve.metrics();
  const run = { closes, floodSeconds, tally, good, delivered, goodOpen, admitted, before, after };
  return report(serve, o, run);
}

function report(serve: ServeProcess, o: Required<FloodOptions>, r: FloodRun): PhaseResult {
  const { check, failures } = conditions();
  const closed1008 = r.closes.get(EXPECTED_CLOSE) ?? 0;
  const { good, tally } = r;
  check(r.admitted, "the well-behaved client was not admitted within 5 s");
  check(serve.alive, "serve is not running");
  check(
    closed1008 === o.clients,
    `${closed1008}/${o.clients} garbage clients closed with ${EXPECTED_CLOSE}; ${
      breakdown(r.closes)
    }`,
  );
  check(
    tally.failed === 0 && tally.disconnects === 0,
    `publisher: ${tally.failed} failed, ${tally.disconnects} disconnects`,
  );
  check(
    r.delivered && good.readings === tally.acked,
    `the well-behaved client received ${n(good.readings)} of ${n(tally.acked)} readings`,
  );
  check(r.goodOpen, `the well-behaved client was closed: ${good.closeText()}`);
  const errors = labeledDelta(r.before, r.after, "sensorstream_client_errors_total");
  const disconnects = labeledDelta(r.before, r.after, "sensorstream_disconnects_total");
  const dropped = metric(r.after, DROPPED) - metric(r.before, DROPPED);
  const errorTotal = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    name: "4. Garbage-sending clients",
    load: `${n(o.clients)} clients × ${o.messages} invalid msgs (${o.batch} open at a time) + ` +
      `${o.rate} readings/s over ${SENSORS.length} sensors`,
    result: `closed with ${EXPECTED_CLOSE}: ${n(closed1008)}/${n(o.clients)}; well-behaved ` +
      `client got ${n(good.readings)}/${n(tally.acked)} readings`,
    seconds: 0,
    pass: failures.length === 0,
    failures,
    details: [
      `Garbage clients ended: ${breakdown(r.closes)}; the flood took ${seconds(r.floodSeconds)}`,
      `Serve counted client errors ${breakdown(errors)} (total ${n(errorTotal)}); disconnects ` +
      `${breakdown(disconnects)}; messages dropped for slow clients ${n(dropped)}`,
      `Steady publisher: ${n(tally.acked)} readings PUBACKed (${tally.failed} failed) over ` +
      `${seconds(Math.max(r.floodSeconds, o.minSeconds))}, from before the first garbage client ` +
      `to after the last`,
    ],
  };
}
