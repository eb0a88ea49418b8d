/** Config validation: broker URLs as users write them, and a clear message for every bad field. */
import assert from "node:assert/strict";
import { SERVE_OPTIONS } from "../cli/options/serve.ts";
import { usageErrorOf } from "../cli/options/table.ts";
import { parseBrokerUrl } from "../lib/broker_url.ts";
import { OptionError } from "../lib/errors.ts";
import {
  DEFAULT_CONFIG,
  type ServerConfig,
  type ServerOptions,
  withDefaults,
} from "../server/config.ts";
import { validateConfig } from "../server/config_check.ts";

Deno.test("parseBrokerUrl accepts the broker addresses users write", async (t) => {
  const cases: Array<[string, number, string]> = [
    ["mqtt://broker.local:1883", 1883, "mqtt://broker.local:1883"],
    ["mqtts://broker.local:8883", 1883, "mqtts://broker.local:8883"],
    ["ws://broker.local:8080/mqtt", 1883, "ws://broker.local:8080/mqtt"],
    ["wss://broker.example.com/mqtt", 1883, "wss://broker.example.com/mqtt"],
    ["mqtt://broker.local", 1999, "mqtt://broker.local"],
    ["MQTT://broker.local:1883", 1883, "mqtt://broker.local:1883"],
    ["tcp://broker.local:1883", 1883, "mqtt://broker.local:1883"],
    ["ssl://broker.local:8883", 1883, "mqtts://broker.local:8883"],
    ["tls://broker.local:8883", 1883, "mqtts://broker.local:8883"],
    // The old service's MQTT_BROKER_URL + MQTT_BROKER_PORT.
    ["localhost", 1883, "mqtt://localhost:1883"],
    ["  localhost  ", 1884, "mqtt://localhost:1884"],
    ["mosquitto_1", 1883, "mqtt://mosquitto_1:1883"],
    ["192.168.1.10", 1883, "mqtt://192.168.1.10:1883"],
    ["broker.local:2883", 1883, "mqtt://broker.local:2883"],
    ["::1", 1883, "mqtt://[::1]:1883"],
    ["[::1]:2883", 1883, "mqtt://[::1]:2883"],
  ];
  for (const [value, port, expected] of cases) {
    await t.step(`'${value}' (port ${port}) -> ${expected}`, () => {
      assert.deepEqual(parseBrokerUrl(value, port), {
        url: expected,
        username: undefined,
        password: undefined,
      });
    });
  }
});

Deno.test("parseBrokerUrl takes credentials out of the URL, whatever the password holds", async (t) => {
  const cases: Array<[string, string, string, string | undefined]> = [
    ["mqtt://user:pw@broker.local:1883", "mqtt://broker.local:1883", "user", "pw"],
    ["mqtt://u:p@ss@host", "mqtt://host", "u", "p@ss"],
    ["mqtts://u:pa/ss@host:8883", "mqtts://host:8883", "u", "pa/ss"],
    ["mqtt://u:a:b:c@host", "mqtt://host", "u", "a:b:c"],
    ["mqtt://u:p%40ss%2F@host", "mqtt://host", "u", "p@ss/"],
    ["mqtt://u:100%@host", "mqtt://host", "u", "100%"],
    ["ws://u:p@host:8080/mqtt", "ws://host:8080/mqtt", "u", "p"],
    ["mqtt://token-only@host", "mqtt://host", "token-only", undefined],
  ];
  for (const [value, url, username, password] of cases) {
    await t.step(`'${value}'`, () => {
      assert.deepEqual(parseBrokerUrl(value, 1883), { url, username, password });
    });
  }
});

Deno.test("parseBrokerUrl refuses what MQTT.js cannot connect to, naming the value", async (t) => {
  const cases: Array<[string, number, RegExp]> = [
    ["http://broker.local", 1883, /'http:\/\/broker\.local' has scheme 'http:\/\/'/],
    ["mqtt://", 1883, /has no host/],
    ["mqtt://broker.local:99999", 1883, /not a valid URL/],
    ["", 1883, /is empty/],
    ["broker local", 1883, /neither a URL nor a host name/],
    ["broker.local:0", 1883, /port outside 1-65535/],
    ["broker.local:", 1883, /port outside 1-65535/],
    ["localhost", 0, /has no port and the port to add is 0/],
  ];
  for (const [value, port, pattern] of cases) {
    await t.step(`'${value}' (port ${port})`, () => {
      assert.throws(() => parseBrokerUrl(value, port), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, pattern);
        assert.match(e.message, /e\.g\./);
        return true;
      });
    });
  }
  for (
    const [value, secret] of [
      ["http://user:hunter2@broker", "hunter2"],
      ["mqtts://u:pa/ss@", "pa/ss"],
      ["mqtt://u:p@ss@broker:99999", "p@ss"],
      ["mqtt://u:p%FFzz@host", "p%FFzz"],
      ["u:hunter2@broker", "hunter2"],
      ["mqtt://u:s3cr:et@[bad", "s3cr:et"],
    ]
  ) {
    await t.step(`the password in a bad URL is masked whole: '${value}'`, () => {
      assert.throws(() => parseBrokerUrl(value!, 1883), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        for (let i = 0; i + 3 <= secret!.length; i++) {
          const part = secret!.slice(i, i + 3);
          assert.ok(!e.message.includes(`:${part}`) && !e.message.includes(part + "@"), e.message);
        }
        assert.ok(!e.message.includes(secret!), e.message);
        assert.match(e.message, /u(ser)?:\*\*\*@/);
        return true;
      });
    });
  }
});

