/** The bridge over `mqtts://` and `ws://` broker URLs, against a real Mosquitto on 127.0.0.1. */
import assert from "node:assert/strict";
import {
  freePort,
  mintTestToken,
  publish,
  TEST_SECRET,
  waitFor,
  waitForPort,
  WsProbe,
} from "./_helpers.ts";
import { MainProcess } from "./_cli.ts";
import { connectClient, payload, startTestServer } from "./_server.ts";
import type { ServerMessage } from "../protocol/mod.ts";

/** A Mosquitto with a plain MQTT listener (tests publish there) and one listener under test. */
interface Broker extends AsyncDisposable {
  /** Holds the config and any certificates; readable by mosquitto's own user. */
  readonly dir: string;
  /** Port of the listener under test. */
  readonly port: number;
  /** `mqtt://` URL of the plain listener. */
  readonly plainUrl: string;
}

/**
 * Starts Mosquitto with a plain listener plus `listener(port, dir)`'s config. The plain one is
 * needed anyway: Mosquitto 2.0.11 with this libwebsockets counts only the sockets it opens
 * itself, so a websockets-only config exits with "Unable to start any listening sockets".
 */
async function startBroker(
  listener: (port: number, dir: string) => Promise<string> | string,
): Promise<Broker> {
  const dir = await Deno.makeTempDir({ prefix: "sensorstream-mosq-" });
  // mosquitto drops root privileges to its own user, which must read the config and the key.
  await Deno.chmod(dir, 0o755);
  const plain = freePort();
  let port = freePort();
  while (port === plain) port = freePort();
  const conf = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(
    conf,
    `listener ${plain} 127.0.0.1\n${await listener(port, dir)}` +
      "allow_anonymous true\npersistence false\nlog_dest none\n",
  );
  await Deno.chmod(conf, 0o644);
  const child = new Deno.Command("mosquitto", {
    args: ["-c", conf],
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  const dispose = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitForPort(plain);
    await waitForPort(port);
  } catch (e) {
    await dispose();
    throw e;
  }
  return { dir, port, plainUrl: `mqtt://127.0.0.1:${plain}`, [Symbol.asyncDispose]: dispose };
}

/** Writes a throwaway CA (`ca.pem`) and a server certificate for 127.0.0.1/localhost it signed. */
async function makeCerts(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];
  const runs = [
    ["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=sensorstream-test-ca"],
    [
      ...["-keyout", "server.key", "-out", "server.pem", "-subj", "/CN=127.0.0.1"],
      ...["-CA", "ca.pem", "-CAkey", "ca.key"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
    ],
  ];
  for (const args of runs) {
    const out = await new Deno.Command("openssl", {
      args: ["req", "-x509", ...ec, ...args],
      cwd: dir,
    })
      .output();
    if (!out.success) throw new Error(`openssl failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  for (const f of ["ca.pem", "server.key", "server.pem"]) await Deno.chmod(`${dir}/${f}`, 0o644);
}

/** Mosquitto config for a TLS listener using the certificates from {@link makeCerts}. */
async function tlsListener(port: number, dir: string): Promise<string> {
  await makeCerts(dir);
  return `listener ${port} 127.0.0.1\ncafile ${dir}/ca.pem\ncertfile ${dir}/server.pem\n` +
    `keyfile ${dir}/server.key\n`;
}

/** `main.ts serve` bridging `url`, with `env` on top of a clean environment. */
function serve(url: string, env: Record<string, string> = {}): MainProcess {
  return new MainProcess(
    ["serve", "--port", "0", "--hostname", "127.0.0.1", "--mqtt-url", url, "--rate-limit", "0"],
    { JWT_SECRET: TEST_SECRET, ...env },
  );
}

/** Opens a probe on a `serve` subprocess once it prints its WebSocket URL. */
async function probeOf(proc: MainProcess): Promise<WsProbe> {
  const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  const probe = new WsProbe(`${wsUrl}?token=${await mintTestToken()}`);
  await probe.opened;
  return probe;
}

const bridgeUp = (m: ServerMessage[]) =>
  m.some((x) => x.type === "bridge_status" && x.data.mqtt === "connected");

Deno.test("serve bridges an mqtts:// broker whose CA is trusted through DENO_CERT", async (t) => {
  await using broker = await startBroker(tlsListener);
  const url = `mqtts://127.0.0.1:${broker.port}`;

  await t.step("with the CA trusted, readings reach WebSocket clients over TLS", async () => {
    await using proc = serve(url, { DENO_CERT: `${broker.dir}/ca.pem` });
    await using probe = await probeOf(proc);
    await probe.until(bridgeUp, 8_000, "bridge_status connected");
    assert.ok(proc.stdout.includes(`MQTT broker: ${url}\n`), "banner names the mqtts:// URL");
    await publish(broker.plainUrl, [{ topic: "sensors/T1/data", payload: payload() }]);
    assert.equal((await probe.next("sensor_reading")).data.sensor_id, "T1");
  });

  await t.step("without it, the certificate is refused and the bridge stays down", async () => {
    await using proc = serve(url);
    await using probe = await probeOf(proc);
    await waitFor(
      () => /mqtt connection failed.*certificate/.test(proc.stderr),
      8_000,
      "certificate error logged",
    );
    assert.equal((await probe.next("bridge_status")).data.mqtt, "disconnected");
    assert.ok(!bridgeUp(probe.messages), "bridge never reports connected");
  });
});

Deno.test("the bridge subscribes over ws:// to Mosquitto's websockets listener", async () => {
  // socket_domain ipv4 keeps libwebsockets on 127.0.0.1 (without it, it binds every interface).
  await using broker = await startBroker((port) =>
    `listener ${port} 127.0.0.1\nsocket_domain ipv4\nprotocol websockets\n`
  );
  const url = `ws://127.0.0.1:${broker.port}`;
  await using server = await startTestServer({ mqtt: { url } });
  assert.equal(server.embeddedBroker, false);
  assert.equal(server.mqttUrl, url);
  await using probe = await connectClient(server);
  await probe.until(bridgeUp, 5_000, "bridge_status connected");
  await publish(broker.plainUrl, [{ topic: "sensors/W1/data", payload: payload({ light: 7 }) }]);
  const reading = await probe.next("sensor_reading");
  assert.equal(reading.data.sensor_id, "W1");
  assert.equal(reading.data.light, 7);
});
