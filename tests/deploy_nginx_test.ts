/**
 * deploy/nginx.conf: read for what it must say (WebSocket upgrades, TLS, logs without tokens),
 * then run by a real nginx in front of serve where nginx and openssl are installed (otherwise
 * that test is ignored, with the reason in its name). The setup is in tests/_nginx.ts.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../server/config.ts";
import { mintTestToken } from "./_helpers.ts";
import { upgradeRequest } from "./_raw_peers.ts";
import { startTestServer } from "./_server.ts";
import { deployFile, eventually, run, seconds } from "./_deploy.ts";
import { nginx, nginxSite, openssl, tlsExchange } from "./_nginx.ts";

/** `log_format` name -> its format text, and the `access_log` directives (path, format). */
function nginxLogs(conf: string) {
  const text = conf.replace(/#.*$/gm, "");
  const formats = new Map<string, string>();
  for (const m of text.matchAll(/\blog_format\s+(\S+)\s+([^;]*);/g)) formats.set(m[1]!, m[2]!);
  const accessLogs = [...text.matchAll(/\baccess_log\s+([^;]*);/g)].map((m) => m[1]!.split(/\s+/));
  return { formats, accessLogs };
}

Deno.test("nginx.conf proxies WebSockets and logs their URL without the query string", async (t) => {
  const conf = await deployFile("nginx.conf");

  await t.step("every access log uses a format without the query ($uri, not $request_uri)", () => {
    const { formats, accessLogs } = nginxLogs(conf);
    assert.ok(accessLogs.length > 0, "an access_log");
    for (const [path, format] of accessLogs) {
      if (path === "off") continue;
      assert.ok(format, `access_log ${path} names its format (the default logs $request)`);
      const text = formats.get(format);
      assert.ok(text !== undefined, `log_format ${format} is defined here`);
      assert.match(text, /\$uri\b/);
      const leak = /\$(request_uri|request(?!_)|args|query_string|arg_\w+|http_referer)\b/;
      assert.doesNotMatch(text, leak, `log_format ${format} would log ?token=`);
    }
  });

  await t.step("the WebSocket location upgrades, over HTTP/1.1, and outlives serve's pings", () => {
    const ws = /location\s+\/ws\/sensors\s*\{([^}]*)\}/.exec(conf)?.[1];
    assert.ok(ws, "a location for /ws/sensors");
    assert.match(ws, /proxy_http_version\s+1\.1;/);
    assert.match(ws, /proxy_set_header\s+Upgrade\s+\$http_upgrade;/);
    assert.match(ws, /proxy_set_header\s+Connection\s+"?upgrade"?;/i);
    const timeout = /proxy_read_timeout\s+(\w+);/.exec(ws)?.[1];
    assert.ok(timeout, "proxy_read_timeout (nginx's default of 60 s is close to a ping interval)");
    assert.ok(seconds(timeout) > 2 * DEFAULT_CONFIG.limits.idleTimeoutMs / 1000, timeout);
  });

  await t.step("TLS, and /metrics refused", () => {
    assert.match(conf, /listen\s+443\s+ssl/);
    assert.match(conf, /ssl_certificate\s+\S+;/);
    assert.match(conf, /location\s+=\s*\/metrics\s*\{\s*return\s+403;/);
  });
});

/** Read an upgrade's answer until serve's first message, or a refusal's status line. */
const ANSWERED = /connection_status|^HTTP\/1\.1 [^1]/;

Deno.test({
  name: nginx && openssl
    ? "nginx accepts nginx.conf and carries a WebSocket over TLS without logging its token"
    : `nginx runs nginx.conf (ignored: ${nginx ? "openssl" : "nginx"} is not installed)`,
  ignore: !nginx || !openssl,
  async fn(t) {
    const server = await startTestServer();
    // A second instance that is draining (or full): it answers every request with 503.
    let drainingHits = 0;
    const draining = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      drainingHits++;
      return new Response("Server shutting down; reconnect later.\n", { status: 503 });
    });
    try {
      await using site = await nginxSite([draining.addr.port, server.addr.port]);
      const { tls, ca } = site;

      await t.step("nginx -t accepts it", async () => {
        const { code, out } = await run(nginx!, ["-t", ...site.args]);
        assert.equal(code, 0, out);
        assert.match(out, /test is successful/);
      });

      await site.start();
      const token = await mintTestToken();

      await t.step("a browser-style WebSocket (?token=) streams through it", async () => {
        const seen = await tlsExchange(tls, ca, upgradeRequest({ token }), ANSWERED);
        assert.match(seen, /^HTTP\/1\.1 101 /);
        assert.match(seen, /"type":"connection_status"/);
      });

      await t.step(
        "an instance answering 503 is passed over: every upgrade reaches serve",
        async () => {
          for (let i = 0; i < 4; i++) {
            const seen = await tlsExchange(
              tls,
              ca,
              upgradeRequest({ token }),
              ANSWERED,
            );
            assert.match(seen, /^HTTP\/1\.1 101 /);
          }
          assert.ok(drainingHits > 0, "nginx tried the draining instance too");
        },
      );

      await t.step("/healthz reaches serve and /metrics is refused", async () => {
        const get = (path: string) =>
          tlsExchange(
            tls,
            ca,
            `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
            /(?!)/,
          );
        assert.match(await get("/healthz"), /^HTTP\/1\.1 200 [\s\S]*"status":"ok"/);
        assert.match(await get("/metrics"), /^HTTP\/1\.1 403 /);
      });

      await t.step("the access log has the WebSocket's path and not its token", async () => {
        // nginx logs a WebSocket when it closes, which it has (tlsExchange closes).
        let text = "";
        await eventually(
          async () => {
            text = await Deno.readTextFile(`${site.dir}/sensorstream.log`).catch(() => "");
            return /GET \/ws\/sensors/.test(text);
          },
          3_000,
          "the WebSocket in the access log",
        );
        assert.ok(!text.includes(token), "the token is in the access log");
        assert.doesNotMatch(text, /token=/);
        assert.match(text, /"GET \/ws\/sensors" 101 /);
      });
    } finally {
      await draining.shutdown();
      await server.shutdown();
    }
  },
});
