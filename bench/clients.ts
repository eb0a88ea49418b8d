/**
 * Benchmark client process: opens N WebSocket clients, prints READY when all are connected,
 * counts readings and their broker-to-client latency, prints a JSON summary on STOP (stdin).
 * Args: url(with token) clients
 */
const [url, n] = [Deno.args[0]!, Number(Deno.args[1] ?? 1000)];
const counts = new Uint32Array(n);
/** Latency histogram in 0.1 ms bins up to 10 s. */
const bins = new Uint32Array(100_001);
let ready = 0;
let closedEarly = 0;
const sockets: WebSocket[] = [];
const KEY = '"timestamp":"';

for (let i = 0; i < n; i++) {
  const ws = new WebSocket(url);
  sockets.push(ws);
  let counted = false;
  ws.onmessage = (e) => {
    const text = e.data as string;
    if (!counted) {
      if (text.startsWith('{"type":"connection_status"')) {
        counted = true;
        if (++ready === n) Deno.stdout.writeSync(new TextEncoder().encode("READY\n"));
      }
      return;
    }
    if (!text.startsWith('{"type":"sensor_reading"')) return;
    counts[i]!++;
    const at = text.indexOf(KEY, text.length - 40);
    const sent = Date.parse(text.slice(at + KEY.length, at + KEY.length + 24));
    const bin = Math.min(bins.length - 1, Math.max(0, Math.round((Date.now() - sent) * 10)));
    bins[bin]!++;
  };
  ws.onclose = () => closedEarly++;
  // Open gradually so the handshake burst does not look like an attack on the loopback.
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
}

for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (chunk.includes("STOP")) break;
}
const total = counts.reduce((a, b) => a + b, 0);
const pct = (p: number) => {
  let seen = 0;
  const target = Math.ceil(total * p);
  for (let b = 0; b < bins.length; b++) {
    seen += bins[b]!;
    if (seen >= target) return b / 10;
  }
  return NaN;
};
const summary = {
  delivered: total,
  minPerClient: Math.min(...counts),
  maxPerClient: Math.max(...counts),
  p50ms: pct(0.5),
  p99ms: pct(0.99),
  maxms: pct(1),
  closedEarly,
};
for (const ws of sockets) ws.onclose = null;
for (const ws of sockets) ws.close();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(summary) + "\n"));
Deno.exit(0);
