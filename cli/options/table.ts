/**
 * Options declared once: each entry (flag, environment variable, default, parser, help, and the
 * config path it sets) produces the commander option, the environment lookup, the typed value,
 * and the flag/env names used when the library reports that path as invalid.
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { OptionError, wordPaths } from "../../lib/errors.ts";
import { UsageError } from "../errors.ts";
import type { CliContext } from "../context.ts";
import type { CliIo } from "../io.ts";

/** One option of one command. */
export interface OptionSpec<V = unknown> {
  /** commander flags: `--port <port>`, `--json`, `-q, --quiet`, `--jwt-allow-no-exp [bool]`. */
  readonly flags: string;
  /** Help text (the environment variable and default are appended). */
  readonly help: string;
  /** Environment variable read when the flag is not given. */
  readonly env?: string;
  /** Parses the flag's or variable's text; throws `InvalidArgumentError` with the reason. */
  readonly parse?: (text: string) => V;
  /** Value when neither flag nor variable is given. */
  readonly default?: V;
  /** How help shows the default, when the value itself would not read well. */
  readonly defaultText?: string;
  /** Allowed values (commander checks flags; the table checks the variable). */
  readonly choices?: readonly string[];
  /** Key of an option this one cannot be combined with. */
  readonly conflicts?: string;
  /** The config path this option sets (how the library names it in an `OptionError`). */
  readonly path?: string;
  /** Converts the parsed value into the config's unit (seconds to ms, …). */
  readonly toConfig?: (value: V) => unknown;
}

/** A command's options by key; the key is the flag in camelCase, as commander names it. */
// deno-lint-ignore no-explicit-any -- specs of every value type live in one table
export type OptionTable = Record<string, OptionSpec<any>>;

/** The parsed value of each option of a table. */
export type OptionValues<T> = {
  [K in keyof T]: T[K] extends OptionSpec<infer V>
    ? T[K] extends { default: unknown } ? V : V | undefined
    : never;
};

/** An option's names, all that messages need. */
export type OptionNames = Pick<OptionSpec, "flags" | "env">;

/** Declares an option, keeping its value type (and whether it has a default) for values. */
export function option<V = string>(
  spec: OptionSpec<V> & { default: V },
): OptionSpec<V> & { default: V };
/** Declares an option without a default: its value may be `undefined`. */
export function option<V = string>(spec: OptionSpec<V>): OptionSpec<V>;
export function option<V>(spec: OptionSpec<V>): OptionSpec<V> {
  return spec;
}

/**
 * Adds every option of `table` to `cmd`, and a hook that, when `cmd` runs, reads the environment
 * variables of the options not given as flags through `ctx.io.env` (so tests can inject an
 * environment) and records the table in `ctx` (so errors can be worded with its names).
 */
export function addOptions<C>(cmd: C, table: OptionTable, ctx: CliContext): C {
  for (const [key, spec] of Object.entries(table)) {
    const opt = commanderOption(spec);
    if (opt.attributeName() !== key) {
      throw new TypeError(`option key '${key}' must be '${opt.attributeName()}' for ${spec.flags}`);
    }
    (cmd as unknown as Command).addOption(opt);
  }
  (cmd as unknown as Command).hook("preAction", (_parent, action) => {
    if (action !== (cmd as unknown as Command)) return;
    ctx.options = table;
    applyEnvironment(action as Command, table, ctx.io);
  });
  return cmd;
}

function commanderOption(spec: OptionSpec): Option {
  const env = spec.env ? ` [env: ${spec.env}]` : "";
  const opt = new Option(spec.flags, spec.help + env);
  if (spec.parse) {
    const parse = spec.parse;
    opt.argParser((text: string) => parse(text));
  }
  if (spec.choices) opt.choices(spec.choices as string[]);
  if (spec.default !== undefined) opt.default(spec.default, spec.defaultText);
  if (spec.conflicts) opt.conflicts(spec.conflicts);
  return opt as unknown as Option;
}

/** Variables for options whose value did not come from the command line. */
function applyEnvironment(cmd: Command, table: OptionTable, io: CliIo): void {
  for (const [key, s] of Object.entries(table)) {
    const spec: OptionSpec = s;
    if (!spec.env || cmd.getOptionValueSource(key) === "cli") continue;
    const text = io.env(spec.env);
    if (text === undefined) continue;
    let value: unknown = text;
    try {
      if (spec.choices && !spec.choices.includes(text)) {
        throw new InvalidArgumentError(`'${text}' is not one of ${spec.choices.join(", ")}`);
      }
      if (spec.parse) value = spec.parse(text);
    } catch (error) {
      throw new UsageError(`${spec.env}: ${(error as Error).message}`, { cause: error });
    }
    cmd.setOptionValueWithSource(key, value, "env");
  }
}

/** The parsed values of `cmd`'s options, typed by its table. */
export function valuesOf<T extends OptionTable>(cmd: Command, _table: T): OptionValues<T> {
  return cmd.opts() as OptionValues<T>;
}

/** True when the option's value was typed on the command line (for secrets: visible in `ps`). */
export function fromCommandLine(cmd: Command, key: string): boolean {
  return cmd.getOptionValueSource(key) === "cli";
}

/** How messages name an option: `--port / PORT`. */
export function optionName(spec: OptionNames): string {
  const flag = /--[\w-]+/.exec(spec.flags)?.[0] ?? spec.flags;
  return spec.env ? `${flag} / ${spec.env}` : flag;
}

/**
 * Sets each option with a config path into a fresh config object (`limits.maxClients` →
 * `{ limits: { maxClients } }`), converted by `toConfig`. Unset options are left out, so the
 * library's defaults apply.
 */
export function configFrom(table: OptionTable, values: Record<string, unknown>): Record<
  string,
  unknown
> {
  const config: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const spec: OptionSpec = s;
    const value = values[key];
    if (!spec.path || value === undefined) continue;
    const parts = spec.path.split(".");
    let at = config;
    for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
    at[parts.at(-1)!] = spec.toConfig ? spec.toConfig(value) : value;
  }
  return config;
}

/**
 * The library's `OptionError` in the CLI's words: the config path (and any `{path}` named in
 * the problem) replaced by flag and environment variable. Paths the table does not know stay.
 */
export function usageErrorOf(error: OptionError, table: OptionTable): UsageError {
  const problem = worded(error.problem, table);
  return new UsageError(`${worded(`{${error.option}}`, table)} ${problem}`, { cause: error });
}

/** `text` with each `{path}` placeholder written as the table's `--flag / ENV` for that path. */
export function worded(text: string, table: OptionTable): string {
  const byPath = new Map<string, string>();
  for (const s of Object.values(table)) {
    const spec: OptionSpec = s;
    if (spec.path) byPath.set(spec.path, optionName(spec));
  }
  return wordPaths(text, (path) => byPath.get(path) ?? path);
}
