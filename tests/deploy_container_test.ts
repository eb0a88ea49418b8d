/**
 * deploy/Dockerfile and deploy/kubernetes.yaml: the image and the cluster manifests, held to what
 * serve really reads and does, and read by `kubectl kustomize` where it is installed (otherwise
 * that step is ignored, with the reason in its name). The YAML reader is tests/_yaml.ts.
 */
import assert from "node:assert/strict";
import { COMPILE_PERMISSIONS } from "../scripts/compile.ts";
import { DEFAULT_CONFIG } from "../server/config.ts";
import {
  assertServeVariables,
  binaryMayRead,
  deployFile,
  repoFile,
  run,
  SECRET_VALUES,
  serveVariables,
  SHUTDOWN_SECONDS,
  tool,
} from "./_deploy.ts";
import { asList, asMap, at, parseYamlDocuments, type Yaml } from "./_yaml.ts";

/** A Dockerfile's instructions in order, continuations joined and comments dropped. */
function parseDockerfile(text: string): Array<{ op: string; args: string }> {
  return text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

/** `ENV` pairs (`K=v K2=v2`, or the old `K v`). */
function dockerEnv(steps: Array<{ op: string; args: string }>): Map<string, string> {
  const env = new Map<string, string>();
  for (const { args } of steps.filter((s) => s.op === "ENV")) {
    if (!args.includes("=")) env.set(args.split(/\s+/)[0]!, args.split(/\s+/).slice(1).join(" "));
    for (const m of args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) env.set(m[1]!, m[2]!.replace(/"/g, ""));
  }
  return env;
}

Deno.test("the Dockerfile compiles serve with CI's Deno and runs it on a slim base, not as root", async (t) => {
  const steps = parseDockerfile(await deployFile("Dockerfile"));
  const froms = steps.flatMap((s, i) => s.op === "FROM" ? [i] : []);
  assert.ok(froms.length >= 2, "a build stage and a run stage");
  const build = steps.slice(froms[0], froms.at(-1));
  const final = steps.slice(froms.at(-1));
  const vars = await serveVariables();

  await t.step(
    "the build stage runs `deno task compile` (the permissions of scripts/compile.ts)",
    async () => {
      const ci = await repoFile(".ci/run");
      const version = /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1];
      const arg = steps.find((s) => s.op === "ARG" && s.args.startsWith("DENO_VERSION="));
      assert.equal(arg?.args, `DENO_VERSION=${version}`, "the Deno version of .ci/run");
      assert.match(steps[froms[0]!]!.args, /\$\{DENO_VERSION\}/);
      const runs = build.filter((s) => s.op === "RUN").map((s) => s.args);
      assert.ok(runs.some((r) => /deno install --frozen/.test(r)), "dependencies from deno.lock");
      assert.ok(runs.some((r) => /^deno task compile\b/.test(r)), runs.join("; "));
    },
  );

  await t.step("the run stage holds the binary on a slim base, as a numeric non-root user", () => {
    // Deno links glibc and libgcc_s: distroless "cc" has both ("base" and "static" do not).
    assert.match(final[0]!.args, /^(gcr\.io\/distroless\/cc-debian\d+|debian:\S+-slim)\b/);
    const stage = /\bAS\s+(\S+)/i.exec(steps[froms[0]!]!.args)?.[1];
    const copy = final.find((s) => s.op === "COPY" && s.args.includes(`--from=${stage}`));
    const dest = copy?.args.split(/\s+/).at(-1);
    assert.ok(dest, `COPY --from=${stage}`);
    const user = final.filter((s) => s.op === "USER").at(-1)?.args.split(":")[0];
    // Numeric, so that Kubernetes' runAsNonRoot can tell without /etc/passwd.
    assert.match(user ?? "", /^[1-9]\d*$/, `USER ${user}`);
    const entry = JSON.parse(final.find((s) => s.op === "ENTRYPOINT")?.args ?? "null");
    assert.deepEqual(entry, [dest], "exec form: the binary is PID 1 and gets SIGTERM");
    assert.deepEqual(JSON.parse(final.find((s) => s.op === "CMD")?.args ?? "null"), ["serve"]);
    if (/distroless/.test(final[0]!.args)) {
      assert.ok(!final.some((s) => s.op === "HEALTHCHECK"), "distroless has nothing to run it");
    }
  });

  await t.step("ENV sets serve variables only, no secret, and listens on every interface", () => {
    const env = dockerEnv(final);
    assertServeVariables(env.keys(), vars, "the Dockerfile");
    for (const secret of SECRET_VALUES) assert.ok(!env.has(secret), secret);
    assert.equal(env.get("HOST") ?? DEFAULT_CONFIG.hostname, "0.0.0.0");
    const port = env.get("PORT") ?? String(DEFAULT_CONFIG.port);
    assert.deepEqual(final.filter((s) => s.op === "EXPOSE").map((s) => s.args), [port]);
  });
});

const kubectl = tool("kubectl");

Deno.test("the Kubernetes Deployment is probed on /readyz, drains, reads a Secret, runs as non-root", async (t) => {
  const text = await deployFile("kubernetes.yaml");
  const docs = parseYamlDocuments(text).map(asMap);
  const kind = (k: string) => {
    const found = docs.filter((d) => d.kind === k);
    assert.equal(found.length, 1, `one ${k}`);
    return found[0]!;
  };
  const deployment = kind("Deployment");
  const pod = asMap(at(deployment, "spec.template.spec"));
  const containers = asList(at(pod, "containers")).map(asMap);
  const container = containers.find((c) => c.name === "sensorstream") ?? assert.fail("container");
  const ports = asList(container.ports ?? []).map(asMap);
  const portOf = (ref: Yaml) =>
    typeof ref === "number" ? ref : ports.find((p) => p.name === ref)?.containerPort;
  const env = asList(container.env ?? []).map(asMap);
  const vars = await serveVariables();

  await t.step("3 replicas, ready on /readyz and alive on /healthz, at serve's port", () => {
    assert.equal(at(deployment, "spec.replicas"), 3);
    assert.equal(at(container, "readinessProbe.httpGet.path"), "/readyz");
    assert.equal(at(container, "livenessProbe.httpGet.path"), "/healthz");
    const port = env.find((e) => e.name === "PORT")?.value ?? DEFAULT_CONFIG.port;
    assert.equal(portOf(at(container, "readinessProbe.httpGet.port")), Number(port));
    assert.equal(portOf(at(container, "livenessProbe.httpGet.port")), Number(port));
  });

  await t.step("preStop waits before SIGTERM; the grace period covers it and the drain", () => {
    const preStop = asMap(at(container, "lifecycle.preStop"));
    const wait = preStop.sleep
      ? Number(at(preStop, "sleep.seconds"))
      : Number(asList(at(preStop, "exec.command")).join(" ").match(/sleep (\d+)/)?.[1]);
    assert.ok(wait >= 1, "preStop sleeps");
    const grace = Number(at(pod, "terminationGracePeriodSeconds"));
    assert.ok(grace >= wait + SHUTDOWN_SECONDS, `${grace} s >= ${wait} s + ${SHUTDOWN_SECONDS} s`);
  });

  await t.step("the JWT secret comes from the Secret, where the binary may read it", () => {
    const secret = kind("Secret");
    const name = at(secret, "metadata.name");
    const byEnv = env.find((e) => e.name === "JWT_SECRET");
    if (byEnv) {
      assert.equal(at(byEnv, "valueFrom.secretKeyRef.name"), name);
      assert.ok(String(at(byEnv, "valueFrom.secretKeyRef.key")) in asMap(at(secret, "stringData")));
      return;
    }
    const file = String(at(env.find((e) => e.name === "JWT_SECRET_FILE") ?? {}, "value"));
    assert.ok(binaryMayRead(file), `${file} outside the binary's ${COMPILE_PERMISSIONS}`);
    const mount = asList(at(container, "volumeMounts")).map(asMap)
      .find((m) => file.startsWith(`${m.mountPath}/`)) ?? assert.fail(`a mount holding ${file}`);
    const volume = asList(at(pod, "volumes")).map(asMap).find((v) => v.name === mount.name);
    assert.equal(at(volume ?? {}, "secret.secretName"), name);
    const key = file.slice(String(mount.mountPath).length + 1);
    assert.ok(key in asMap(at(secret, "stringData")), `the Secret has ${key}`);
  });

  await t.step("the example Secret holds no usable secret (serve wants 32 bytes)", () => {
    for (const value of Object.values(asMap(at(kind("Secret"), "stringData")))) {
      assert.ok(new TextEncoder().encode(String(value)).length < 32, "a placeholder");
    }
  });

  await t.step(
    "env and ConfigMap set serve variables only: a shared broker, no fixed client id",
    () => {
      const config = asMap(at(kind("ConfigMap"), "data"));
      const refs = asList(container.envFrom ?? []).map((e) =>
        asMap(e).configMapRef && at(e, "configMapRef.name")
      );
      assert.ok(refs.includes(at(kind("ConfigMap"), "metadata.name")), "envFrom the ConfigMap");
      const names = [...env.map((e) => String(e.name)), ...Object.keys(config)];
      assertServeVariables(names, vars, "kubernetes.yaml");
      const literal = env.filter((e) => e.value !== undefined).map((e) => String(e.name));
      for (const secret of SECRET_VALUES) {
        assert.ok(!(secret in config) && !literal.includes(secret), `${secret} in plain text`);
      }
      // The embedded broker would be each pod's own: replicas need one they all reach.
      assert.ok(names.includes("MQTT_BROKER_URL"), "MQTT_BROKER_URL");
      // Replicas with one client id would throw each other off the broker.
      assert.ok(!names.includes("MQTT_CLIENT_ID"), "MQTT_CLIENT_ID is fixed for every replica");
    },
  );

  await t.step(
    "non-root (the image's user), read-only root with a writable /tmp, no privileges",
    async () => {
      const ctx = {
        ...asMap(pod.securityContext ?? {}),
        ...asMap(container.securityContext ?? {}),
      };
      assert.equal(ctx.runAsNonRoot, true);
      const image = parseDockerfile(await deployFile("Dockerfile"));
      const user = image.filter((s) => s.op === "USER").at(-1)?.args.split(":")[0];
      assert.equal(String(ctx.runAsUser), user, "runAsUser is the Dockerfile's USER");
      assert.equal(ctx.readOnlyRootFilesystem, true);
      assert.equal(ctx.allowPrivilegeEscalation, false);
      assert.deepEqual(at(ctx, "capabilities.drop"), ["ALL"]);
      const tmp = asList(at(container, "volumeMounts")).map(asMap).find((m) =>
        m.mountPath === "/tmp"
      );
      const volume = asList(at(pod, "volumes")).map(asMap).find((v) => v.name === tmp?.name);
      assert.ok(volume?.emptyDir !== undefined, "/tmp (the binary's code cache) is an emptyDir");
    },
  );

  await t.step("the Service selects these pods and targets serve's port", () => {
    const service = kind("Service");
    const labels = asMap(at(deployment, "spec.template.metadata.labels"));
    for (const [k, v] of Object.entries(asMap(at(service, "spec.selector")))) {
      assert.equal(labels[k], v, `pod label ${k}`);
    }
    const target = at(asList(at(service, "spec.ports"))[0]!, "targetPort");
    assert.equal(portOf(target), portOf(at(container, "readinessProbe.httpGet.port")));
  });

  await t.step({
    name: kubectl
      ? "kubectl kustomize reads the same resources"
      : "kubectl kustomize reads it (ignored: kubectl is not installed)",
    ignore: !kubectl,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "sensorstream-k8s-" });
      try {
        await Deno.writeTextFile(`${dir}/kubernetes.yaml`, text);
        await Deno.writeTextFile(`${dir}/kustomization.yaml`, "resources:\n  - kubernetes.yaml\n");
        const { code, out } = await run(kubectl!, ["kustomize", dir]);
        assert.equal(code, 0, out);
        const kinds = (s: string) => [...s.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).sort();
        assert.deepEqual(kinds(out), docs.map((d) => d.kind).sort());
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
});
