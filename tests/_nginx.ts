/**
 * deploy/nginx.conf run by a real nginx, in a temporary directory: a throwaway CA and a certificate
 * for 127.0.0.1 (openssl), the site rewritten to loopback ports and that directory, the whole
 * nginx.conf around it, and nginx itself in the foreground. Plus a TLS client to talk to it.
 */
import assert from "node:assert/strict";
import { freePort, within } from "./_helpers.ts";
import { deployFile, eventually, rewrite, run, tool } from "./_deploy.ts";

/** The nginx executable, or undefined when it is not installed. */
export const nginx: string | undefined = tool("nginx");
/** The openssl executable, or undefined when it is not installed. */
export const openssl: string | undefined = tool("openssl");

/** A throwaway CA and a certificate it signed for 127.0.0.1 (`ca.pem`, `server.pem/.key`). */
async function makeCerts(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];
  for (
    const args of [
      ["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=sensorstream-test-ca"],
      [
        ...["-keyout", "server.key", "-out", "server.pem", "-subj", "/CN=127.0.0.1"],
        ...["-CA", "ca.pem", "-CAkey", "ca.key"],
        ...["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=CA:FALSE"],
      ],
    ]
  ) {
    const { code, out } = await run("openssl", ["req", "-x509", ...ec, ...args], dir);
    assert.equal(code, 0, `openssl: ${out}`);
  }
}

/** Sends `request` over TLS to 127.0.0.1:`port` and reads until `until` matches (or EOF). */
export async function tlsExchange(
  port: number,
  ca: string,
  request: string,
  until: RegExp,
): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
  try {
    await conn.write(new TextEncoder().encode(request));
    const dec = new TextDecoder();
    const buf = new Uint8Array(16 * 1024);
    let seen = "";
    await within(
      5_000,
      (async () => {
        while (!until.test(seen)) {
          const n = await conn.read(buf);
          if (n === null) break;
          seen += dec.decode(buf.subarray(0, n), { stream: true });
        }
      })(),
      `an answer matching ${until}`,
    );
    return seen;
  } finally {
    conn.close();
  }
}

/** deploy/nginx.conf set up in a temporary directory; disposing stops nginx and removes it. */
export interface NginxSite extends AsyncDisposable {
  /** The directory holding the config, the certificates and the logs (`sensorstream.log`). */
  dir: string;
  /** The loopback port that nginx.conf's `listen 443 ssl` became. */
  tls: number;
  /** The throwaway CA's certificate (PEM), for `Deno.connectTls`. */
  ca: string;
  /** nginx's arguments for this config and error log (add `-t` to test it). */
  args: string[];
  /** Starts nginx and resolves once it accepts connections on `tls`. */
  start(): Promise<void>;
}

/** Sets up deploy/nginx.conf with `upstreams` (loopback ports, in order) as its upstream servers. */
export async function nginxSite(upstreams: number[]): Promise<NginxSite> {
  assert.ok(nginx, "nginx is installed");
  const dir = await Deno.makeTempDir({ prefix: "sensorstream-nginx-" });
  let proc: Deno.ChildProcess | undefined;
  const dispose = async () => {
    if (proc) {
      try {
        proc.kill("SIGTERM");
      } catch { /* already gone */ }
      await proc.status;
    }
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await makeCerts(dir);
    const tls = freePort();
    const servers = upstreams.map((port) => `server 127.0.0.1:${port};`).join(" ");
    const site = rewrite(await deployFile("nginx.conf"), [
      [/^\s*listen\s+\[::\]:\d+[^;]*;$/gm, ""], // the test machine may have no IPv6
      [/listen\s+443\s+ssl;/, `listen 127.0.0.1:${tls} ssl;`],
      [/listen\s+80;/, `listen 127.0.0.1:${freePort()};`],
      [/server 127\.0\.0\.1:8000;/, servers],
      [/ssl_certificate\s+\S+;/, `ssl_certificate ${dir}/server.pem;`],
      [/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${dir}/server.key;`],
      ["/var/log/nginx/", `${dir}/`],
    ]);
    await Deno.writeTextFile(`${dir}/site.conf`, site);
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((k) => `${k}_temp_path ${dir}/${k};`).join(" ");
    // The whole nginx.conf nginx needs around the file (Debian's includes conf.d in http).
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\ndaemon off;\nmaster_process off;\n` +
        `events { worker_connections 64; }\nhttp { ${temp} include ${dir}/site.conf; }\n`,
    );
    const args = ["-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`];
    const errors = () => Deno.readTextFile(`${dir}/error.log`).catch(() => "");
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);

    const start = async () => {
      proc = new Deno.Command(nginx!, { args, stdout: "null", stderr: "null" }).spawn();
      let exited = false;
      proc.status.then(() => exited = true);
      const listening = async () => {
        if (exited) assert.fail(`nginx exited: ${await errors()}`);
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port: tls })).close();
          return true;
        } catch {
          return false;
        }
      };
      await eventually(listening, 5_000, "nginx listening");
    };
    return { dir, tls, ca, args, start, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
