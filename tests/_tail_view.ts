/** Shared by the `tail` view tests: a fixed clock, readings and a connected table model. */
import { envelopeOf, type SensorReadingData, type SensorReadingMessage } from "../protocol/mod.ts";
import type { TableModel } from "../tail/view.ts";

export const T0 = Date.parse("2025-12-06T14:30:00.000Z");
export const URL_SHOWN = "ws://localhost:8000/ws/sensors";

export function reading(
  sensorId: string,
  values: Partial<SensorReadingData> = {},
  at = T0,
): SensorReadingMessage {
  return envelopeOf("sensor_reading", {
    sensor_id: sensorId,
    moisture: 45.2,
    temperature: 22.1,
    humidity: 65.5,
    light: 800,
    ...values,
  }, new Date(at));
}

export function connected(model: TableModel, clients = 3): void {
  model.apply(
    envelopeOf("connection_status", {
      status: "connected",
      client_id: "0a1b2c3d",
      active_clients: clients,
    }, new Date(T0)),
    T0,
  );
  model.apply(envelopeOf("bridge_status", { mqtt: "connected" }, new Date(T0)), T0);
}

export const ESC = "\x1b";
export const SGR = new RegExp(`${ESC}\\[[0-9;]*m`, "g");
