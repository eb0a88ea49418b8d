/**
 * Abuse phase 2: the token matrix. Every bad token, by `?token=` and by `Authorization: Bearer`,
 * must be refused; a valid one (the control) must get in by both.
 * @module
 */
import { SignJWT } from "jose";
import { upgradeRequest } from "../tests/_raw_peers.ts";
import { deadline } from "./abuse_mqtt.ts";
import { breakdown, conditions, type PhaseResult } from "./abuse_report.ts";
import type { ServeProcess } from "./abuse_serve.ts";
import { StreamClient } from "./abuse_ws.ts";

/** What serve verifies tokens against. */
export interface TokenPolicy {
  secret: string;
  issuer: string;
  audience: string;
}

type Transport = "query" | "header";
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

/** The bad tokens, by name. */
function badTokens(policy: TokenPolicy): Array<[string, () => Promise<string>]> {
  const key = new TextEncoder().encode(policy.secret);
  const sign = async (claims: Record<string, unknown> = {}, secret = key) => {
    const all: Record<string, unknown> = {
      sub: "mallory",
      iss: policy.issuer,
      aud: policy.audience,
      iat: now(),
      exp: now() + 600,
      ...claims,
    };
    for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
    return await new SignJWT(all).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
  };
  const wrongKey = new TextEncoder().encode("another-secret-another-secret-another-0");
  const none = () =>
    Promise.resolve(
      `${b64url({ alg: "none", typ: "JWT" })}.${
        b64url({ sub: "mallory", iss: policy.issuer, aud: policy.audience, exp: now() + 600 })
      }.`,
    );
  return [
    ["alg none", none],
    ["wrong key", () => sign({}, wrongKey)],
    ["expired", () => sign({ iat: now() - 7200, exp: now() - 3600 })],
    ["nbf in the future", () => sign({ nbf: now() + 600 })],
    ["iat in the future", () => sign({ iat: now() + 600 })],
    ["no exp", () => sign({ exp: undefined })],
    ["wrong iss", () => sign({ iss: "https://evil.example" })],
    ["no iss", () => sign({ iss: undefined })],
    ["wrong aud", () => sign({ aud: "someone-else" })],
    ["malformed", () => Promise.resolve("not.a.jwt")],
    ["empty", () => Promise.resolve("")],
    ["9 KiB token", async () => (await sign()) + "A".repeat(9 * 1024)],
    ["64 KiB token", async () => (await sign()) + "A".repeat(64 * 1024)],
  ];
}

/** One attempt: admitted, or how it was refused. */
async function attempt(
  serve: ServeProcess,
  token: string,
  transport: Transport,
): Promise<{ admitted: boolean; how: string }> {
  const client = new StreamClient(serve.wsUrl, { token, transport });
  const admitted = await client.admittedWithin(5_000);
  const closed = admitted ? await client.close() : client.closedWith ?? await client.close();
  if (admitted) return { admitted, how: "admitted" };
  if (client.opened && closed) return { admitted, how: `close ${client.closeText()}` };
  return { admitted, how: await httpRefusal(serve, token, transport) };
}

/** What the server answers the same upgrade request over raw TCP: its status line, or EOF. */
async function httpRefusal(
  serve: ServeProcess,
  token: string,
  transport: Transport,
): Promise<string> {
  const port = Number(new URL(serve.httpUrl).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = upgradeRequest({ token, header: transport === "header" });
    await conn.write(new TextEncoder().encode(request)).catch(() => {});
    const buf = new Uint8Array(512);
    const read = await deadline(conn.read(buf).catch(() => null), 5_000, "HTTP answer").catch(() =>
      -1
    );
    if (read === -1) return "no HTTP answer within 5 s";
    const status = new TextDecoder().decode(buf.subarray(0, read ?? 0)).split("\r\n")[0];
    return status
      ? `HTTP refused: ${status.replace(/^HTTP\/1\.1 /, "")}`
      : "connection closed, no HTTP answer";
  } finally {
    conn.close();
  }
}

/** Runs phase 2. */
export async function tokensPhase(serve: ServeProcess, policy: TokenPolicy): Promise<PhaseResult> {
  const started = performance.now();
  const { check, failures } = conditions();
  const cases = badTokens(policy);
  const hows = new Map<string, number>();
  const perCase: string[] = [];
  let admitted = 0;
  for (const [name, make] of cases) {
    const outcomes: string[] = [];
    for (const transport of ["query", "header"] as const) {
      const r = await attempt(serve, await make(), transport);
      if (r.admitted) admitted++;
      check(!r.admitted, `${name} (${transport}) was admitted`);
      hows.set(r.how, (hows.get(r.how) ?? 0) + 1);
      outcomes.push(`${transport}: ${r.how}`);
    }
    perCase.push(`${name}: ${outcomes.join("; ")}`);
  }
  const valid = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" })
    .setIssuer(policy.issuer).setAudience(policy.audience).setIssuedAt().setExpirationTime("10m")
    .sign(new TextEncoder().encode(policy.secret));
  const control: string[] = [];
  for (const transport of ["query", "header"] as const) {
    const r = await attempt(serve, valid, transport);
    check(r.admitted, `the valid control token (${transport}) was refused: ${r.how}`);
    control.push(`${transport} ${r.how}`);
  }
  const attempts = cases.length * 2;
  return {
    name: "2. Token matrix",
    load: `${cases.length} bad tokens × query/header = ${attempts} attempts (+2 valid controls)`,
    result: `accepted ${admitted}/${attempts}; refused: ${breakdown(hows)}; controls: ${
      control.join(", ")
    }`,
    seconds: (performance.now() - started) / 1000,
    pass: failures.length === 0,
    failures,
    details: perCase,
  };
}
