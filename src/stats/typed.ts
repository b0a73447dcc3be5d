/**
 * HAProxy's `show stat typed`: one line per filled field, `F.iid.sid.pos.name.pid:tags:type:value`
 * (HAProxy's management guide, "show stat"), F, B or S for a frontend, backend or server. Empty
 * fields are left out, as HAProxy does.
 *
 * @module
 */

import type { StatsSnapshot } from "./snapshot.ts";
import { STAT_FIELD_NAMES, STAT_TYPE } from "./stat_fields.ts";
import { type StatRow, type StatRowOptions, statRows, statValue } from "./stat_rows.ts";

const OBJECT_LETTERS: Record<number, string> = {
  [STAT_TYPE.frontend]: "F",
  [STAT_TYPE.backend]: "B",
  [STAT_TYPE.server]: "S",
};

/** The `show stat typed` answer. */
export function formatShowStatTyped(snapshot: StatsSnapshot, options: StatRowOptions = {}): string {
  return statRows(snapshot, options).map(typedLines).join("");
}

function typedLines(row: StatRow): string {
  const processNumber = statValue(row, "pid")?.value ?? 1;
  const prefix = `${OBJECT_LETTERS[row.type]}.${row.proxyId}.${row.serverId}.`;
  let text = "";
  row.values.forEach((value, position) => {
    if (value === undefined) return;
    // A line break inside a name would end the field's line early: HAProxy never has one, we may.
    const printed = String(value.value).replace(/[\r\n]/g, " ");
    text += `${prefix}${position}.${STAT_FIELD_NAMES[position]}.${processNumber}:${value.tags}:${value.type}:${printed}\n`;
  });
  return text;
}
