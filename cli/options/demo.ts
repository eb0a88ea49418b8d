/**
 * The options of `demo`: those of `serve`, and the pace of its simulator.
 * @module
 */
import { parseDuration } from "../parse.ts";
import { SERVE_OPTIONS } from "./serve.ts";
import { option } from "./table.ts";

/** Every option of `demo`. */
export const DEMO_OPTIONS = {
  ...SERVE_OPTIONS,
  simInterval: option({
    flags: "--sim-interval <duration>",
    help: "time between readings of each simulated sensor",
    parse: parseDuration,
    default: 1_000,
    defaultText: "1s",
  }),
};
