/**
 * Every metric the service exposes, each one declaration in one registry. A new metric is one
 * line here plus its use; `/metrics` renders the registry.
 * @module
 */
import process from "node:process";
import {
  CLOSES,
  COMMAND_ACTIONS,
  COMMAND_STATUSES,
  type CommandAction,
  type CommandStatus,
  ErrorCode,
} from "../protocol/mod.ts";
import { INVALID_REASONS } from "./reading.ts";
import {
  Counter,
  GridCounter,
  Histogram,
  LabeledCounter,
  Registry,
  Sampled,
  SampledLabeled,
} from "./registry.ts";

export { Counter, Histogram, LabeledCounter };

/** Latency buckets in seconds (broker-to-client). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const CLOSE_REASONS = Object.values(CLOSES).map((c) => c.reason);
/** Refusals: the close reasons a refused client gets, and the HTTP 503 past the socket limit. */
const REJECTION_REASONS = [...CLOSE_REASONS, "too many sockets"];

/** What the gauges read at scrape time; bound once the server's parts exist. */
export interface LiveState {
  clients(): number;
  slowClients(): number;
  sockets(): number;
  lingering(): number;
  mqttConnected(): boolean;
  bufferedBytes(): number;
  overloaded(): boolean;
  /** Known sensors by status. */
  sensors(): { live: number; stale: number };
  /** Readings held for `history` requests, and the bytes they take. */
  history(): { readings: number; bytes: number };
}

const NOTHING_YET: LiveState = {
  clients: () => 0,
  slowClients: () => 0,
  sockets: () => 0,
  lingering: () => 0,
  mqttConnected: () => false,
  bufferedBytes: () => 0,
  overloaded: () => false,
  sensors: () => ({ live: 0, stale: 0 }),
  history: () => ({ readings: 0, bytes: 0 }),
};

/** The service's metrics. */
export class Metrics {
  /** Where every metric below is declared, in the order `/metrics` shows them. */
  readonly registry: Registry = new Registry();
  #live: LiveState = NOTHING_YET;
  readonly #startedAt = Date.now() / 1000 - process.uptime();

