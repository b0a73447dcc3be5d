/**
 * How a -W master starts a worker: the reserved first argument and the one environment variable
 * that tells the worker where its master is. Kept in a module of its own, with no imports, so the
 * entry point (`src/main.ts`) can recognise a worker before it loads anything else.
 *
 * @module
 */

/**
 * First argument of a worker's command line. It is not a CLI command (the CLI never sees it): the
 * entry point hands such a process to `worker.ts` instead of loading citty and consola, which read
 * environment variables a jailed Deno worker is not allowed to see.
 */
export const WORKER_COMMAND = "__worker";

/**
 * Environment variable giving a worker its master's control address and its token:
 * `127.0.0.1:PORT TOKEN`. A jailed Deno worker is granted exactly the variables it is given.
 */
export const MASTER_VARIABLE = "PROXY_MASTER";
