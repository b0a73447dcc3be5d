/**
 * Where the runtime API's `show info` and `show stat` get their numbers: the one place to wire the
 * stats readers into it.
 *
 * `snapshot` is `StatsCollector` (`stats_snapshot.ts`), so `show info` works. WIRING (pending): the
 * CSV and JSON writers (`src/stats/csv.ts`, in another branch) are not on main yet; once they are,
 * set `csv` and `json` here: `csv: (snapshot, options) => statsCsv(snapshot, options)`, honouring
 * `StatsFormatOptions` (`rows`: HAProxy's type mask of `show stat <iid> <type> <sid>`, the snapshot
 * being already narrowed to the proxies and server asked for; `showAddresses`: the [addr] column
 * only from level "operator" up, as HAProxy's STAT_F_SHLGNDS). Until then `show stat` answers that
 * the CSV is not available in this build, and every other command works.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { StatsReader } from "../control/types.ts";
import type { Proxy } from "./proxy.ts";
import { StatsCollector } from "./stats_snapshot.ts";

/**
 * The stats reader of `proxy` (built when the process starts serving: its uptime counts from
 * here). `stopping` says whether a graceful stop began (show info's `Stopping`).
 */
export function statsReaderFor(proxy: Proxy, runtime: Runtime, stopping: () => boolean = () => false): StatsReader {
  const collector = new StatsCollector(runtime);
  return { snapshot: () => collector.snapshot(proxy, stopping()) };
}
