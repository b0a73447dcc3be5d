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

/**
 * Body pieces up to this length are copied byte by byte rather than through a view: on Bun the
 * first view of a fresh socket chunk copies the chunk into an ArrayBuffer of its own (about 250
 * ns; docs/performance.md, "Head parser"), more than the loop over a small body.
 */
const LOOP_COPY_MAX_BYTES = 64;

/**
 * Writes `head` and the body bytes `bytes[start, end)` as one piece when small enough to copy,
 * else one after the other.
 */
export function writeJoined(conn: Connection, head: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  const headLength = head.length;
  const length = headLength + end - start;
  if (length > COALESCE_MAX_BYTES) {
    conn.write(head);
    return conn.write(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  }
  const joined = takeBytes(length);
  joined.set(head, 0);
  if (end - start <= LOOP_COPY_MAX_BYTES) {
    for (let from = start, to = headLength; from < end; from++, to++) joined[to] = bytes[from]!;
  } else {
    joined.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), headLength);
  }
  return conn.write(joined);
}