  readonly clients: Sampled = this.#gauge(
    "sensorstream_clients",
    "WebSocket clients connected now.",
    () => this.#live.clients(),
  );
  readonly sockets: Sampled = this.#gauge(
    "sensorstream_sockets",
    "Open WebSocket connections, verified or not (what the admission limit counts).",
    () => this.#live.sockets(),
  );
  readonly lingering: Sampled = this.#gauge(
    "sensorstream_sockets_lingering",
    "Released sockets the runtime still holds because the peer never answered our close.",
    () => this.#live.lingering(),
  );
  readonly socketsAbandoned: LabeledCounter<"handshake" | "close"> = this.registry.add(
    new LabeledCounter(
      "sensorstream_sockets_abandoned_total",
      "Sockets released by deadline: handshake never completed, or close never answered.",
      "stage",
      ["handshake", "close"],
    ),
  );
  readonly slowClients: Sampled = this.#gauge(
    "sensorstream_slow_clients",
    "Clients in latest-value mode now.",
    () => this.#live.slowClients(),
  );
  readonly bufferedBytes: Sampled = this.#gauge(
    "sensorstream_ws_buffered_bytes",
    "Bytes waiting in all clients' send buffers now (bounded by --max-total-buffered-bytes).",
    () => this.#live.bufferedBytes(),
  );
  readonly overloaded: Sampled = this.#gauge(
    "sensorstream_overloaded",
    "1 while fan-out cannot keep up and readings are conflated to the latest per sensor.",
    () => this.#live.overloaded() ? 1 : 0,
  );
  readonly conflated: Counter = this.#counter(
    "sensorstream_readings_conflated_total",
    "Readings replaced by a newer one of their sensor before they were sent.",
  );
  readonly sensors: SampledLabeled<"live" | "stale"> = this.registry.add(
    new SampledLabeled(
      "sensorstream_sensors",
      "Known sensors: live, or stale (silent for 3× their usual interval and --stale-after).",
      "status",
      ["live", "stale"],
      () => this.#live.sensors(),
    ),
  );
  readonly historyReadings: Sampled = this.#gauge(
    "sensorstream_history_readings",
    "Readings held for history requests (bounded by --history and --history-max per sensor).",
    () => this.#live.history().readings,
  );
  readonly historyBytes: Sampled = this.#gauge(
    "sensorstream_history_bytes",
    "Bytes of memory holding those readings.",
    () => this.#live.history().bytes,
  );
  readonly tokenRefreshes: LabeledCounter<"accepted" | "refused"> = this.registry.add(
    new LabeledCounter(
      "sensorstream_token_refreshes_total",
      "Token refreshes over an open connection, by result.",
      "result",
      ["accepted", "refused"],
    ),
  );
  readonly commands: GridCounter<CommandAction, CommandStatus> = this.registry.add(
    new GridCounter(
      "sensorstream_commands_total",
      "Commands clients sent through this server, by action and outcome: rejected, or each " +
        "state a sent one reached (sent, accepted, done, failed, timeout).",
      ["action", "outcome"],
      [COMMAND_ACTIONS, COMMAND_STATUSES],
    ),
  );
  readonly commandAcksIgnored: Counter = this.registry.add(
    new Counter(
      "sensorstream_command_acks_ignored_total",
      "Device acks of no command in flight: repeated, for a command not seen, or after its timeout.",
    ),
  );
  readonly mqttConnected: Sampled = this.#gauge(
    "sensorstream_mqtt_connected",
    "1 when the MQTT broker link is up.",
    () => this.#live.mqttConnected() ? 1 : 0,
  );
  readonly connections: Counter = this.#counter(
    "sensorstream_connections_total",
    "WebSocket connections accepted.",
  );
  readonly rejections: LabeledCounter = this.registry.add(
    new LabeledCounter(
      "sensorstream_connections_rejected_total",
      "WebSocket connections rejected, by reason.",
      "reason",
      REJECTION_REASONS,
    ),
  );
  readonly disconnects: LabeledCounter = this.registry.add(
    new LabeledCounter(
      "sensorstream_disconnects_total",
      "Clients closed by the server, by reason.",
      "reason",
      CLOSE_REASONS,
    ),
  );
  readonly mqttReceived: Counter = this.#counter(
    "sensorstream_mqtt_messages_received_total",
    "MQTT messages received.",
  );
  readonly mqttInvalid: LabeledCounter = this.registry.add(
    new LabeledCounter(
      "sensorstream_mqtt_messages_invalid_total",
      "MQTT messages dropped as invalid, by reason.",
      "reason",
      INVALID_REASONS,
    ),
  );
  readonly mqttThrottled: Counter = this.#counter(
    "sensorstream_mqtt_messages_throttled_total",
    "Readings coalesced by the per-sensor throttle.",
  );
  readonly mqttRetained: Counter = this.#counter(
    "sensorstream_mqtt_messages_retained_total",
    "Retained MQTT messages received (they only seed last known values).",
  );
  readonly mqttConnects: Counter = this.#counter(
    "sensorstream_mqtt_connects_total",
    "Times the MQTT link came up.",
  );
  readonly readingsForwarded: Counter = this.#counter(
    "sensorstream_readings_forwarded_total",
    "Readings sent to the hub.",
  );
  readonly wsSent: Counter = this.#counter(
    "sensorstream_ws_messages_sent_total",
    "WebSocket messages sent.",
  );
  readonly wsDropped: Counter = this.#counter(
    "sensorstream_ws_messages_dropped_total",
    "WebSocket messages dropped for slow clients (superseded by newer values).",
  );
  readonly clientErrors: LabeledCounter = this.registry.add(
    new LabeledCounter(
      "sensorstream_client_errors_total",
      "Invalid client messages, by error code.",
      "code",
      Object.values(ErrorCode),
    ),
  );
  readonly latency: Histogram = this.registry.add(
    new Histogram(
      "sensorstream_delivery_latency_seconds",
      "Time from MQTT receipt to handing the reading to client sockets.",
      LATENCY_BUCKETS,
    ),
  );
  readonly memory: Sampled = this.#gauge(
    "process_resident_memory_bytes",
    "Resident memory of the process, bytes.",
    () => Deno.memoryUsage().rss,
  );
  readonly heap: Sampled = this.#gauge(
    "process_heap_bytes",
    "JavaScript heap in use, bytes.",
    () => Deno.memoryUsage().heapUsed,
  );
  readonly cpu: Sampled = this.registry.add(
    new Sampled(
      "process_cpu_seconds_total",
      "User and system CPU time of the process, seconds.",
      () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      },
      "counter",
    ),
  );
  readonly started: Sampled = this.#gauge(
    "process_start_time_seconds",
    "When the process started, seconds since the epoch.",
    () => this.#startedAt,
  );

  /** Connects the gauges to the running server's parts. */
  bind(live: LiveState): void {
    this.#live = live;
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    return this.registry.render();
  }

  #counter(name: string, help: string): Counter {
    return this.registry.add(new Counter(name, help));
  }

  #gauge(name: string, help: string, read: () => number): Sampled {
    return this.registry.add(new Sampled(name, help, read));
  }
}
