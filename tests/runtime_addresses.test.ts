/**
 * The address values the socket modules share (src/runtime/_addresses.ts): accepted connections
 * on one listener share one frozen local address instead of one object each.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { addressOf, localAddressOf, UNKNOWN_ADDRESS } from "../src/runtime/_addresses.ts";

test("localAddressOf gives the same frozen object for the same address and port, a new one otherwise", () => {
  const first = localAddressOf("127.0.0.1", 8080);
  assert.deepEqual(first, { address: "127.0.0.1", port: 8080, family: 4 });
  assert.ok(Object.isFrozen(first));
  assert.equal(localAddressOf("127.0.0.1", 8080), first);
  const otherPort = localAddressOf("127.0.0.1", 8081);
  assert.notEqual(otherPort, first);
  assert.deepEqual(otherPort, { address: "127.0.0.1", port: 8081, family: 4 });
  const v6 = localAddressOf("::1", 8081);
  assert.deepEqual(v6, { address: "::1", port: 8081, family: 6 });
  // Back to the first: equal values, whichever object carries them.
  assert.deepEqual(localAddressOf("127.0.0.1", 8080), first);
  assert.equal(localAddressOf(undefined, 8080), UNKNOWN_ADDRESS);
  assert.equal(localAddressOf("127.0.0.1", undefined), UNKNOWN_ADDRESS);
});

test("addressOf makes a new address each time (remote addresses differ per connection)", () => {
  const a = addressOf("192.0.2.1", 50_000);
  assert.deepEqual(a, { address: "192.0.2.1", port: 50_000, family: 4 });
  assert.notEqual(addressOf("192.0.2.1", 50_000), a);
  assert.equal(addressOf(undefined, 1), UNKNOWN_ADDRESS);
});
