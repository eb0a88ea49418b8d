/**
 * Abuse phase 3: aborted handshakes. Thousands of TCP peers reset (RST) at each stage of the
 * WebSocket handshake; then a valid client must get in at once, and the server's socket count
 * must return to its baseline within the idle timeout and a few seconds.
 * @module
 */
import { resetAt, type ResetStage } from "../tests/_raw_peers.ts";
import { breakdown, conditions, n, type PhaseResult, seconds } from "./abuse_report.ts";
import {
  labeledDelta,
  metric,
  type MetricSample,
  type ServeProcess,
  settle,
} from "./abuse_serve.ts";
import { pool, StreamClient } from "./abuse_ws.ts";

const STAGES: readonly ResetStage[] = ["connect", "partial-request", "request", "upgraded"];
const SOCKETS = "sensorstream_sockets";
/** Resets in flight at once. */
const CONCURRENCY = 8;
/** Slack on top of the idle timeout for the socket count to return to baseline, s. */
const SLACK_S = 5;

/** Options of {@link resetsPhase}. */
export interface ResetsOptions {
  /** A valid token: half the peers send it, half send garbage. */
  token: string;
  /** serve's `--idle-timeout`, s. */
  idleTimeoutS: number;
  /** Resets in all, a quarter at each stage. Default 2,000. */
  count?: number;
}

/** Sends the resets; returns the failures by stage and message. */
async function sendResets(
  port: number,
  token: string,
  count: number,
): Promise<Map<string, number>> {
  const errors = new Map<string, number>();
  const jobs = Array.from({ length: count }, (_, i) => STAGES[i % STAGES.length]!);
  await pool(jobs, CONCURRENCY, async (stage, i) => {
    try {
      await resetAt(port, stage, i % 8 < 4 ? token : "not-a-token");
    } catch (error) {
      const key = `${stage}: ${(error as Error).message}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
  });
  return errors;
}

/** The soft limit on open files of `pid`, from /proc (through `cat`, as for the fds). */
function fdLimit(pid: number): string {
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/limits`] }).outputSync();
  return /Max open files\s+(\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "unknown";
}

/** Runs phase 3. */
export async function resetsPhase(
  serve: ServeProcess,
  options: ResetsOptions,
): Promise<PhaseResult> {
  const count = options.count ?? 2_000;
  const { check, failures } = conditions();
  const before = await serve.metrics();
  const baseline = metric(before, SOCKETS);
  const fdsBefore = serve.fds();
  const started = performance.now();
  const errors = await sendResets(Number(new URL(serve.httpUrl).port), options.token, count);
  const resetsDone = performance.now();

  const client = new StreamClient(serve.wsUrl, { token: options.token });
  const admitted = await client.admittedWithin(5_000);
  const admittedMs = Math.round(performance.now() - resetsDone);
  await client.close();
  const limitMs = (options.idleTimeoutS + SLACK_S) * 1000;
  const left = limitMs - (performance.now() - resetsDone);
  const back = await settle(serve, (s) => metric(s, SOCKETS) <= baseline, left);
  const toBaseline = seconds((performance.now() - resetsDone) / 1000);
  const fdsAfter = serve.fds();

  check(serve.alive, "serve is not running");
  check(
    admitted,
    `a valid client was not admitted within 5 s of the last reset (${client.closeText()})`,
  );
  check(
    back.settled,
    `sensorstream_sockets is ${metric(back.sample, SOCKETS)}, baseline ${baseline}, ` +
      `${limitMs / 1000} s after the resets`,
  );
  const fds =
    `${fdsBefore.total} → ${fdsAfter.total} (sockets ${fdsBefore.sockets} → ${fdsAfter.sockets})`;
  return {
    name: "3. Aborted handshakes",
    load: `${n(count)} TCP resets (RST), ${n(count / STAGES.length)} at each of ` +
      `${STAGES.join(" / ")}, ${CONCURRENCY} at a time`,
    result:
      `valid client admitted ${admitted ? `${admittedMs} ms` : "NOT"} after the last reset; ` +
      `sockets back to baseline ${baseline} ${back.settled ? `in ${toBaseline}` : "NOT"} ` +
      `(limit ${options.idleTimeoutS}+${SLACK_S} s); serve fds ${fds}`,
    seconds: 0,
    pass: failures.length === 0,
    failures,
    details: [
      `Resets sent in ${seconds((resetsDone - started) / 1000)}; resets that failed: ${
        breakdown(errors)
      }`,
      counters(before, back.sample),
      `Open file descriptors of serve, before → after: ${fds}, the second read once the socket ` +
      `gauge was back at baseline (not a pass condition); its limit on open files: ${
        fdLimit(serve.pid)
      }`,
    ],
  };
}

function counters(before: MetricSample, after: MetricSample): string {
  const accepted = metric(after, "sensorstream_connections_total") -
    metric(before, "sensorstream_connections_total");
  const rejected = labeledDelta(before, after, "sensorstream_connections_rejected_total");
  const abandoned = labeledDelta(before, after, "sensorstream_sockets_abandoned_total");
  return `Serve's counters over the phase: connections accepted ${n(accepted)}, rejected ` +
    `${breakdown(rejected)}, sockets abandoned by deadline ${breakdown(abandoned)}`;
}
