/**
 * `npm test`: runs the whole suite under Node, Bun and Deno, one after the other, streams their
 * output, type-checks the entry points with `deno check`, and fails if any step fails. Ends with one summary line per runtime and a total.
 *
 * Usage: node scripts/test.ts [node|bun|deno|typecheck ...] [-- extra test files]
 */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

interface RunnerResult {
  runtime: string;
  exitCode: number;
  passed: number;
  failed: number;
}

const RUNNERS: Record<string, { command: string; args: string[] }> = {
  node: { command: bin("node"), args: ["--test", "--test-reporter=spec", "tests/**/*.test.ts"] },
  bun: { command: bin("bun"), args: ["test", "--timeout", "60000", "tests/"] },
  deno: { command: bin("deno"), args: ["test", "-A", "tests/"] },
  // Strict type check of everything the tests only run as child processes (the CLI, the scripts).
  typecheck: { command: bin("deno"), args: ["check", "mod.ts", "src/", "scripts/"] },
};

/** Reads pass/fail counts from a runner's closing lines (ANSI colours removed). */
export function countResults(runtime: string, output: string): { passed: number; failed: number } {
  // deno-lint-ignore no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, "");
  const last = (pattern: RegExp) => {
    const matches = [...text.matchAll(pattern)];
    return matches.length > 0 ? Number(matches[matches.length - 1]![1]) : 0;
  };
  if (runtime === "node") return { passed: last(/^ℹ pass (\d+)$/gm), failed: last(/^ℹ fail (\d+)$/gm) };
  if (runtime === "typecheck") return { passed: 0, failed: 0 };
  if (runtime === "bun") return { passed: last(/^\s*(\d+) pass$/gm), failed: last(/^\s*(\d+) fail$/gm) };
  // Deno counts top-level tests, groups (describe) included, with their steps in brackets:
  // "ok | 9 passed (91 steps) | 0 failed". The other runners count leaf tests, so the groups are
  // taken out and the steps put in. A group is printed as a line of its own ending in "..." with
  // its first step indented below it (a test that prints output also gets such a line, followed by
  // its output instead); a group fails "(due to N failed steps)".
  const summary = /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/.exec(text);
  if (summary === null) return { passed: 0, failed: 0 };
  const groups = text.match(/^\S.* \.\.\.\n[ \t]+\S/gm)?.length ?? 0;
  const failedGroups = text.match(/^\S.* \.\.\. FAILED \(due to \d+ failed steps?\)/gm)?.length ?? 0;
  return {
    passed: Number(summary[1]) - (groups - failedGroups) + Number(summary[2] ?? 0),
    failed: Number(summary[3]) - failedGroups + Number(summary[4] ?? 0),
  };
}

function run(runtime: string): Promise<RunnerResult> {
  const runner = RUNNERS[runtime]!;
  return new Promise((resolve) => {
    process.stdout.write(`\n=== ${runtime}: ${runner.command} ${runner.args.join(" ")}\n`);
    const child = spawn(runner.command, runner.args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on("close", (code) => {
      const counts = countResults(runtime, output);
      resolve({ runtime, exitCode: code ?? 1, ...counts });
    });
  });
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2).filter((arg) => arg in RUNNERS);
  const runtimes = requested.length > 0 ? requested : Object.keys(RUNNERS);
  const results: RunnerResult[] = [];
  for (const runtime of runtimes) results.push(await run(runtime));
  process.stdout.write("\n");
  let passed = 0;
  let failed = 0;
  let anyFailed = false;
  for (const result of results) {
    const ok = result.exitCode === 0 && result.failed === 0;
    anyFailed ||= !ok;
    passed += result.passed;
    failed += result.failed;
    process.stdout.write(
      `${result.runtime}: ${result.passed} passed, ${result.failed} failed${ok ? "" : ` (exit code ${result.exitCode})`}\n`,
    );
  }
  // A runner that crashed before counting still fails the run.
  if (anyFailed && failed === 0) failed = 1;
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exitCode = anyFailed ? 1 : 0;
}

if (import.meta.main) await main();
