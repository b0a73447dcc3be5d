/**
 * Loads configuration files: TOML through smol-toml, several files merged in order (later files
 * override earlier ones, like HAProxy's list of `-f` files), validated into a Config, and every
 * issue placed at its file:line:col.
 *
 * Errorfiles are read here too, between parsing and validation: the merged document names them,
 * they are read (relative paths from the current directory, as HAProxy does), and the validator
 * checks their content, so a missing or malformed page is reported at its `errorfiles` key. The
 * `chroot` directory is looked at the same way, when the caller can (`pathKind`).
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { ConfigError } from "./errors.ts";
import { formatTomlPath, locateTomlKeys } from "./toml_positions.ts";
import type { TomlPositions } from "./toml_positions.ts";
import { chrootPath, errorFilePaths, tlsFilePaths, validateConfigDocument } from "./validate.ts";
import type { ConfigPath, ErrorFileText, PathCheck, TlsFileRead, TlsValidation, ValidationIssue, ValidationOptions } from "./validate.ts";
import { hasPrivateKey, isCertificateFileName } from "./pem.ts";
import { SYSTEM_CA } from "./server_tls.ts";
import type { CertificateInfo, TlsSupport } from "../runtime/types.ts";
import type { Config } from "./types.ts";

/** One configuration text and the name it is reported under (usually its path). */
export interface ConfigSource {
  readonly name: string;
  readonly text: string;
}

/** Extra inputs of loadConfigSources. */
export interface LoadSourcesOptions {
  /**
   * Texts of errorfiles by their path as written in the configuration. Without an entry, a
   * configuration naming an errorfile is refused (loadConfigFiles reads them itself).
   */
  readonly errorFiles?: ReadonlyMap<string, string>;
  /** Certificates and CA files, read by the master (`readTlsFiles`), and the runtime to check them. */
  readonly tls?: TlsValidation;
}

/** What reading certificates needs from the runtime. */
export interface TlsIo {
  readonly listDirectory: (path: string) => Promise<string[]>;
  readonly inspectCertificate: (chain: string, key: string) => CertificateInfo;
  readonly support: TlsSupport;
  readonly now: () => number;
}

/** A TlsValidation over files already read. */
export function tlsValidation(files: ReadonlyMap<string, TlsFileRead>, io: Omit<TlsIo, "listDirectory">): TlsValidation {
  return {
    file: (path) => files.get(path) ?? { error: "it was not read" },
    inspectCertificate: io.inspectCertificate,
    support: io.support,
    now: io.now(),
  };
}

/**
 * Reads every `crt` and `ca-file` the document names: a directory's certificate files in name
 * order (HAProxy's), each file's `<file>.key` when it holds no key. The result is what a -W master
 * hands its workers, which never read them.
 */
export async function readTlsFiles(
  document: unknown,
  readTextFile: (path: string) => Promise<string>,
  pathKind: PathKindOf | undefined,
  listDirectory: (path: string) => Promise<string[]>,
): Promise<Map<string, TlsFileRead>> {
  const files = new Map<string, TlsFileRead>();
  const readFile = async (path: string): Promise<void> => {
    try {
      const text = await readTextFile(path);
      files.set(path, { text });
      if (!hasPrivateKey(text)) {
        try {
          files.set(`${path}.key`, { text: await readTextFile(`${path}.key`) });
        } catch (error) {
          files.set(`${path}.key`, { error: readFailure(error), missing: isNotFound(error) });
        }
      }
    } catch (error) {
      files.set(path, { error: readFailure(error), missing: isNotFound(error) });
    }
  };
  for (const path of tlsFilePaths(document)) {
    if (path === SYSTEM_CA) {
      files.set(path, await readSystemCa(readTextFile));
      continue;
    }
    let kind: string | undefined;
    try {
      kind = pathKind === undefined ? undefined : await pathKind(path);
    } catch (error) {
      files.set(path, { error: readFailure(error) });
      continue;
    }
    if (kind === "directory") {
      try {
        const base = path.endsWith("/") ? path : `${path}/`;
        const names = (await listDirectory(path)).filter(isCertificateFileName).sort();
        const entries: string[] = [];
        for (const name of names) {
          const entry = base + name;
          if (pathKind !== undefined && await pathKind(entry) !== "file") continue;
          entries.push(entry);
          await readFile(entry);
        }
        files.set(path, { entries });
      } catch (error) {
        files.set(path, { error: `cannot list the directory: ${readFailure(error)}` });
      }
    } else if (kind === "missing") {
      files.set(path, { error: "no such file or directory", missing: true });
    } else {
      await readFile(path);
    }
  }
  return files;
}

