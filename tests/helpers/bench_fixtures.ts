/**
 * Fixtures of the benchmark's tests: a synthetic wrk run of one contender (nothing is started) and
 * what starting a contender needs in a temporary directory.
 */

import type { ContenderSetup } from "../../scripts/bench/contenders.ts";
import type { ProcessRegistry } from "../../scripts/bench/processes.ts";
import type { BenchMode, BodyName, RunSample } from "../../scripts/bench/report.ts";

/** One round of one contender: `cpu` microseconds per request, `p99` microseconds, `rps` requests/s. */
export function syntheticRun(
  contender: string,
  mode: BenchMode,
  body: BodyName,
  figures: { cpu: number; p99?: number; rps?: number },
): RunSample {
  const p99 = figures.p99 ?? 2_000;
  const requestsPerSecond = figures.rps ?? 40_000;
  const requests = requestsPerSecond * 3;
  return {
    contender,
    mode,
    body,
    round: 1,
    wrk: {
      requests,
      durationSeconds: 3,
      requestsPerSecond,
      bytesRead: requests * 100,
      bytesPerSecond: requestsPerSecond * 100,
      latencyAverageMicros: p99 / 3,
      latencyMaxMicros: p99 * 2,
      latencyPercentilesMicros: { p50: p99 / 4, p75: p99 / 2, p90: p99 * 0.8, p99 },
      socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
      non2xxOr3xxResponses: 0,
    },
    cpuMicros: figures.cpu * requests,
    softirqMicros: null,
    otherLoadMicros: null,
    log: null,
    stats: null,
  };
}

/** What starting a contender needs, for a run in `directory` (no log receiver, no certificate). */
export function contenderSetupIn(directory: string, registry: ProcessRegistry, projectRoot: string): ContenderSetup {
  return {
    registry,
    directory,
    projectRoot,
    cpuList: null,
    limits: { clientConnections: 100, fileLimit: 1_024 },
    proxyEnv: {},
    logPort: null,
    certificatePath: null,
  };
}
