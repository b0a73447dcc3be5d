/**
 * Ours against the socket-layer floor of the same runtime, in the same run (issue 21): CPU per
 * request of ours/<runtime> divided by floor/<runtime>'s in the same mode and body, and the floor's
 * own ratio to HAProxy, which says whether the layer alone already misses the goal. The same for
 * the memory an idle connection costs.
 *
 * @module
 */

import type { FloorProxy } from "./floor_proxies.ts";
import { FLOOR_PROXIES } from "./floor_proxies.ts";
import type { PeerRuntime } from "./peer_proxies.ts";
import type { BodyName, Summary } from "./report.ts";
import { HAPROXY_CONTENDER } from "./report.ts";
import type { IdleMemoryResult } from "./targets.ts";
import { cpuGoalVsHaproxy } from "./targets.ts";

/** The modes a floor runs in. */
const FLOOR_MODES = ["tcp", "http"] as const;
const FLOOR_BODIES: readonly BodyName[] = ["small", "1mb"];

/** Where the floor stands against issue 21's goal for this runtime and mode (16-byte rows only). */
export type FloorVerdict = "layer above the goal" | "layer within the goal";

/** Ours and the floor of one runtime in one mode and body. */
export type FloorComparison = {
  runtime: PeerRuntime;
  /** The floor's socket layer, for the report ("node:net"). */
  socketLayer: string;
  mode: "tcp" | "http";
  body: BodyName;
  oursCpuMicrosPerRequest: number | null;
  floorCpuMicrosPerRequest: number | null;
  haproxyCpuMicrosPerRequest: number | null;
  /** Ours divided by the floor: how much more than the bare layer ours spends per request. */
  oursVsFloor: number | null;
  floorVsHaproxy: number | null;
  oursVsHaproxy: number | null;
  /** Issue 21's CPU goal against HAProxy; null for 1 MB rows and runtimes without one. */
  goalVsHaproxy: number | null;
  /** null when the goal or the floor's ratio is missing. */
  verdict: FloorVerdict | null;
};

/** Idle-connection memory of ours and the floor of one runtime in one mode. */
export type FloorMemoryComparison = {
  runtime: PeerRuntime;
  mode: "tcp" | "http";
  /** RSS growth per held connection, bytes; null when that contender held none. */
  oursBytesPerConnection: number | null;
  floorBytesPerConnection: number | null;
};

/** `value / reference`, or null when either is missing, not finite, or the reference is 0. */
function ratioOf(value: number | null, reference: number | null): number | null {
  if (value === null || reference === null) return null;
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return null;
  return value / reference;
}

function cpuOf(
  summaries: readonly Summary[],
  contender: string,
  mode: string,
  body: BodyName,
): number | null {
  const summary = summaries.find((entry) =>
    entry.contender === contender && entry.mode === mode && entry.body === body
  );
  return summary === undefined || !Number.isFinite(summary.cpuMicrosPerRequest)
    ? null
    : summary.cpuMicrosPerRequest;
}

/**
 * One row per runtime, mode and body where ours or the floor was measured, in the order of
 * FLOOR_PROXIES, tcp before http, 16 bytes before 1 MB.
 */
export function floorComparisons(
  summaries: readonly Summary[],
  floors: readonly FloorProxy[] = FLOOR_PROXIES,
): FloorComparison[] {
  const rows: FloorComparison[] = [];
  for (const floor of floors) {
    for (const mode of FLOOR_MODES) {
      for (const body of FLOOR_BODIES) {
        const ours = cpuOf(summaries, `ours/${floor.runtime}`, mode, body);
        const floorCost = cpuOf(summaries, floor.name, mode, body);
        if (ours === null && floorCost === null) continue;
        const haproxy = cpuOf(summaries, HAPROXY_CONTENDER, mode, body);
        const floorVsHaproxy = ratioOf(floorCost, haproxy);
        const goal = body === "small" ? cpuGoalVsHaproxy(floor.runtime, mode) ?? null : null;
        rows.push({
          runtime: floor.runtime,
          socketLayer: floor.socketLayer,
          mode,
          body,
          oursCpuMicrosPerRequest: ours,
          floorCpuMicrosPerRequest: floorCost,
          haproxyCpuMicrosPerRequest: haproxy,
          oursVsFloor: ratioOf(ours, floorCost),
          floorVsHaproxy,
          oursVsHaproxy: ratioOf(ours, haproxy),
          goalVsHaproxy: goal,
          verdict: goal === null || floorVsHaproxy === null
            ? null
            : floorVsHaproxy > goal
            ? "layer above the goal"
            : "layer within the goal",
        });
      }
    }
  }
  return rows;
}

function perConnection(result: IdleMemoryResult | undefined): number | null {
  if (result === undefined || result.held <= 0) return null;
  return (result.rssAfterBytes - result.rssBeforeBytes) / result.held;
}

/** One row per runtime and mode where ours or the floor held idle connections. */
export function floorMemoryComparisons(
  memory: readonly IdleMemoryResult[],
  floors: readonly FloorProxy[] = FLOOR_PROXIES,
): FloorMemoryComparison[] {
  const rows: FloorMemoryComparison[] = [];
  for (const floor of floors) {
    for (const mode of FLOOR_MODES) {
      const find = (contender: string) =>
        memory.find((entry) => entry.contender === contender && entry.mode === mode);
      const ours = find(`ours/${floor.runtime}`);
      const floorResult = find(floor.name);
      if (ours === undefined && floorResult === undefined) continue;
      rows.push({
        runtime: floor.runtime,
        mode,
        oursBytesPerConnection: perConnection(ours),
        floorBytesPerConnection: perConnection(floorResult),
      });
    }
  }
  return rows;
}
