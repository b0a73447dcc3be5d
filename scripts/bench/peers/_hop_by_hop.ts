/**
 * What every peer proxy leaves out when it forwards a message: the hop-by-hop header fields,
 * which describe one connection and not the message (RFC 9110 section 7.6.1).
 *
 * Shared by the peers so that each peer file stays the few lines a user would write around it.
 *
 * @module
 */

/**
 * Fields that are hop-by-hop whether or not the Connection field names them: RFC 9110's list, plus
 * Keep-Alive and Proxy-Connection, which HTTP/1.0 clients still send (RFC 9112 section 9.6, 7230's
 * appendix A.1.2).
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** The lower-case names to drop: the fixed ones and every field the Connection field names. */
export function hopByHopNames(connection: string | readonly string[] | null | undefined): string[] {
  const names = [...HOP_BY_HOP_HEADERS];
  const values = connection === null || connection === undefined
    ? []
    : typeof connection === "string"
    ? [connection]
    : connection;
  for (const value of values) {
    for (const token of value.split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "" && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** A copy of node:http or undici headers (lower-case names) without the hop-by-hop fields. */
export function withoutHopByHop(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> {
  const drop = hopByHopNames(headers["connection"]);
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop.includes(name)) kept[name] = value;
  }
  return kept;
}

/** A copy of fetch headers without the hop-by-hop fields. */
export function fetchHeadersWithoutHopByHop(headers: Headers): Headers {
  const kept = new Headers(headers);
  for (const name of hopByHopNames(headers.get("connection"))) kept.delete(name);
  return kept;
}
