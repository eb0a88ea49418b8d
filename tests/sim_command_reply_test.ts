/** How a simulated station reads a command and what it answers, with the words a user reads. */
import assert from "node:assert/strict";
import { hasControl } from "../lib/sanitize.ts";
import { CommandAckSchema } from "../protocol/mod.ts";
import {
  ackDetail,
  answer,
  type AnswerableCommand,
  AnsweredIds,
  commandLine,
  commandTitle,
  doneDetail,
  FAIL_AFTER_MS,
  MAX_COMMAND_BYTES,
  readCommand,
  REMEMBERED_IDS,
  type StationNow,
  stoppedDetail,
} from "../sim/command_reply.ts";

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const COMMAND = {
  id: "7",
  action: "irrigate",
  params: { duration_s: 30 },
  issued_by: "alice",
  issued_at: "2024-06-01T06:00:00.000Z",
};
const IDLE: StationNow = { offline: false, busyLeftMs: undefined, answeredBefore: false };

function answerable(value: unknown): AnswerableCommand {
  const read = readCommand(bytes(value));
  assert.notEqual(read.kind, "malformed");
  return read as AnswerableCommand;
}

Deno.test("reading a command payload", async (t) => {
  await t.step("a valid irrigate gives its id, issuer and duration", () => {
    assert.deepEqual(readCommand(bytes(COMMAND)), {
      kind: "irrigate",
      head: {
        id: "7",
        action: "irrigate",
        issuedBy: "alice",
        issuedAt: Date.parse("2024-06-01T06:00:00.000Z"),
      },
      durationMs: 30_000,
    });
  });

  await t.step("without an id there is nothing to answer: malformed, with the reason", () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [bytes("\x1b[2J{not json"), /^not JSON: /],
      [bytes([1, 2]), /^not a JSON object$/],
      [bytes("null"), /^not a JSON object$/],
      [bytes({ ...COMMAND, id: undefined }), /^no "id"/],
      [bytes({ ...COMMAND, id: "" }), /^no "id"/],
      [bytes({ ...COMMAND, id: "x".repeat(65) }), /^no "id"/],
      [Uint8Array.of(0xff, 0xfe), /^not JSON: /],
      [new Uint8Array(MAX_COMMAND_BYTES + 1), /^too large: 4097 bytes \(at most 4096\)$/],
    ];
    for (const [payload, reason] of cases) {
      const read = readCommand(payload);
      assert.equal(read.kind, "malformed");
      if (read.kind === "malformed") assert.match(read.reason, reason);
    }
  });

  await t.step("with an id, a bad command is answered failed, saying why", () => {
    const cases: Array<[unknown, string]> = [
      [{ ...COMMAND, action: "water" }, 'unknown action "water"; this station knows irrigate'],
      [{ ...COMMAND, action: 3 }, "unknown action; this station knows irrigate"],
      [
        { ...COMMAND, params: { duration_s: 0 } },
        "invalid params: duration_s must be an integer from 1 to 3600",
      ],
      [
        { ...COMMAND, params: { duration_s: 1.5 } },
        "invalid params: duration_s must be an integer from 1 to 3600",
      ],
      [
        { ...COMMAND, params: undefined },
        "invalid params: duration_s must be an integer from 1 to 3600",
      ],
    ];
    for (const [command, detail] of cases) {
      assert.deepEqual(answer(answerable(command), IDLE, "done"), { do: "refuse", detail });
    }
    const late = answer(answerable({ ...COMMAND, issued_at: "yesterday" }), IDLE, "done");
    assert.equal(late.do, "refuse");
    if (late.do === "refuse") assert.match(late.detail, /^invalid command: issued_at: /);
  });

  await t.step("an action with control characters is named escaped", () => {
    const read = answerable({ ...COMMAND, action: "\x1b[31mred\u202e" });
    const reply = answer(read, IDLE, "done");
    assert.ok(reply.do === "refuse" && !hasControl(reply.detail), JSON.stringify(reply));
  });
});

