/**
 * deploy/sensorstream.service and the env file it reads (deploy/sensorstream.env.example), held
 * to what serve really reads and does, and run through `systemd-analyze` where it is installed
 * (otherwise that test is ignored, with the reason in its name).
 */
import assert from "node:assert/strict";
import { COMPILE_PERMISSIONS } from "../scripts/compile.ts";
import { DEFAULT_CONFIG } from "../server/config.ts";
import {
  assertServeVariables,
  binaryMayRead,
  deployFile,
  rewrite,
  run,
  seconds,
  SECRET_VALUES,
  serveVariables,
  SHUTDOWN_SECONDS,
  tool,
} from "./_deploy.ts";

/** A unit file as section -> [key, value] in order (comments dropped, continuations joined). */
function parseUnit(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  for (const line of text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) sections.set(header[1]!, current = []);
    else {
      const eq = line.indexOf("=");
      assert.ok(current && eq > 0, `a key=value line in a section: '${line}'`);
      current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
    }
  }
  return sections;
}

/** The `[Service]` values of `key`, in order. */
function serviceValues(unit: Map<string, Array<[string, string]>>, key: string): string[] {
  return (unit.get("Service") ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The one (last, as systemd reads it) `[Service]` value of `key`. */
function serviceValue(unit: Map<string, Array<[string, string]>>, key: string): string {
  const values = serviceValues(unit, key);
  assert.ok(values.length > 0, `${key}= in [Service]`);
  return values.at(-1)!;
}

/** NAME=value pairs of `Environment=` lines (several per line, optionally quoted). */
function environmentOf(unit: Map<string, Array<[string, string]>>): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of serviceValues(unit, "Environment")) {
    for (const m of line.matchAll(/"([^"=]+)=([^"]*)"|(\S+?)=(\S*)/g)) {
      env.set(m[1] ?? m[3]!, m[2] ?? m[4]!);
    }
  }
  return env;
}

Deno.test("the systemd unit runs the compiled binary sandboxed, its secret a credential", async (t) => {
  const unit = parseUnit(await deployFile("sensorstream.service"));
  const vars = await serveVariables();

  await t.step("it runs the compiled binary's serve", () => {
    assert.equal(serviceValue(unit, "ExecStart"), "/usr/local/bin/sensorstream serve");
  });

  await t.step("it has the sandboxing options", () => {
    const expected: Record<string, string> = {
      DynamicUser: "yes",
      NoNewPrivileges: "yes",
      CapabilityBoundingSet: "",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectControlGroups: "yes",
      RestrictNamespaces: "yes",
      RestrictSUIDSGID: "yes",
      LockPersonality: "yes",
      SystemCallArchitectures: "native",
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(serviceValue(unit, key), value, key);
    }
    const families = serviceValue(unit, "RestrictAddressFamilies").split(/\s+/).sort();
    assert.deepEqual(families, ["AF_INET", "AF_INET6", "AF_UNIX"]);
  });

  await t.step("it lets V8 run: W^X memory allowed, memory protection keys in the filter", () => {
    // Measured: under MemoryDenyWriteExecute (prctl PR_SET_MDWE) Deno 2.9 aborts at start, and
    // under @system-service alone it is killed by SIGSYS at its first pkey_alloc.
    assert.equal(serviceValue(unit, "MemoryDenyWriteExecute"), "no");
    const allow = serviceValues(unit, "SystemCallFilter")[0]?.split(/\s+/) ?? [];
    assert.ok(allow.includes("@system-service") && allow.includes("@pkey"), allow.join(" "));
  });

  await t.step("settings come from the EnvironmentFile; the unit sets only serve variables", () => {
    assert.equal(serviceValue(unit, "EnvironmentFile"), "/etc/sensorstream/env");
    assertServeVariables(environmentOf(unit).keys(), vars, "the unit");
    for (const secret of SECRET_VALUES) assert.ok(!environmentOf(unit).has(secret), secret);
  });

  await t.step("the JWT secret is a credential, in a file the compiled binary may read", () => {
    const [name, source] = serviceValue(unit, "LoadCredential").split(":");
    assert.equal(source, "/etc/sensorstream/jwt-secret");
    assert.equal(environmentOf(unit).get("JWT_SECRET_FILE"), `%d/${name}`);
    const path = `/run/credentials/sensorstream.service/${name}`; // what %d expands to
    assert.ok(binaryMayRead(path), `${path} outside the binary's ${COMPILE_PERMISSIONS}`);
  });

  await t.step("stopping and failing: SIGTERM, time to drain, restart, descriptors", () => {
    assert.equal(serviceValue(unit, "KillSignal"), "SIGTERM");
    assert.ok(seconds(serviceValue(unit, "TimeoutStopSec")) > SHUTDOWN_SECONDS);
    assert.equal(serviceValue(unit, "Restart"), "on-failure");
    assert.ok(Number(serviceValue(unit, "LimitNOFILE")) > DEFAULT_CONFIG.limits.maxClients);
  });
});

