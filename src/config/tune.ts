/**
 * `[global.tune]`: the buffer and head limits (HAProxy's tune.bufsize, tune.maxrewrite and
 * tune.http.maxhdr). The largest bufsize also bounds the `len` of `balance uri`, since no hashed
 * URI can be longer than a buffer.
 *
 * @module
 */

import type { Reader } from "./reader.ts";
import { DEFAULTS } from "./types.ts";
import type { TuneConfig } from "./types.ts";

/** Largest tune.bufsize: HAProxy accepts more, but a buffer per direction and session adds up fast. */
export const MAX_BUFSIZE = 1_048_576;

const TUNE_KEYS = ["bufsize", "maxrewrite", "http-maxhdr"] as const;

export function readTune(reader: Reader, value: unknown): TuneConfig {
  const path = ["global", "tune"];
  const table = reader.table(path, value, TUNE_KEYS) ?? {};
  const bufsize = reader.integer([...path, "bufsize"], table.bufsize, 1_024, MAX_BUFSIZE) ?? DEFAULTS.tuneBufsize;
  // HAProxy's rule: the rewrite reserve stays below half of the buffer, so a head always has the larger half.
  const maxMaxrewrite = Math.ceil(bufsize / 2) - 1;
  const given = table.maxrewrite;
  let maxrewrite: number | undefined;
  if (typeof given === "number" && Number.isInteger(given) && given > maxMaxrewrite) {
    reader.error([...path, "maxrewrite"], `Expected an integer from 0 to ${maxMaxrewrite}, below half of bufsize (${bufsize}), found ${given}`);
  } else {
    maxrewrite = reader.integer([...path, "maxrewrite"], given, 0, maxMaxrewrite);
  }
  return Object.freeze({
    bufsize,
    maxrewrite: maxrewrite ?? Math.min(DEFAULTS.tuneMaxrewrite, maxMaxrewrite),
    httpMaxhdr: reader.integer([...path, "http-maxhdr"], table["http-maxhdr"], 1, 32_767) ?? DEFAULTS.tuneHttpMaxhdr,
  });
}
