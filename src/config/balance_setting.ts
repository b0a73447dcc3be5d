/**
 * The `balance` key: an algorithm's name, "hdr(NAME)", or a table with the parameters of the
 * hashing algorithms (`uri`, `hdr`), read into the algorithm and what it hashes.
 *
 * @module
 */

import { BALANCE_ALGORITHMS } from "../core/balance/mod.ts";
import type { BalanceAlgorithmName, BalanceHashKeyConfig } from "../core/balance/types.ts";
import { closestMatch } from "./did_you_mean.ts";
import { HEADER_NAME, readHeaderName } from "./http_syntax.ts";
import { describe, isTable, quoteList, unknownKeyMessage } from "./reader.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import { MAX_BUFSIZE } from "./tune.ts";

/** A `balance` setting: the algorithm, and what uri and hdr hash. */
export interface BalanceSetting {
  readonly algorithm: BalanceAlgorithmName;
  readonly hashKey: BalanceHashKeyConfig | null;
}

/** Largest `depth` of `balance uri`: deeper than any real path. */
const MAX_URI_DEPTH = 255;

/** The algorithms written as a plain name; `hdr` always needs a header name. */
const PLAIN_ALGORITHMS: readonly string[] = [...BALANCE_ALGORITHMS.filter((name) => name !== "uri" && name !== "hdr"), "uri"];
/** What `balance` accepts as a string, as listed in messages. */
const BALANCE_FORMS: readonly string[] = [...PLAIN_ALGORITHMS, "hdr(NAME)"];
const URI_KEYS = ["algorithm", "depth", "len", "whole", "path-only"] as const;
const HDR_KEYS = ["algorithm", "name", "use-domain-only"] as const;

const URI_HASH_KEY: BalanceHashKeyConfig = Object.freeze({ kind: "uri", depth: 0, len: 0, whole: false, pathOnly: false });

function hdrHashKey(name: string, useDomainOnly: boolean): BalanceHashKeyConfig {
  return Object.freeze({ kind: "hdr", name, lowerName: name.toLowerCase(), useDomainOnly });
}

/** `balance`: a name, "hdr(NAME)", or a table { algorithm = ..., parameters }. */
export function readBalance(reader: Reader, path: ConfigPath, value: unknown): BalanceSetting | undefined {
  if (value === undefined) return undefined;
  if (isTable(value)) return readBalanceTable(reader, path, value);
  if (typeof value === "string") {
    if (value === "uri") return { algorithm: "uri", hashKey: URI_HASH_KEY };
    if (PLAIN_ALGORITHMS.includes(value)) return { algorithm: value as BalanceAlgorithmName, hashKey: null };
    const hdr = /^hdr\((.*)\)$/.exec(value);
    if (hdr !== null) {
      if (!HEADER_NAME.test(hdr[1]!)) {
        reader.error(path, `Invalid header name "${hdr[1]}" in "${value}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
        return undefined;
      }
      return { algorithm: "hdr", hashKey: hdrHashKey(hdr[1]!, false) };
    }
    if (value === "hdr") {
      reader.error(path, `Balance "hdr" needs the name of the header to hash: write "hdr(NAME)", e.g. "hdr(Host)"`);
      return undefined;
    }
    const words = value.split(/\s+/);
    if (words.length > 1 && (words[0] === "uri" || words[0]!.startsWith("hdr("))) {
      const algorithm = words[0] === "uri" ? "uri" : "hdr";
      reader.error(
        path,
        `Invalid balance "${value}": give the parameters of "${algorithm}" in a table, e.g. balance = ` +
          (algorithm === "uri" ? `{ algorithm = "uri", depth = 2 }` : `{ algorithm = "hdr", name = "Host", use-domain-only = true }`),
      );
      return undefined;
    }
  }
  const suggestion = typeof value === "string" ? closestMatch(value, BALANCE_FORMS) : undefined;
  reader.error(
    path,
    `Expected one of ${quoteList(BALANCE_FORMS)}, found ${describe(value)}` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : ""),
  );
  return undefined;
}

function readBalanceTable(reader: Reader, path: ConfigPath, table: Table): BalanceSetting | undefined {
  const algorithmPath = [...path, "algorithm"];
  if (table.algorithm === undefined) {
    reader.error(path, `Missing "algorithm": e.g. balance = { algorithm = "uri", depth = 2 }`);
    return undefined;
  }
  const forms = [...PLAIN_ALGORITHMS, "hdr"];
  const algorithm = reader.oneOf(algorithmPath, table.algorithm, forms) as BalanceAlgorithmName | undefined;
  if (algorithm === undefined) return undefined;
  const allowed: readonly string[] = algorithm === "uri" ? URI_KEYS : algorithm === "hdr" ? HDR_KEYS : ["algorithm"];
  let valid = true;
  for (const key of Object.keys(table)) {
    if (allowed.includes(key)) continue;
    valid = false;
    if ((URI_KEYS as readonly string[]).includes(key) || (HDR_KEYS as readonly string[]).includes(key)) {
      reader.error([...path, key], `Key "${key}" does not apply to algorithm "${algorithm}": expected ${allowed.length === 1 ? "only algorithm" : `one of ${allowed.join(", ")}`}`, "key");
    } else {
      reader.error([...path, key], unknownKeyMessage(key, allowed), "key");
    }
  }
  if (algorithm === "uri") {
    const depth = reader.integer([...path, "depth"], table.depth, 0, MAX_URI_DEPTH);
    const len = reader.integer([...path, "len"], table.len, 0, MAX_BUFSIZE);
    const whole = reader.boolean([...path, "whole"], table.whole);
    const pathOnly = reader.boolean([...path, "path-only"], table["path-only"]);
    return {
      algorithm,
      hashKey: Object.freeze({ kind: "uri", depth: depth ?? 0, len: len ?? 0, whole: whole ?? false, pathOnly: pathOnly ?? false }),
    };
  }
  if (algorithm === "hdr") {
    const name = readHeaderName(reader, [...path, "name"], table.name, false);
    const useDomainOnly = reader.boolean([...path, "use-domain-only"], table["use-domain-only"]) ?? false;
    if (table.name === undefined) reader.error(path, `Missing "name": balance "hdr" hashes the header it names, e.g. { algorithm = "hdr", name = "Host" }`);
    if (name === undefined) return undefined;
    return { algorithm, hashKey: hdrHashKey(name, useDomainOnly) };
  }
  return valid ? { algorithm, hashKey: null } : undefined;
}
