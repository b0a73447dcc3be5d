/**
 * src/core/byte_slab.ts: arrays cut from slabs are zeroed, of the asked length, never overlap one
 * another (so a queued write is never overwritten), aligned; long ones and the default mode
 * allocate on their own.
 */

import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { takeBytes, useByteSlabs } from "../src/core/byte_slab.ts";

afterEach(() => useByteSlabs(false));

test("off (the default): every array has a buffer of its own", () => {
  const a = takeBytes(100);
  const b = takeBytes(100);
  assert.notEqual(a.buffer, b.buffer);
  assert.equal(a.byteLength, 100);
});

test("on: short arrays share slabs, never overlap, start zeroed and aligned, and a full slab is let go", () => {
  useByteSlabs(true);
  const taken: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const bytes = takeBytes(1 + ((i * 37) % 300));
    assert.equal(bytes.length, 1 + ((i * 37) % 300));
    assert.ok(bytes.every((byte) => byte === 0), "zeroed");
    assert.equal(bytes.byteOffset % 8, 0);
    bytes.fill(i + 1);
    taken.push(bytes);
  }
  // What each array holds is still what was written to it: no later one was cut over it.
  taken.forEach((bytes, i) => assert.ok(bytes.every((byte) => byte === ((i + 1) & 0xff)), `array ${i}`));
  assert.ok(taken[0]!.buffer === taken[1]!.buffer, "consecutive short arrays share a slab");
  assert.ok(new Set(taken.map((bytes) => bytes.buffer)).size > 1, "a full slab was replaced");
});

test("on: an array longer than a slab's share is allocated on its own", () => {
  useByteSlabs(true);
  const small = takeBytes(64);
  const large = takeBytes(4096);
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(large.buffer.byteLength, 4096);
});
