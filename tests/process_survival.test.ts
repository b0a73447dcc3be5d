/**
 * An error that escapes every handler must not take the process down.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { detectRuntimeName } from "../src/runtime/detect.ts";
import { VERSION } from "../src/version.ts";

test("an uncaught exception and an unhandled rejection are reported and the process lives on", () => {
  const child = fileURLToPath(new URL("./fixtures/uncaught_child.ts", import.meta.url));
  const args = detectRuntimeName() === "deno" ? ["run", "-A", child] : [child];
  // A hang guard: a cold runtime on a loaded machine takes seconds to start; below bun test's 60 s.
  const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 45_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), "alive caught=2");
});

test("the version constant matches package.json", () => {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(VERSION, manifest.version);
});