Deno.test("validateConfig accepts the defaults and returns a normalized copy", async (t) => {
  await t.step("defaults", () => {
    const config = validateConfig(withDefaults());
    // The ack topic is filled in from the command topic.
    const ackTopic = "sensors/{id}/commands/ack";
    assert.deepEqual(config, {
      ...DEFAULT_CONFIG,
      commands: { ...DEFAULT_CONFIG.commands, ackTopic },
    });
    assert.notEqual(config.mqtt, DEFAULT_CONFIG.mqtt);
  });
  await t.step("a bare broker host gets the MQTT port", () => {
    const config = validateConfig(withDefaults({ mqtt: { url: "localhost", embeddedPort: 1884 } }));
    assert.equal(config.mqtt.url, "mqtt://localhost:1884");
  });
  await t.step("a secret of 32 bytes, issuer and audience", () => {
    const auth = { secret: "x".repeat(32), issuer: "https://id.example", audience: "sensors" };
    assert.deepEqual(validateConfig(withDefaults({ auth })).auth, {
      ...DEFAULT_CONFIG.auth,
      ...auth,
    });
  });
  await t.step("a JWKS URL", () => {
    const auth = { jwksUrl: "https://id.example/.well-known/jwks.json" };
    assert.equal(validateConfig(withDefaults({ auth })).auth.jwksUrl, auth.jwksUrl);
  });
  await t.step("port 0 and a rate limit of 0", () => {
    validateConfig(
      withDefaults({ port: 0, mqtt: { embeddedPort: 0 }, limits: { rateLimitMs: 0 } }),
    );
  });
});

