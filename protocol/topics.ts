/**
 * Sensor ids and MQTT topics: what may name a sensor, and how a topic filter's `+` level
 * carries the id.
 * @module
 */

/** Sensor ids: what may stand in the `+` level of the topic. */
export const SENSOR_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Splits `V1, V3` into sensor ids (trimmed, de-duplicated, empty parts dropped). Returns the
 * first invalid id as `bad` when there is one.
 */
export function parseSensorIds(text: string): { ids: string[]; bad: string | undefined } {
  const ids = [...new Set(text.split(",").map((s) => s.trim()).filter((s) => s !== ""))];
  return { ids, bad: ids.find((id) => !SENSOR_ID_PATTERN.test(id)) };
}

/** Default MQTT topic filter; the `+` level is the sensor id. */
export const DEFAULT_TOPIC = "sensors/+/data";

/** The five sensor stations of the original deployment. */
export const DEFAULT_SENSORS: readonly string[] = ["V1", "V2", "V3", "V4", "V5"];

/** Topic a sensor publishes its readings to, for a filter such as `sensors/+/data`. */
export function sensorTopic(sensorId: string, filter: string = DEFAULT_TOPIC): string {
  return filter.replace("+", sensorId);
}

/**
 * Checks a topic filter has exactly one `+` level (the sensor id) and no `#`.
 * Returns a description of the problem, or `undefined` when the filter is usable.
 */
export function topicFilterProblem(filter: string): string | undefined {
  const levels = filter.split("/");
  const plus = levels.filter((l) => l === "+").length;
  if (filter.includes("#")) return "must not contain '#'";
  if (plus !== 1) return "must contain exactly one '+' level, which carries the sensor id";
  if (levels.some((l) => l !== "+" && l.includes("+"))) return "'+' must be a whole level";
  if (levels.some((l) => l === "")) return "must not have empty levels";
  return undefined;
}

/**
 * Compiles a topic filter (one `+` level) into a function returning the sensor id of a matching
 * topic, or `undefined` when the topic does not match or the id is not a valid sensor id.
 */
export function topicMatcher(filter: string): (topic: string) => string | undefined {
  const levels = filter.split("/");
  const at = levels.indexOf("+");
  const prefix = levels.slice(0, at).join("/") + (at > 0 ? "/" : "");
  const suffix = (at < levels.length - 1 ? "/" : "") + levels.slice(at + 1).join("/");
  return (topic) => {
    if (
      topic.length <= prefix.length + suffix.length || !topic.startsWith(prefix) ||
      !topic.endsWith(suffix)
    ) return undefined;
    const id = topic.slice(prefix.length, topic.length - suffix.length);
    return SENSOR_ID_PATTERN.test(id) ? id : undefined;
  };
}

/** The sensor id of `topic` under `filter` (see {@link topicMatcher}). */
export function sensorIdFromTopic(
  topic: string,
  filter: string = DEFAULT_TOPIC,
): string | undefined {
  return topicMatcher(filter)(topic);
}

/** Default topic a sensor's commands are published to; `{id}` is the sensor id. */
export const DEFAULT_COMMAND_TOPIC = "sensors/{id}/commands";

/** The ack topic that goes with a command topic: the command topic with `/ack` added. */
export function commandAckTopicOf(commandTopic: string): string {
  return `${commandTopic}/ack`;
}

/**
 * Checks a command (or ack) topic template: exactly one `{id}` level (the sensor id) and no
 * wildcards. Returns a description of the problem, or `undefined` when it is usable.
 */
export function commandTopicProblem(template: string): string | undefined {
  const levels = template.split("/");
  if (template.includes("#") || template.includes("+")) return "must not contain '#' or '+'";
  if (levels.filter((l) => l === "{id}").length !== 1 || template.split("{id}").length !== 2) {
    return "must contain exactly one '{id}' level, which carries the sensor id";
  }
  if (levels.some((l) => l === "")) return "must not have empty levels";
  return undefined;
}

/** The topic of `sensorId` under a template such as `sensors/{id}/commands`. */
export function commandTopic(template: string, sensorId: string): string {
  return template.replace("{id}", sensorId);
}

/** The MQTT filter that matches a template's topic for every sensor (`{id}` becomes `+`). */
export function commandFilter(template: string): string {
  return template.replace("{id}", "+");
}
