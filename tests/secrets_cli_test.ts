/**
 * No secret in any output: broker passwords (whatever characters they hold), JWT secrets from
 * files, secrets typed as flags (warned about), and banners that keep tokens off the command line.
 */
import assert from "node:assert/strict";
import { mintTestToken, startMosquitto, TEST_SECRET, waitFor, WsProbe } from "./_helpers.ts";
import { MainProcess, runMain } from "./_cli.ts";

const LOCAL = ["--port", "0", "--hostname", "127.0.0.1", "--mqtt-port", "0"];

/** A secret no output could contain by chance: random letters from g-z (no hex, no words). */
function randomSecret(length = 40): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(length)),
    (b) => "ghijklmnopqrstuvwxyz"[b % 20],
  ).join("");
}
const SECRET = randomSecret();
const MQTT_FILE_PASSWORD = randomSecret(24);

/** Fails when `secret`, or a telling piece of it (6 characters), appears in `text`. */
function assertNoSecret(text: string, secret: string, where: string): void {
  assert.ok(!text.includes(secret), `${where} shows the secret:\n${text}`);
  for (let i = 0; i + 6 <= secret.length; i++) {
    const piece = secret.slice(i, i + 6);
    assert.ok(!text.includes(piece), `${where} shows '${piece}' of the secret:\n${text}`);
  }
}

async function secretFile(content: string): Promise<{ path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sensorstream-secret-" });
  const path = `${dir}/secret`;
  await Deno.writeTextFile(path, content);
  return { path, dir };
}

