/**
 * A -W worker: started by the master as `proxy __worker` in the runtime's permission jail, it gets
 * its configuration over the control channel instead of reading files, listens on the sockets the
 * master bound and handed down (listener_handover.ts; where the runtime cannot, it binds beside
 * its siblings, SO_REUSEPORT), chroots (`chroot`), drops privileges, checks its jail, tells the
 * master it is ready, and serves until a stop signal, or until its master is gone (the channel
 * closed), when it finishes its sessions and exits, as HAProxy's workers do. Meanwhile it answers
 * the runtime API commands its master sends (master_runtime_api.ts) with the same interpreter a
 * standalone process runs on its own socket.
 *
 * Loaded by the entry point only (never through the CLI): nothing it imports may read environment
 * variables or files at import time.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Config } from "../config/types.ts";
import { Proxy } from "../engine/proxy.ts";
import {
  ControlChannel,
  failureMessage,
  MAX_MASTER_FRAME_BYTES,
  parseCommandFrame,
  parsePeerStatsFrame,
  parseMasterAddress,
} from "./control_channel.ts";
import type { CommandFrame, Frame, MasterAddress } from "./control_channel.ts";
import { configFromSetup, configReadIo, parseWorkerSetup, ticketKeyBytes } from "./config_handover.ts";
import { inheritedListeners } from "./listener_handover.ts";
import type { WorkerSetup } from "./config_handover.ts";
import { MASTER_VARIABLE, WORKER_COMMAND } from "./worker_command.ts";
import { workerLogger, workerPrefix } from "./worker_logger.ts";
import { applyIdentity } from "./privileges.ts";
import { bindWithHandover } from "./handover.ts";
import { serveUntilStopped } from "./process_signals.ts";
import { announceListening } from "./standalone.ts";
import { checkJail } from "./jail_check.ts";
import { enterWorkerChroot, reportChroot } from "./chroot.ts";
import { LifecycleError } from "./errors.ts";
import { PeerStats, STATS_SHARE_INTERVAL_MS } from "../engine/peer_stats.ts";
import type { CommandExecutor } from "../control/cli_session.ts";
import { errorAnswer } from "../control/types.ts";
import type { Answer } from "../control/types.ts";
import { proxyCommandExecutor } from "../engine/runtime_api_server.ts";
import { statsReaderFor } from "../engine/runtime_api_stats.ts";
import { applyServerState } from "../engine/server_state_apply.ts";

/** Exit code of a worker that stopped as asked (or because its master is gone). */
const EXIT_STOPPED = 0;
/** Exit code of a worker that could not start: the master reports the reason it was sent. */
const EXIT_FAILED = 1;
/** Exit code of `proxy __worker` started by hand, without a master. */
const EXIT_USAGE = 2;
/** How long a worker waits for its setup: the master sends it as soon as the worker says hello. */
export const SETUP_TIMEOUT_MS = 30_000;
/** How long a failing worker waits for its failure frame to leave before exiting anyway. */
const FAILURE_FLUSH_MS = 1_000;

/** A frame of the setup: which worker this is, and what to run. */
interface SetupFrame {
  readonly worker: number;
  readonly generation: number;
  readonly setup: WorkerSetup;
}

function parseSetupFrame(frame: Frame): SetupFrame {
  if (frame.type !== "setup") {
    throw new LifecycleError("LIFECYCLE_WORKER", `Unexpected control frame "${frame.type}" from the master`);
  }
  const worker = frame.worker;
  const generation = frame.generation;
  if (
    !Number.isSafeInteger(worker) || (worker as number) < 1 || !Number.isSafeInteger(generation) ||
    (generation as number) < 1
  ) {
    throw new LifecycleError(
      "LIFECYCLE_WORKER",
      "Invalid setup from the master: worker and generation must be positive integers",
    );
  }
  return { worker: worker as number, generation: generation as number, setup: parseWorkerSetup(frame.setup) };
}

/** The worker's end of the control channel: the setup to come, and the master's departure. */
class MasterLink {
  readonly channel: ControlChannel;
  /** Settles with the setup, or rejects when the channel closes or the setup is late or malformed. */
  readonly setup: Promise<SetupFrame>;
  /** Settles when the channel closed, with why. */
  readonly gone: Promise<string | undefined>;
  /** Settles when the master asks this worker to finish its sessions and exit (a reload, or SIGUSR1 at the master). */
  readonly finish: Promise<void>;
  /** Answers the master's runtime API commands once the worker serves; null before. */
  commands: CommandExecutor | null = null;
  /** Keeps the other workers' counters the master passes on; null while this worker shows no stats. */
  peers: PeerStats | null = null;
  private setupReceived = false;