/** An issue placed in its source. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The key path, e.g. `backends.app.servers[1].weight` (empty for the whole document). */
  readonly path: string;
  readonly message: string;
  readonly severity: "error" | "warning";
}

/** A valid configuration with the warnings found on the way. */
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
  readonly files: readonly string[];
}

/** `file:line:col: path: message`, the form editors and CI logs can jump to. */
export function formatConfigIssue(issue: ConfigIssue): string {
  // Line 0: an issue of a command-line flag (the quick start), which has no position.
  const place = issue.line === 0 ? issue.file : `${issue.file}:${issue.line}:${issue.column}`;
  const prefix = issue.severity === "warning" ? "warning: " : "";
  return issue.path === "" ? `${place}: ${prefix}${issue.message}` : `${place}: ${prefix}${issue.path}: ${issue.message}`;
}

/** A configuration that cannot run, with every issue found in its files. */
export class ConfigFileError extends ConfigError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    const errors = issues.filter((issue) => issue.severity === "error");
    // Warnings stay in the report: fixing the errors should not hide them until the next run.
    super(
      "CONFIG_INVALID",
      errors[0]?.path ?? "",
      `Configuration has ${errors.length} error${errors.length === 1 ? "" : "s"}:\n` + issues.map(formatConfigIssue).join("\n"),
    );
    this.name = "ConfigFileError";
    this.issues = issues;
  }
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Merges `source` into `target`: tables key by key, anything else (arrays included) replaced. */
function mergeInto(target: Table, source: Table): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isTable(value)) {
      const merged: Table = isTable(existing) ? existing : {};
      mergeInto(merged, value);
      target[key] = merged;
    } else {
      target[key] = value;
    }
  }
}

interface ParsedSource {
  readonly name: string;
  readonly document: Table;
  readonly positions: TomlPositions;
}

function parseSource(source: ConfigSource, issues: ConfigIssue[]): ParsedSource | undefined {
  try {
    const document = parse(source.text) as Table;
    return { name: source.name, document, positions: locateTomlKeys(source.text) };
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // smol-toml's message repeats the position and a code block; keep its first line.
    const reason = error.message.replace(/^Invalid TOML document: /, "").split("\n")[0]!;
    issues.push({
      file: source.name,
      line: error.line,
      column: error.column,
      path: "",
      message: `Invalid TOML: ${reason}`,
      severity: "error",
    });
    return undefined;
  }
}

/** Finds the file and position that set `path`: the last file defining it, else the deepest ancestor. */
function place(parsed: readonly ParsedSource[], issue: ValidationIssue): ConfigIssue {
  const text = formatTomlPath(issue.path);
  for (let depth = issue.path.length; depth >= 0; depth--) {
    const prefix = formatTomlPath(issue.path.slice(0, depth));
    for (let i = parsed.length - 1; i >= 0; i--) {
      const location = depth === 0 ? undefined : parsed[i]!.positions.get(prefix);
      if (location === undefined) continue;
      const position = depth === issue.path.length && issue.at === "key" ? location.key : location.value;
      return { file: parsed[i]!.name, ...position, path: text, message: issue.message, severity: issue.severity };
    }
  }
  const last = parsed[parsed.length - 1];
  return { file: last?.name ?? "", line: 1, column: 1, path: text, message: issue.message, severity: issue.severity };
}

interface ParsedSources {
  readonly parsed: readonly ParsedSource[];
  readonly merged: Table;
}

/** Parses every source and merges them; throws ConfigFileError on a syntax error. */
function parseSources(sources: readonly ConfigSource[]): ParsedSources {
  if (sources.length === 0) throw new ConfigError("CONFIG_MISSING", "-f", "No configuration file given");
  const syntaxIssues: ConfigIssue[] = [];
  const parsed = sources.map((source) => parseSource(source, syntaxIssues)).filter((p): p is ParsedSource => p !== undefined);
  if (syntaxIssues.length > 0) throw new ConfigFileError(syntaxIssues);
  const merged: Table = {};
  for (const source of parsed) mergeInto(merged, source.document);
  return { parsed, merged };
}

