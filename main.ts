/**
 * sensorstream: `serve`, `simulate`, `tail`, `command`, `token` and `demo` in one program.
 * @module
 */
import { runCli } from "./cli/mod.ts";

if (import.meta.main) Deno.exit(await runCli(Deno.args));
