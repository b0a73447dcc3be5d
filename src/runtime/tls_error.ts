/**
 * The one error type for TLS material the runtime reads: a certificate or key it cannot use.
 *
 * @module
 */

/** Why a certificate and key cannot be used. */
export type TlsErrorCode =
  /** The certificate does not parse (not PEM, not X.509). */
  | "TLS_CERTIFICATE_INVALID"
  /** The private key does not parse, or is encrypted. */
  | "TLS_KEY_INVALID"
  /** The key is not the certificate's. */
  | "TLS_KEY_MISMATCH";

/** A certificate or key the runtime refused; `code` says why. */
export class TlsError extends Error {
  readonly code: TlsErrorCode;
  constructor(code: TlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TlsError";
    this.code = code;
  }
}
