/**
 * `errorfiles`: the pages (HAProxy's errorfile format) that replace the proxy's own error
 * responses, by status. The validator does no I/O: `errorFilePaths` lists the files a document
 * names so that the loader reads them first, and `readErrorFiles` checks the text it was given.
 *
 * The check uses `parseErrorFile` from src/http/error_file.ts: the one exception to the rule that
 * config does not depend on the http layer, since that function is pure message syntax and the
 * engine must read a page exactly as it was checked.
 *
 * @module
 */

import { parseErrorFile } from "../http/error_file.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader } from "./reader.ts";
import type { ErrorFileConfig } from "./types.ts";

/** HAProxy's errorfile codes: the pages a proxy generates that are worth replacing. */
const ERROR_FILE_STATUSES = ["400", "403", "408", "500", "502", "503", "504"] as const;

function isRelativePath(path: string): boolean {
  return !path.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(path) && !path.startsWith("\\\\");
}

/** `errorfiles`: status → file, each read, checked and merged over the inherited ones. undefined: not set. */
export function readErrorFiles(reader: Reader, path: ConfigPath, value: unknown, inherited: readonly ErrorFileConfig[]): readonly ErrorFileConfig[] | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    reader.error(path, `Expected a table of status = "FILE" such as { 503 = "/etc/proxy/errors/503.http" }, found ${describe(value)}`);
    return undefined;
  }
  const byStatus = new Map(inherited.map((file) => [file.status, file]));
  for (const [key, fileValue] of Object.entries(value)) {
    const keyPath = [...path, key];
    if (!(ERROR_FILE_STATUSES as readonly string[]).includes(key)) {
      reader.error(
        keyPath,
        /^[0-9]{3}$/.test(key)
          ? `No errorfile can be given for status ${key}: expected one of ${ERROR_FILE_STATUSES.join(", ")}`
          : `Unknown key "${key}": expected a status code, one of ${ERROR_FILE_STATUSES.join(", ")}`,
        "key",
      );
      continue;
    }
    const file = reader.string(keyPath, fileValue);
    if (file === undefined) continue;
    const status = Number(key);
    const read = reader.errorFile?.(file);
    if (read === undefined) {
      reader.error(keyPath, `Errorfile "${file}" was not read: errorfiles are read when a configuration is loaded from files`);
      continue;
    }
    if ("error" in read) {
      reader.error(keyPath, `Cannot read errorfile "${file}": ${read.error}` + (read.missing === true && isRelativePath(file) ? " (a relative path is relative to the current directory)" : ""));
      continue;
    }
    const parsed = parseErrorFile(read.text);
    if (typeof parsed === "string") {
      reader.error(keyPath, `Invalid errorfile "${file}": ${parsed}`);
      continue;
    }
    if (parsed.status !== status) {
      reader.error(keyPath, `Errorfile "${file}" answers ${parsed.status}, not ${status}: its status line must be "HTTP/1.1 ${status} ..."`);
      continue;
    }
    const size = new TextEncoder().encode(read.text).length;
    if (size > reader.bufsize) {
      reader.error(keyPath, `Errorfile "${file}" has ${size} bytes, more than tune.bufsize (${reader.bufsize}): a page must fit in one buffer`);
      continue;
    }
    byStatus.set(status, Object.freeze({ status, path: file, text: read.text }));
  }
  return Object.freeze([...byStatus.values()].sort((a, b) => a.status - b.status));
}

/** The errorfile paths a raw document names, each once, for the loader to read before validating. */
export function errorFilePaths(document: unknown): string[] {
  const paths = new Set<string>();
  const collect = (section: unknown): void => {
    if (!isTable(section) || !isTable(section.errorfiles)) return;
    for (const file of Object.values(section.errorfiles)) if (typeof file === "string" && file !== "") paths.add(file);
  };
  if (!isTable(document)) return [];
  collect(document.defaults);
  for (const group of [document.frontends, document.backends]) {
    if (isTable(group)) for (const section of Object.values(group)) collect(section);
  }
  return [...paths];
}