  constructor(runtime: Runtime, address: MasterAddress) {
    let resolveSetup!: (frame: SetupFrame) => void;
    let rejectSetup!: (error: Error) => void;
    let resolveGone!: (reason: string | undefined) => void;
    this.setup = new Promise((resolve, reject) => {
      resolveSetup = resolve;
      rejectSetup = reject;
    });
    this.gone = new Promise((resolve) => (resolveGone = resolve));
    let resolveFinish!: () => void;
    this.finish = new Promise((resolve) => (resolveFinish = resolve));
    const where = `${address.host}:${address.port}`;
    const timer = runtime.setTimer(SETUP_TIMEOUT_MS, () => {
      rejectSetup(
        new LifecycleError(
          "LIFECYCLE_WORKER",
          `No setup from the master at ${where} within ${SETUP_TIMEOUT_MS} ms`,
        ),
      );
      this.channel.destroy("setup timed out");
    }, false);
    this.channel = new ControlChannel(MAX_MASTER_FRAME_BYTES, {
      onFrame: (frame) => {
        if (this.setupReceived) {
          // After the setup the master says "finish" or sends runtime API commands; anything else
          // is a master we do not understand: hang up.
          if (frame.type === "command") {
            this.answer(parseCommandFrame(frame));
            return;
          }
          if (frame.type === "peer-stats") {
            const peer = parsePeerStatsFrame(frame);
            this.peers?.received(peer.worker, peer.snapshot, runtime.now());
            return;
          }
          if (frame.type !== "finish") {
            throw new LifecycleError(
              "LIFECYCLE_WORKER",
              `Unexpected control frame "${frame.type}" from the master`,
            );
          }
          resolveFinish();
          return;
        }
        const setup = parseSetupFrame(frame);
        this.setupReceived = true;
        runtime.clearTimer(timer);
        resolveSetup(setup);
      },
      onClose: (reason) => {
        runtime.clearTimer(timer);
        rejectSetup(
          new LifecycleError(
            "LIFECYCLE_WORKER",
            `Lost the master at ${where} before the setup${reason === undefined ? "" : `: ${reason}`}`,
          ),
        );
        resolveGone(reason);
      },
    });
    runtime.connect({ host: address.host, port: address.port, noDelay: true }, this.channel);
    this.channel.opened.then(() =>
      this.channel.send({ type: "hello", token: address.token, pid: runtime.pid })
    );
  }

  /** Runs one of the master's runtime API commands and sends the answer back. */
  private answer(command: CommandFrame): void {
    const commands = this.commands;
    const send = (answer: Answer) => this.channel.send({ type: "answer", id: command.id, answer });
    if (commands === null) {
      send(errorAnswer("This worker is not serving yet."));
      return;
    }
    Promise.resolve()
      .then(() => commands.execute(command.words, command.level))
      .then(send, (error: unknown) => send(errorAnswer(`Internal error: ${error instanceof Error ? error.message : String(error)}`)));
  }
}

