/**
 * The protocol as JSON Schema (draft 2020-12), for `deno task schema` and clients in other
 * languages.
 * @module
 */
import { z } from "zod";
import { ClientMessageSchema, SensorPayloadSchema, ServerMessageSchema } from "./messages.ts";

/** JSON Schema (draft 2020-12) of every message, for `deno task schema` and other languages. */
export function protocolJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sensorstream protocol",
    $defs: {
      ServerMessage: z.toJSONSchema(ServerMessageSchema),
      ClientMessage: z.toJSONSchema(ClientMessageSchema),
      SensorPayload: z.toJSONSchema(SensorPayloadSchema),
    },
  };
}
