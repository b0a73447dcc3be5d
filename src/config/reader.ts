/**
 * The validator's reading state and its generic readers. A `Reader` collects every issue found
 * while a document is read, so that one pass reports them all; each typed reader checks one value,
 * records an issue naming what was found and what is allowed, and returns undefined in its place so
 * that reading goes on. The readers of particular settings (sections, balance, rules...) are built
 * on these in their own modules.
 *
 * @module
 */

import type { CertificateInfo, TlsSupport } from "../runtime/types.ts";
import { closestMatch } from "./did_you_mean.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { DEFAULTS } from "./types.ts";

/** A key path: table keys and array indexes, e.g. ["backends", "app", "servers", 1, "weight"]. */
export type ConfigPath = readonly (string | number)[];

/** One problem found in a document. */
export interface ValidationIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: "error" | "warning";
  /** What the position should point at: the key itself (unknown keys) or its value. */
  readonly at: "key" | "value";
}

/** What reading an errorfile gave: its text, or why it could not be read (`missing`: there is no such file). */
export type ErrorFileText = { readonly text: string } | { readonly error: string; readonly missing?: boolean };

/** What is at a path (links followed), or why the loader could not look. */
export type PathCheck = "directory" | "file" | "other" | "missing" | { readonly error: string };

/** A `crt` or `ca-file` path as the loader found it: a file's text, a directory's certificate files (full paths, in load order), or why not. */
export type TlsFileRead =
  | { readonly text: string }
  | { readonly entries: readonly string[] }
  | { readonly error: string; readonly missing?: boolean };

/** What TLS settings need from outside the document: the files, and the runtime to read certificates. */
export interface TlsValidation {
  /** A path `tlsFilePaths` named (or an entry of a directory, or `<crt>.key`), as the loader read it. */
  readonly file: (path: string) => TlsFileRead;
  /** Reads a certificate and checks its key (`Runtime.inspectCertificate`); throws a TlsError. */
  readonly inspectCertificate: (chain: string, key: string) => CertificateInfo;
  /** What the runtime honours; settings it would ignore are refused. */
  readonly support: TlsSupport;
  /** Now, milliseconds since the epoch: certificates past or near their expiry are warned about. */
  readonly now: number;
}

/** What the validation needs from outside the document. */
export interface ValidationOptions {
  /**
   * The errorfile at `path` (as written in the configuration). The validator does no I/O: the
   * loader reads the files `errorFilePaths` lists first. Absent: errorfiles cannot be checked and
   * are refused.
   */
  readonly errorFile?: (path: string) => ErrorFileText;
  /**
   * What is at `path`: the `chroot` directory, looked at by the loader first (`chrootPath` names
   * it). Absent: the directory is not checked (a -W worker validating its master's texts, which
   * the master checked; a document validated without a file system).
   */
  readonly pathCheck?: (path: string) => PathCheck;
  /** Absent: a configuration with a TLS bind is refused (nothing to read certificates with). */
  readonly tls?: TlsValidation;
}

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  return String(value);
}

export function quoteList(values: readonly (string | number)[]): string {
  return values.map((value) => typeof value === "string" ? `"${value}"` : String(value)).join(", ");
}

export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const suggestion = closestMatch(key, allowed);
  return `Unknown key "${key}"` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : `: expected one of ${allowed.join(", ")}`);
}

/** One string of a list, with where it was written. */
export interface Located {
  readonly text: string;
  readonly path: ConfigPath;
}

/** Collects issues while reading a document. */
export class Reader {
  readonly issues: ValidationIssue[] = [];
  readonly errorFile: ValidationOptions["errorFile"];
  readonly pathCheck: ValidationOptions["pathCheck"];
  readonly tls: ValidationOptions["tls"];
  /** tune.bufsize, once [global] is read: an errorfile must fit in one buffer. */
  bufsize: number = DEFAULTS.tuneBufsize;

  constructor(options: ValidationOptions) {
    this.errorFile = options.errorFile;
    this.pathCheck = options.pathCheck;
    this.tls = options.tls;
  }

  error(path: ConfigPath, message: string, at: "key" | "value" = "value"): void {
    this.issues.push({ path, message, severity: "error", at });
  }

  warn(path: ConfigPath, message: string): void {
    this.issues.push({ path, message, severity: "warning", at: "value" });
  }

  get failed(): boolean {
    return this.issues.some((issue) => issue.severity === "error");
  }

  /** The value as a table, or undefined (with an error unless absent). */
  table(path: ConfigPath, value: unknown, allowed: readonly string[]): Table | undefined {
    if (value === undefined) return undefined;
    if (!isTable(value)) {
      this.error(path, `Expected a table, found ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.error([...path, key], unknownKeyMessage(key, allowed), "key");
    }
    return value;
  }

  integer(path: ConfigPath, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.error(path, `Expected an integer from ${min} to ${max}, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  boolean(path: ConfigPath, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") {
      this.error(path, `Expected true or false, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  string(path: ConfigPath, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "") {
      this.error(path, `Expected a non-empty string, found ${value === "" ? "an empty string" : describe(value)}`);
      return undefined;
    }
    return value;
  }

  /** A string that may be empty. */
  text(path: ConfigPath, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      this.error(path, `Expected a string, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(path: ConfigPath, value: unknown, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    const suggestion = typeof value === "string" ? closestMatch(value, allowed) : undefined;
    this.error(
      path,
      `Expected one of ${quoteList(allowed)}, found ${describe(value)}` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : ""),
    );
    return undefined;
  }

  /** A duration in milliseconds, at least `min`. */
  duration(path: ConfigPath, value: unknown, min = 0): number | undefined {
    if (value === undefined) return undefined;
    const parsed = parseDuration(value);
    if (typeof parsed === "string") {
      this.error(path, `Invalid duration: ${parsed}`);
      return undefined;
    }
    if (parsed < min) {
      this.error(path, `Expected a duration of at least ${formatDuration(min)}, found ${describe(value)}`);
      return undefined;
    }
    return parsed;
  }

  /** A key this version parses but cannot honour: an error, so nobody relies on it silently. */
  unsupported(path: ConfigPath, value: unknown, feature: string): void {
    if (value !== undefined) this.error(path, `"${path[path.length - 1]}" is not supported by this version yet (${feature})`);
  }

  /** A string or a non-empty array of strings, each with its path. */
  stringList(path: ConfigPath, value: unknown, example: string): Located[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string") return this.string(path, value) === undefined ? [] : [{ text: value, path }];
    if (!Array.isArray(value) || value.length === 0) {
      this.error(path, `Expected a string or a non-empty array of strings such as ${example}, found ${Array.isArray(value) ? "an empty array" : describe(value)}`);
      return [];
    }
    const list: Located[] = [];
    value.forEach((item: unknown, index) => {
      const text = this.string([...path, index], item);
      if (text !== undefined) list.push({ text, path: [...path, index] });
    });
    return list;
  }
}
