/**
 * The protocol as JSON Schema (draft 2020-12), for `deno task schema` and clients in other
 * languages.
 * @module
 */
import { z } from "zod";
import {
  ClientMessageSchema,
  CommandAckSchema,
  CommandPublishSchema,
  SensorPayloadSchema,
  ServerMessageSchema,
} from "./messages.ts";

/** JSON Schema (draft 2020-12) of every message, for `deno task schema` and other languages. */
export function protocolJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sensorstream protocol",
    $defs: {
      ServerMessage: z.toJSONSchema(ServerMessageSchema),
      ClientMessage: z.toJSONSchema(ClientMessageSchema),
      SensorPayload: z.toJSONSchema(SensorPayloadSchema),
      /** What a device receives on its command topic. */
      CommandPublish: z.toJSONSchema(CommandPublishSchema),
      /** What a device answers on its ack topic. */
      CommandAck: z.toJSONSchema(CommandAckSchema),
    },
  };
}
