/**
 * One process serving on its own (no -W master): the start-up sequence and the run until a stop
 * signal. Workers of a master run the same sequence (`worker.ts`).
 *
 * The order is HAProxy's: read every account and file needed first, pin cores, build the proxy and
 * give its servers the state of the process it replaces (server_state_handover.ts: the -sf/-st
 * process's runtime API, else the `server-state-file`), bind (taking over from the -sf/-st
 * processes), write the pid file, open the runtime API's sockets (`stats-socket`:
 * its directory is usually root's, and a chrooted process could not reach it), chroot, tell the
 * old processes to finish, drop privileges, serve. The runtime API's sockets close with the
 * listeners when a graceful stop begins to drain.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Config } from "../config/types.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import { Proxy } from "../engine/proxy.ts";
import { writePidFile } from "./pidfile.ts";
import { applyIdentity, resolveIdentity } from "./privileges.ts";
import { pinStandalone } from "./cpu_map.ts";
import { enterChroot, planChroot, reportChroot } from "./chroot.ts";
import { chooseJailProbe } from "./jail_check.ts";
import { bindWithHandover, finishOldProcesses, resumeOldProcesses } from "./handover.ts";
import { serveUntilStopped } from "./process_signals.ts";
import type { ServedProxy } from "./process_signals.ts";
import type { ProcessOptions } from "./process_options.ts";
import { proxyCommandExecutor, RuntimeApiServer } from "../engine/runtime_api_server.ts";
import { statsReaderFor } from "../engine/runtime_api_stats.ts";
import { applyServerState } from "../engine/server_state_apply.ts";
import { initialServerState } from "./server_state_handover.ts";

/** Exit code of a proxy that stopped as asked. */
const EXIT_STOPPED = 0;

/**
 * Starts a proxy from a Config and runs it until a stop signal; returns the exit code. With
 * `options.finish` (-sf/-st) it binds beside the old processes (pausing them where an address cannot
 * be shared, see handover.ts) and tells them to finish only once everything else succeeded; any
 * failure before that resumes the processes it paused, so they go on serving untouched.
 */
export async function runStandalone(
  config: Config,
  options: ProcessOptions,
  runtime: Runtime,
  logger: Logger,
  onListening?: (proxy: Proxy) => void,
): Promise<number> {
  const identity = await resolveIdentity(config.global, runtime);
  const chroot = await planChroot(config.global, runtime, "standalone");
  // A file to fail to read once chrooted: the self-check says the jail holds.
  const jailProbe = chroot === null ? null : await chooseJailProbe([], runtime);
  // Before binding: threads the runtime starts later inherit the set.
  pinStandalone(config.global, runtime, logger);
  const proxy = new Proxy(config, runtime, logger);
  // The old process's server states (asked on its stats-socket before ours replaces it), else the
  // server-state-file's, applied before the first connection and the first check.
  const handover = await bindWithHandover(proxy, options, runtime, async () => {
    const state = await initialServerState(config.global, options.finish !== null, runtime, proxy.logger);
    if (state !== null) applyServerState(proxy, state.text, state.source);
  });
  // From here on operator messages also reach the [global] log targets.
  logger = proxy.logger;
  let api: RuntimeApiServer | null = null;
  // Set when a graceful stop begins: the runtime API's sockets then close with the listeners.
  const stop = { begun: false };
  try {
    // Before the privilege drop: the pid file usually lives where only root may write (/run).
    const pidfile = options.pidfile ?? config.global.pidfile;
    if (pidfile !== null) await writePidFile(pidfile, runtime);
    // The same holds for the runtime API's socket; a -sf reload replaces the old process's.
    if (config.global.statsSockets.length > 0) {
      api = await RuntimeApiServer.open(
        config.global.statsSockets,
        runtime,
        proxyCommandExecutor(proxy, statsReaderFor(proxy)),
        logger,
        options.finish !== null,
      );
    }
    // HAProxy's place for it: every file read or written, the old processes not yet told to finish,
    // so a chroot that fails resumes them; still root, which chroot(2) needs.
    if (chroot !== null) enterChroot(chroot, runtime, logger);
  } catch (error) {
    await api?.close();
    await proxy.close();
    resumeOldProcesses(handover.paused, runtime, logger);
    throw error;
  }
  // Signal handlers before the "listening" lines: whoever waits for them may signal at once (an
  // unhandled SIGTTOU would stop the process), and before the old processes are told to finish.
  const serving = serveUntilStopped(api === null ? proxy : withRuntimeApi(proxy, api, stop), config.global, runtime, logger);
  // SIGUSR2's default action would kill the process: an operator used to -W's reload signal must
  // not take a standalone proxy down with it.
  runtime.onSignal(
    "SIGUSR2",
    () =>
      logger.notice(
        'SIGUSR2 received: ignored (reload a standalone process with -sf; "-W" reloads on SIGUSR2)',
      ),
  );
  finishOldProcesses(options.finish, runtime, logger);
  // HAProxy's order: the old processes are told first (they may run as another user, whom we could
  // no longer signal), then privileges are dropped; a failure here is fatal, as in HAProxy, and
  // resolveIdentity has refused beforehand every case it can foresee.
  try {
    applyIdentity(identity, runtime, logger);
  } catch (error) {
    await api?.close();
    await proxy.close();
    throw error;
  }
  announceListening(proxy, logger);
  api?.announce();
  if (chroot !== null) await reportChroot(chroot, jailProbe, runtime, logger);
  onListening?.(proxy);
  const reason = await serving.stopped;
  logger.notice(reason === "graceful-stop" ? "Proxy stopped: every session finished" : "Proxy stopped");
  await api?.close();
  await proxy.close();
  return EXIT_STOPPED;
}

/**
 * The proxy as the signal handlers see it, with the runtime API's sockets closing with the
 * listeners once a graceful stop drains (HAProxy stops its CLI listeners with the others); a pause
 * (SIGTTOU) keeps them: the paused process can still be looked at.
 */
function withRuntimeApi(proxy: Proxy, api: RuntimeApiServer, stop: { begun: boolean }): ServedProxy {
  return {
    listen: () => proxy.listen(),
    async stopListening() {
      await proxy.stopListening();
      if (stop.begun) await api.close();
    },
    whenIdle: () => proxy.whenIdle(),
    get activeSessions() {
      return proxy.activeSessions;
    },
    get grace() {
      return proxy.grace;
    },
    beginStop() {
      stop.begun = true;
      proxy.beginStop();
    },
    get frontends() {
      return proxy.frontends;
    },
    get backends() {
      return proxy.backends;
    },
  };
}

/** One line per frontend: where it listens and where it sends traffic. */
export function announceListening(proxy: Proxy, logger: Logger): void {
  for (const frontend of proxy.frontends) {
    const addresses = frontend.boundAddresses.map((address) => formatHostPort(address.address, address.port));
    const backend = frontend.backend;
    const routes = frontend.config.routes.length + frontend.config.sniRoutes.length;
    const target = [
      ...(routes > 0 ? [`${routes} ${frontend.config.mode === "tcp" ? "SNI " : ""}route(s)`] : []),
      ...(backend !== null ? [`backend "${backend.name}": ${backend.servers.length} server(s)`] : []),
    ].join(", default ");
    logger.info(`Frontend "${frontend.name}" (${frontend.config.mode}) listening on ${addresses.join(", ")}, ${target}`);
  }
}
