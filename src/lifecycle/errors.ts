/**
 * The error of the process lifecycle: starting as another user, chrooting, pinning cores, handing
 * the listeners over to a new process, running workers.
 *
 * @module
 */

/** Stable codes of {@link LifecycleError}. */
export type LifecycleErrorCode =
  /** `user`/`group` cannot be resolved or applied. */
  | "LIFECYCLE_PRIVILEGES"
  /** `chroot` cannot be applied: runtime without FFI, no privilege, no such directory. */
  | "LIFECYCLE_CHROOT"
  /** `cpu-map` cannot be applied on this runtime or machine. */
  | "LIFECYCLE_AFFINITY"
  /** -sf/-st: the listeners could not be taken over from the old process. */
  | "LIFECYCLE_HANDOVER"
  /** -W: a worker could not be started or did not come up. */
  | "LIFECYCLE_WORKER";

/** A start-up or reload step of the process lifecycle failed; the message says which and why. */
export class LifecycleError extends Error {
  readonly code: LifecycleErrorCode;

  constructor(code: LifecycleErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LifecycleError";
    this.code = code;
  }
}
