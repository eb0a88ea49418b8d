/**
 * The CLI's own error: bad command-line input, exit code 2.
 * @module
 */

/** Invalid command-line or configuration input; the CLI exits with code 2. */
export class UsageError extends Error {
  /** Process exit code for this error. */
  readonly exitCode = 2;
  /** Creates a usage error; `message` says what is wrong and how to fix it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}
