/**
 * Odd MQTT topics for the abuse suite: sensor ids that `+` matches but serve must refuse, and
 * topics outside the subscription that the broker never delivers to serve. Pure.
 * @module
 */

/** The topic filter serve subscribes to in the suite. */
export const FUZZ_FILTER = "sensors/+/data";

/** Whether `topic` matches an MQTT filter made of plain levels and `+` (which may be empty). */
export function matchesFilter(topic: string, filter: string): boolean {
  const t = topic.split("/");
  const f = filter.split("/");
  return t.length === f.length && f.every((level, i) => level === "+" || level === t[i]);
}

/** Topic levels serve must refuse as sensor ids, though `+` matches them. */
const BAD_IDS = [
  "V 1",
  " V1",
  "Vé1",
  "датчик",
  "传感器",
  "🌱",
  "V1\u001b[31m",
  "V\u0007",
  "\u001b",
  "V\t1",
  "V\u007f",
  "\ufeffV1",
  "x".repeat(65),
  "y".repeat(1000),
  "",
  "V1.0",
  "..",
  "V1;DROP",
  "<script>",
  "%20",
];
/** Topics that do not match `sensors/+/data` at all. */
const OUTSIDE = [
  "sensors/V1/data/extra",
  "sensors/V1/data/",
  "sensors/V1",
  "sensors/data",
  "sensors",
  "/sensors/V1/data",
  "Sensors/V1/data",
  "sensors/V1/DATA",
  "sensors/a/b/data",
  "sensor/V1/data",
  "sensors /V1/data",
  "data/V1/sensors",
  "sensors/V1/data ",
];

/**
 * An odd topic for sensor `id`, half refused by serve (`bad_topic`), half outside the
 * subscription; `random` is a seeded PRNG.
 */
export function oddTopic(
  random: () => number,
  id: string,
): { topic: string; expect: "bad_topic" | "outside_subscription" } {
  const pick = (items: readonly string[]) => items[Math.floor(random() * items.length)]!;
  if (random() < 0.5) return { topic: `sensors/${pick(BAD_IDS)}/data`, expect: "bad_topic" };
  return { topic: pick(OUTSIDE).replace("V1", id), expect: "outside_subscription" };
}