Deno.test("what a station answers", async (t) => {
  await t.step("a retained or late command is not run: the server has given up on it", () => {
    const irrigate = answerable(COMMAND);
    assert.deepEqual(answer(irrigate, { ...IDLE, retained: true }, "done"), {
      do: "nothing",
      why: "a retained command: old, not sent now",
    });
    assert.deepEqual(answer(irrigate, { ...IDLE, ageMs: 10_001 }, "done"), {
      do: "nothing",
      why: "issued 10 s ago: too late, the server has called it timeout",
    });
    assert.equal(answer(irrigate, { ...IDLE, ageMs: 10_000 }, "done").do, "open");
  });
  const irrigate = answerable(COMMAND);

  await t.step("done: opens the valve for the command's duration", () => {
    assert.deepEqual(answer(irrigate, IDLE, "done"), {
      do: "open",
      durationMs: 30_000,
      stuck: false,
    });
  });

  await t.step("fail: opens a stuck valve, failing after a short time", () => {
    assert.deepEqual(answer(irrigate, IDLE, "fail"), {
      do: "open",
      durationMs: FAIL_AFTER_MS,
      stuck: true,
    });
    const short = answerable({ ...COMMAND, params: { duration_s: 1 } });
    assert.equal(FAIL_AFTER_MS, 1_000);
    assert.deepEqual(answer(short, IDLE, "fail"), { do: "open", durationMs: 1_000, stuck: true });
  });

  await t.step("already irrigating: failed, with the seconds left", () => {
    assert.deepEqual(answer(irrigate, { ...IDLE, busyLeftMs: 12_300 }, "done"), {
      do: "refuse",
      detail: "already irrigating (13 s left)",
    });
    assert.deepEqual(answer(irrigate, { ...IDLE, busyLeftMs: 0 }, "done"), {
      do: "refuse",
      detail: "already irrigating (1 s left)",
    });
  });

  await t.step("silent, offline or a repeated id: not answered, even when invalid", () => {
    const invalid = answerable({ ...COMMAND, action: "water" });
    for (const read of [irrigate, invalid]) {
      assert.equal(answer(read, IDLE, "silent").do, "nothing");
      assert.deepEqual(answer(read, { ...IDLE, offline: true }, "done"), {
        do: "nothing",
        why: "offline: in a planned outage",
      });
      assert.deepEqual(answer(read, { ...IDLE, answeredBefore: true }, "done"), {
        do: "nothing",
        why: "answered already: a redelivery",
      });
    }
  });

  await t.step("each station remembers the last ids it answered, a bounded number", () => {
    const ids = new AnsweredIds();
    ids.add("V1", "a");
    assert.ok(ids.has("V1", "a"));
    assert.ok(!ids.has("V2", "a"), "per station");
    for (let i = 0; i < REMEMBERED_IDS; i++) ids.add("V1", `n${i}`);
    assert.ok(!ids.has("V1", "a"), "the oldest is forgotten");
    assert.ok(ids.has("V1", "n0"));
  });
});

Deno.test("the words of acks and log lines", async (t) => {
  await t.step("a command is named by station, action, duration, id and issuer", () => {
    const head = { id: "7", action: "irrigate", issuedBy: "alice" };
    const title = commandTitle("V1", head, 30_000);
    assert.equal(title, "V1 irrigate 30 s (id 7, by alice)");
    assert.equal(commandLine(title, "accepted"), "V1 irrigate 30 s (id 7, by alice): accepted");
    assert.equal(
      commandLine(title, "done", doneDetail(52.34, 56.81, false)),
      "V1 irrigate 30 s (id 7, by alice): done — moisture 52.3 → 56.8 %, +4.5",
    );
    assert.equal(
      commandTitle("V1", { id: "8", action: undefined, issuedBy: undefined }),
      "V1 (no action) (id 8)",
    );
  });

  await t.step("what came from the network is clipped and escaped", () => {
    const head = { id: "x\x1b[2J", action: "irrigate", issuedBy: "\u202eeve" + "e".repeat(500) };
    const title = commandTitle("V1", head, 1_000);
    assert.ok(!hasControl(title), title);
    assert.match(title, /id x\\x1b\[2J, by \\u202eeve/);
    assert.ok(title.length < 200, `${title.length} characters`);
  });

  await t.step("done says when the soil is saturated; a stop says how far it got", () => {
    assert.equal(doneDetail(94.2, 95, true), "moisture 94.2 → 95.0 %, +0.8, soil saturated");
    assert.equal(
      stoppedDetail(12_000, 30_000, { before: 50, after: 51.8 }),
      "simulator stopped after 12 of 30 s, moisture 50.0 → 51.8 %",
    );
    assert.equal(stoppedDetail(400, 1_000), "simulator stopped after 0.4 of 1 s");
  });

  await t.step("an ack's detail fits the protocol", () => {
    const detail = ackDetail("x".repeat(5_000));
    assert.ok(CommandAckSchema.safeParse({ id: "7", status: "failed", detail }).success);
    assert.equal(ackDetail("short"), "short");
  });
});