/**
 * The system calls Deno 2.9.6 made serving (x86_64, `strace -f` on `serve` with its embedded
 * broker, a simulator publishing, a WebSocket client, /metrics, then SIGTERM). Not listed:
 * `fchown`, which only `deno run` makes, writing its module cache.
 */
const DENO_SYSCALLS = (
  "accept4 access arch_prctl bind brk clock_nanosleep clone3 close connect epoll_create1 " +
  "epoll_ctl epoll_wait eventfd2 execve exit fcntl fstat futex getcwd geteuid getpeername " +
  "getpid getppid getrandom getrusage getsockname getsockopt gettid ioctl listen lseek lstat " +
  "madvise mmap mprotect mremap munmap newfstatat openat pkey_alloc pkey_mprotect poll prctl " +
  "pread64 prlimit64 read readlink recvfrom rseq rt_sigaction rt_sigprocmask sched_getaffinity " +
  "sched_getparam sched_getscheduler sched_yield sendmmsg sendto set_robust_list " +
  "set_tid_address setsockopt sigaltstack socket socketpair stat statx sysinfo uname write writev"
).split(" ");

/** The system calls a unit's `SystemCallFilter=` lines allow, from systemd's own groups. */
async function allowedSyscalls(filters: string[], analyze: string): Promise<Set<string>> {
  const groups = new Map<string, string[]>();
  let group: string[] = [];
  for (const line of (await run(analyze, ["syscall-filter"])).out.split("\n")) {
    if (/^@\S+$/.test(line)) groups.set(line, group = []);
    else if (line.trim() && !line.trim().startsWith("#")) group.push(line.trim());
  }
  const expand = (name: string): string[] =>
    name.startsWith("@") ? (groups.get(name) ?? assert.fail(`group ${name}`)).flatMap(expand) : [
      name,
    ];
  assert.ok(!filters[0]!.startsWith("~"), "the first SystemCallFilter= is an allow list");
  const allowed = new Set<string>();
  for (const filter of filters) {
    const deny = filter.startsWith("~");
    for (const name of filter.replace(/^~/, "").split(/\s+/).flatMap(expand)) {
      if (deny) allowed.delete(name);
      else allowed.add(name);
    }
  }
  return allowed;
}

const analyze = tool("systemd-analyze");

Deno.test({
  name: analyze
    ? "systemd-analyze verifies the unit, scores its sandbox OK and allows Deno's system calls"
    : "systemd-analyze checks the unit (ignored: systemd-analyze is not installed)",
  ignore: analyze === undefined,
  async fn(t) {
    const text = await deployFile("sensorstream.service");
    const dir = await Deno.makeTempDir({ prefix: "sensorstream-unit-" });
    try {
      // verify wants ExecStart's program to exist: a stub stands in for the binary.
      const stub = `${dir}/sensorstream`;
      await Deno.writeTextFile(stub, "#!/bin/sh\nexit 0\n");
      await Deno.chmod(stub, 0o755);
      const copy = `${dir}/sensorstream.service`;
      await Deno.writeTextFile(copy, rewrite(text, [["/usr/local/bin/sensorstream", stub]]));

      await t.step("systemd-analyze verify: no error and no warning", async () => {
        const { code, out } = await run(analyze!, ["verify", "--man=no", copy]);
        assert.equal(code, 0, out);
        assert.equal(out.trim(), "", "verify warns (an unknown key or value is only a warning)");
      });

      await t.step("systemd-analyze security: exposure below 2.0", async () => {
        const args = ["security", "--offline=yes", "--man=no", "--threshold=20", copy];
        const { code, out } = await run(analyze!, args);
        assert.equal(code, 0, /Overall exposure level.*/.exec(out)?.[0] ?? out);
      });

      await t.step("the syscall filter allows every system call Deno makes", async () => {
        const allowed = await allowedSyscalls(
          serviceValues(parseUnit(text), "SystemCallFilter"),
          analyze!,
        );
        const missing = DENO_SYSCALLS.filter((s) => !allowed.has(s));
        assert.deepEqual(missing, [], "filtered out (SIGSYS, or EPERM with SystemCallErrorNumber)");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the env file example sets serve variables only, and no secret", async () => {
  const text = await deployFile("sensorstream.env.example");
  const vars = await serveVariables();
  // Commented-out settings count too: they are there to be switched on.
  const names = [...text.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
  assert.ok(names.includes("MQTT_BROKER_URL"), "it names the broker");
  assertServeVariables(names, vars, "sensorstream.env.example");
  for (const secret of SECRET_VALUES) assert.doesNotMatch(text, new RegExp(`^#?${secret}=`, "m"));
  // Behind the proxy on the same host: serve on loopback, on the port nginx forwards to.
  const nginx = (await deployFile("nginx.conf")).replace(/#.*$/gm, "");
  const host = /^HOST=(.*)$/m.exec(text)?.[1];
  const port = /^PORT=(.*)$/m.exec(text)?.[1];
  assert.equal(host, "127.0.0.1");
  assert.match(nginx, new RegExp(`server ${host}:${port};`), "nginx forwards to HOST:PORT");
});
