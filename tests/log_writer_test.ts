/** The CLI's log writer: bounded, non-blocking, never throwing; in-process and as a process. */
import assert from "node:assert/strict";
import { LogWriter } from "../cli/log_writer.ts";
import { waitFor, within } from "./_helpers.ts";

const decoder = new TextDecoder();

/** A stream whose writes complete only when the test lets them. */
function heldStream() {
  const written: string[] = [];
  let release: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => release = resolve);
  return {
    written,
    write: async (bytes: Uint8Array) => {
      await gate;
      written.push(decoder.decode(bytes));
      return bytes.length;
    },
    /** Lets every write through from now on. */
    open: () => release?.(),
    /** Holds writes again. */
    hold: () => gate = new Promise<void>((resolve) => release = resolve),
    text: () => written.join(""),
  };
}

Deno.test("log writer", async (t) => {
  await t.step("writes lines in order, with newlines, without waiting for the stream", async () => {
    const stream = heldStream();
    const logs = new LogWriter(stream.write);
    logs.line("one");
    logs.line("two");
    assert.equal(stream.text(), "", "line() returned before anything was written");
    stream.open();
    await within(2_000, logs.flush(2_000), "flush");
    assert.equal(stream.text(), "one\ntwo\n");
  });

  await t.step("drops lines while the queue is full and says how many once caught up", async () => {
    const stream = heldStream();
    const logs = new LogWriter(stream.write, { maxLines: 3 });
    for (let i = 1; i <= 10; i++) logs.line(`l${i}`);
    assert.equal(logs.dropped, 6, "one in flight, three queued, six dropped");
    stream.open();
    await within(2_000, logs.flush(2_000), "flush");
    logs.line("after");
    await within(2_000, logs.flush(2_000), "flush");
    assert.equal(stream.text(), "l1\nl2\nl3\nl4\n6 log lines dropped (stderr too slow)\nafter\n");
  });

  await t.step("drops by bytes as well as by lines", async () => {
    const stream = heldStream();
    const logs = new LogWriter(stream.write, { maxBytes: 10 });
    logs.line("x".repeat(100));
    stream.open();
    await within(2_000, logs.flush(2_000), "flush");
    assert.equal(stream.text(), "1 log line dropped (stderr too slow)\n");
  });

  await t.step(
    "a failing stream never throws into the caller; later lines are ignored",
    async () => {
      let writes = 0;
      const logs = new LogWriter(() => {
        writes++;
        return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
      });
      logs.line("first");
      await within(2_000, logs.flush(2_000), "flush");
      assert.ok(logs.error instanceof Deno.errors.BrokenPipe);
      for (let i = 0; i < 100; i++) logs.line("more");
      await within(2_000, logs.flush(2_000), "flush");
      assert.equal(writes, 1, "no write after the first failure");
    },
  );

  await t.step("flush gives up after its time bound when the stream is stuck", async () => {
    const stream = heldStream();
    const logs = new LogWriter(stream.write);
    logs.line("stuck");
    await within(2_000, logs.flush(50), "bounded flush");
    assert.equal(stream.text(), "");
    stream.open(); // let the pending write finish so nothing outlives the test
    await within(2_000, logs.flush(2_000), "flush");
  });
});

const FIXTURE = new URL("./fixtures/log_flood.ts", import.meta.url).pathname;
const TICKS = 20;
const PER_TICK = 500;

/** Runs the flood fixture with stdout read and stderr a pipe the caller decides about. */
function flood(flushMs: number, options: { bye: boolean }) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      FIXTURE,
      String(TICKS),
      String(PER_TICK),
      String(flushMs),
      options.bye ? "1" : "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) stdout += chunk;
  })();
  return {
    child,
    stdout: () => stdout,
    /** Waits (bounded) for the exit and all of stdout; kills the process if it hangs. */
    async exit(ms = 15_000) {
      try {
        const status = await within(ms, child.status, "log flood exit");
        await reading;
        return status;
      } catch (error) {
        child.kill("SIGKILL");
        await child.status;
        await reading;
        throw new Error(`${error}; stdout so far:\n${stdout}`);
      }
    },
  };
}

Deno.test("log lines to a stderr nobody reads never stop the event loop", async () => {
  const run = flood(200, { bye: false });
  try {
    const status = await run.exit();
    assert.equal(status.code, 0, run.stdout());
    const ticks = run.stdout().match(/^tick \d+$/gm) ?? [];
    assert.deepEqual(ticks, Array.from({ length: TICKS }, (_, i) => `tick ${i + 1}`));
    assert.match(run.stdout(), /^done$/m);
  } finally {
    await run.child.stderr.cancel();
  }
});

Deno.test("log lines to a closed stderr neither throw nor end the process", async () => {
  const run = flood(200, { bye: true });
  await run.child.stderr.cancel();
  const status = await run.exit();
  assert.equal(status.code, 0, run.stdout());
  assert.match(run.stdout(), new RegExp(`^tick ${TICKS}$[\\s\\S]*^done$`, "m"));
});

Deno.test("a stderr that catches up gets every line or a count of the dropped ones", async () => {
  const run = flood(10_000, { bye: true });
  try {
    await waitFor(() => /^flooded$/m.test(run.stdout()), 10_000, "the flood");
    // Only now is stderr read: the pipe and the queue have long been full.
    const stderr = await within(10_000, new Response(run.child.stderr).text(), "stderr");
    assert.equal((await run.exit()).code, 0);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.at(-1), "bye");
    const notice = /^(\d+) log lines dropped \(stderr too slow\)$/.exec(lines.at(-2) ?? "");
    assert.ok(notice, `no drop notice at the end:\n${lines.slice(-3).join("\n")}`);
    const logged = lines.filter((l) => l.startsWith("line "));
    assert.equal(logged.length + Number(notice[1]), TICKS * PER_TICK, "written + dropped");
    const order = logged.map((l) => l.split(" ")[1]!.split(".").map(Number));
    const sorted = [...order].sort(([a, b], [c, d]) => a! - c! || b! - d!);
    assert.deepEqual(order, sorted, "lines come out in the order they were logged");
  } finally {
    await run.child.stderr.cancel().catch(() => {});
  }
});
