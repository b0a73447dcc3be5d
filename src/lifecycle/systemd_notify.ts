/**
 * systemd's readiness protocol (sd_notify) for a -W master under `Type=notify`: READY=1 once every
 * worker serves, RELOADING=1 with MONOTONIC_USEC at the start of a reload and READY=1 at its end,
 * STOPPING=1 when it stops. Nothing is sent unless systemd set NOTIFY_SOCKET.
 *
 * The message is a datagram on a unix socket, which none of the three runtimes can send without
 * unstable flags or FFI, so it goes through `systemd-notify`, which ships with systemd wherever
 * NOTIFY_SOCKET is set. `--pid=` names the master as the sender; since the datagram really comes
 * from the short-lived systemd-notify process, the unit needs `NotifyAccess=all`. systemd-notify
 * waits until systemd has read the message (its default since systemd 246), so notifications are
 * sent one at a time, in order. A failed notification is a warning: systemd's own timeouts handle
 * a service that never says READY.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";

/** The variable systemd sets for `Type=notify` services. */
export const NOTIFY_SOCKET_VARIABLE = "NOTIFY_SOCKET";
/** The helper that sends the datagram. */
export const SYSTEMD_NOTIFY_COMMAND = "systemd-notify";
/** How long one notification may take before systemd-notify is killed (systemd answers in milliseconds). */
export const NOTIFY_TIMEOUT_MS = 5_000;

/** Sends sd_notify messages through systemd-notify, in order; does nothing without NOTIFY_SOCKET. */
export class SystemdNotifier {
  /** True when systemd asked for notifications. */
  readonly enabled: boolean;
  private readonly runtime: Runtime;
  private readonly logger: Logger;
  private queue: Promise<void> = Promise.resolve();

  constructor(runtime: Runtime, logger: Logger) {
    this.runtime = runtime;
    this.logger = logger;
    const socket = runtime.env(NOTIFY_SOCKET_VARIABLE);
    this.enabled = socket !== undefined && socket !== "";
  }

  /** Every worker serves (at start, and at the end of a reload). */
  ready(): void {
    this.send(["READY=1"]);
  }

  /** A reload starts; MONOTONIC_USEC lets systemd tell this reload from an older one. */
  reloading(): void {
    if (!this.enabled) return;
    let monotonic: string[];
    try {
      monotonic = [`MONOTONIC_USEC=${this.runtime.monotonicMicros()}`];
    } catch (error) {
      // Bun and Deno read CLOCK_MONOTONIC through FFI (Deno: --allow-ffi). Type=notify takes
      // RELOADING=1 without it; Type=notify-reload would not, which the warning says.
      this.logger.warn(`Cannot read the monotonic clock for systemd (MONOTONIC_USEC left out): ${error instanceof Error ? error.message : String(error)}`);
      monotonic = [];
    }
    this.send(["RELOADING=1", ...monotonic]);
  }

  /** The service stops. */
  stopping(): void {
    this.send(["STOPPING=1"]);
  }

  /** Resolves once every notification queued so far was sent or given up. */
  flush(): Promise<void> {
    return this.queue;
  }

  private send(assignments: readonly string[]): void {
    if (!this.enabled) return;
    this.queue = this.queue.then(() => this.notify(assignments));
  }

  private async notify(assignments: readonly string[]): Promise<void> {
    const what = assignments.join(" ");
    let child;
    try {
      child = this.runtime.spawn(SYSTEMD_NOTIFY_COMMAND, [`--pid=${this.runtime.pid}`, ...assignments], {});
    } catch (error) {
      this.logger.warn(
        `Cannot notify systemd of "${what}": ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    let timer: unknown;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = this.runtime.setTimer(NOTIFY_TIMEOUT_MS, () => resolve("timeout"), true);
    });
    const outcome = await Promise.race([child.exited, timedOut]);
    this.runtime.clearTimer(timer);
    if (outcome === "timeout") {
      child.kill("SIGKILL");
      this.logger.warn(
        `Cannot notify systemd of "${what}": ${SYSTEMD_NOTIFY_COMMAND} did not finish within ${NOTIFY_TIMEOUT_MS} ms`,
      );
    } else if (outcome.code !== 0) {
      const end = outcome.code === null
        ? `was killed by ${outcome.signal}`
        : `exited with code ${outcome.code}`;
      this.logger.warn(`Cannot notify systemd of "${what}": ${SYSTEMD_NOTIFY_COMMAND} ${end}`);
    }
  }
}