Deno.test("a broker password with '@', '/' and ':' works and never appears in any output", async () => {
  const password = "p@ss/w:rd%";
  await using mosquitto = await startMosquitto(undefined, { users: { field: password } });
  const url = `mqtt://field:${password}@127.0.0.1:${mosquitto.port}`;
  await using proc = new MainProcess(
    ["serve", ...LOCAL, "--mqtt-url", url, "--log-level", "debug"],
    { JWT_SECRET: TEST_SECRET },
  );
  await proc.waitForOutput(/serving (ws:\/\/\S+)/);
  const [, httpBase] = proc.stdout.match(/serving ws:\/\/(\S+)\/ws\/sensors/)!;
  await waitFor(() => proc.stderr.includes("mqtt connected"), 10_000, "the bridge logged in");
  const ready = await fetch(`http://${httpBase}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  assert.equal(await proc.stop(), 0);
  assertNoSecret(proc.stdout, password, "stdout");
  assertNoSecret(proc.stderr, password, "stderr");
  assert.match(proc.stderr, /warning: --mqtt-url carries credentials/);
});

Deno.test("a mistyped secret flag is not echoed back in the usage error", async () => {
  const { code, stderr } = await runMain(["serve", `--jwt-secrt=${SECRET}`, "stray-argument"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown option '--jwt-secrt=\*\*\*'/);
  assertNoSecret(stderr, SECRET, "the usage error");
});

Deno.test("an unparseable broker URL is refused without showing its password", async (t) => {
  for (const url of ["mqtts://u:pa/ss@", "mqtt://u:p@ss@host:99999", "mqtt://u:p%FF%FE@host"]) {
    await t.step(url, async () => {
      const { code, stdout, stderr } = await runMain(["serve", ...LOCAL, "--mqtt-url", url]);
      assert.equal(code, 2, stderr);
      const password = url.slice(url.indexOf(":", 7) + 1, url.lastIndexOf("@"));
      assert.ok(!(stdout + stderr).includes(password), stderr);
      assert.ok(!(stdout + stderr).includes(`:${password.slice(0, 2)}`), stderr);
      assert.match(stderr, /--mqtt-url/);
    });
  }
});

Deno.test("secrets from files: JWT_SECRET_FILE and MQTT_PASSWORD_FILE", async () => {
  const jwt = await secretFile(SECRET + "\n");
  const mqtt = await secretFile(MQTT_FILE_PASSWORD + "\n");
  try {
    await using mosquitto = await startMosquitto(undefined, {
      users: { field: MQTT_FILE_PASSWORD },
    });
    await using proc = new MainProcess(
      ["serve", ...LOCAL, "--mqtt-url", mosquitto.url, "--mqtt-username", "field"],
      { JWT_SECRET_FILE: jwt.path, MQTT_PASSWORD_FILE: mqtt.path },
      [`--allow-read=${jwt.dir},${mqtt.dir}`],
    );
    const [, wsUrl] = await proc.waitForOutput(/serving (ws:\/\/\S+)/);
    await waitFor(() => proc.stderr.includes("mqtt connected"), 10_000, "the bridge logged in");
    // A token signed with the file's secret (without its trailing newline) gets in.
    await using probe = new WsProbe(
      `${wsUrl}?token=${await mintTestToken({}, { secret: SECRET })}`,
    );
    await probe.next("connection_status", 5_000);
    assert.equal(await proc.stop(), 0);
    assertNoSecret(proc.stdout + proc.stderr, SECRET, "serve's output");
    assertNoSecret(proc.stdout + proc.stderr, MQTT_FILE_PASSWORD, "serve's output");
    assert.ok(!proc.stderr.includes("warning:"), "no process-list warning for files");
  } finally {
    await Deno.remove(jwt.dir, { recursive: true });
    await Deno.remove(mqtt.dir, { recursive: true });
  }
});

Deno.test("a secret file serve may not read is a usage error naming the fix", async () => {
  const jwt = await secretFile(SECRET);
  try {
    const { code, stderr } = await runMain(["serve", ...LOCAL], {
      env: { JWT_SECRET_FILE: jwt.path },
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /JWT_SECRET_FILE.*cannot read.*--allow-read/s);
    // (the random temp path is left out of the scan: its hex could match a piece by chance)
    assertNoSecret(stderr.replaceAll(jwt.dir, "<dir>"), SECRET, "the error");
  } finally {
    await Deno.remove(jwt.dir, { recursive: true });
  }
});

Deno.test("a secret given as a flag works, with a warning about the process list", async (t) => {
  await t.step("serve --jwt-secret", async () => {
    await using proc = new MainProcess(["serve", ...LOCAL, "--jwt-secret", SECRET]);
    await proc.waitForOutput(/serving/);
    assert.equal(await proc.stop(), 0);
    assert.match(proc.stderr, /warning: --jwt-secret .*process list.*JWT_SECRET/);
    assertNoSecret(proc.stdout + proc.stderr, SECRET, "serve's output");
  });
  await t.step("token --jwt-secret", async () => {
    const { code, stdout, stderr } = await runMain(["token", "--jwt-secret", TEST_SECRET]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /warning: --jwt-secret/);
    assert.match(stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+\n$/, "stdout holds the token alone");
  });
  await t.step("secret from the environment: no warning", async () => {
    const { code, stderr } = await runMain(["token"], { env: { JWT_SECRET: TEST_SECRET } });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
  });
  await t.step("secret given twice (flag and file) is a usage error", async () => {
    const { code, stderr } = await runMain(["token", "--jwt-secret-file", "/nonexistent"], {
      env: { JWT_SECRET: TEST_SECRET },
    });
    assert.equal(code, 2);
    assert.match(stderr, /both set/);
  });
});

Deno.test("dev-mode and demo banners pass the token in SENSORSTREAM_TOKEN, not --token", async (t) => {
  for (const command of ["serve", "demo"]) {
    await t.step(command, async () => {
      await using proc = new MainProcess([command, ...LOCAL]);
      const [line, token] = await proc.waitForOutput(
        /SENSORSTREAM_TOKEN=(\S+) deno task tail --url ws:\/\/\S+/,
      );
      assert.ok(!/--token/.test(proc.stdout), proc.stdout);
      assert.ok(line!.length > 0);
      await using probe = new WsProbe(`${proc.stdout.match(/ws:\/\/\S+\/ws\/sensors/)![0]}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await probe.next("connection_status", 5_000);
      assert.equal(await proc.stop(), 0);
    });
  }
});

Deno.test("with MQTT credentials set, the embedded broker requires them of every client", async () => {
  const login = { MQTT_USERNAME: "field", MQTT_PASSWORD: randomSecret(24) };
  await using proc = new MainProcess(["serve", ...LOCAL], { JWT_SECRET: TEST_SECRET, ...login });
  const [, mqttUrl] = await proc.waitForOutput(/MQTT broker: (mqtt:\/\/\S+)/);
  await waitFor(() => proc.stderr.includes("mqtt connected"), 10_000, "the bridge logged in");
  const anonymous = await runMain([
    "simulate",
    "--mqtt-url",
    mqttUrl!,
    "--count",
    "1",
    "--connect-timeout",
    "2s",
  ]);
  assert.equal(anonymous.code, 1, anonymous.stderr);
  assert.match(anonymous.stderr, /refused/);
  const loggedIn = await runMain(["simulate", "--mqtt-url", mqttUrl!, "--count", "3"], {
    env: login,
  });
  assert.equal(loggedIn.code, 0, loggedIn.stderr);
  assert.equal(await proc.stop(), 0);
  const everything = proc.stdout + proc.stderr + anonymous.stderr + loggedIn.stdout +
    loggedIn.stderr;
  assertNoSecret(everything, login.MQTT_PASSWORD, "the outputs");
});
