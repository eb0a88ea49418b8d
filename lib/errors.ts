/**
 * The error classes shared by every command. Bad input otherwise raises built-ins
 * (`TypeError`, `RangeError`); every message says what failed, the value, and what to do.
 * @module
 */

/**
 * A configuration value is invalid. `option` names it as the library knows it (a config path
 * such as `limits.maxClients`); the CLI turns that into its flag and environment variable.
 */
export class OptionError extends RangeError {
  /** The option, as a config path (`port`, `mqtt.url`, `limits.idleTimeoutMs`). */
  readonly option: string;
  /**
   * The message without the option's name, for the CLI to prefix with flag and env var; another
   * option it mentions is written `{path}` (`{mqtt.username}`).
   */
  readonly problem: string;
  /** `problem` says what is wrong with the value and what is allowed, without naming the option. */
  constructor(option: string, problem: string, options?: ErrorOptions) {
    super(`${option} ${withPaths(problem)}`, options);
    this.name = "OptionError";
    this.option = option;
    this.problem = problem;
  }
}

/**
 * Something the program needs at start (a port, a broker) is not available; exit code 1.
 * Options its message mentions are written `{path}` (`{port}`), as in {@link OptionError}.
 */
export class StartupError extends Error {
  /** The message with `{path}` placeholders, for the CLI to word with its flags. */
  readonly template: string;
  /** Creates a startup error; `message` names the fix. */
  constructor(message: string, options?: ErrorOptions) {
    super(withPaths(message), options);
    this.name = "StartupError";
    this.template = message;
  }
}

/** `text` with each `{path}` placeholder written as the path itself. */
export function withPaths(text: string): string {
  return wordPaths(text, (path) => path);
}

/**
 * `text` (a value a user gave, such as the topic `sensors/{id}/commands`) made safe to put in a
 * message with `{path}` placeholders: its braces stay braces.
 */
export function literal(text: string): string {
  return text.replaceAll("{", "\\{");
}

/** Replaces each `{path}` placeholder with `word(path)`, and each {@link literal} brace with `{`. */
export function wordPaths(text: string, word: (path: string) => string): string {
  return text.replace(
    /\\\{|\{([\w.]+)\}/g,
    (_match, path: string | undefined) => path === undefined ? "{" : word(path),
  );
}
