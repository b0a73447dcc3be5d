/**
 * SHA256SUMS in the format of coreutils' `sha256sum`, so that `sha256sum -c SHA256SUMS` (or
 * `shasum -a 256 -c` on macOS) verifies a download.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createReadStream, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The file name of the checksum list. */
export const CHECKSUMS_FILE = "SHA256SUMS";

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Writes SHA256SUMS for every `proxy-*` executable in `directory` (not the host copy `proxy`, which
 * is one of them under another name) and returns its lines.
 */
export async function writeChecksums(directory: string): Promise<string[]> {
  const names = readdirSync(directory).filter((name) => name.startsWith("proxy-")).sort();
  const lines: string[] = [];
  for (const name of names) lines.push(`${await sha256(join(directory, name))}  ${name}`);
  writeFileSync(join(directory, CHECKSUMS_FILE), lines.map((line) => `${line}\n`).join(""));
  return lines;
}
