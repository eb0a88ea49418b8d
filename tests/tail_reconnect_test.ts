/** The tail client's reconnect decisions, on a hand-held clock and without sockets. */
import assert from "node:assert/strict";
import { CLOSES } from "../protocol/mod.ts";
import { TailError } from "../tail/errors.ts";
import { type ClosedEnd, ReconnectPolicy } from "../tail/reconnect.ts";

/** A policy on a clock the test moves; `random` 0.5 makes each delay 3/4 of its step. */
function policy(options: { renewable?: boolean; connectTimeoutMs?: number } = {}) {
  const clock = { now: 0 };
  const p = new ReconnectPolicy({
    shown: "ws://h/ws/sensors",
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    reconnectMinMs: 100,
    reconnectMaxMs: 10_000,
    renewable: options.renewable ?? false,
    now: () => clock.now,
    random: () => 0.5,
  });
  return { p, clock };
}

/** A connection that opened, carried `received` frames and was closed with `code`/`reason`. */
function closed(code: number, reason: string, received = 1): ClosedEnd {
  return { kind: "closed", opened: true, code, reason, error: undefined, received };
}

const refused: ClosedEnd = {
  kind: "closed",
  opened: false,
  code: 1006,
  reason: "",
  error: "tcp connect error: Connection refused",
  received: 0,
};

Deno.test("tail reconnect policy", async (t) => {
  await t.step("every `stop` close in the table ends the run with the server's reason", () => {
    for (const entry of Object.values(CLOSES).filter((e) => e.retry === "stop")) {
      const next = policy().p.after(closed(entry.code, entry.reason));
      assert.equal(next.kind, "stop", entry.reason);
      if (next.kind !== "stop") continue;
      assert.ok(next.error instanceof TailError);
      assert.equal(next.error.kind, entry.code === 1008 ? "auth" : "refused");
      assert.equal(next.error.closeReason, entry.reason);
      assert.match(next.error.message, /^Server closed the connection: /);
      assert.ok(next.error.message.includes(entry.reason), next.error.message);
    }
  });

  await t.step("a refusal the table explains says what it means", () => {
    const next = policy().p.after(closed(1008, "invalid sensors parameter"));
    assert.equal(
      next.kind === "stop" && next.error.message,
      "Server closed the connection: " +
        `invalid sensors parameter (${CLOSES.INVALID_SENSORS.meaning})`,
    );
  });

  await t.step("an expired token it mints itself is renewed by reconnecting at once", () => {
    const { p } = policy({ renewable: true });
    const next = p.after(closed(1008, "token expired", 3));
    assert.deepEqual(next, {
      kind: "retry",
      waitMs: 75,
      state: "reconnecting",
      detail: "connection lost: token expired; retrying in 0.1s",
    });
  });

  await t.step("a minted token expired before any message is not renewed", () => {
    assert.equal(
      policy({ renewable: true }).p.after(closed(1008, "token expired", 0)).kind,
      "stop",
    );
  });

  await t.step("`backoff` closes start four steps up and keep climbing", () => {
    const { p } = policy();
    const waits = [1, 2, 3].map(() => p.after(closed(1013, "server full")));
    assert.deepEqual(waits.map((w) => w.kind === "retry" && w.waitMs), [300, 600, 1_200]);
    assert.equal(
      waits[0]?.kind === "retry" && waits[0].detail,
      "connection lost: 1013 server full; retrying in 0.3s",
    );
  });

  await t.step("`reconnect` closes start over after a connection that carried messages", () => {
    const { p } = policy();
    const waits = [0, 0, 1].map((n) => p.after(closed(1001, "server shutting down", n)));
    assert.deepEqual(waits.map((w) => w.kind === "retry" && w.waitMs), [75, 150, 75]);
  });

  await t.step("a new close reason needs no change: its code's class decides", () => {
    assert.equal(policy().p.after(closed(1008, "a reason from a newer server")).kind, "stop");
    const later = policy().p.after(closed(1013, "a reason from a newer server"));
    assert.equal(later.kind === "retry" && later.waitMs, 300);
  });

  await t.step("an unreachable server is retried until the connect deadline, then given up", () => {
    const { p, clock } = policy({ connectTimeoutMs: 1_000 });
    const first = p.after(refused);
    assert.equal(first.kind === "retry" && first.detail, "connection refused; retrying in 0.1s");
    assert.equal(p.handshakeMs(), 1_000);
    clock.now = 900;
    assert.equal(p.handshakeMs(), 250, "the last attempt still gets a fair slice");
    const near = p.after(refused);
    assert.equal(near.kind === "retry" && near.waitMs, 100, "no wait past the deadline");
    clock.now = 1_000;
    const last = p.after(refused);
    assert.equal(last.kind, "stop");
    assert.equal(
      last.kind === "stop" && last.error.message,
      "Cannot connect to ws://h/ws/sensors: connection refused. " +
        "Is `sensorstream serve` running? (gave up after 1s)",
    );
  });

  await t.step("once a handshake completed, the connect deadline no longer applies", () => {
    const { p, clock } = policy({ connectTimeoutMs: 1_000 });
    p.after(closed(1006, "", 0));
    clock.now = 5_000;
    assert.equal(p.after(refused).kind, "retry");
    assert.equal(p.handshakeMs(), 1_000);
  });

  await t.step("an HTTP 4xx answer stops at once; 429 backs off", () => {
    const answer = (status: number): ClosedEnd => ({
      ...refused,
      error: `Invalid status code: ${status}`,
    });
    const stop = policy().p.after(answer(401));
    assert.equal(stop.kind === "stop" && stop.error.kind, "unreachable");
    const later = policy().p.after(answer(429));
    assert.equal(later.kind === "retry" && later.waitMs, 300);
  });
});
