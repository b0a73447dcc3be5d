/**
 * The runtime API's `show stat` command, read as HAProxy 2.6 reads it (cli_parse_show_stat in
 * src/stats.c):
 *
 *     show stat [domain proxy] [{<iid>|<proxy>} <type> <sid>] [typed|json] [desc] [up] [no-maint]
 *
 * The three filter arguments are taken when three words follow (whatever they are, as HAProxy):
 * the proxy by name or number (-1: all), a mask of object types (1 frontends, 2 backends,
 * 4 servers; -1: all) and a server id (-1: all). Then any order of `typed` or `json` (the last
 * wins), `up` (leave out servers down for good and in maintenance) and `no-maint` (leave out
 * servers in maintenance). `desc` adds HAProxy's field descriptions to the typed output; we do
 * not print them and accept the word. Errors are HAProxy's messages.
 *
 * @module
 */

import { formatStatsCsv } from "./csv.ts";
import { formatShowStatJson } from "./json.ts";
import type { StatsSnapshot } from "./snapshot.ts";
import { leadingInteger, resolveStatProxy, type StatRowOptions } from "./stat_rows.ts";
import { formatShowStatTyped } from "./typed.ts";

/** What a `show stat` asked for. */
export interface ShowStatRequest extends StatRowOptions {
  readonly format: "csv" | "typed" | "json";
}

/** A parsed `show stat`, or HAProxy's error line for it (without its line feed). */
export type ShowStatParse =
  | { readonly ok: true; readonly request: ShowStatRequest }
  | { readonly ok: false; readonly error: string };

/**
 * Reads the words after `show stat`. `showLegends` (addresses and algorithms) is the caller's
 * to add: HAProxy shows them at the operator and admin levels.
 */
export function parseShowStat(words: readonly string[], snapshot: StatsSnapshot): ShowStatParse {
  let index = 0;
  if (words[index] === "domain") {
    if (words[index + 1] !== "proxy") return { ok: false, error: "Invalid statistics domain." };
    index += 2;
  }
  let filter: StatRowOptions["filter"];
  if (nonEmpty(words[index]) && nonEmpty(words[index + 1]) && nonEmpty(words[index + 2])) {
    const proxy = resolveStatProxy(snapshot, words[index]!);
    if (proxy === null) return { ok: false, error: "No such proxy." };
    filter = { proxy, types: leadingInteger(words[index + 1]!), serverId: leadingInteger(words[index + 2]!) };
    index += 3;
  }
  let format: ShowStatRequest["format"] = "csv";
  let hideMaintenance = false;
  let upOnly = false;
  for (; index < words.length; index++) {
    const word = words[index];
    if (word === "typed") format = "typed";
    else if (word === "json") format = "json";
    else if (word === "no-maint") hideMaintenance = true;
    else if (word === "up") upOnly = true;
    // Anything else ("desc" included) is ignored, as HAProxy ignores words it does not know here.
  }
  return { ok: true, request: { format, filter, hideMaintenance, upOnly } };
}

/** The answer to a parsed `show stat`. */
export function formatShowStat(snapshot: StatsSnapshot, request: ShowStatRequest): string {
  if (request.format === "typed") return formatShowStatTyped(snapshot, request);
  if (request.format === "json") return formatShowStatJson(snapshot, request);
  return formatStatsCsv(snapshot, request);
}

function nonEmpty(word: string | undefined): boolean {
  return word !== undefined && word !== "";
}
