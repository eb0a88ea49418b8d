/**
 * Pure sensor models for the simulator: each station follows a day/night cycle with bounded
 * random walks on top, so the data looks like a field station rather than uniform noise.
 * No I/O and no clock: time (simulated ms since the epoch, UTC) and randomness are passed in.
 * @module
 */
import { gaussian, uniform } from "./random.ts";

const HOUR_MS = 3_600_000;

/** The measured values of one reading, inside the protocol's ranges. */
export interface SensorValues {
  /** Soil moisture, percent (0–100). */
  moisture: number;
  /** Air temperature, °C. */
  temperature: number;
  /** Relative humidity, percent (0–100). */
  humidity: number;
  /** Light, lux (0 at night). */
  light: number;
}

/** One station: fixed traits drawn at start, plus the state of its random walks. */
export interface SensorState {
  readonly sensorId: string;
  /** Simulated time of the last step, ms since the epoch. */
  readonly t: number;
  /** Daily mean temperature, °C (stations differ a little). */
  readonly meanTemperature: number;
  /** Half the day/night temperature swing, °C. */
  readonly temperatureAmplitude: number;
  /** Station offset of relative humidity, percent points. */
  readonly humidityOffset: number;
  /** Clear-sky midday light of this station, lux. */
  readonly peakLight: number;
  /** Moisture lost per hour at 20 °C in the dark, percent points. */
  readonly dryRatePerHour: number;
  /** Irrigation starts when moisture falls below this. */
  readonly irrigateBelow: number;
  /** Weather deviation from the daily temperature curve, °C (mean-reverting walk). */
  readonly temperatureDrift: number;
  /** Humidity deviation, percent points (mean-reverting walk). */
  readonly humidityDrift: number;
  /** Cloud cover 0–1 (mean-reverting walk); dims the light. */
  readonly cloud: number;
  /** True soil moisture, percent, before sensor noise. */
  readonly moisture: number;
}

/** Result of one {@link nextReading} step. */
export interface Reading {
  state: SensorState;
  values: SensorValues;
  /** True when this step irrigated the station (moisture jumped up). */
  irrigated: boolean;
}

/** Creates a station with traits drawn from `random` (the seeded PRNG) at simulated time `t`. */
export function initialState(sensorId: string, random: () => number, t: number): SensorState {
  return {
    sensorId,
    t,
    meanTemperature: 17 + uniform(random, -1.5, 1.5),
    temperatureAmplitude: uniform(random, 5, 8),
    humidityOffset: uniform(random, -5, 5),
    peakLight: uniform(random, 55_000, 75_000),
    dryRatePerHour: uniform(random, 0.8, 1.4),
    irrigateBelow: uniform(random, 28, 34),
    temperatureDrift: clamp(gaussian(random) * TEMPERATURE_WALK.sigma, TEMPERATURE_WALK),
    humidityDrift: clamp(gaussian(random) * HUMIDITY_WALK.sigma, HUMIDITY_WALK),
    cloud: Math.min(1, Math.max(0, 0.3 + gaussian(random) * CLOUD_WALK.sigma)),
    moisture: uniform(random, 40, 80),
  };
}

interface Walk {
  /** Time constant of the pull back to the mean, hours. */
  tauHours: number;
  /** Stationary standard deviation. */
  sigma: number;
}
const TEMPERATURE_WALK: Walk = { tauHours: 2, sigma: 1.2 };
const HUMIDITY_WALK: Walk = { tauHours: 1, sigma: 3 };
const CLOUD_WALK: Walk = { tauHours: 3, sigma: 0.25 };

/**
 * Advances a station to simulated time `t` and returns its reading. Always draws the same
 * number of values from `random`, so a seed replays exactly given the same times.
 */
