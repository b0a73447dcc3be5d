/**
 * Short-lived byte arrays of a message (a serialized head, a head joined with the body bytes that
 * came with it) cut from shared slabs instead of allocated one by one, where the engine says so.
 *
 * On V8 (Node, Deno) a typed array of more than 64 bytes gets a backing store of its own from the
 * embedder's allocator: 350-390 ns each, measured (tens of thousands a second, three per proxied
 * request), where a view into an existing ArrayBuffer costs 35-50 ns. JavaScriptCore (Bun)
 * allocates small typed arrays in its own heap in about 20 ns and makes views slower (75 ns), so
 * there arrays stay plain (`RuntimeInfo.byteSlabs`). A slab is never written twice: it is let go
 * when full, and the views handed out keep it alive until their writes are done and they are
 * dropped, as Node's own Buffer pool does with the same 8 KiB.
 *
 * @module
 */

const SLAB_BYTES = 8192;
/** Longer arrays are allocated on their own: a slab holds a few heads, not a body. */
const SLAB_MAX_TAKE = 2048;

let slabsOn = false;
let slab: ArrayBuffer | null = null;
let used = 0;

/** Set once by the engine from the runtime (`RuntimeInfo.byteSlabs`); off by default. */
export function useByteSlabs(on: boolean): void {
  slabsOn = on;
  slab = null;
  used = 0;
}

/** A zeroed array of `length` bytes, to be filled and written once. */
export function takeBytes(length: number): Uint8Array {
  if (!slabsOn || length > SLAB_MAX_TAKE) return new Uint8Array(length);
  if (slab === null || used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const bytes = new Uint8Array(slab, used, length);
  // Eight-byte steps keep every view aligned, as an allocator would.
  used += (length + 7) & ~7;
  return bytes;
}
