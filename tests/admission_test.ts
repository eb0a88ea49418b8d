/** Who gets in, decided without sockets. */
import assert from "node:assert/strict";
import { type Admission, decideAdmission } from "../server/admission.ts";
import type { Claims } from "../server/auth.ts";
import { AuthError } from "../server/errors.ts";

const claims = (sensors: string[] | null = null): Claims => ({
  sub: "alice",
  sensors: sensors && new Set(sensors),
  commands: null,
  expiresAt: undefined,
});
const refused = (a: Admission) => a.admitted ? "admitted" : `${a.close.code} ${a.close.reason}`;

Deno.test("admission", async (t) => {
  const base = { sensorsParam: null, clients: 0, maxClients: 2 };

  await t.step("a refused token closes with its own close: 1008, or 1013 when auth is down", () => {
    const bad = decideAdmission({
      ...base,
      verdict: new AuthError("invalid token", "bad signature"),
    });
    assert.equal(refused(bad), "1008 invalid token");
    assert.equal(!bad.admitted && bad.detail, "bad signature");
    const down = decideAdmission({ ...base, verdict: new AuthError("auth unavailable") });
    assert.equal(refused(down), "1013 auth unavailable");
  });

  await t.step("an invalid ?sensors= id is refused before the client limit is looked at", () => {
    const a = decideAdmission({
      ...base,
      clients: 2,
      sensorsParam: "V1,bad id",
      verdict: claims(),
    });
    assert.equal(refused(a), "1008 invalid sensors parameter");
  });

  await t.step("a full server refuses with 1013 server full", () => {
    assert.equal(
      refused(decideAdmission({ ...base, clients: 2, verdict: claims() })),
      "1013 server full",
    );
  });

  await t.step("admitted: subscriptions from ?sensors=, and the ids the token excludes", () => {
    const a = decideAdmission({ ...base, sensorsParam: " V1, V3 ,V1,", verdict: claims(["V1"]) });
    assert.ok(a.admitted);
    assert.deepEqual(a.subscriptions, ["V1", "V3"]);
    assert.deepEqual(a.denied, ["V3"]);
    const all = decideAdmission({ ...base, sensorsParam: "", verdict: claims() });
    assert.ok(all.admitted);
    assert.equal(all.subscriptions, null);
    assert.deepEqual(all.denied, []);
  });
});
