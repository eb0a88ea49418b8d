/**
 * What an admitted client gets: its place in the hub, then `connection_status`, `bridge_status`,
 * an `error` when its `?sensors=` asked for sensors its token excludes, the last reading of
 * every sensor it may see, and the status of every stale one. The greeting's texts are built by a pure function.
 * @module
 */
import { envelopeOf } from "../protocol/mod.ts";
import type { Claims } from "./auth.ts";
import type { Hub, HubClient, Transport } from "./hub.ts";
import type { LatestReading } from "./ingest.ts";
import type { StatusText } from "./stream.ts";

/** What the greeting says. */
export interface GreetingFacts {
  clientId: string;
  /** The serving process (`host:port`, `/worker` with several). */
  instance: string;
  /** Clients connected, this one included. */
  activeClients: number;
  mqttConnected: boolean;
  /** Sensors asked for that the token excludes, and what it allows. */
  denied: readonly string[];
  allowed: ReadonlySet<string> | null;
  at: Date;
}

/** The greeting's messages, serialized, in the order they are sent. */
export function greetingTexts(facts: GreetingFacts): string[] {
  const { at } = facts;
  const status = {
    status: "connected" as const,
    client_id: facts.clientId,
    active_clients: facts.activeClients,
    instance: facts.instance,
  };
  const mqtt = facts.mqttConnected ? "connected" as const : "disconnected" as const;
  const texts = [
    JSON.stringify(envelopeOf("connection_status", status, at)),
    JSON.stringify(envelopeOf("bridge_status", { mqtt }, at)),
  ];
  if (facts.denied.length > 0) {
    // Otherwise a client asking only for sensors its token excludes would wait in silence.
    const message = `not permitted by your token: ${facts.denied.join(", ")}; it may see ` +
      ([...facts.allowed ?? []].join(", ") || "no sensors");
    texts.push(JSON.stringify(envelopeOf("error", { code: "invalid_message", message }, at)));
  }
  return texts;
}

/** A fresh 8-hex-char client id that `taken` does not report as in use. */
export function newClientId(taken: (id: string) => boolean): string {
  while (true) {
    const id = crypto.randomUUID().slice(0, 8);
    if (!taken(id)) return id;
  }
}

/** Who joins, with what, and what the server knows now. */
export interface Arrival {
  claims: Claims;
  remoteAddr: string;
  transport: Transport;
  /** Initial subscriptions; `null` = all the token allows. */
  subscriptions: string[] | null;
  denied: readonly string[];
  now: number;
  mqttConnected: boolean;
  instance: string;
  latest: Iterable<LatestReading>;
  /** `sensor_status` of every stale sensor, sent after the snapshot. */
  statuses: Iterable<StatusText>;
  /** The latest `command_event` of each command in flight. */
  commands: Iterable<StatusText>;
}

/** Adds the client to the hub and sends its greeting and snapshot; returns it. */
export function welcome(hub: Hub, arrival: Arrival): HubClient {
  const { claims } = arrival;
  const id = newClientId((candidate) => hub.get(candidate) !== undefined);
  const client = hub.add(
    {
      id,
      subject: claims.sub,
      remoteAddr: arrival.remoteAddr,
      connectedAt: arrival.now,
      allowed: claims.sensors,
    },
    arrival.transport,
    arrival.subscriptions,
  );
  const greeting = greetingTexts({
    clientId: id,
    instance: arrival.instance,
    activeClients: hub.size,
    mqttConnected: arrival.mqttConnected,
    denied: arrival.denied,
    allowed: claims.sensors,
    at: new Date(arrival.now),
  });
  for (const text of greeting) hub.sendTo(id, text);
  hub.offerSnapshot(id, {
    readings: arrival.latest,
    statuses: arrival.statuses,
    commands: arrival.commands,
  });
  return client;
}
