/**
 * The log targets of a running proxy: one sink per configured target, shared by every frontend
 * that names it (a frontend with `log = "global"` writes to the [global] sinks themselves), each
 * target's host name resolved once, at start.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import { NetError } from "../runtime/net_error.ts";
import type { Logger } from "../core/logger.ts";
import type { Config, FrontendConfig, LogTargetConfig } from "../config/types.ts";
import { createLogSink } from "../log/sink.ts";
import type { LogSink } from "../log/sink.ts";
import { resolveLogFormat } from "../log/log_format.ts";
import { SyslogLogger, TrafficLog } from "../log/traffic_log.ts";

/** Every sink of a configuration. */
export class LogTargets {
  /** The [global] targets: operator messages, and frontends with `log = "global"`. */
  readonly global: readonly LogSink[];
  /** Operator messages for the [global] targets. */
  readonly operatorLog: Logger;
  private readonly sinks: Map<LogTargetConfig, LogSink>;
  private readonly runtime: Runtime;

  private constructor(runtime: Runtime, sinks: Map<LogTargetConfig, LogSink>, global: readonly LogSink[]) {
    this.runtime = runtime;
    this.sinks = sinks;
    this.global = global;
    this.operatorLog = new SyslogLogger(global);
  }

  /**
   * Resolves and opens every target of `config`. `reporter` hears of dropped lines: the operator's
   * console, since a report sent to a failing target would be lost with the rest.
   */
  static async open(config: Config, runtime: Runtime, reporter: Logger): Promise<LogTargets> {
    const sinks = new Map<LogTargetConfig, LogSink>();
    const hostname = runtime.hostname();
    const services = { runtime, reporter };
    const specs = [...config.global.log, ...config.frontends.flatMap((frontend) => frontend.log.targets)];
    try {
      for (const spec of specs) {
        if (sinks.has(spec)) continue;
        const address = spec.host === "" ? "" : await resolve(runtime, spec);
        const sink = createLogSink(spec, address, services, hostname);
        sinks.set(spec, sink);
        await sink.open().catch((error: unknown) => {
          const code = error instanceof NetError ? error.code : "EIO";
          const reason = error instanceof Error ? error.message : String(error);
          throw new NetError(code, `Cannot open log target "${spec.target}": ${reason}`, { cause: error });
        });
      }
    } catch (error) {
      await Promise.all([...sinks.values()].map((sink) => sink.close()));
      throw error;
    }
    return new LogTargets(runtime, sinks, config.global.log.map((spec) => sinks.get(spec)!));
  }

  /** The traffic log of `frontend`, or null when it has no target. */
  trafficLog(frontend: FrontendConfig): TrafficLog | null {
    const { targets, format, dontLogNull, separateErrors } = frontend.log;
    if (targets.length === 0) return null;
    const formatter = resolveLogFormat(format, { pid: this.runtime.pid, hostname: this.runtime.hostname() });
    return new TrafficLog(formatter, targets.map((spec) => this.sinks.get(spec)!), { dontLogNull, separateErrors });
  }

  /** Every sink, each once. */
  get all(): readonly LogSink[] {
    return [...this.sinks.values()];
  }

  /** Sends what is queued and closes every target (bounded: a dead target cannot hold the exit). */
  async close(): Promise<void> {
    await Promise.all(this.all.map((sink) => sink.close()));
  }
}

async function resolve(runtime: Runtime, spec: LogTargetConfig): Promise<string> {
  try {
    return (await runtime.lookup(spec.host))[0]!;
  } catch (error) {
    const code = error instanceof NetError ? error.code : "ENOTFOUND";
    throw new NetError(code, `Cannot resolve "${spec.host}" for log target "${spec.target}"`, { cause: error });
  }
}
