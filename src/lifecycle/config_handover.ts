/**
 * What a -W master hands each worker so that the worker needs no file system: the texts of the
 * configuration files and errorfiles the master read (or the quick-start flags), and the few facts
 * a jailed worker cannot find out itself.
 *
 * The worker validates the texts again with the same code (`loadConfigSources`), so it runs exactly
 * what the master checked, and a reload is "read the files again, hand the new texts over".
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { Runtime } from "../runtime/types.ts";
import type { ConfigIssue, ConfigSource } from "../config/load.ts";
import { loadConfigFiles, loadConfigSources, readTlsFiles, tlsValidation } from "../config/load.ts";
import type { PathKindOf, TlsIo } from "../config/load.ts";
import type { TlsFileRead } from "../config/validate.ts";
import { buildQuickStartConfig, loadQuickStart, quickStartDocument } from "../config/quick_start.ts";
import type { QuickStartOptions } from "../config/quick_start.ts";
import type { Identity } from "./privileges.ts";
import { disableReusePort } from "./process_options.ts";
import { LifecycleError } from "./errors.ts";
import type { Verbosity } from "./worker_logger.ts";
import { parseInheritedSockets } from "./listener_handover.ts";
import type { HandedServerState } from "./server_state_handover.ts";
import type { InheritedSocketSetup } from "./listener_handover.ts";

/** The configuration as handed over: file texts, or the quick-start flags. */
export type ConfigHandover =
  | {
    readonly kind: "files";
    /** The -f files in order, each with its text. */
    readonly sources: readonly ConfigSource[];
    /** Errorfile texts by their path as written in the configuration. */
    readonly errorFiles: readonly (readonly [string, string])[];
    /** Certificates, keys and CA files as the master read them (`readTlsFiles`). */
    readonly tlsFiles: readonly (readonly [string, TlsFileRead])[];
  }
  | {
    readonly kind: "quick-start";
    readonly options: QuickStartOptions;
    readonly tlsFiles: readonly (readonly [string, TlsFileRead])[];
  };

/** What reading the configuration needs from the runtime. */
export interface ConfigReadIo {
  readonly readTextFile: (path: string) => Promise<string>;
  /** Absent: the `chroot` directory and certificate directories are not looked at. */
  readonly pathKind?: PathKindOf;
  /** Absent: a configuration with certificates is refused. */
  readonly tls?: TlsIo;
}

/** Everything a worker gets from its master before it builds its proxy. */
export interface WorkerSetup {
  readonly config: ConfigHandover;
  /** --no-reuseport (already part of the quick-start flags). */
  readonly noReusePort: boolean;
  /** The user and group to become once bound, resolved by the master (it can read the account files). */
  readonly identity: Identity | null;
  /** The master's host name, for log headers: a jailed Deno worker may not ask the system. */
  readonly hostname: string;
  /** A file the master could read, which the worker tries to read to check its jail; null: none found. */
  readonly jailProbe: string | null;
  /** The master's -q/-V. */
  readonly verbosity: Verbosity;
  /**
   * The listening sockets the worker inherits from the master, to adopt instead of binding; null
   * where the master cannot hand sockets down (the worker binds its own, SO_REUSEPORT).
   */
  readonly listeners: readonly InheritedSocketSetup[] | null;
  /**
   * The master's TLS session ticket keys (48 bytes, base64), the same for every worker of every
   * generation, so that a client resumes its session on any of them and after a reload.
   */
  readonly tlsTicketKeys: string;
  /**
   * The server states to start from (server_state_handover.ts: the previous generation's, or the
   * `server-state-file` the master read), applied once the proxy is built and before it serves; null: none.
   */
  readonly serverState: HandedServerState | null;
}

/** A configuration read by the master, with what to hand over. */
export interface ReadConfig {
  readonly handover: ConfigHandover;
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
}

/** The runtime's file reading and certificate checks, for `readConfig`. */
export function configReadIo(runtime: Runtime): ConfigReadIo {
  return {
    readTextFile: (path) => runtime.readTextFile(path),
    pathKind: (path) => runtime.pathKind(path),
    tls: {
      listDirectory: (path) => runtime.listDirectory(path),
      inspectCertificate: (chain, key) => runtime.inspectCertificate(chain, key),
      support: runtime.info.tls,
      now: () => runtime.wallClock(),
    },
  };
}

