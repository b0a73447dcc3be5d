/**
 * The routes of a tcp-mode frontend: by the server name of the TLS ClientHello, read without
 * terminating TLS (HAProxy's `use_backend NAME if { req_ssl_sni -i NAME }`). In http mode `routes`
 * take request matchers instead (conditions.ts).
 *
 * @module
 */

import { HOST_NAME, MATCHER_KEYS } from "./conditions.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader } from "./reader.ts";
import type { SniRouteConfig } from "./types.ts";

const SNI_ROUTE_KEYS = ["backend", "sni"] as const;
/** RFC 1035: 253 characters written out. */
const MAX_HOST_NAME_LENGTH = 253;
const EXAMPLE = `{ backend = "www", sni = ["www.example.com", "*.example.com"] }`;

/** A backend a route names, with where, to check once every backend is read. */
export interface SniRouteReference {
  readonly backend: string;
  readonly path: ConfigPath;
}

/**
 * An `sni` entry as server names are compared with it (lower case), or what is wrong with it.
 * RFC 6066 3: a server name is a host name, never an IP address, and carries no port.
 */
function parseServerName(text: string): { readonly name: string } | { readonly problem: string } {
  const lower = text.toLowerCase();
  if (/^[0-9.]+$/.test(lower) || lower.includes(":")) {
    return { problem: "TLS clients send no server name for an IP address, and none with a port (RFC 6066 3)" };
  }
  if (lower.length > MAX_HOST_NAME_LENGTH || !HOST_NAME.test(lower)) {
    return { problem: `expected a host name such as "example.com" or "*.example.com" (any subdomain of example.com)` };
  }
  return { name: lower };
}

/** `routes` of a tcp-mode frontend: an array of { backend, sni }, tried in order. */
export function readSniRoutes(
  reader: Reader,
  path: ConfigPath,
  routes: readonly unknown[],
  frontend: string,
  references: SniRouteReference[],
): SniRouteConfig[] {
  const result: SniRouteConfig[] = [];
  /** Where each name was first routed, to flag an entry that can never match. */
  const routedAt = new Map<string, number>();
  routes.forEach((item: unknown, index) => {
    const routePath = [...path, index];
    if (!isTable(item)) {
      reader.error(routePath, `Expected a route such as ${EXAMPLE}, found ${describe(item)}`);
      return;
    }
    let httpMatchers = 0;
    for (const key of MATCHER_KEYS) {
      // `sni` is a matcher of both modes: here the ClientHello's name, in http mode the handshake's.
      if (item[key] === undefined || key === "sni") continue;
      httpMatchers++;
      reader.error(
        [...routePath, key],
        `"${key}" needs http mode: in tcp-mode frontend "${frontend}" a route matches the server name of the TLS ClientHello (sni)`,
        "key",
      );
    }
    const table = reader.table(routePath, item, [...new Set([...SNI_ROUTE_KEYS, ...MATCHER_KEYS])])!;
    const backend = reader.string([...routePath, "backend"], table.backend);
    if (table.backend === undefined) reader.error(routePath, `Missing "backend": name the backend this route leads to`);
    if (table.sni === undefined) {
      if (httpMatchers > 0) return;
      reader.error(routePath, `Route has no "sni": in a tcp-mode frontend a route picks connections by the server name a TLS client asks for, e.g. ${EXAMPLE}`);
      return;
    }
    const names: string[] = [];
    for (const { text, path: at } of reader.stringList([...routePath, "sni"], table.sni, `"www.example.com" or ["example.com", "*.example.com"]`) ?? []) {
      const parsed = parseServerName(text);
      if ("problem" in parsed) {
        reader.error(at, `Invalid sni "${text}": ${parsed.problem}`);
        continue;
      }
      const earlier = routedAt.get(parsed.name);
      if (earlier !== undefined) {
        reader.warn(at, `Server name "${text}" is already routed by routes[${earlier}]: this entry never matches`);
        continue;
      }
      routedAt.set(parsed.name, index);
      names.push(parsed.name);
    }
    if (backend === undefined || names.length === 0) return;
    references.push({ backend, path: [...routePath, "backend"] });
    result.push(Object.freeze({ backend, names: Object.freeze(names) }));
  });
  return result;
}
