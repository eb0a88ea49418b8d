/**
 * A light WebSocket client for the abuse suite: admitted or not, what it received per sensor,
 * and how it was closed. Parses each message once and keeps only counts.
 * @module
 */

/** How a socket closed. */
export interface Closed {
  code: number;
  reason: string;
  /** False when the connection ended without a close handshake (no close frame arrived). */
  wasClean: boolean;
}

/** Options of {@link StreamClient}. */
export interface StreamClientOptions {
  token: string;
  /** Token in `Authorization: Bearer` (default) or in `?token=`. */
  transport?: "header" | "query";
  /** `?sensors=` to ask for. */
  sensors?: readonly string[];
  /** Called once admitted (on `connection_status`). */
  onAdmitted?: (client: StreamClient) => void;
}

/** One client of `/ws/sensors`. */
export class StreamClient {
  readonly ws: WebSocket;
  /** `sensor_reading` messages received, per sensor id. */
  readonly perSensor: Map<string, number> = new Map();
  /** `sensor_reading` messages received. */
  readings = 0;
  /** Messages received, by type. */
  readonly byType: Map<string, number> = new Map();
  /** Resolves true on `connection_status`, false if the socket closed first. */
  readonly admitted: Promise<boolean>;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<Closed>;
  /** Set once closed. */
  closedWith: Closed | undefined;
  /** Whether the socket ever opened (the upgrade succeeded). */
  opened = false;
  #waiters = new Set<() => void>();

  /** Connects to `wsUrl` (the `/ws/sensors` URL without a query). */
  constructor(wsUrl: string, options: StreamClientOptions) {
    const query = new URLSearchParams();
    const header = (options.transport ?? "header") === "header";
    if (!header) query.set("token", options.token);
    if (options.sensors) query.set("sensors", options.sensors.join(","));
    const url = query.size > 0 ? `${wsUrl}?${query}` : wsUrl;
    this.ws = header
      ? new WebSocket(url, { headers: { authorization: `Bearer ${options.token}` } })
      : new WebSocket(url);
    let admit!: (yes: boolean) => void;
    this.admitted = new Promise((r) => admit = r);
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (e) => {
        this.closedWith = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        admit(false);
        resolve(this.closedWith);
        this.#wake();
      };
    });
    this.ws.onopen = () => this.opened = true;
    this.ws.onerror = () => {};
    this.ws.onmessage = (e) => {
      const message = JSON.parse(String(e.data)) as { type: string; data: { sensor_id?: string } };
      this.byType.set(message.type, (this.byType.get(message.type) ?? 0) + 1);
      if (message.type === "connection_status") {
        admit(true);
        options.onAdmitted?.(this);
      } else if (message.type === "sensor_reading") {
        const id = message.data.sensor_id!;
        this.perSensor.set(id, (this.perSensor.get(id) ?? 0) + 1);
        this.readings++;
      }
      this.#wake();
    };
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  /** Waits until `check()` holds, at most `ms`; returns whether it did. */
  async until(check: () => boolean, ms: number): Promise<boolean> {
    if (check()) return true;
    let wake!: () => void;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<boolean>((resolve) => {
      wake = () => check() && resolve(true);
      timer = setTimeout(() => resolve(check()), ms);
    });
    this.#waiters.add(wake);
    try {
      return await done;
    } finally {
      this.#waiters.delete(wake);
      clearTimeout(timer);
    }
  }

  /** Waits for admission or refusal, at most `ms` (false when neither came). */
  async admittedWithin(ms: number): Promise<boolean> {
    const admitted = () => (this.byType.get("connection_status") ?? 0) > 0;
    await this.until(() => admitted() || this.closedWith !== undefined, ms);
    return admitted();
  }

  /** How it closed, as `1008 too many invalid messages`, or how it ended without a close frame. */
  closeText(): string {
    const c = this.closedWith;
    if (!c) return "still open";
    const text = `${c.code} ${c.reason}`.trim();
    return c.wasClean ? text : `no close frame (event code ${text})`;
  }

  /** Closes (1000) and waits for the close, at most `ms`. */
  async close(ms = 3_000): Promise<Closed | undefined> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close(1000);
    await this.until(() => this.closedWith !== undefined, ms);
    return this.closedWith;
  }
}

/** Runs `task` over `items`, at most `concurrency` at a time. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Sleeps `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