/**
 * Reads and validates the configuration as the master does at start and on every reload, keeping
 * every text read (the files, the errorfiles and the certificates they name) for the workers; with
 * `pathKind`, the `chroot` directory is checked to be one.
 */
export async function readConfig(
  files: readonly string[],
  quickStart: QuickStartOptions | null,
  noReusePort: boolean,
  io: ConfigReadIo,
): Promise<ReadConfig> {
  if (files.length === 0) {
    if (quickStart === null) {
      throw new LifecycleError("LIFECYCLE_WORKER", "No configuration: neither files nor quick-start flags");
    }
    const tlsFiles = io.tls === undefined || (quickStart.cert ?? []).length === 0
      ? new Map<string, TlsFileRead>()
      : await readTlsFiles(quickStartDocument(quickStart), io.readTextFile, io.pathKind, io.tls.listDirectory);
    const loaded = loadQuickStart(quickStart, io.tls === undefined ? undefined : tlsValidation(tlsFiles, io.tls));
    return {
      handover: { kind: "quick-start", options: quickStart, tlsFiles: [...tlsFiles] },
      config: loaded.config,
      warnings: loaded.warnings.map(({ flag, message }) => ({ file: flag, line: 0, column: 0, path: "", message, severity: "warning" })),
    };
  }
  const texts = new Map<string, string>();
  const loaded = await loadConfigFiles(files, async (path) => {
    const text = await io.readTextFile(path);
    texts.set(path, text);
    return text;
  }, io.pathKind, io.tls);
  const configFiles = new Set(files);
  const handover: ConfigHandover = {
    kind: "files",
    sources: files.map((name) => ({ name, text: texts.get(name)! })),
    errorFiles: [...texts].filter(([path]) => !configFiles.has(path) && !loaded.tlsFiles.has(path)),
    tlsFiles: [...loaded.tlsFiles],
  };
  const config = noReusePort ? disableReusePort(loaded.config) : loaded.config;
  return { handover, config, warnings: loaded.warnings };
}

/** The certificate, key and CA files the master read for a handover, in the order it read them. */
export function certificateFilesRead(handover: ConfigHandover): string[] {
  return handover.tlsFiles.filter(([, read]) => "text" in read).map(([path]) => path);
}

/**
 * Builds the Config from what the master handed over, without touching the file system; `tls`
 * checks the certificates handed over (the runtime reads them, no file is opened).
 */
export function configFromSetup(setup: WorkerSetup, tls?: Omit<TlsIo, "listDirectory">): Config {
  const handover = setup.config;
  const tlsFiles = new Map(handover.tlsFiles);
  const validation = tls === undefined ? undefined : tlsValidation(tlsFiles, tls);
  if (handover.kind === "quick-start") return buildQuickStartConfig(handover.options, validation);
  const loaded = loadConfigSources(handover.sources, { errorFiles: new Map(handover.errorFiles), tls: validation });
  return setup.noReusePort ? disableReusePort(loaded.config) : loaded.config;
}

