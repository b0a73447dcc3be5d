/**
 * The one error type for the network: every runtime maps its socket errors to these codes.
 *
 * @module
 */

/** Node-style error codes the proxy distinguishes. Anything else is reported as "EIO". */
export type NetErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EACCES"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "ENOTFOUND"
  | "EPIPE"
  /** A UNIX socket path where nothing is (connecting to a socket file that does not exist). */
  | "ENOENT"
  /** A UNIX socket path longer than the system's limit (107 bytes on Linux). */
  | "ENAMETOOLONG"
  /** The TLS handshake failed (a protocol or version mismatch, an alert from the peer). */
  | "ETLSHANDSHAKE"
  /** The peer's certificate failed verification (unknown issuer, expired, wrong name). */
  | "ECERTVERIFY"
  | "EIO";

const KNOWN_CODES: ReadonlySet<string> = new Set<NetErrorCode>([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "EACCES",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "ENOENT",
  "ENAMETOOLONG",
  "ETLSHANDSHAKE",
  "ECERTVERIFY",
  "EIO",
]);

const DESCRIPTIONS: Record<NetErrorCode, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ETIMEDOUT: "timed out",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  EACCES: "permission denied",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EPIPE: "broken pipe",
  ENOENT: "no such file or directory",
  ENAMETOOLONG: "path too long for a UNIX socket",
  ETLSHANDSHAKE: "TLS handshake failed",
  ECERTVERIFY: "certificate verification failed",
  EIO: "input/output error",
};

/** A socket error with a stable Node-style `code`. */
export class NetError extends Error {
  readonly code: NetErrorCode;
  constructor(code: NetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetError";
    this.code = code;
  }
}

/** Short lower-case description of a code, for messages: `address already in use`. */
export function describeNetErrorCode(code: NetErrorCode): string {
  return DESCRIPTIONS[code];
}

/** Reads the code of any runtime error (Node's `code`, Deno's error class names) as a NetErrorCode. */
export function netErrorCodeOf(error: unknown): NetErrorCode {
  if (error instanceof NetError) return error.code;
  if (error !== null && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && KNOWN_CODES.has(code)) return code as NetErrorCode;
    if (code === "EPERM") return "EACCES";
    if (code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL") return "ENOTFOUND";
    // Deno's native errors carry the kind in the class name rather than a code.
    const name = (error as { name?: unknown }).name;
    switch (name) {
      case "ConnectionRefused":
        return "ECONNREFUSED";
      case "ConnectionReset":
      case "ConnectionAborted":
        return "ECONNRESET";
      case "AddrInUse":
        return "EADDRINUSE";
      case "AddrNotAvailable":
        return "EADDRNOTAVAIL";
      case "PermissionDenied":
      case "NotCapable":
        return "EACCES";
      case "TimedOut":
        return "ETIMEDOUT";
      case "BrokenPipe":
        return "EPIPE";
    }
  }
  return "EIO";
}

/** Wraps any runtime error into a NetError whose message names the action and the address. */
export function toNetError(error: unknown, action: string, target: string): NetError {
  if (error instanceof NetError) return error;
  const code = netErrorCodeOf(error);
  return new NetError(code, `${action} "${target}": ${describeNetErrorCode(code)}`, { cause: error });
}

/**
 * The NetError of a failed adoption of inherited descriptor `fd` (`listen({ fd })`), naming the
 * address it stands for; the runtime's own words where the code says nothing ("input/output error").
 */
export function adoptionError(error: unknown, fd: number, target: string): NetError {
  const code = netErrorCodeOf(error);
  const reason = code !== "EIO" || !(error instanceof Error) ? describeNetErrorCode(code) : error.message;
  return new NetError(code, `Cannot listen on inherited descriptor ${fd} for "${target}": ${reason}`, { cause: error });
}

/** `host:port`, with brackets around IPv6 addresses. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
