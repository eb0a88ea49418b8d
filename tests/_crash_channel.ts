/** The broadcast channel on which a test crashes a worker of `_crashing_worker.ts`: post its index. */
export const CRASH_CHANNEL = "sensorstream-test-crash";
