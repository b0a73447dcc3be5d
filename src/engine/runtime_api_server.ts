/**
 * The runtime API's listeners (HAProxy's `stats socket`): a UNIX socket and, when asked, TCP
 * addresses, each with its access level, each connection a `CliSession` of `src/control/`. What
 * runs the commands is given (`CommandExecutor`): the interpreter over the proxy in a process that
 * serves, or, in a -W master, the forwarding to its workers.
 *
 * Opened before privileges are dropped and before any chroot (the socket's directory is usually
 * root's, /run), and it keeps working after: a listening socket needs no path. A chrooted process
 * cannot remove its socket file at exit (the path leads elsewhere from inside): the file stays,
 * as HAProxy's does, and the next start replaces it.
 *
 * @module
 */

import type { Connection, ConnectionHandler, Listener, Runtime, UnixListener } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { StatsSocketConfig } from "../config/types.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import { CliSession, formatAnswer, MAX_CLI_LINE_BYTES } from "../control/cli_session.ts";
import type { CommandExecutor } from "../control/cli_session.ts";
import { errorAnswer } from "../control/types.ts";
import type { StatsReader } from "../control/types.ts";
import { RuntimeApi } from "../control/runtime_api.ts";
import { ProxyControlTarget } from "./runtime_api_target.ts";
import type { ControlledProxy } from "./runtime_api_target.ts";

/** Connections served at once per socket, HAProxy's `stats maxconn` default; more are answered and closed. */
export const RUNTIME_API_MAXCONN = 10;
/** Accept queue of a runtime API socket. */
const RUNTIME_API_BACKLOG = 16;

/** A connection refused for being one too many: its answer is written, its peer's FIN closes it. */
const REFUSED_HANDLER: ConnectionHandler = {
  onOpen() {},
  onData() {},
  onDrain() {},
  onEnd(connection: Connection) {
    connection.destroy();
  },
  onClose() {},
};

/** One open socket and its sessions. */
interface OpenSocket {
  readonly config: StatsSocketConfig;
  readonly listener: Listener | UnixListener;
  readonly sessions: Set<CliSession>;
  /** Where it listens, for messages: the path, or host:port. */
  readonly where: string;
}

/**
 * The interpreter over a proxy that serves (prepared: its backends and checks exist), for the
 * sessions of its sockets or for a -W master's forwarded commands. `stats` feeds `show info` and
 * `show stat` (see `runtime_api_stats.ts`).
 */
export function proxyCommandExecutor(proxy: ControlledProxy, stats: StatsReader | null): CommandExecutor {
  return new RuntimeApi(new ProxyControlTarget(proxy), stats);
}

/** The open runtime API sockets of a process. */
export class RuntimeApiServer {
  private readonly sockets: OpenSocket[];
  private readonly logger: Logger;

  private constructor(sockets: OpenSocket[], logger: Logger) {
    this.sockets = sockets;
    this.logger = logger;
  }

  /**
   * Opens every socket of `configs`, all or none: on failure those already open are closed and the
   * error (a NetError) is rethrown. `takeOver`: a socket a live process answers on at a path is
   * replaced (a -sf reload's new process), else refused.
   */
  static async open(
    configs: readonly StatsSocketConfig[],
    runtime: Runtime,
    executor: CommandExecutor,
    logger: Logger,
    takeOver: boolean,
  ): Promise<RuntimeApiServer> {
    const server = new RuntimeApiServer([], logger);
    try {
      for (const config of configs) server.sockets.push(await openSocket(config, runtime, executor, takeOver, logger));
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** Where each socket listens: the path, or host:port (the real port when 0 was asked). */
  get addresses(): readonly string[] {
    return this.sockets.map((socket) => socket.where);
  }

  /** One line per socket, for the start-up messages. */
  announce(): void {
    for (const socket of this.sockets) {
      const kind = socket.config.kind === "unix" ? `UNIX socket ${socket.where} (mode ${socket.config.mode.toString(8).padStart(4, "0")})` : `TCP ${socket.where}`;
      this.logger.info(`Runtime API listening on ${kind}, level ${socket.config.level}`);
    }
  }

  /** Stops listening and closes the sessions still open; removes the socket files still ours. */
  async close(): Promise<void> {
    const sockets = this.sockets.splice(0);
    await Promise.all(sockets.map(async (socket) => {
      await socket.listener.close();
      for (const session of socket.sessions) session.destroy();
    }));
  }
}

async function openSocket(
  config: StatsSocketConfig,
  runtime: Runtime,
  executor: CommandExecutor,
  takeOver: boolean,
  logger: Logger,
): Promise<OpenSocket> {
  const sessions = new Set<CliSession>();
  const accept = (connection: Connection) => {
    if (sessions.size >= RUNTIME_API_MAXCONN) {
      const refusal = errorAnswer(`Too many connections to the runtime API: at most ${RUNTIME_API_MAXCONN} at once.`);
      connection.setHandler(REFUSED_HANDLER);
      connection.write(new TextEncoder().encode(formatAnswer(refusal, "none") + "\n"));
      connection.end();
      return;
    }
    sessions.add(
      new CliSession(connection, {
        level: config.level,
        executor,
        timers: runtime,
        idleTimeoutMs: config.timeout,
        maxLineBytes: MAX_CLI_LINE_BYTES,
        onClosed: (session) => sessions.delete(session),
      }),
    );
  };
  const onError = (error: Error) => logger.warn(`Runtime API: ${error.message}`);
  if (config.kind === "unix") {
    const listener = await runtime.listenUnix({ path: config.path, mode: config.mode, backlog: RUNTIME_API_BACKLOG, takeOver }, accept, onError);
    return { config, listener, sessions, where: config.path };
  }
  // Shared with SO_REUSEPORT where the kernel can, as frontends are by default: a -sf reload's
  // new process binds beside the old one.
  const listener = await runtime.listen(
    { host: config.host, port: config.port, backlog: RUNTIME_API_BACKLOG, reusePort: runtime.info.reusePort },
    accept,
    onError,
  );
  return { config, listener, sessions, where: formatHostPort(listener.address.address, listener.address.port) };
}
