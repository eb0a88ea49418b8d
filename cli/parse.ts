/**
 * Parsers for option values, shared by the subcommands. Each throws commander's
 * `InvalidArgumentError` so a bad value prints usage and exits 2.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { parseSensorIds } from "../server/protocol.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `1.5s`, `10m`, `1h`, `7d`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new InvalidArgumentError(
      `'${text}' is not a duration; use a number with a unit, e.g. 500ms, 2s, 10m, 1h`,
    );
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
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
