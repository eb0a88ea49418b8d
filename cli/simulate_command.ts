/**
 * `simulate`: its option table -> `runSimulator`, with a one-line live status on a terminal and
 * plain log lines otherwise.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { createLogger } from "../lib/log.ts";
import { runSimulator, type SimulatorOptions, type SimulatorSummary } from "../sim/mod.ts";
import type { CliContext } from "./context.ts";
import { SIMULATE_OPTIONS } from "./options/simulate.ts";
import { addOptions, configFrom, valuesOf } from "./options/table.ts";
import { mqttPasswordOf } from "./secrets.ts";
import { ProgressView, summaryText } from "./simulate_view.ts";

/** Builds the `simulate` subcommand. */
export function simulateCommand(ctx: CliContext): Command {
  const cmd = new Command("simulate")
    .description("Publish realistic sensor readings to an MQTT broker (for demos and load tests).")
    .addHelpText(
      "after",
      `
Readings follow a day/night cycle: temperature and light rise by day (light is 0 at night),
humidity moves against temperature, soil moisture dries slowly and jumps up when irrigated.

Each sensor answers irrigate commands on its command topic (sensors/<id>/commands): it acks
accepted, its soil moisture rises while the valve is open (1.5 points per 10 s, at least 1),
then it acks done with the moisture before and after. --command-reply fail or silent shows the
failure and timeout paths.

Examples:
  $ sensorstream simulate                                 # V1..V5, one reading each per second
  $ sensorstream simulate --sensors V1,V2 --interval 200ms --time-scale 1440
  $ sensorstream simulate --rate 500 --duration 1m --invalid-ratio 0.05   # load test
  $ sensorstream simulate --count 100 --seed 42 --start 2024-06-01T00:00Z --qos 1   # replayable
  $ sensorstream simulate --outage V3:30s@20s     # V3 silent from 20 s to 50 s in: serve marks it stale
  $ sensorstream simulate --command-reply fail    # every irrigate: accepted, then failed (valve stuck)
  $ MQTT_BROKER_URL=broker.local sensorstream simulate     # bare host = mqtt://broker.local:1883`,
    );
  addOptions(cmd, SIMULATE_OPTIONS, ctx);
  return cmd.action(async (_flags, command) => {
    const io = ctx.io;
    const c = command as unknown as Command;
    const o = SIMULATE_OPTIONS;
    const flags = valuesOf(c, o);
    const mqttPassword = await mqttPasswordOf(c, flags, io);
    const options = configFrom(o, { ...flags, mqttPassword }) as unknown as SimulatorOptions;
    if (options.ratePerSec === undefined) options.intervalMs ??= 1_000;
    const view = new ProgressView(io, {
      quiet: flags.quiet === true,
      showClock: flags.timeScale !== 1 || flags.start !== undefined,
    });
    const logger = createLogger({
      level: flags.quiet ? "warn" : "info",
      write: (line, level) => view.log(line, level),
    });
    view.logger = logger;
    let summary: SimulatorSummary;
    try {
      summary = await runSimulator(
        { ...options, signal: io.signal },
        { logger, onStatus: (s) => view.update(s) },
      );
    } finally {
      view.stop();
    }
    logger.info(summaryText(summary), { seed: summary.seed });
    ctx.exitCode = 0;
  }) as unknown as Command;
}
