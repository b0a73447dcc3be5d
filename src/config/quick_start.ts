/**
 * The quick start (`proxy --bind ADDR --backend HOST,HOST`) as a configuration document: one
 * frontend "main", one backend "main", servers "s1".."sN". It goes through the same validation as
 * a file, so there is one path from a model to a running proxy; issues are reported by flag.
 *
 * @module
 */

import { splitList } from "./address.ts";
import { ConfigError } from "./errors.ts";
import type { Config } from "./types.ts";
import { validateConfigDocument } from "./validate.ts";
import type { ConfigPath, TlsValidation } from "./validate.ts";

/** The quick-start flags, as given on the command line. */
export interface QuickStartOptions {
  /** Comma-separated lists; each entry may itself be such a list. */
  readonly bind: readonly string[];
  readonly backend: readonly string[];
  readonly mode?: string;
  readonly balance?: string;
  /** Bind with SO_REUSEPORT (default true). */
  readonly reusePort?: boolean;
  /** Log targets (`stdout`, `udp://host[:port]`...): operator messages and the frontend's traffic lines. */
  readonly log?: readonly string[];
  /** Certificate files or directories (`--cert`): every --bind address then serves HTTPS (or TLS in tcp mode). */
  readonly cert?: readonly string[];
  /** `--stats ADDR`: a listener serving the stats page at / and /stats, its CSV and JSON, and /metrics. */
  readonly stats?: readonly string[];
  /** `--stats-auth user:password`: the stats listener asks for one of these (basic auth). */
  readonly statsAuth?: readonly string[];
}

/** The name of the frontend `--stats` builds. */
export const QUICK_START_STATS_NAME = "stats";

/** The mode when --mode is not given. */
export const QUICK_START_MODE = "http";

/** The name of the frontend and of the backend the quick start builds. */
export const QUICK_START_NAME = "main";

/** The configuration document the flags stand for (before validation). */
export function quickStartDocument(options: QuickStartOptions): Record<string, unknown> {
  // http is the quick start's default: `proxy --bind :80 --backend a,b` is a web load balancer.
  const mode = { mode: options.mode ?? QUICK_START_MODE };
  const log = (options.log ?? []).flatMap(splitList);
  const certs = (options.cert ?? []).flatMap(splitList);
  const binds = options.bind.flatMap(splitList);
  const statsBinds = (options.stats ?? []).flatMap(splitList);
  const statsAuth = options.statsAuth ?? [];
  const statsFrontend = statsBinds.length === 0 ? {} : {
    [QUICK_START_STATS_NAME]: {
      bind: statsBinds,
      mode: "http",
      reuseport: options.reusePort ?? true,
      "stats-uri": ["/stats", "/"],
      "metrics-uri": "/metrics",
      ...(statsAuth.length === 0 ? {} : { "stats-auth": statsAuth }),
    },
  };
  return {
    ...(log.length === 0 ? {} : { global: { log } }),
    frontends: {
      [QUICK_START_NAME]: {
        bind: certs.length === 0 ? binds : binds.map((address) => ({ address, crt: certs })),
        "default-backend": QUICK_START_NAME,
        reuseport: options.reusePort ?? true,
        ...(log.length === 0 ? {} : { log: "global" }),
        ...mode,
      },
      ...statsFrontend,
    },
    backends: {
      [QUICK_START_NAME]: {
        ...(options.balance === undefined ? {} : { balance: options.balance }),
        servers: options.backend.flatMap(splitList).map((address, index) => ({ name: `s${index + 1}`, address })),
        ...mode,
      },
    },
  };
}

/** The flag a key path of the quick-start document came from. */
function flagOf(path: ConfigPath): string {
  const [section, , key, , bindKey] = path;
  if (section === "global") return "--log";
  if (bindKey === "crt") return "--cert";
  if (section === "frontends" && path[1] === QUICK_START_STATS_NAME) return key === "stats-auth" ? "--stats-auth" : "--stats";
  if (key === "mode") return "--mode";
  if (section === "frontends") return "--bind";
  if (key === "balance") return "--balance";
  return "--backend";
}

/** The quick-start Config and its warnings (a certificate near its expiry), each with the flag it came from. */
export interface QuickStartLoaded {
  readonly config: Config;
  readonly warnings: readonly { readonly flag: string; readonly message: string }[];
}

/**
 * Builds and validates the quick-start Config; throws ConfigError naming the flag at fault. With
 * --cert, `tls` has the certificate files (read with `readTlsFiles` from `quickStartDocument`).
 */
export function loadQuickStart(options: QuickStartOptions, tls?: TlsValidation): QuickStartLoaded {
  if (options.bind.flatMap(splitList).length === 0) {
    throw new ConfigError("CONFIG_MISSING", "--bind", "Missing --bind: give at least one address to listen on, e.g. --bind :8080");
  }
  if (options.backend.flatMap(splitList).length === 0) {
    throw new ConfigError("CONFIG_MISSING", "--backend", "Missing --backend: give at least one server, e.g. --backend 127.0.0.1:8081,127.0.0.1:8082");
  }
  const result = validateConfigDocument(quickStartDocument(options), { tls });
  const errors = result.issues.filter((issue) => issue.severity === "error");
  if (result.config === undefined || errors.length > 0) {
    const flag = flagOf(errors[0]!.path);
    // The frontend and the backend both get --mode, every bind gets --cert: say each problem once.
    const messages = [...new Set(errors.map((issue) => `${issue.message} (in ${flagOf(issue.path)})`))];
    throw new ConfigError(errors[0]!.message.startsWith("Mode") ? "CONFIG_UNSUPPORTED" : "CONFIG_INVALID_VALUE", flag, messages.join("\n"));
  }
  const seen = new Set<string>();
  const warnings = result.issues.filter((issue) => issue.severity === "warning" && !seen.has(issue.message) && seen.add(issue.message) !== undefined)
    .map((issue) => ({ flag: flagOf(issue.path), message: issue.message }));
  return { config: result.config, warnings };
}

/** The quick-start Config (see `loadQuickStart`). */
export function buildQuickStartConfig(options: QuickStartOptions, tls?: TlsValidation): Config {
  return loadQuickStart(options, tls).config;
}
