/**
 * Seeded pseudo-random numbers, so a simulator run can be replayed with `--seed`.
 * @module
 */

/**
 * A fast seeded PRNG (mulberry32) returning numbers in [0, 1). Not for cryptography.
 * The same seed always yields the same sequence.
 */
export function createRandom(seed: number): () => number {
  let a = Math.trunc(seed) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A standard normal sample (Box–Muller); always draws exactly two numbers from `random`. */
export function gaussian(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log stays finite
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A uniform sample in [min, max). */
export function uniform(random: () => number, min: number, max: number): number {
  return min + (max - min) * random();
}