function validateSources(
  sources: readonly ConfigSource[],
  { parsed, merged }: ParsedSources,
  options: ValidationOptions,
): LoadedConfig {
  const result = validateConfigDocument(merged, options);
  const fileOrder = new Map(parsed.map((source, index) => [source.name, index]));
  const issues = result.issues
    .map((issue) => place(parsed, issue))
    .sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  if (result.config === undefined) throw new ConfigFileError(issues);
  return {
    config: result.config,
    warnings: issues.filter((issue) => issue.severity === "warning"),
    files: sources.map((source) => source.name),
  };
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === "ENOENT" || (error as { name?: unknown }).name === "NotFound";
}

/** Why a file could not be read, in a few words. */
function readFailure(error: unknown): string {
  return isNotFound(error) ? "no such file" : error instanceof Error ? error.message : String(error);
}

/**
 * Parses, merges and validates configuration texts; throws ConfigFileError listing every error.
 * Errorfiles are not read from disk here: pass their texts in `options.errorFiles`.
 */
export function loadConfigSources(sources: readonly ConfigSource[], options: LoadSourcesOptions = {}): LoadedConfig {
  const parsed = parseSources(sources);
  const texts = options.errorFiles;
  return validateSources(sources, parsed, {
    errorFile: texts === undefined ? undefined : (path) => {
      const text = texts.get(path);
      return text === undefined ? { error: "it is not among the errorFiles given to loadConfigSources" } : { text };
    },
    tls: options.tls,
  });
}

/** What is at a path (links followed): see `Runtime.pathKind`. */
export type PathKindOf = (path: string) => Promise<Exclude<PathCheck, { readonly error: string }>>;

/**
 * Where systems keep their CA bundle (Debian, Ubuntu and Alpine; Fedora and RHEL; macOS, OpenBSD
 * and Alpine's other name), as Go's crypto/x509 looks for it: `ca-file = "@system-ca"` is the first found.
 */
const SYSTEM_CA_FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

async function readSystemCa(readTextFile: (path: string) => Promise<string>): Promise<TlsFileRead> {
  for (const candidate of SYSTEM_CA_FILES) {
    try {
      return { text: await readTextFile(candidate) };
    } catch {
      // The next place.
    }
  }
  return { error: `no system CA bundle found (looked for ${SYSTEM_CA_FILES.join(", ")})`, missing: true };
}

/** A loaded configuration with the certificate files it read. */
export interface LoadedConfigFiles extends LoadedConfig {
  readonly tlsFiles: ReadonlyMap<string, TlsFileRead>;
}

/**
 * Reads and loads configuration files, in order, with `readTextFile`, and the errorfiles and
 * certificates they name (certificates only with `tls`); with `pathKind`, the `chroot` directory
 * is checked to be one.
 */
export async function loadConfigFiles(
  paths: readonly string[],
  readTextFile: (path: string) => Promise<string>,
  pathKind?: PathKindOf,
  tls?: TlsIo,
): Promise<LoadedConfigFiles> {
  const sources: ConfigSource[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readTextFile(path);
    } catch (error) {
      throw new ConfigError("CONFIG_MISSING", "-f", `Cannot read configuration file "${path}": ${readFailure(error)}`, { cause: error });
    }
    sources.push({ name: path, text });
  }
  const parsed = parseSources(sources);
  const errorFiles = new Map<string, ErrorFileText>();
  await Promise.all(errorFilePaths(parsed.merged).map(async (path) => {
    try {
      errorFiles.set(path, { text: await readTextFile(path) });
    } catch (error) {
      errorFiles.set(path, { error: readFailure(error), missing: isNotFound(error) });
    }
  }));
  const chroot = chrootPath(parsed.merged);
  let chrootCheck: PathCheck | undefined;
  if (pathKind !== undefined && chroot !== undefined) {
    try {
      chrootCheck = await pathKind(chroot);
    } catch (error) {
      chrootCheck = { error: readFailure(error) };
    }
  }
  const tlsFiles = tls === undefined ? new Map<string, TlsFileRead>() : await readTlsFiles(parsed.merged, readTextFile, pathKind, tls.listDirectory);
  const loaded = validateSources(sources, parsed, {
    errorFile: (path) => errorFiles.get(path) ?? { error: "it was not read" },
    pathCheck: chrootCheck === undefined ? undefined : () => chrootCheck,
    tls: tls === undefined ? undefined : tlsValidation(tlsFiles, tls),
  });
  return { ...loaded, tlsFiles };
}

/** Path of an issue as text (for callers that only have a ConfigPath). */
export function configPathText(path: ConfigPath): string {
  return formatTomlPath(path);
}