function invalid(what: string): LifecycleError {
  return new LifecycleError("LIFECYCLE_WORKER", `Invalid setup from the master: ${what}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function optionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}

function parseHandover(value: unknown): ConfigHandover {
  if (!isRecord(value)) throw invalid("config is not an object");
  if (value.kind === "files") {
    const sources = value.sources;
    if (!Array.isArray(sources) || sources.length === 0) {
      throw invalid("config.sources is not a list of files");
    }
    for (const source of sources) {
      if (!isRecord(source) || typeof source.name !== "string" || typeof source.text !== "string") {
        throw invalid("config.sources holds something else than {name, text}");
      }
    }
    const errorFiles = value.errorFiles;
    if (
      !Array.isArray(errorFiles) || !errorFiles.every((entry) => isStringList(entry) && entry.length === 2)
    ) {
      throw invalid("config.errorFiles is not a list of [path, text]");
    }
    return {
      kind: "files",
      sources: sources.map((source) => ({ name: source.name as string, text: source.text as string })),
      errorFiles: errorFiles.map((entry) => [entry[0] as string, entry[1] as string] as const),
      tlsFiles: parseTlsFiles(value.tlsFiles),
    };
  }
  if (value.kind === "quick-start") {
    const options = value.options;
    if (
      !isRecord(options) || !isStringList(options.bind) || !isStringList(options.backend) ||
      !optionalString(options.mode) ||
      !optionalString(options.balance) ||
      !(options.reusePort === undefined || typeof options.reusePort === "boolean") ||
      !(options.log === undefined || isStringList(options.log)) ||
      !(options.cert === undefined || isStringList(options.cert)) ||
      !(options.stats === undefined || isStringList(options.stats)) ||
      !(options.statsAuth === undefined || isStringList(options.statsAuth)) ||
      !optionalString(options.statsSocket)
    ) {
      throw invalid("config.options are not quick-start flags");
    }
    return {
      kind: "quick-start",
      options: {
        bind: options.bind,
        backend: options.backend,
        mode: options.mode as string | undefined,
        balance: options.balance as string | undefined,
        reusePort: options.reusePort as boolean | undefined,
        log: options.log as string[] | undefined,
        cert: options.cert as string[] | undefined,
        ...(options.statsSocket === undefined ? {} : { statsSocket: options.statsSocket as string }),
        stats: options.stats as string[] | undefined,
        statsAuth: options.statsAuth as string[] | undefined,
      },
      tlsFiles: parseTlsFiles(value.tlsFiles),
    };
  }
  throw invalid(`unknown config kind ${JSON.stringify(value.kind)}`);
}

function isTlsFileRead(value: unknown): value is TlsFileRead {
  if (!isRecord(value)) return false;
  if (typeof value.text === "string") return true;
  if (isStringList(value.entries)) return true;
  return typeof value.error === "string" && (value.missing === undefined || typeof value.missing === "boolean");
}

function parseTlsFiles(value: unknown): (readonly [string, TlsFileRead])[] {
  if (!Array.isArray(value) || !value.every((entry) => Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string" && isTlsFileRead(entry[1]))) {
    throw invalid("config.tlsFiles is not a list of [path, file]");
  }
  return value.map((entry) => [entry[0] as string, entry[1] as TlsFileRead] as const);
}

function parseTicketKeys(value: unknown): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]{64}$/.test(value)) throw invalid("tlsTicketKeys is not 48 bytes in base64");
  return value;
}

/** 48 random bytes of TLS session ticket keys, in base64 for the setup. */
export function newTicketKeys(): string {
  const keys = crypto.getRandomValues(new Uint8Array(48));
  let binary = "";
  for (const byte of keys) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The setup's ticket keys as bytes. */
export function ticketKeyBytes(setup: WorkerSetup): Uint8Array {
  return Uint8Array.from(atob(setup.tlsTicketKeys), (character) => character.charCodeAt(0));
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Reads the setup sent by the master; throws a LifecycleError when it is not one. */
export function parseWorkerSetup(value: unknown): WorkerSetup {
  if (!isRecord(value)) throw invalid("not an object");
  const identity = value.identity;
  if (identity !== null && !(isRecord(identity) && isId(identity.uid) && isId(identity.gid))) {
    throw invalid("identity is neither null nor {uid, gid}");
  }
  if (typeof value.noReusePort !== "boolean") throw invalid("noReusePort is not a boolean");
  if (typeof value.hostname !== "string") throw invalid("hostname is not a string");
  if (value.jailProbe !== null && typeof value.jailProbe !== "string") {
    throw invalid("jailProbe is neither null nor a path");
  }
  if (value.verbosity !== "quiet" && value.verbosity !== "normal" && value.verbosity !== "verbose") {
    throw invalid("verbosity is not quiet, normal or verbose");
  }
  return {
    config: parseHandover(value.config),
    noReusePort: value.noReusePort,
    identity: identity === null ? null : { uid: identity.uid as number, gid: identity.gid as number },
    hostname: value.hostname,
    jailProbe: value.jailProbe,
    verbosity: value.verbosity,
    listeners: parseInheritedSockets(value.listeners),
    tlsTicketKeys: parseTicketKeys(value.tlsTicketKeys),
    serverState: parseServerStateHandover(value.serverState),
  };
}

function parseServerStateHandover(value: unknown): HandedServerState | null {
  if (value === null || value === undefined) return null;
  if (!isRecord(value) || typeof value.text !== "string" || typeof value.source !== "string") {
    throw invalid("serverState is neither null nor {text, source}");
  }
  return { text: value.text, source: value.source };
}
