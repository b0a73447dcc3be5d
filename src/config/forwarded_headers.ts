/**
 * The headers a frontend or backend adds to the requests it forwards: `forwardfor` (the client's
 * address), `forwarded-proto` and `forwarded-host`, each over what the section inherits.
 *
 * @module
 */

import { parseCidr } from "../core/cidr.ts";
import { HEADER_NAME } from "./http_syntax.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import { DEFAULTS } from "./types.ts";
import type { ForwardedHeadersConfig, ForwardForConfig, ProxyMode } from "./types.ts";

export const FORWARDED_KEYS = ["forwardfor", "forwarded-proto", "forwarded-host"] as const;
const FORWARDFOR_KEYS = ["except", "header", "if-none"] as const;

/** What a section adds when neither it nor [defaults] asks for a header. */
export const NO_FORWARDED_HEADERS: ForwardedHeadersConfig = Object.freeze({ forwardFor: null, forwardedProto: false, forwardedHost: false });

/** `forwardfor`: true, false, or a table of except / header / if-none. null: off. */
function readForwardFor(reader: Reader, path: ConfigPath, value: unknown): ForwardForConfig | null | undefined {
  if (value === undefined) return undefined;
  if (value === false) return null;
  if (value === true) return Object.freeze({ except: null, header: DEFAULTS.forwardForHeader, ifNone: false });
  if (!isTable(value)) {
    reader.error(path, `Expected true, false or a table such as { except = "127.0.0.0/8" }, found ${describe(value)}`);
    return undefined;
  }
  const table = reader.table(path, value, FORWARDFOR_KEYS)!;
  let except = null;
  const exceptText = reader.string([...path, "except"], table.except);
  if (exceptText !== undefined) {
    const parsed = parseCidr(exceptText);
    if (typeof parsed === "string") reader.error([...path, "except"], `Invalid network "${exceptText}": ${parsed}`);
    else except = parsed;
  }
  let header = reader.string([...path, "header"], table.header) ?? DEFAULTS.forwardForHeader;
  if (!HEADER_NAME.test(header)) {
    reader.error([...path, "header"], `Invalid header name "${header}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
    header = DEFAULTS.forwardForHeader;
  }
  const ifNone = reader.boolean([...path, "if-none"], table["if-none"]) ?? false;
  return Object.freeze({ except, header, ifNone });
}

/**
 * The three forwarded-header keys of a section, over the inherited ones. `mode` is the section's
 * (undefined for [defaults]): in tcp mode setting them has no effect, which gets a warning.
 */
export function readForwarded(
  reader: Reader,
  path: ConfigPath,
  table: Table,
  inherited: ForwardedHeadersConfig,
  mode: ProxyMode | undefined,
): ForwardedHeadersConfig {
  if (mode === "tcp") {
    for (const key of FORWARDED_KEYS) {
      if (table[key] !== undefined && table[key] !== false) {
        reader.warn([...path, key], `"${key}" has no effect in tcp mode: it adds a header to http requests`);
      }
    }
  }
  const forwardFor = readForwardFor(reader, [...path, "forwardfor"], table.forwardfor);
  return Object.freeze({
    forwardFor: forwardFor === undefined ? inherited.forwardFor : forwardFor,
    forwardedProto: reader.boolean([...path, "forwarded-proto"], table["forwarded-proto"]) ?? inherited.forwardedProto,
    forwardedHost: reader.boolean([...path, "forwarded-host"], table["forwarded-host"]) ?? inherited.forwardedHost,
  });
}