export function nextReading(state: SensorState, t: number, random: () => number): Reading {
  const dtHours = Math.max(0, t - state.t) / HOUR_MS;
  const hour = (((t / HOUR_MS) % 24) + 24) % 24;
  // Sun up from 06:00 to 18:00 (UTC), highest at noon.
  const sun = hour > 6 && hour < 18 ? Math.sin((Math.PI * (hour - 6)) / 12) : 0;

  const temperatureDrift = walk(state.temperatureDrift, 0, TEMPERATURE_WALK, dtHours, random);
  const humidityDrift = walk(state.humidityDrift, 0, HUMIDITY_WALK, dtHours, random);
  const cloud = Math.min(1, Math.max(0, walk(state.cloud, 0.3, CLOUD_WALK, dtHours, random)));
  const moistureNoise = gaussian(random) * 0.15;
  const lightNoise = gaussian(random) * 0.03;
  const irrigationTarget = uniform(random, 70, 85);

  // Coldest around 03:00, warmest around 15:00.
  const daily = Math.sin((2 * Math.PI * (hour - 9)) / 24);
  const temperature = state.meanTemperature + state.temperatureAmplitude * daily +
    temperatureDrift;
  // Warm air holds more water, so relative humidity falls as temperature rises.
  const humidity = 60 + state.humidityOffset - 3 * (temperature - state.meanTemperature) +
    humidityDrift;
  const light = state.peakLight * sun ** 1.2 * (1 - 0.75 * cloud) * (1 + lightNoise);

  // Soil dries faster when warm and in sunshine; irrigation refills it in one go.
  const evaporation = Math.max(0.3, 1 + 0.04 * (temperature - 20) + 0.5 * sun);
  let moisture = state.moisture - state.dryRatePerHour * evaporation * dtHours;
  const irrigated = moisture < state.irrigateBelow;
  if (irrigated) moisture = irrigationTarget;

  return {
    state: { ...state, t, temperatureDrift, humidityDrift, cloud, moisture },
    values: {
      moisture: round(Math.min(100, Math.max(0, moisture + moistureNoise)), 1),
      temperature: round(Math.min(60, Math.max(-40, temperature)), 1),
      humidity: round(Math.min(100, Math.max(5, humidity)), 1),
      light: sun === 0 ? 0 : Math.max(0, Math.round(light)),
    },
    irrigated,
  };
}

/** The JSON payload of a reading, as published on `sensors/{id}/data`. */
export function readingPayload(sensorId: string, t: number, values: SensorValues): string {
  return JSON.stringify({ sensor_id: sensorId, timestamp: new Date(t).toISOString(), ...values });
}

/** The kinds of malformed payload {@link invalidPayload} produces. */
export const INVALID_KINDS = ["bad_json", "out_of_range", "wrong_type", "missing_field"] as const;
/** One of {@link INVALID_KINDS}. */
export type InvalidKind = typeof INVALID_KINDS[number];

/** A payload the server must reject, of a kind chosen by `random` (or the one given). */
export function invalidPayload(
  random: () => number,
  sensorId: string,
  t: number,
  kind: InvalidKind = pick(random, INVALID_KINDS),
): string {
  const base: Record<string, unknown> = {
    sensor_id: sensorId,
    timestamp: new Date(t).toISOString(),
    moisture: 45.2,
    temperature: 21.7,
    humidity: 58.1,
    light: 12_000,
  };
  const field = pick(random, ["moisture", "temperature", "humidity", "light"] as const);
  switch (kind) {
    case "bad_json":
      return JSON.stringify(base).slice(0, 20 + Math.floor(random() * 40));
    case "out_of_range":
      base[field] = { moisture: 150, temperature: 180, humidity: -5, light: -1 }[field];
      return JSON.stringify(base);
    case "wrong_type":
      base[field] = String(base[field]);
      return JSON.stringify(base);
    case "missing_field":
      delete base[field];
      return JSON.stringify(base);
  }
}

/** Ornstein–Uhlenbeck step: exact for any `dtHours`, then clamped so the walk stays bounded. */
function walk(x: number, mean: number, w: Walk, dtHours: number, random: () => number): number {
  const decay = Math.exp(-dtHours / w.tauHours);
  const next = mean + (x - mean) * decay +
    w.sigma * Math.sqrt(1 - decay * decay) * gaussian(random);
  return mean + clamp(next - mean, w);
}

function clamp(deviation: number, w: Walk): number {
  return Math.min(3 * w.sigma, Math.max(-3 * w.sigma, deviation));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] ?? items[0]!;
}
