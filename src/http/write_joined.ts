/**
 * One write for a head and the bytes that came with it, shared by the session's exchange and the
 * tunnel's 101: joined by one copy up to {@link COALESCE_MAX_BYTES}, since a small copy costs
 * less than a second send and the peer gets one segment.
 *
 * @module
 */

import { takeBytes } from "../core/byte_slab.ts";
import type { Connection } from "../runtime/types.ts";

/** A head and the body piece that came with it are joined into one write up to this size. */
export const COALESCE_MAX_BYTES = 16_384;

/** Writes `head` and `part` as one piece when small enough to copy, else one after the other. */
export function writeJoined(conn: Connection, head: Uint8Array, part: Uint8Array): boolean {
  const length = head.length + part.length;
  if (length > COALESCE_MAX_BYTES) {
    conn.write(head);
    return conn.write(part);
  }
  const joined = takeBytes(length);
  joined.set(head, 0);
  joined.set(part, head.length);
  return conn.write(joined);
}
