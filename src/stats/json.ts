/**
 * The stats as JSON, in two shapes.
 *
 * - {@link formatStatsJson}, the stats page's `;json`: the snapshot itself (snapshot.ts), named
 *   fields in our units, servers inside their backend. Stable and readable by people and by jq,
 *   and what -W workers pass each other (through the master) to merge them.
 * - {@link formatShowStatJson}, the runtime API's `show stat json`: HAProxy's typed JSON (its
 *   management guide, "show stat json"), an array of rows, each an array of field objects with the
 *   field's position and name, its tags and its typed value, for the tools written against
 *   HAProxy's. Unlike HAProxy 2.6, strings are escaped as JSON requires.
 *
 * @module
 */

import type { StatsSnapshot } from "./snapshot.ts";
import { STAT_FIELD_NAMES, STAT_TYPE } from "./stat_fields.ts";
import { type StatRow, type StatRowOptions, statRows, statValue } from "./stat_rows.ts";

/** The `;json` answer: the snapshot, indented for people. */
export function formatStatsJson(snapshot: StatsSnapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

/** HAProxy's `show stat json`. */
export function formatShowStatJson(snapshot: StatsSnapshot, options: StatRowOptions = {}): string {
  return `[${statRows(snapshot, options).map(typedJsonRow).join(",")}]\n`;
}

const OBJECT_TYPES: Record<number, string> = {
  [STAT_TYPE.frontend]: "Frontend",
  [STAT_TYPE.backend]: "Backend",
  [STAT_TYPE.server]: "Server",
};

const ORIGINS: Record<string, string> = { M: "Metric", S: "Status", K: "Key", C: "Config", P: "Product" };
const NATURES: Record<string, string> = {
  G: "Gauge",
  L: "Limit",
  m: "Min",
  M: "Max",
  R: "Rate",
  C: "Counter",
  D: "Duration",
  A: "Age",
  T: "Time",
  N: "Name",
  O: "Output",
  a: "Avg",
};
const SCOPES: Record<string, string> = { P: "Process", S: "Service", s: "System", C: "Cluster" };

/** A row's filled fields as HAProxy's field objects; empty fields are left out, as HAProxy does. */
function typedJsonRow(row: StatRow): string {
  const processNumber = statValue(row, "pid")?.value ?? 1;
  const fields: string[] = [];
  row.values.forEach((value, position) => {
    if (value === undefined) return;
    fields.push(JSON.stringify({
      objType: OBJECT_TYPES[row.type],
      proxyId: row.proxyId,
      id: row.serverId,
      field: { pos: position, name: STAT_FIELD_NAMES[position] },
      processNum: processNumber,
      tags: { origin: ORIGINS[value.tags[0]!], nature: NATURES[value.tags[1]!], scope: SCOPES[value.tags[2]!] },
      value: { type: value.type, value: value.value },
    }));
  });
  return `[${fields.join(",")}]`;
}
