/**
 * One worker of `serve --workers`: a Web Worker that runs `startServer` on the shared port
 * (`SO_REUSEPORT`) with its own MQTT link, hub and history, and talks to the supervisor
 * (`workers.ts`) in the messages of `worker_protocol.ts`: its log events and metrics go up; the
 * merged `/metrics` and the order to stop come down.
 *
 * This module is a worker's entry point: importing it installs the message handler on the
 * worker's global scope.
 * @module
 */
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "../lib/log.ts";
import { Metrics } from "./metrics.ts";
import { type ServerHandle, startServer } from "./server.ts";
import { errorData, type FromWorker, type ToWorker } from "./worker_protocol.ts";

/** What this module needs of a worker's global scope. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
}

/**
 * This worker's metrics: counted here, but rendered as every worker's (the text the supervisor
 * merges and sends down), so a scrape that lands on any worker sees them all.
 */
class SharedMetrics extends Metrics {
  /** The merged text; until the first one comes, this worker's own figures. */
  merged: string | undefined;

  /** This worker's own figures, for the supervisor. */
  own(): string {
    return super.render();
  }

  /** Every worker's figures, as of the supervisor's last merge (at most about a second old). */
  override render(): string {
    return this.merged ?? super.render();
  }
}

/** A logger that hands each event to the supervisor, dropping those below `level` here. */
function supervisorLogger(scope: WorkerScope, level: LogLevel): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const log = (lvl: Exclude<LogLevel, "silent">) => (event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    try {
      scope.postMessage({ type: "log", level: lvl, event, fields });
    } catch {
      // A field that cannot be cloned (a function, a socket): send it as text.
      const text = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]));
      scope.postMessage({ type: "log", level: lvl, event, fields: text });
    }
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** Runs one worker on `scope`: waits for `start`, serves, reports, stops when told. */
function runWorker(scope: WorkerScope): void {
  const metrics = new SharedMetrics();
  let server: ServerHandle | undefined;
  let stop: { drain: boolean } | undefined;
  const report = () =>
    scope.postMessage({ type: "report", text: metrics.own(), sockets: server?.sockets ?? 0 });

  const start = async (m: Extract<ToWorker, { type: "start" }>) => {
    metrics.merged = m.metrics;
    try {
      server = await startServer(m.options, {
        logger: supervisorLogger(scope, m.logLevel),
        metrics,
      });
    } catch (error) {
      scope.postMessage({ type: "failed", error: errorData(error) });
      return;
    }
    scope.postMessage({ type: "listening", port: server.addr.port });
    server.finished.then(
      () => undefined,
      (error: unknown) => errorData(error),
    ).then((error) => {
      // The last counts first, so that none is lost when the supervisor retires this worker.
      report();
      scope.postMessage(error ? { type: "stopped", error } : { type: "stopped" });
    });
    // Told to stop while starting.
    if (stop) void server.shutdown(stop);
  };

  scope.onmessage = (event) => {
    const m = event.data;
    switch (m.type) {
      case "start":
        void start(m);
        break;
      case "metrics":
        metrics.merged = m.text;
        break;
      case "report":
        report();
        break;
      case "shutdown":
        // A second order without drain ends a drain at once, as for one server.
        stop = { drain: m.drain && (stop?.drain ?? true) };
        if (server) void server.shutdown(stop);
        break;
    }
  };
}

runWorker(globalThis as unknown as WorkerScope);
