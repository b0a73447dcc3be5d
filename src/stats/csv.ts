/**
 * HAProxy's stats CSV, as `show stat` on the runtime API and `;csv` on the stats page print it
 * (HAProxy 2.6, src/stats.c): a header line `# pxname,svname,...`, then one line per row.
 *
 * HAProxy's exact shape, which tools that read it by position depend on: every field, the last
 * included, is followed by a comma; after the 101 fixed columns comes a `-` column that marks
 * where the columns of HAProxy's stats modules (h1, h2, ssl...) begin, none here; lines end with
 * a bare line feed; an empty column is nothing between its commas; a text is quoted, with its
 * quotes doubled, only when it holds a comma, a quote, CR or LF (HAProxy's csv_enc).
 *
 * @module
 */

import type { StatsSnapshot } from "./snapshot.ts";
import { STAT_FIELD_NAMES } from "./stat_fields.ts";
import { type StatRow, type StatRowOptions, statRows } from "./stat_rows.ts";

/** Where HAProxy's fixed columns end and its modules' columns begin. */
const END_OF_FIXED_COLUMNS = "-";

/** The `show stat` CSV of a snapshot: header and rows. */
export function formatStatsCsv(snapshot: StatsSnapshot, options: StatRowOptions = {}): string {
  return csvHeaderLine() + statRows(snapshot, options).map(csvLine).join("");
}

/** The header line, `# pxname,svname,...,agg_server_check_status,-,` and its line feed. */
export function csvHeaderLine(): string {
  return `# ${STAT_FIELD_NAMES.join(",")},${END_OF_FIXED_COLUMNS},\n`;
}

/** One row as a CSV line. */
export function csvLine(row: StatRow): string {
  let line = "";
  for (const value of row.values) {
    if (value !== undefined) line += typeof value.value === "string" ? csvText(value.value) : String(value.value);
    line += ",";
  }
  return `${line}${END_OF_FIXED_COLUMNS},\n`;
}

/** A text as HAProxy quotes it: only when it must be. */
export function csvText(text: string): string {
  return /[\n\r,"]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
