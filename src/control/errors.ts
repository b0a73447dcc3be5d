/**
 * The error of the runtime API's client side (`proxy ctl`): the socket cannot be reached, or it
 * gave no answer. An answer that reports an error is not one of these: it is printed, and
 * `proxy ctl` exits 1.
 *
 * @module
 */

/** Stable codes of {@link ControlError}. */
export type ControlErrorCode =
  /** Nothing answers at the socket or address: no such file, connection refused, permission denied. */
  | "CONTROL_UNREACHABLE"
  /** The connection closed, or stayed silent past the timeout, before a whole answer came. */
  | "CONTROL_NO_ANSWER";

/** The runtime API could not be asked; the message says where and why. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;

  constructor(code: ControlErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlError";
    this.code = code;
  }
}
