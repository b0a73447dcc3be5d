/**
 * Builds the validated Config of the quick start (`proxy --bind ADDR --backend HOST,HOST`): one
 * frontend "main", one backend "main", servers "s1".."sN", defaults everywhere else.
 *
 * @module
 */

import { isBalanceAlgorithm, BALANCE_ALGORITHMS } from "../core/balance/mod.ts";
import { DEFAULT_WEIGHT } from "../core/server.ts";
import { AddressError, parseBindAddress, parseServerAddress, splitList } from "./address.ts";
import { ConfigError } from "./errors.ts";
import { DEFAULTS } from "./types.ts";
import type { BindConfig, Config, ProxyMode, ServerConfig } from "./types.ts";

/** The quick-start flags, as given on the command line. */
export interface QuickStartOptions {
  /** Comma-separated lists; each entry may itself be such a list. */
  readonly bind: readonly string[];
  readonly backend: readonly string[];
  readonly mode?: string;
  readonly balance?: string;
  /** Bind with SO_REUSEPORT (default true). */
  readonly reusePort?: boolean;
}

/** Modes that exist in this build. http mode arrives with the HTTP engine. */
export const AVAILABLE_MODES: readonly ProxyMode[] = ["tcp"];

/** Mode of the quick start when `--mode` is not given. */
export const QUICK_START_DEFAULT_MODE: ProxyMode = "tcp";

/** Builds and validates the quick-start Config; throws ConfigError with the flag at fault. */
export function buildQuickStartConfig(options: QuickStartOptions): Config {
  const mode = parseMode(options.mode ?? QUICK_START_DEFAULT_MODE);
  const balanceName = options.balance ?? DEFAULTS.balance;
  if (!isBalanceAlgorithm(balanceName)) {
    throw new ConfigError(
      "CONFIG_INVALID_VALUE",
      "--balance",
      `Unknown balance algorithm "${balanceName}": expected one of ${BALANCE_ALGORITHMS.join(", ")}`,
    );
  }
  const bindTexts = options.bind.flatMap(splitList);
  if (bindTexts.length === 0) throw new ConfigError("CONFIG_MISSING", "--bind", "Missing --bind: give at least one address to listen on, e.g. --bind :8080");
  const serverTexts = options.backend.flatMap(splitList);
  if (serverTexts.length === 0) throw new ConfigError("CONFIG_MISSING", "--backend", "Missing --backend: give at least one server, e.g. --backend 127.0.0.1:8081,127.0.0.1:8082");

  const reusePort = options.reusePort ?? true;
  const binds: BindConfig[] = [];
  const seen = new Set<string>();
  for (const text of bindTexts) {
    const address = wrapAddressError("--bind", () => parseBindAddress(text));
    const key = `${address.host}|${address.port}`;
    if (seen.has(key) && address.port !== 0) {
      throw new ConfigError("CONFIG_CONFLICT", "--bind", `Address "${text}" is given twice in --bind`);
    }
    seen.add(key);
    binds.push(Object.freeze({ text, host: address.host, port: address.port, reusePort }));
  }

  const servers: ServerConfig[] = serverTexts.map((text, index) => {
    const address = wrapAddressError("--backend", () => parseServerAddress(text));
    return Object.freeze({
      name: `s${index + 1}`,
      address: text,
      host: address.host,
      port: address.port,
      weight: DEFAULT_WEIGHT,
      maxconn: 0,
      backup: false,
    });
  });

  return Object.freeze({
    global: Object.freeze({ maxconn: DEFAULTS.globalMaxconn }),
    frontends: Object.freeze([
      Object.freeze({
        name: "main",
        mode,
        binds: Object.freeze(binds),
        defaultBackend: "main",
        maxconn: DEFAULTS.frontendMaxconn,
        backlog: DEFAULTS.backlog,
        timeouts: Object.freeze({ client: DEFAULTS.timeoutClient }),
      }),
    ]),
    backends: Object.freeze([
      Object.freeze({
        name: "main",
        mode,
        balance: balanceName,
        retries: DEFAULTS.retries,
        redispatch: DEFAULTS.redispatch,
        allBackups: false,
        timeouts: Object.freeze({ connect: DEFAULTS.timeoutConnect, server: DEFAULTS.timeoutServer }),
        servers: Object.freeze(servers),
      }),
    ]),
  });
}

function parseMode(text: string): ProxyMode {
  if (text === "tcp") return "tcp";
  if (text === "http") {
    throw new ConfigError(
      "CONFIG_UNSUPPORTED",
      "--mode",
      `Mode "http" is not available in this version: only "tcp" is (the HTTP engine is being built)`,
    );
  }
  throw new ConfigError("CONFIG_INVALID_VALUE", "--mode", `Unknown mode "${text}": expected "tcp" or "http"`);
}

function wrapAddressError<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AddressError) {
      throw new ConfigError("CONFIG_INVALID_VALUE", flag, `${error.message} (in ${flag})`, { cause: error });
    }
    throw error;
  }
}
