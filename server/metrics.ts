/**
 * The service's counters and histogram, rendered in Prometheus text format for `/metrics`.
 * Plain numbers updated on the hot path; formatting happens only when scraped.
 * @module
 */

/** Latency buckets in seconds (broker-to-client). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A counter split by one label. */
export class LabeledCounter {
  readonly #values = new Map<string, number>();
  /** Adds `n` (default 1) to the count for `label`. */
  inc(label: string, n = 1): void {
    this.#values.set(label, (this.#values.get(label) ?? 0) + n);
  }
  /** The count for `label`. */
  get(label: string): number {
    return this.#values.get(label) ?? 0;
  }
  /** Sum over all labels. */
  total(): number {
    let t = 0;
    for (const v of this.#values.values()) t += v;
    return t;
  }
  /** All label/count pairs. */
  entries(): [string, number][] {
    return [...this.#values.entries()];
  }
}

/** A fixed-bucket histogram in seconds. */
export class Histogram {
  readonly buckets: readonly number[] = LATENCY_BUCKETS;
  readonly counts: number[] = LATENCY_BUCKETS.map(() => 0);
  count = 0;
  sum = 0;
  /** Records one observation. */
  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    for (let i = 0; i < this.buckets.length; i++) {
      if (seconds <= this.buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }
}

/** Every metric the service exposes. */
export class Metrics {
  /** WebSocket connections accepted (valid token). */
  connections = 0;
  /** Rejected connections by reason (`missing token`, `invalid token`, `token expired`, `server full`). */
  readonly rejections: LabeledCounter = new LabeledCounter();
  /** Clients closed by the server, by reason. */
  readonly disconnects: LabeledCounter = new LabeledCounter();
  /** MQTT messages received on the sensor topic. */
  mqttReceived = 0;
  /** Invalid MQTT payloads by reason. */
  readonly mqttInvalid: LabeledCounter = new LabeledCounter();
  /** Readings coalesced away by the throttle (a newer one was sent instead). */
  mqttThrottled = 0;
  /** Retained MQTT messages received, valid or not (they only seed last known values). */
  mqttRetained = 0;
  /** Readings forwarded to the hub. */
  readingsForwarded = 0;
  /** WebSocket messages sent. */
  wsSent = 0;
  /** WebSocket messages dropped for slow clients (replaced by newer values). */
  wsDropped = 0;
  /** Invalid client messages by error code. */
  readonly clientErrors: LabeledCounter = new LabeledCounter();
  /** Times the broker link came up. */
  mqttConnects = 0;
  /** Seconds from MQTT receipt to handing the message to client sockets. */
  readonly latency: Histogram = new Histogram();
  /** Sockets released by deadline because the runtime gave no event, by stage. */
  readonly socketsAbandoned: LabeledCounter = new LabeledCounter();

  /** Prometheus text exposition; `gauges` are sampled at scrape time. */
  render(
    gauges: {
      clients: number;
      slowClients: number;
      mqttConnected: boolean;
      sockets: number;
      lingering: number;
    },
  ): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const labeled = (name: string, label: string, c: LabeledCounter) =>
      c.entries().map(([k, v]) => `${name}{${label}="${escapeLabel(k)}"} ${v}`);
    metric("sensorstream_clients", "gauge", "WebSocket clients connected now.", [
      `sensorstream_clients ${gauges.clients}`,
    ]);
    metric(
      "sensorstream_sockets",
      "gauge",
      "Open WebSocket connections, verified or not (what the admission limit counts).",
      [`sensorstream_sockets ${gauges.sockets}`],
    );
    metric(
      "sensorstream_sockets_lingering",
      "gauge",
      "Released sockets the runtime still holds because the peer never answered our close.",
      [`sensorstream_sockets_lingering ${gauges.lingering}`],
    );
    metric(
      "sensorstream_sockets_abandoned_total",
      "counter",
      "Sockets released by deadline: handshake never completed, or close never answered.",
      labeled("sensorstream_sockets_abandoned_total", "stage", this.socketsAbandoned),
    );
    metric("sensorstream_slow_clients", "gauge", "Clients in latest-value mode now.", [
      `sensorstream_slow_clients ${gauges.slowClients}`,
    ]);
    metric("sensorstream_mqtt_connected", "gauge", "1 when the MQTT broker link is up.", [
      `sensorstream_mqtt_connected ${gauges.mqttConnected ? 1 : 0}`,
    ]);
    metric("sensorstream_connections_total", "counter", "WebSocket connections accepted.", [
      `sensorstream_connections_total ${this.connections}`,
    ]);
    metric(
      "sensorstream_connections_rejected_total",
      "counter",
      "WebSocket connections rejected, by reason.",
      labeled("sensorstream_connections_rejected_total", "reason", this.rejections),
    );
    metric(
      "sensorstream_disconnects_total",
      "counter",
      "Clients closed by the server, by reason.",
      labeled("sensorstream_disconnects_total", "reason", this.disconnects),
    );
    metric("sensorstream_mqtt_messages_received_total", "counter", "MQTT messages received.", [
      `sensorstream_mqtt_messages_received_total ${this.mqttReceived}`,
    ]);
    metric(
      "sensorstream_mqtt_messages_invalid_total",
      "counter",
      "MQTT messages dropped as invalid, by reason.",
      labeled("sensorstream_mqtt_messages_invalid_total", "reason", this.mqttInvalid),
    );
    metric(
      "sensorstream_mqtt_messages_throttled_total",
      "counter",
      "Readings coalesced by the per-sensor throttle.",
      [`sensorstream_mqtt_messages_throttled_total ${this.mqttThrottled}`],
    );
    metric(
      "sensorstream_mqtt_messages_retained_total",
      "counter",
      "Retained MQTT messages received (only seed last known values; included in received).",
      [`sensorstream_mqtt_messages_retained_total ${this.mqttRetained}`],
    );
    metric("sensorstream_mqtt_connects_total", "counter", "Times the MQTT link came up.", [
      `sensorstream_mqtt_connects_total ${this.mqttConnects}`,
    ]);
    metric("sensorstream_readings_forwarded_total", "counter", "Readings sent to the hub.", [
      `sensorstream_readings_forwarded_total ${this.readingsForwarded}`,
    ]);
    metric("sensorstream_ws_messages_sent_total", "counter", "WebSocket messages sent.", [
      `sensorstream_ws_messages_sent_total ${this.wsSent}`,
    ]);
    metric(
      "sensorstream_ws_messages_dropped_total",
      "counter",
      "WebSocket messages dropped for slow clients (superseded by newer values).",
      [`sensorstream_ws_messages_dropped_total ${this.wsDropped}`],
    );
    metric(
      "sensorstream_client_errors_total",
      "counter",
      "Invalid client messages, by error code.",
      labeled("sensorstream_client_errors_total", "code", this.clientErrors),
    );
    const h = this.latency;
    let cumulative = 0;
    const lines = h.buckets.map((b, i) => {
      cumulative += h.counts[i]!;
      return `sensorstream_delivery_latency_seconds_bucket{le="${b}"} ${cumulative}`;
    });
    lines.push(
      `sensorstream_delivery_latency_seconds_bucket{le="+Inf"} ${h.count}`,
      `sensorstream_delivery_latency_seconds_sum ${h.sum}`,
      `sensorstream_delivery_latency_seconds_count ${h.count}`,
    );
    metric(
      "sensorstream_delivery_latency_seconds",
      "histogram",
      "Time from MQTT receipt to handing the reading to client sockets.",
      lines,
    );
    return out.join("\n") + "\n";
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
