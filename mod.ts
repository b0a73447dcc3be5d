/**
 * The public library API, for embedding the proxy in a program of your own.
 *
 * ```ts
 * import { buildQuickStartConfig, createProxy } from "./mod.ts";
 * const proxy = createProxy(buildQuickStartConfig({ bind: [":8080"], backend: ["10.0.0.1:80", "10.0.0.2:80"] }));
 * await proxy.start();
 * ```
 *
 * @module
 */

import type { Config } from "./src/config/types.ts";
import type { Logger } from "./src/core/logger.ts";
import type { Runtime } from "./src/runtime/types.ts";
import { SILENT_LOGGER } from "./src/core/logger.ts";
import { currentRuntime } from "./src/runtime/detect.ts";
import { Proxy } from "./src/engine/proxy.ts";
import { loadConfigFiles, loadConfigSources } from "./src/config/load.ts";
import type { LoadedConfig } from "./src/config/load.ts";

/** Options of {@link createProxy}. */
export interface CreateProxyOptions {
  /** Defaults to the runtime running this code. */
  readonly runtime?: Runtime;
  /** Operator messages; silent by default. */
  readonly logger?: Logger;
}

/**
 * Loads and validates a configuration: a file path, or `{ text }` holding TOML (with an optional
 * `name` for messages). Throws ConfigFileError listing every issue at file:line:col.
 */
export async function loadConfig(
  source: string | { readonly text: string; readonly name?: string },
  runtime: Runtime = currentRuntime(),
): Promise<LoadedConfig> {
  if (typeof source === "string") {
    return await loadConfigFiles([source], (path) => runtime.readTextFile(path), (path) => runtime.pathKind(path));
  }
  return loadConfigSources([{ name: source.name ?? "<config>", text: source.text }]);
}

/** Builds a proxy from a validated Config; call `start()` to resolve servers and bind. */
export function createProxy(config: Config, options: CreateProxyOptions = {}): Proxy {
  return new Proxy(config, options.runtime ?? currentRuntime(), options.logger ?? SILENT_LOGGER);
}

export { Proxy } from "./src/engine/proxy.ts";
export { Frontend } from "./src/engine/frontend.ts";
export { Backend } from "./src/core/backend.ts";
export { Server } from "./src/core/server.ts";
export { ServerCheck } from "./src/core/health/server_check.ts";
export type { HealthProbe, ProbeResult, ProbeRun } from "./src/core/health/probe.ts";
export { buildQuickStartConfig } from "./src/config/quick_start.ts";
export type { QuickStartOptions } from "./src/config/quick_start.ts";
export { DEFAULTS } from "./src/config/types.ts";
export type {
  BackendConfig,
  BackendTimeouts,
  BindConfig,
  Config,
  FrontendConfig,
  FrontendTimeouts,
  GlobalConfig,
  HealthCheckConfig,
  FrontendLogConfig,
  HttpCheckConfig,
  LogTargetConfig,
  ProxyMode,
  SendProxyConfig,
  ServerConfig,
  StatsSocketConfig,
} from "./src/config/types.ts";
export { ConfigError } from "./src/config/errors.ts";
export { ConfigFileError, formatConfigIssue, loadConfigSources } from "./src/config/load.ts";
export type { ConfigIssue, ConfigSource, LoadedConfig } from "./src/config/load.ts";
export { validateConfigDocument } from "./src/config/validate.ts";
export type { ValidationIssue, ValidationResult } from "./src/config/validate.ts";
export type { ConfigErrorCode } from "./src/config/errors.ts";
export { AddressError, parseBindAddress, parseServerAddress } from "./src/config/address.ts";
export { NetError } from "./src/runtime/net_error.ts";
export type { NetErrorCode } from "./src/runtime/net_error.ts";
export { BALANCE_ALGORITHMS, createBalancer } from "./src/core/balance/mod.ts";
export type { BalanceAlgorithmName, BalanceContext, Balancer } from "./src/core/balance/mod.ts";
export { currentRuntime, detectRuntimeName } from "./src/runtime/detect.ts";
export type {
  ChildExit,
  ChildProcess,
  Connection,
  ConnectionHandler,
  ConnectOptions,
  DatagramHandler,
  DatagramOptions,
  DatagramSocket,
  FileAccess,
  JailKind,
  KillSignalName,
  Listener,
  ListenOptions,
  NetAddr,
  OutputStreamName,
  Runtime,
  RuntimeInfo,
  RuntimeName,
  SignalName,
  SpawnOptions,
  SpawnSelfOptions,
  UnixListener,
  UnixListenOptions,
} from "./src/runtime/types.ts";
export { LifecycleError } from "./src/lifecycle/errors.ts";
export type { LifecycleErrorCode } from "./src/lifecycle/errors.ts";
export type { CpuMapConfig, CpuSets } from "./src/config/types.ts";
export type { Logger } from "./src/core/logger.ts";
export { SILENT_LOGGER, teeLogger } from "./src/core/logger.ts";
export { compileLogFormat, formatJsonLog, HTTPLOG_FORMAT, LogFormatError, TCPLOG_FORMAT } from "./src/log/log_format.ts";
export type { LogFormatOptions, LogFormatter } from "./src/log/log_format.ts";
export type { LogRecord } from "./src/log/record.ts";
export { SyslogFramer } from "./src/log/syslog_format.ts";
export type { SyslogFormat, SyslogHeaderOptions } from "./src/log/syslog_format.ts";
export { VERSION } from "./src/version.ts";
export { RuntimeApi } from "./src/control/runtime_api.ts";
export { ProxyControlTarget } from "./src/engine/runtime_api_target.ts";
export { RuntimeApiServer } from "./src/engine/runtime_api_server.ts";
export { askRuntimeApi } from "./src/control/client.ts";
export type { ControlAddress, ControlAnswer } from "./src/control/client.ts";
export { ControlError } from "./src/control/errors.ts";
export type { ControlErrorCode } from "./src/control/errors.ts";
export type { AccessLevel, Answer, ControlTarget, StatsReader } from "./src/control/types.ts";
export { parseServerState, serversStateText } from "./src/control/server_state.ts";
export type { ParsedServerState, SavedServerState, ServerStateIssue } from "./src/control/server_state.ts";
export { applyServerState } from "./src/engine/server_state_apply.ts";
export type { ServerStateOutcome, StatefulProxy } from "./src/engine/server_state_apply.ts";