Deno.test("validateConfig rejects each bad field with a message naming the option", async (t) => {
  const SECRET = "s3cr3t-but-short";
  const cases: Array<[string, ServerOptions, RegExp]> = [
    [
      "port too big",
      { port: 70_000 },
      /^--port \/ PORT is 70000; use a whole number from 0 to 65535/,
    ],
    ["port negative", { port: -1 }, /--port \/ PORT is -1/],
    ["port fractional", { port: 80.5 }, /--port \/ PORT is 80\.5/],
    ["hostname empty", { hostname: "" }, /--hostname \/ HOST is empty/],
    ["MQTT port", { mqtt: { embeddedPort: 65_536 } }, /--mqtt-port \/ MQTT_BROKER_PORT is 65536/],
    ["embedded hostname", { mqtt: { embeddedHostname: " " } }, /mqtt\.embeddedHostname is empty/],
    ["broker URL", { mqtt: { url: "http://x" } }, /--mqtt-url \/ MQTT_BROKER_URL 'http:\/\/x'/],
    [
      "password without username",
      { mqtt: { password: "pw" } },
      /--mqtt-password \/ MQTT_PASSWORD is set without a username; also set --mqtt-username/,
    ],
    [
      "topic with #",
      { mqtt: { topic: "sensors/#" } },
      /--topic \/ MQTT_TOPIC is 'sensors\/#'; it must not/,
    ],
    [
      "topic without +",
      { mqtt: { topic: "sensors/V1/data" } },
      /--topic \/ MQTT_TOPIC .*exactly one '\+'/,
    ],
    ["qos", { mqtt: { qos: 3 as 0 } }, /--qos \/ MQTT_QOS is 3; use 0, 1 or 2/],
    [
      "command topic without {id}",
      { commands: { topic: "sensors/commands" } },
      /--command-topic \/ COMMAND_TOPIC is 'sensors\/commands'; it must contain exactly one '\{id\}'/,
    ],
    [
      "command topic with a wildcard",
      { commands: { topic: "sensors/+/commands" } },
      /--command-topic \/ COMMAND_TOPIC .*must not contain '#' or '\+'/,
    ],
    [
      "command topic that is the data topic",
      { commands: { topic: "sensors/{id}/data" } },
      /--command-topic \/ COMMAND_TOPIC is 'sensors\/\{id\}\/data'; it overlaps --topic/,
    ],
    [
      "ack topic that is the command topic",
      { commands: { ackTopic: "sensors/{id}/commands" } },
      /--command-ack-topic \/ COMMAND_ACK_TOPIC .*use a topic other than --command-topic/,
    ],
    [
      "command timeout 0",
      { commands: { timeoutMs: 0 } },
      /--command-timeout \/ COMMAND_TIMEOUT_SECONDS is 0 ms/,
    ],
    ["reconnect min", { mqtt: { reconnectMinMs: 0 } }, /mqtt\.reconnectMinMs is 0 ms/],
    [
      "reconnect max below min",
      { mqtt: { reconnectMinMs: 1_000, reconnectMaxMs: 500 } },
      /mqtt\.reconnectMaxMs is 500 ms; use >= mqtt\.reconnectMinMs/,
    ],
    [
      "short secret",
      { auth: { secret: SECRET } },
      /--jwt-secret \/ JWT_SECRET is 16 bytes; use at least 32/,
    ],
    ["empty secret", { auth: { secret: "" } }, /--jwt-secret \/ JWT_SECRET is 0 bytes/],
    [
      "secret and JWKS URL",
      { auth: { secret: "x".repeat(32), jwksUrl: "https://id.example/jwks" } },
      /--jwt-secret \/ JWT_SECRET and --jwks-url \/ JWT_JWKS_URL are both set; use one/,
    ],
    [
      "JWKS URL not http(s)",
      { auth: { jwksUrl: "file:///etc/jwks.json" } },
      /--jwks-url \/ JWT_JWKS_URL is 'file:\/\/\/etc\/jwks\.json'; use an http\(s\) URL/,
    ],
    [
      "JWKS URL without a host",
      { auth: { jwksUrl: "https://" } },
      /--jwks-url \/ JWT_JWKS_URL is 'https:\/\/'; use an http\(s\) URL/,
    ],
    ["empty issuer", { auth: { issuer: "" } }, /--jwt-issuer \/ JWT_ISSUER is empty/],
    ["empty audience", { auth: { audience: "" } }, /--jwt-audience \/ JWT_AUDIENCE is empty/],
    ["clock tolerance", { auth: { clockToleranceSec: -1 } }, /auth\.clockToleranceSec is -1/],
    [
      "negative rate limit",
      { limits: { rateLimitMs: -500 } },
      /--rate-limit \/ WEBSOCKET_RATE_LIMIT_SECONDS is -500 ms; use a number of ms >= 0/,
    ],
    [
      "infinite rate limit",
      { limits: { rateLimitMs: Infinity } },
      /--rate-limit .* is Infinity ms/,
    ],
    [
      "max buffered bytes",
      { limits: { maxBufferedBytes: 0 } },
      /--max-buffered-bytes \/ WS_MAX_BUFFERED_BYTES is 0; use a whole number of bytes >= 1/,
    ],
    [
      "slow client timeout",
      { limits: { slowClientTimeoutMs: NaN } },
      /--slow-client-timeout \/ WS_SLOW_CLIENT_TIMEOUT_SECONDS is NaN ms/,
    ],
    [
      "idle timeout",
      { limits: { idleTimeoutMs: 0 } },
      /--idle-timeout \/ WS_IDLE_TIMEOUT_SECONDS is 0 ms; use a number of ms > 0/,
    ],
    ["max message bytes", { limits: { maxMessageBytes: 1.5 } }, /limits\.maxMessageBytes is 1\.5/],
    ["max errors", { limits: { maxErrors: 0 } }, /limits\.maxErrors is 0/],
    ["error window", { limits: { errorWindowMs: -1 } }, /limits\.errorWindowMs is -1 ms/],
    ["max clients", { limits: { maxClients: 0 } }, /--max-clients \/ WS_MAX_CLIENTS is 0/],
    [
      "log level",
      { log: { level: "verbose" as "info" } },
      /--log-level \/ LOG_LEVEL is 'verbose'; use one of debug, info, warn, error, silent/,
    ],
    ["log format", { log: { format: "xml" as "json" } }, /--log-format \/ LOG_FORMAT is 'xml'/],
  ];
  for (const [name, options, pattern] of cases) {
    await t.step(name, () => {
      const config: ServerConfig = withDefaults(options);
      assert.throws(() => validateConfig(config), (e: unknown) => {
        assert.ok(e instanceof OptionError, `expected OptionError, got ${e}`);
        // The CLI words the config path as the flag and variable of serve's option table.
        const message = usageErrorOf(e, SERVE_OPTIONS).message;
        assert.match(message, pattern);
        assert.ok(!message.includes(SECRET), "the message must not show the secret");
        return true;
      });
    });
  }
});

Deno.test("every serve option sets a config path that exists", async (t) => {
  for (const [key, spec] of Object.entries(SERVE_OPTIONS)) {
    if (!("path" in spec) || spec.path === undefined) continue;
    await t.step(`${key} -> ${spec.path}`, () => {
      let at: unknown = DEFAULT_CONFIG;
      for (const part of spec.path!.split(".")) {
        assert.ok(at !== null && typeof at === "object" && part in at, `no ${spec.path}`);
        at = (at as Record<string, unknown>)[part];
      }
    });
  }
});
