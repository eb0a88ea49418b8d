/**
 * Draws a block of lines in place on a terminal: the next frame moves the cursor back up
 * over the last one instead of scrolling. Redraws are throttled, and a slow tick keeps
 * times such as reading ages moving when no messages arrive.
 * @module
 */

/** Options of {@link LiveScreen}. */
export interface LiveScreenOptions {
  /** Least time between two redraws, ms (default 100: at most 10 frames a second). */
  intervalMs?: number;
  /** Redraw at least this often, ms (default 1000); 0 = only when invalidated. */
  tickMs?: number;
  /** Clock in ms (default `performance.now`). */
  now?: () => number;
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
/** Clears from the cursor to the end of the line / of the screen. */
const CLEAR_LINE = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";

/**
 * A frame redrawn in place. `render` returns the frame as lines joined with `\n`; they must
 * fit the terminal width (a wrapped line would throw the cursor arithmetic off).
 */
export class LiveScreen {
  readonly #write: (text: string) => void;
  readonly #render: () => string;
  readonly #intervalMs: number;
  readonly #tickMs: number;
  readonly #now: () => number;
  /** Lines of the frame on screen; 0 when nothing is drawn. */
  #lines = 0;
  #lastDraw = -Infinity;
  #pending: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #running = false;

  /** `write` goes to the terminal (stdout); `render` builds the current frame. */
  constructor(
    write: (text: string) => void,
    render: () => string,
    options: LiveScreenOptions = {},
  ) {
    this.#write = write;
    this.#render = render;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#tickMs = options.tickMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Hides the cursor, draws the first frame and starts the tick. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#write(HIDE_CURSOR);
    this.draw();
    if (this.#tickMs > 0) this.#tick = setInterval(() => this.invalidate(), this.#tickMs);
  }

  /** Asks for a redraw: at once when the last one is old enough, else at the interval's end. */
  invalidate(): void {
    if (!this.#running || this.#pending !== undefined) return;
    const wait = this.#lastDraw + this.#intervalMs - this.#now();
    if (wait <= 0) this.draw();
    else {
      this.#pending = setTimeout(() => {
        this.#pending = undefined;
        this.draw();
      }, wait);
    }
  }

  /** Draws the current frame now, over the previous one. */
  draw(): void {
    if (!this.#running) return;
    clearTimeout(this.#pending);
    this.#pending = undefined;
    const frame = this.#render().split("\n").map((l) => l + CLEAR_LINE).join("\n");
    this.#write(this.#home() + frame + CLEAR_BELOW);
    this.#lines = frame.split("\n").length;
    this.#lastDraw = this.#now();
  }

  /** Erases the frame, runs `fn` (which may print lines of its own), and draws again below. */
  log(fn: () => void): void {
    if (this.#running && this.#lines > 0) {
      this.#write(this.#home() + CLEAR_BELOW);
      this.#lines = 0;
    }
    fn();
    if (this.#running) this.draw();
  }

  /** Draws the last frame, leaves the cursor below it, shows it again and stops the timers. */
  stop(): void {
    if (!this.#running) return;
    this.draw();
    this.#running = false;
    clearInterval(this.#tick);
    this.#write("\n" + SHOW_CURSOR);
    this.#lines = 0;
  }

  /** Moves the cursor to the first column of the frame's first line. */
  #home(): string {
    if (this.#lines === 0) return "";
    return this.#lines > 1 ? `\r\x1b[${this.#lines - 1}A` : "\r";
  }
}
