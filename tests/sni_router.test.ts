/**
 * The tcp-mode SNI router (src/tcp/sni_router.ts): exact names, "*.suffix", route order, fallback.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { SniRouter } from "../src/tcp/sni_router.ts";

test("exact names, then wildcards of one or more labels, first route wins, else the fallback", () => {
  const router = new SniRouter([
    { names: ["www.example.test", "api.example.test"], target: "exact" },
    { names: ["*.example.test"], target: "wild" },
    { names: ["www.example.test", "example.test"], target: "later" },
  ], "default");
  assert.equal(router.pick("www.example.test"), "exact");
  assert.equal(router.pick("api.example.test"), "exact");
  assert.equal(router.pick("x.example.test"), "wild");
  assert.equal(router.pick("a.b.example.test"), "wild");
  assert.equal(router.pick("example.test"), "later", "*.example.test needs a label before the suffix");
  assert.equal(router.pick("xexample.test"), "default", "a suffix match starts at a dot");
  assert.equal(router.pick("other.test"), "default");
  assert.equal(router.pick(""), "default", "no server name");
});

test("a wildcard listed before an exact name takes it: order is the routes' order", () => {
  const router = new SniRouter([
    { names: ["*.example.test"], target: "wild" },
    { names: ["www.example.test"], target: "exact" },
  ], null);
  assert.equal(router.pick("www.example.test"), "wild");
  assert.equal(router.pick("nothing.test"), null);
  assert.equal(router.pick(""), null);
});