/** Runs a worker of a -W master until it stops; returns the exit code. */
export async function runWorker(runtime: Runtime): Promise<number> {
  const write = (text: string) => runtime.writeStderr(text);
  const bootLogger = workerLogger(write, `Worker (pid ${runtime.pid}): `, "normal");
  const value = runtime.env(MASTER_VARIABLE);
  if (value === undefined || value === "") {
    bootLogger.error(
      `"${WORKER_COMMAND}" is how a -W master starts its workers; run "proxy -W ..." instead (${MASTER_VARIABLE} is not set)`,
    );
    return EXIT_USAGE;
  }
  let address: MasterAddress;
  try {
    address = parseMasterAddress(value);
  } catch (error) {
    bootLogger.error((error as Error).message);
    return EXIT_USAGE;
  }
  const link = new MasterLink(runtime, address);
  let frame: SetupFrame;
  try {
    frame = await link.setup;
  } catch (error) {
    bootLogger.error((error as Error).message);
    return EXIT_FAILED;
  }
  const { setup } = frame;
  let logger = workerLogger(write, workerPrefix(frame.worker, runtime.pid), setup.verbosity);
  // Log headers carry the master's host name: a jailed worker asks the system nothing it can be told.
  const workerRuntime: Runtime = { ...runtime, hostname: () => setup.hostname };
  let config: Config;
  let proxy: Proxy;
  try {
    config = configFromSetup(setup, configReadIo(runtime).tls);
    // The master's sockets, adopted instead of bound (see listener_handover.ts).
    proxy = new Proxy(config, workerRuntime, logger, inheritedListeners(setup.listeners, config), ticketKeyBytes(setup));
    const state = setup.serverState;
    await bindWithHandover(
      proxy,
      { pidfile: null, finish: null, masterWorker: false, noReusePort: setup.noReusePort },
      workerRuntime,
      // The states the master handed over, before the first connection and the first check.
      async () => {
        if (state !== null) applyServerState(proxy, state.text, state.source);
      },
    );
  } catch (error) {
    return await reportFailure(link, error, runtime, logger);
  }
  // From here on operator messages also reach the [global] log targets.
  logger = proxy.logger;
  let chrooted: string | null;
  try {
    chrooted = enterWorkerChroot(config.global.chroot, runtime, logger);
    applyIdentity(setup.identity, runtime, logger);
  } catch (error) {
    await proxy.close();
    return await reportFailure(link, error, runtime, logger);
  }
  announceListening(proxy, logger);
  if (chrooted !== null) await reportChroot(chrooted, setup.jailProbe, runtime, logger);
  else await checkJail(runtime.info.jail, setup.jailProbe, runtime, logger);
  // Reloads are the master's: a SIGUSR2 sent to the whole process group must not end a worker.
  runtime.onSignal("SIGUSR2", () => logger.debug("SIGUSR2 ignored: the master reloads"));
  // Signal handlers first, "ready" second: the master may forward SIGTTOU or SIGTERM at once.
  const serving = serveUntilStopped(proxy, config.global, runtime, logger);
  // The runtime API's commands come from the master (it listens on the stats-socket).
  link.commands = proxyCommandExecutor(proxy, statsReaderFor(proxy));
  link.channel.send({ type: "ready" });
  const stopSharing = proxy.showsStats ? shareStats(proxy, link, frame.worker, runtime) : () => {};
  // Not a signal: Node's permission model swallows SIGUSR1 (it is the inspector's), so a jailed Node
  // worker would never see one. Losing the master (crashed, or killed with SIGKILL: nobody will
  // restart, reload or stop this worker any more) finishes too, as HAProxy's workers do.
  void link.finish.then(() => serving.finish("Master asked to finish"));
  void link.gone.then((why) => serving.finish(`Master gone${why === undefined ? "" : ` (${why})`}`));
  const reason = await serving.stopped;
  stopSharing();
  logger.notice(reason === "graceful-stop" ? "Worker stopped: every session finished" : "Worker stopped");
  link.channel.close();
  await proxy.close();
  return EXIT_STOPPED;
}

/**
 * Shows the whole proxy on this worker's stats pages: its snapshot goes to the master every
 * STATS_SHARE_INTERVAL_MS (the master passes it to the other workers), and theirs come back
 * (src/engine/peer_stats.ts). Returns what stops it.
 */
function shareStats(proxy: Proxy, link: MasterLink, worker: number, runtime: Runtime): () => void {
  const peers = new PeerStats(worker);
  proxy.peers = peers;
  link.peers = peers;
  let timer: unknown = null;
  const send = () => {
    link.channel.send({ type: "stats", snapshot: proxy.snapshot() });
    timer = runtime.setTimer(STATS_SHARE_INTERVAL_MS, send, true);
  };
  send();
  return () => {
    if (timer !== null) runtime.clearTimer(timer);
    timer = null;
  };
}

/** Sends the failure to the master (which prints it), waits a moment for it to leave, and gives the exit code. */
async function reportFailure(
  link: MasterLink,
  error: unknown,
  runtime: Runtime,
  logger: Logger,
): Promise<number> {
  const message = error instanceof Error ? error.message : String(error);
  if (!link.channel.send({ type: "failed", message: failureMessage(message) })) {
    logger.error(message);
    return EXIT_FAILED;
  }
  link.channel.close();
  let timer: unknown;
  await Promise.race([
    link.gone,
    new Promise<void>((resolve) => (timer = runtime.setTimer(FAILURE_FLUSH_MS, resolve, false))),
  ]);
  runtime.clearTimer(timer);
  return EXIT_FAILED;
}
