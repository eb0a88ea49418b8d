/**
 * A worker of `serve --workers` that a test can crash: the real `worker_main.ts`, plus an
 * uncaught error thrown when its index is posted on the `CRASH_CHANNEL` broadcast channel.
 * What the supervisor sees is exactly a worker dying of a bug: an uncaught error, the worker
 * gone and its sockets dropped. Loaded through `startWorkers`' `workerUrl`, so the production
 * worker has no test hook.
 */
import "../server/worker_main.ts";
import { CRASH_CHANNEL } from "./_crash_channel.ts";

let index = -1;
addEventListener("message", (event) => {
  const data = (event as MessageEvent).data as { type?: string; index?: number };
  if (data.type === "start") index = data.index ?? -1;
});
new BroadcastChannel(CRASH_CHANNEL).onmessage = (event) => {
  if (event.data === index) throw new Error(`worker ${index} crashed on purpose (test)`);
};
