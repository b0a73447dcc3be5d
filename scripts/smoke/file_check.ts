/**
 * The check every executable gets, runnable here or not: its headers say the target's format,
 * OS and architecture, the file is as long as they say, and its size is that of a whole build.
 *
 * @module
 */

import { closeSync, openSync, readSync, statSync } from "node:fs";
import {
  HEADER_BYTES,
  megabytes,
  platformProblems,
  readExecutableHeader,
  sizeProblem,
  truncationProblem,
} from "./binary_format.ts";
import type { ExpectedPlatform } from "./binary_format.ts";

function readHead(path: string): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const file = openSync(path, "r");
  try {
    return bytes.subarray(0, readSync(file, bytes, 0, bytes.length, 0));
  } finally {
    closeSync(file);
  }
}

/** `ELF aarch64 linux, interpreter /lib/ld-linux-aarch64.so.1, 104.6 MB`; throws with every problem. */
export function checkExecutableFile(path: string, expected: ExpectedPlatform): string {
  const size = statSync(path).size;
  const header = readExecutableHeader(readHead(path));
  const problems = platformProblems(header, expected);
  for (const problem of [truncationProblem(header, size), sizeProblem(size)]) {
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) {
    throw new Error(`${header.description}, ${megabytes(size)}: ${problems.join("; ")}`);
  }
  return `${header.description}, ${megabytes(size)}`;
}
