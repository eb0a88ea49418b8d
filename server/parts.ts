/**
 * The parts of a running server and how they are connected: the hub, the bridge feeding it
 * through the stream (history and staleness), the history replies, and the HTTP handler over
 * them all. `server.ts` starts and stops them.
 * @module
 */
import type { Clock } from "../lib/clock.ts";
import { Deadlines } from "../lib/deadlines.ts";
import { LogLimiter } from "../lib/log_limit.ts";
import type { Logger } from "../lib/log.ts";
import { commandAckTopicOf, envelopeOf } from "../protocol/mod.ts";
import type { Verifier } from "./auth.ts";
import { type Bridge, startBridge } from "./bridge.ts";
import type { CommandService } from "./command_service.ts";
import type { EmbeddedBroker } from "./broker.ts";
import type { ServerConfig } from "./config.ts";
import type { Expiring } from "./connection_deps.ts";
import { createHandler } from "./handler.ts";
import { HistoryReplies } from "./history_replies.ts";
import { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";
import type { SocketRegistry } from "./sockets.ts";
import { Stream } from "./stream.ts";

/** `client rejected` log lines: at most this many per second, then a count of the rest. */
const REFUSAL_LOGS_PER_SECOND = 5;

/** The parts of a running server, for the shutdown sequence. */
export interface Parts {
  config: ServerConfig;
  logger: Logger;
  metrics: Metrics;
  hub: Hub;
  stream: Stream;
  replies: HistoryReplies;
  commands: CommandService;
  bridge: Bridge;
  broker: EmbeddedBroker | undefined;
  sockets: SocketRegistry;
  stopTick: () => void;
}

/** What building the parts needs. */
export interface PartsContext {
  config: ServerConfig;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
}

/** The hub, counting into the metrics. */
export function hubOf({ config, metrics, clock, logger }: PartsContext): Hub {
  return new Hub({
    maxBufferedBytes: config.limits.maxBufferedBytes,
    maxTotalBufferedBytes: config.limits.maxTotalBufferedBytes,
    slowClientTimeoutMs: config.limits.slowClientTimeoutMs,
    clock,
    logger,
    onSent: (n) => metrics.wsSent.inc(n),
    onDropped: (n) => metrics.wsDropped.inc(n),
    onConflated: (n) => metrics.conflated.inc(n),
    onClosed: (reason) => metrics.disconnects.inc(reason),
  });
}

/**
 * The bridge, delivering readings through the stream to the hub, link changes to both, and the
 * command topics' messages to the command service (which it then publishes through).
 */
export function bridgeOf(
  ctx: PartsContext,
  url: string,
  { hub, stream, commands }: { hub: Hub; stream: Stream; commands: CommandService },
): Bridge {
  const { config, metrics, clock, logger } = ctx;
  const bridge = startBridge({
    url,
    mqtt: config.mqtt,
    rateLimitMs: config.limits.rateLimitMs,
    maxSensors: config.limits.maxSensors,
    sensorTtlMs: config.limits.sensorTtlMs,
    metrics,
    logger,
    clock,
    onHeard: (sensorId) => stream.heard(sensorId),
    onForget: (sensorId) => stream.forget(sensorId),
    onRefused: (at) => stream.refused(at),
    onReading: (r) => {
      stream.reading(r);
      metrics.readingsForwarded.inc();
      metrics.latency.observe((clock.now() - r.receivedAt) / 1000);
    },
    onStatus: (up) => {
      stream.link(up);
      const mqtt = up ? "connected" as const : "disconnected" as const;
      hub.broadcast(JSON.stringify(envelopeOf("bridge_status", { mqtt }, new Date(clock.now()))));
    },
    commands: {
      topic: config.commands.topic,
      ackTopic: config.commands.ackTopic ?? commandAckTopicOf(config.commands.topic),
      onAck: (sensorId, payload) => commands.onAck(sensorId, payload),
      onCommand: (sensorId, payload, retained) => commands.onCommand(sensorId, payload, retained),
    },
  });
  commands.attach(bridge);
  return bridge;
}

/** The HTTP handler over the parts. */
export function handlerOf(
  { config, hub, metrics, logger, bridge, sockets, stream, replies, commands }: Parts,
  more: { verifier: Verifier; clock: Clock; stopping: () => boolean; instance: () => string },
): ReturnType<typeof createHandler> {
  return createHandler({
    hub,
    metrics,
    logger,
    sockets,
    ...more,
    limits: config.limits,
    refusalLog: new LogLimiter(REFUSAL_LOGS_PER_SECOND, 1_000),
    expiries: new Deadlines<Expiring>(more.clock, (client) => client.expire()),
    notices: new Deadlines<Expiring>(more.clock, (client) => client.expiringSoon()),
    tokenRefreshWindowMs: config.stream.tokenRefreshWindowMs,
    history: replies,
    commands,
    staleStatuses: () => stream.staleStatuses(),
    clockToleranceMs: config.auth.clockToleranceSec * 1000,
    mqttConnected: () => bridge.connected,
    latest: () => bridge.latest(),
  });
}

/** Points the metrics' gauges at the parts. */
export function bindMetrics({ metrics, hub, sockets, bridge, stream }: Parts): void {
  metrics.bind({
    clients: () => hub.size,
    slowClients: () => hub.slowCount,
    sockets: () => sockets.size,
    lingering: () => sockets.lingering,
    mqttConnected: () => bridge.connected,
    bufferedBytes: () => hub.bufferedBytes(),
    overloaded: () => hub.overloaded,
    sensors: () => stream.counts(),
    history: () => stream.history.stats(),
  });
}
