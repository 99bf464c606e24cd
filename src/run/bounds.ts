// Bounds the worker threads need, apart from config.ts (which loads every
// scenario for its defaults): a worker loads only the scenario it runs.

export const BYSTANDER_OFF_NS = 10_000;

/**
 * How long every CPU may take to come online: one bound for the workers
 * (each waits for the others) and the main thread. Starting many workers on
 * few cores takes a while; that is not a stall.
 */
export function startupBoundMs(c: { stallMs: number; cpus: number }): number {
  return c.stallMs + 500 * c.cpus;
}
