/**
 * Options that several commands take (the broker and its login, the JWT secret), declared once:
 * each command's table spreads them and may change the help or default.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { commandTopicProblem, DEFAULT_COMMAND_TOPIC } from "../../protocol/mod.ts";
import { intInRange, parseDuration, parsePort, parseSensorList } from "../parse.ts";
import { option } from "./table.ts";

/** The broker URL (serve: unset = embedded broker; simulate: localhost). */
export const MQTT_URL = option<string>({
  flags: "--mqtt-url <url>",
  env: "MQTT_BROKER_URL",
  help: "MQTT broker (mqtt://, mqtts://, ws://, wss:// or a bare host)",
});
/** The port of a bare-host broker URL (serve: also the embedded broker's). */
export const MQTT_PORT = option({
  flags: "--mqtt-port <port>",
  env: "MQTT_BROKER_PORT",
  help: "port of a bare-host --mqtt-url",
  parse: parsePort,
});
/** MQTT user name. */
export const MQTT_USERNAME = option<string>({
  flags: "--mqtt-username <user>",
  env: "MQTT_USERNAME",
  help: "MQTT username",
});
/** MQTT password: a secret. */
export const MQTT_PASSWORD = option<string>({
  flags: "--mqtt-password <password>",
  env: "MQTT_PASSWORD",
  help: "MQTT password (visible in ps: prefer the env or the file)",
});
/** The MQTT password from a file. */
export const MQTT_PASSWORD_FILE = option<string>({
  flags: "--mqtt-password-file <path>",
  env: "MQTT_PASSWORD_FILE",
  help: "read the MQTT password from a file",
});
/** The topic filter; its `+` level is the sensor id. */
export const TOPIC = option<string>({
  flags: "--topic <filter>",
  env: "MQTT_TOPIC",
  help: "MQTT topic filter; its '+' level is the sensor id",
});
/** Where each sensor's commands go (serve publishes, simulate listens). */
export const COMMAND_TOPIC = option({
  flags: "--command-topic <template>",
  env: "COMMAND_TOPIC",
  help: "MQTT topic of a sensor's commands; its '{id}' level is the sensor id",
  default: DEFAULT_COMMAND_TOPIC,
  parse: commandTemplate,
});
/** Where devices acknowledge commands (serve listens, simulate publishes). */
export const COMMAND_ACK_TOPIC = option<string>({
  flags: "--command-ack-topic <template>",
  env: "COMMAND_ACK_TOPIC",
  help: "MQTT topic of a sensor's command acks; '{id}' is the sensor id",
  defaultText: "the command topic + /ack",
  parse: commandTemplate,
});
function commandTemplate(text: string): string {
  const problem = commandTopicProblem(text);
  if (problem) throw new InvalidArgumentError(`'${text}' ${problem}`);
  return text;
}
/** The HS256 secret shared by serve, tail and token: a secret. */
export const JWT_SECRET = option<string>({
  flags: "--jwt-secret <secret>",
  env: "JWT_SECRET",
  help: "HS256 secret, at least 32 bytes (visible in ps: prefer the env or the file)",
});
/** The HS256 secret from a file. */
export const JWT_SECRET_FILE = option<string>({
  flags: "--jwt-secret-file <path>",
  env: "JWT_SECRET_FILE",
  help: "read the HS256 secret from a file",
});
/** Environment variable of the required issuer (serve) and of the issuer claim (token). */
export const ISSUER_ENV = "JWT_ISSUER";
/** Environment variable of the required audience (serve) and of the audience claim (token). */
export const AUDIENCE_ENV = "JWT_AUDIENCE";
/** Sensor ids, comma-separated (simulate: which to publish; tail: which to show; token: claim). */
export const SENSORS = option({
  flags: "--sensors <ids>",
  help: "only these sensors, comma-separated, e.g. V1,V3",
  parse: parseSensorList,
});
/** Stop after this many (messages, readings). */
export const COUNT = option({
  flags: "--count <n>",
  help: "stop after this many",
  parse: intInRange(1, Number.MAX_SAFE_INTEGER),
});
/** How long to keep trying to reach the other side before giving up. */
export const CONNECT_TIMEOUT = option({
  flags: "--connect-timeout <duration>",
  help: "give up when the other side cannot be reached for this long",
  parse: parseDuration,
  default: 10_000,
  defaultText: "10s",
});
/** MQTT quality of service (serve: subscription; simulate: publish). */
export const QOS_FLAGS = "--qos <qos>";
