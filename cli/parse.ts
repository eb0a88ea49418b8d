/**
 * Parsers for option values, shared by the subcommands. Each throws commander's
 * `InvalidArgumentError` so a bad value prints usage and exits 2.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { MAX_TIMER_MS } from "../lib/clock.ts";
import { parseSensorIds } from "../protocol/mod.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `500ms`, `1.5s`, `10m`, `1h`, `7d`; a bare number is seconds. Returns milliseconds.
 * Durations that run a timer are bounded by what a timer holds ({@link MAX_TIMER_MS}).
 */
export function parseDuration(text: string): number {
  return durationIn(text, MAX_TIMER_MS);
}

/** {@link parseDuration} without the timer bound, for lifetimes that are not timers (token TTL). */
export function parseLifetime(text: string): number {
  return durationIn(text, Number.MAX_SAFE_INTEGER);
}

function durationIn(text: string, max: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new InvalidArgumentError(
      `'${text}' is not a duration; use a number with a unit, e.g. 500ms, 2s, 10m, 1h`,
    );
  }
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
  if (ms > max) throw new InvalidArgumentError(`'${text}' is longer than ${maxText(max)}`);
  return ms;
}

/** Parses a number of seconds >= 0 for an option that runs a timer. */
export function parseSeconds(text: string): number {
  const n = parseNonNegative(text);
  if (n * 1000 > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`'${text}' is longer than ${maxText(MAX_TIMER_MS)}`);
  }
  return n;
}

function maxText(max: number): string {
  return max === MAX_TIMER_MS
    ? `the longest a timer can hold: ${Math.floor(MAX_TIMER_MS / 1000)} s (about 24 days)`
    : `${max} ms`;
}

/** Parses a non-negative number (seconds, ratios, scales). */
export function parseNonNegative(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`'${text}' is not a number >= 0`);
  }
  return n;
}

/** Parses a whole number within [min, max]. */
export function intInRange(min: number, max: number): (text: string) => number {
  return (text: string) => {
    const n = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || n < min || n > max) {
      throw new InvalidArgumentError(`'${text}' is not a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Parses a TCP port (0–65535). */
export const parsePort: (text: string) => number = intInRange(0, 65_535);

/** Parses `V1,V3` into a de-duplicated list of valid sensor ids. */
export function parseSensorList(text: string): string[] {
  const { ids, bad } = parseSensorIds(text);
  if (ids.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(
      `'${bad ?? text}' is not a sensor id; use letters, digits, '_' or '-' (e.g. V1,V3)`,
    );
  }
  return ids;
}

/** Parses `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), for flags set from the env. */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(t)) return true;
  if (["false", "0", "no", "off", ""].includes(t)) return false;
  throw new InvalidArgumentError(`'${text}' is not true or false`);
}

/** Parses a number of seconds > 0 for an option that runs a timer. */
export function parsePositiveSeconds(text: string): number {
  const n = parseSeconds(text);
  if (n === 0) throw new InvalidArgumentError(`'${text}' must be greater than 0`);
  return n;
}
