/**
 * Where the runtime API's `show info` and `show stat` get their numbers: the proxy's own snapshots
 * (`Proxy.snapshot`, the `StatsCollector` its stats pages read too), so the page, the metrics and
 * the runtime API show the same figures. The one place to change what the runtime API reads.
 *
 * @module
 */

import type { StatsReader } from "../control/types.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";

/** The stats reader of a proxy: anything that takes its snapshots (`src/engine/proxy.ts`'s `Proxy`). */
export function statsReaderFor(proxy: { snapshot(): StatsSnapshot }): StatsReader {
  return { snapshot: () => proxy.snapshot() };
}
