/**
 * The load-balanced cluster of `lb_haproxy_test.ts`, as deployed: one Mosquitto, three `serve`
 * processes on it and HAProxy in front running `deploy/haproxy.cfg` unchanged (addresses from its
 * environment variables).
 */
import { SERVE_OPTIONS } from "../cli/options/serve.ts";
import { MainProcess } from "./_cli.ts";
import {
  freePort,
  type Mosquitto,
  startMosquitto,
  TEST_SECRET,
  waitForPort,
  within,
} from "./_helpers.ts";
import { waitForReadyz } from "./_http.ts";

const CONFIG = new URL("../deploy/haproxy.cfg", import.meta.url).pathname;

/** `haproxy` on the PATH or where Debian puts it (`/usr/sbin` is not on every user's PATH). */
function haproxyPath(): string {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/haproxy`).isFile) return `${dir}/haproxy`;
    } catch { /* not there */ }
  }
  throw new Error("this test needs HAProxy: apt-get install -y haproxy");
}

/** One `serve` subprocess, as a user runs it. */
export interface Instance {
  proc: MainProcess;
  port: number;
  httpUrl: string;
}

async function startInstance(mqttUrl: string): Promise<Instance> {
  // The default drain, given explicitly (a test environment may turn drains off for speed):
  // deploy/haproxy.cfg's health check is set to notice within it.
  const proc = new MainProcess([
    "serve",
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
    "--mqtt-url",
    mqttUrl,
    "--rate-limit",
    "0",
  ], { JWT_SECRET: TEST_SECRET, DRAIN_DELAY_SECONDS: String(SERVE_OPTIONS.drainDelay.default) });
  try {
    const [, port] = await proc.waitForOutput(/serving ws:\/\/127\.0\.0\.1:(\d+)\//);
    const httpUrl = `http://127.0.0.1:${port}`;
    await waitForReadyz(httpUrl, 200, 10_000);
    return { proc, port: Number(port), httpUrl };
  } catch (error) {
    await proc[Symbol.asyncDispose]();
    throw error;
  }
}

/** HAProxy on `deploy/haproxy.cfg`, its output (access log and server state changes) collected. */
export class Haproxy implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  output = "";
  /** When each line arrived, for ordering against what clients saw. */
  readonly lines: Array<{ at: number; text: string }> = [];
  readonly #pumps: Promise<void>;

  constructor(env: Record<string, string>) {
    this.child = new Deno.Command(haproxyPath(), {
      args: ["-f", CONFIG, "-db"],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.output += chunk;
        for (const text of chunk.split("\n")) if (text) this.lines.push({ at: Date.now(), text });
      }
    };
    this.#pumps = Promise.all([pump(this.child.stdout), pump(this.child.stderr)]).then(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited */ }
    await within(5_000, this.child.status, "haproxy exit");
    await this.#pumps;
  }
}

/** The running cluster; disposing it stops HAProxy, then the instances, then Mosquitto. */
export interface LbCluster extends AsyncDisposable {
  broker: Mosquitto;
  instances: Instance[];
  lb: Haproxy;
  lbPort: number;
}

/** Starts Mosquitto, three instances on it and HAProxy in front, and waits until it is ready. */
export async function startLbCluster(): Promise<LbCluster> {
  const broker = await startMosquitto();
  const instances: Instance[] = [];
  let lb: Haproxy | undefined;
  const stop = async () => {
    await lb?.[Symbol.asyncDispose]();
    await Promise.all(instances.map((i) => i.proc[Symbol.asyncDispose]()));
    await broker[Symbol.asyncDispose]();
  };
  try {
    const started = await Promise.allSettled([0, 1, 2].map(() => startInstance(broker.url)));
    for (const s of started) if (s.status === "fulfilled") instances.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    const lbPort = freePort();
    const haproxy = lb = new Haproxy({
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      LB_BIND: `127.0.0.1:${lbPort}`,
      SERVE_1: `127.0.0.1:${instances[0]!.port}`,
      SERVE_2: `127.0.0.1:${instances[1]!.port}`,
      SERVE_3: `127.0.0.1:${instances[2]!.port}`,
    });
    await waitForPort(lbPort, 5_000).catch((error) => {
      throw new Error(`haproxy did not start:\n${haproxy.output}`, { cause: error });
    });
    await waitForReadyz(`http://127.0.0.1:${lbPort}`, 200);
    return { broker, instances, lb: haproxy, lbPort, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
