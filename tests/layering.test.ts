/**
 * The machine-free layers reach the machine only through the runtime contract: no `node:*` import,
 * no `Bun.` or `Deno.` anywhere in them (comments included, so the rule stays greppable).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MACHINE_FREE_LAYERS = ["src/core", "src/tcp", "src/http", "src/tls", "src/log", "src/engine", "src/config", "src/lifecycle", "src/proxy_protocol", "src/stats"];

function sourceFiles(directory: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(directory, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Lines of `text` that break the rule, as "file:line: text". */
export function machineAccess(file: string, text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    if (/\bfrom\s+["']node:|\bimport\s*\(\s*["']node:|\brequire\s*\(\s*["']node:/.test(line) || /\b(Bun|Deno)\./.test(line)) {
      found.push(`${file}:${index + 1}: ${line.trim()}`);
    }
  });
  return found;
}

test("the rule detects what it forbids", () => {
  assert.equal(machineAccess("x.ts", 'import * as net from "node:net";').length, 1);
  assert.equal(machineAccess("x.ts", "const t = Deno.args;").length, 1);
  assert.equal(machineAccess("x.ts", "Bun.serve({})").length, 1);
  assert.equal(machineAccess("x.ts", 'import type { Runtime } from "../runtime/types.ts";').length, 0);
});

test("core, tcp, http, tls, log, engine, config, lifecycle, proxy_protocol and stats never touch the machine directly", () => {
  const files = MACHINE_FREE_LAYERS.flatMap((layer) => sourceFiles(join(ROOT, layer)));
  assert.ok(files.length > 10, "the layers were not found");
  const violations = files.flatMap((file) => machineAccess(relative(ROOT, file), readFileSync(file, "utf8")));
  assert.deepEqual(violations, []);
});

test("machine-free layers import the runtime contract's types only, never a runtime module", () => {
  const files = MACHINE_FREE_LAYERS.flatMap((layer) => sourceFiles(join(ROOT, layer)));
  const offenders = files.filter((file) =>
    /from\s+["'][./]*runtime\/(node|bun|deno|detect|_node_net|_node_process)\.ts["']/.test(readFileSync(file, "utf8"))
  );
  assert.deepEqual(offenders.map((file) => relative(ROOT, file)), []);
});
