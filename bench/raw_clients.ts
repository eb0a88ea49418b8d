/**
 * The overload and memory benches' client process: N WebSocket clients on raw TCP, reading
 * frames and readings from bytes (`ws_frames.ts`) into a {@link Tally}, so the per-message work
 * is a few byte compares and array writes and this process stays out of the server's way.
 *
 *   deno run --allow-net bench/raw_clients.ts <host> <port> <path?query> <clients> <sensors>
 *
 * stdout: `READY {...}` once every client connected or failed (or after 60 s); then one JSON
 * line per command. stdin commands: `START <epoch ms> <seconds>` (publishing starts),
 * `CHECK <label>` (prints {@link FinalCheck} with `label` and `at`), `STOP` (prints the summary
 * and exits). Exits by itself after 5 minutes, so it cannot outlive a crashed bench.
 */
import { Tally } from "./reading_tally.ts";
import {
  type FrameSink,
  headEnd,
  newFacts,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  pongFrame,
  scanFrames,
  scanReading,
  upgradeRequest,
} from "./ws_frames.ts";

const [host = "127.0.0.1", portText = "0", path = "/", nText = "1", sensorsText = "5"] = Deno.args;
const N = Number(nText);
const SENSORS = Number(sensorsText);
const READ_BUFFER = 16 * 1024;
/** Handshakes in flight at once: the server's pending-socket cap is 1,024. */
const MAX_IN_FLIGHT = 200;
const CONNECT_DEADLINE_MS = 60_000;
const LIFETIME_MS = 5 * 60_000;

const tally = new Tally(N, SENSORS);
const request = new TextEncoder().encode(upgradeRequest(host, path));
const stats = { ready: 0, failed: 0, closed: 0, errors: 0, otherTexts: 0, reads: 0, bytes: 0 };
const closeCodes: Record<string, number> = {};
const failures: Record<string, number> = {};
let readyPrinted = false;
const began = performance.now();

const print = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const bump = (table: Record<string, number>, key: string) => table[key] = (table[key] ?? 0) + 1;

function maybeReady(force = false): void {
  if (readyPrinted || (!force && stats.ready + stats.failed < N)) return;
  readyPrinted = true;
  const ms = Math.round(performance.now() - began);
  print(`READY ${JSON.stringify({ ready: stats.ready, failed: stats.failed, ms, failures })}`);
}

/** One client's frames: the greeting makes it ready, readings go to the tally. */
class Peer implements FrameSink {
  readonly #i: number;
  readonly #conn: Deno.TcpConn;
  readonly #facts = newFacts();
  greeted = false;
  now = 0;

  constructor(i: number, conn: Deno.TcpConn) {
    this.#i = i;
    this.#conn = conn;
  }

  frame(opcode: number, data: Uint8Array, start: number, end: number): void {
    if (opcode === OP_TEXT) {
      if (!this.greeted) {
        this.greeted = true;
        stats.ready++;
        tally.markReady(this.#i);
        maybeReady();
      } else if (scanReading(data, start, end, this.#facts)) {
        const f = this.#facts;
        tally.record(this.#i, f.sensor, f.final, f.sentAt, this.now);
      } else stats.otherTexts++;
    } else if (opcode === OP_PING) {
      this.#conn.write(pongFrame(data.slice(start, end))).catch(() => {});
    } else if (opcode === OP_CLOSE) {
      bump(closeCodes, end - start >= 2 ? String((data[start]! << 8) | data[start + 1]!) : "1005");
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
  }
}

async function handshake(conn: Deno.TcpConn, buf: Uint8Array): Promise<Uint8Array> {
  let head = new Uint8Array(0);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("eof before 101");
    const joined = new Uint8Array(head.length + n);
    joined.set(head);
    joined.set(buf.subarray(0, n), head.length);
    head = joined;
    const end = headEnd(head);
    if (end < 0) continue;
    const status = new TextDecoder().decode(head.subarray(0, 12));
    if (!status.endsWith("101")) throw new Error(`answered ${status.slice(9)}`);
    return head.slice(end);
  }
}

async function pump(peer: Peer, conn: Deno.TcpConn, buf: Uint8Array, first: Uint8Array) {
  let carry: Uint8Array | null = first.length > 0 ? first : null;
  peer.now = Date.now();
  if (carry) carry = rest(carry, scanFrames(carry, 0, peer));
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return;
    stats.reads++;
    stats.bytes += n;
    peer.now = Date.now(); // one clock read per chunk: every frame in it arrived together
    let data = buf.subarray(0, n);
    if (carry) {
      const joined = new Uint8Array(carry.length + n);
      joined.set(carry);
      joined.set(data, carry.length);
      data = joined;
    }
    carry = rest(data, scanFrames(data, 0, peer));
  }
}

function rest(data: Uint8Array, used: number): Uint8Array | null {
  return used < data.length ? data.slice(used) : null;
}

async function runClient(i: number): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  let peer: Peer | undefined;
  try {
    conn = await Deno.connect({ hostname: host, port: Number(portText) });
    conn.setNoDelay(true);
    await conn.write(request);
    const buf = new Uint8Array(READ_BUFFER);
    const first = await handshake(conn, buf);
    peer = new Peer(i, conn);
    await pump(peer, conn, buf, first);
  } catch (error) {
    if (!peer?.greeted) bump(failures, String((error as Error).message).slice(0, 60));
    else if (!(error instanceof Deno.errors.BadResource)) stats.errors++;
  } finally {
    if (peer?.greeted) stats.closed++;
    else {
      stats.failed++;
      maybeReady();
    }
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

async function openAll(): Promise<void> {
  for (let i = 0; i < N; i++) {
    while (i - stats.ready - stats.failed >= MAX_IN_FLIGHT) {
      await new Promise((r) => setTimeout(r, 2));
    }
    void runClient(i);
  }
}

function command(line: string): void {
  const [verb, a, b] = line.trim().split(/\s+/);
  if (verb === "START") tally.start(Number(a), Number(b));
  else if (verb === "CHECK") print(JSON.stringify({ label: a, at: Date.now(), ...tally.check() }));
  else if (verb === "STOP") {
    print(JSON.stringify({ ...tally.summary(), ...stats, closeCodes, failures }));
    Deno.exit(0);
  }
}

async function readCommands(): Promise<void> {
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    lines.forEach(command);
  }
  Deno.exit(1); // the bench went away
}

setTimeout(() => maybeReady(true), CONNECT_DEADLINE_MS);
setTimeout(() => Deno.exit(3), LIFETIME_MS);
void readCommands();
await openAll();
