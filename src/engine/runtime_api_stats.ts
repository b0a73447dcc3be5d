/**
 * Where the runtime API's `show info` and `show stat` get their numbers: the one place to wire the
 * stats readers into it.
 *
 * WIRING (pending): `src/engine/stats_snapshot.ts` (a `StatsSnapshot` of a `Proxy`) and
 * `src/stats/csv.ts` (HAProxy's CSV, and JSON) are being written beside this work. Once both are on
 * main, `statsReaderFor` returns a `StatsReader` built from them:
 * `{ snapshot: () => takeSnapshot(proxy), csv: (s, o) => statsCsv(s, o), json: (s, o) => statsJson(s, o) }`,
 * honouring `StatsFormatOptions` (`rows`: HAProxy's type mask; `showAddresses`: the [addr] column
 * only from level "operator" up). Until then `show info` and `show stat` answer "Statistics are not
 * available in this process." and every other command works.
 *
 * @module
 */

import type { StatsReader } from "../control/types.ts";
import type { Proxy } from "./proxy.ts";

/** The stats reader of `proxy`, or null while the readers are not wired (see the module notes). */
export function statsReaderFor(_proxy: Proxy): StatsReader | null {
  return null;
}
