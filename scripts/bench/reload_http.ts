/**
 * The reload benchmark's client side, without sockets: reading one HTTP/1.1 response as it
 * arrives, and naming what went wrong when a request failed.
 *
 * A failed request has to be told apart by kind, because each kind points at a different cause
 * during a reload: "refused" means nobody listened, "reset" before any response byte is the
 * accept-queue drop of a closing listener (or a keep-alive race), "closed" is an idle keep-alive
 * connection closed as the client reused it, "incomplete" a session cut short (hard stop).
 *
 * @module
 */

/** Why one request failed. */
export type FailureKind =
  | "refused"
  | "reset"
  | "timeout"
  | "closed"
  | "incomplete"
  | "status"
  | "other";

/** Every failure kind, in the order reports list them. */
export const FAILURE_KINDS: readonly FailureKind[] = [
  "refused",
  "reset",
  "timeout",
  "closed",
  "incomplete",
  "status",
  "other",
];

/** What is known about a request when it ends without a complete response. */
export type FailedAttempt = {
  /** The socket error code (ECONNRESET, ECONNREFUSED...); null when the peer closed cleanly (EOF). */
  code: string | null;
  /** The TCP handshake completed. */
  connected: boolean;
  /** Bytes of the response received before the end. */
  responseBytes: number;
  /** Our own request timeout fired. */
  timedOut: boolean;
};

/** Names the failure of a request that ended without a complete response. */
export function classifyFailure(attempt: FailedAttempt): FailureKind {
  if (attempt.timedOut) return "timeout";
  if (attempt.responseBytes > 0) return "incomplete";
  if (!attempt.connected) {
    if (attempt.code === "ECONNREFUSED") return "refused";
    if (attempt.code === "ECONNRESET") return "reset";
    if (attempt.code === "ETIMEDOUT") return "timeout";
    return "other";
  }
  if (attempt.code === null) return "closed";
  if (attempt.code === "ECONNRESET" || attempt.code === "EPIPE") return "reset";
  if (attempt.code === "ETIMEDOUT") return "timeout";
  return "other";
}

/**
 * Whether a failure is one that RFC 9112 section 9.3.1 lets a client retry on its own: an
 * idempotent request on a reused keep-alive connection that closed before any byte of the answer.
 * Browsers and most HTTP libraries do retry these; the report counts them apart.
 */
export function isRetryable(kind: FailureKind, reusedConnection: boolean): boolean {
  return reusedConnection && (kind === "closed" || kind === "reset");
}

/** Whether a status code counts as a successful answer (wrk's rule: below 400). */
export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 400;
}

const CR = 13;
const LF = 10;
/** A response head larger than this is treated as malformed. */
const MAX_HEAD_BYTES = 64 * 1024;

type BodyMode = "none" | "length" | "chunked" | "until-close";
type ChunkState = "size" | "data" | "data-end" | "trailer";

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** Index just past the first CRLF CRLF in `bytes`, or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let index = 3; index < bytes.length; index++) {
    if (
      bytes[index] === LF && bytes[index - 1] === CR && bytes[index - 2] === LF && bytes[index - 3] === CR
    ) {
      return index + 1;
    }
  }
  return -1;
}

function concat(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length === 0) return right;
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}

/**
 * Reads one response to a GET as its bytes arrive: the status, whether the server closes the
 * connection after it, and when its body is complete (Content-Length, chunked, or until close).
 * 1xx interim responses are skipped. A malformed response makes `push` throw.
 */
export class ResponseReader {
  /** The final status code; 0 until the head has arrived. */
  status = 0;
  /** The server announced it closes the connection after this response. */
  closeAfter = false;
  /** Bytes received so far, head included. */
  bytes = 0;
  #pending: Uint8Array = new Uint8Array(0);
  #headDone = false;
  #bodyMode: BodyMode = "none";
  #remaining = 0;
  #chunkState: ChunkState = "size";
  #complete = false;

  /** The response is complete. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Takes the next bytes; returns true once the response is complete (later bytes are ignored). */
  push(chunk: Uint8Array): boolean {
    if (this.#complete) return true;
    this.bytes += chunk.length;
    let data = concat(this.#pending, chunk);
    this.#pending = new Uint8Array(0);
    while (!this.#headDone) {
      const end = headEnd(data);
      if (end === -1) {
        if (data.length > MAX_HEAD_BYTES) {
          throw new Error(`Response head larger than ${MAX_HEAD_BYTES} bytes`);
        }
        this.#pending = data;
        return false;
      }
      const interim = this.#readHead(latin1(data.subarray(0, end - 4)));
      data = data.subarray(end);
      if (!interim) this.#headDone = true;
    }
    this.#readBody(data);
    return this.#complete;
  }

  /** The connection ended (EOF); returns true when that completes the response (a body sent until close). */
  end(): boolean {
    if (this.#headDone && this.#bodyMode === "until-close") this.#complete = true;
    return this.#complete;
  }

  /** Parses a head; returns true for a 1xx interim response, which another head follows. */
  #readHead(head: string): boolean {
    const lines = head.split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (statusLine === null) throw new Error(`Malformed status line "${(lines[0] ?? "").slice(0, 80)}"`);
    const status = Number(statusLine[2]);
    if (status >= 100 && status < 200 && status !== 101) return true;
    this.status = status;
    let contentLength: number | null = null;
    let chunked = false;
    let connection = "";
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`Malformed header line "${line.slice(0, 80)}"`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        if (!/^\d+$/.test(value)) throw new Error(`Malformed Content-Length "${value}"`);
        contentLength = Number(value);
      } else if (name === "transfer-encoding") {
        chunked = value.toLowerCase().split(",").map((coding) => coding.trim()).includes("chunked");
      } else if (name === "connection") {
        connection += `,${value.toLowerCase()}`;
      }
    }
    const tokens = connection.split(",").map((token) => token.trim());
    this.closeAfter = tokens.includes("close") || (statusLine[1] === "0" && !tokens.includes("keep-alive"));
    // RFC 9112 section 6.3: no body for 204 and 304; chunked wins over Content-Length.
    if (status === 204 || status === 304) this.#bodyMode = "none";
    else if (chunked) this.#bodyMode = "chunked";
    else if (contentLength !== null) {
      this.#bodyMode = contentLength === 0 ? "none" : "length";
      this.#remaining = contentLength;
    } else {
      this.#bodyMode = "until-close";
      this.closeAfter = true;
    }
    if (this.#bodyMode === "none") this.#complete = true;
    return false;
  }

  #readBody(data: Uint8Array): void {
    if (this.#complete) return;
    if (this.#bodyMode === "length") {
      this.#remaining -= Math.min(this.#remaining, data.length);
      if (this.#remaining === 0) this.#complete = true;
      return;
    }
    if (this.#bodyMode === "chunked") this.#readChunks(data);
  }

  #readChunks(input: Uint8Array): void {
    let data = input;
    while (data.length > 0 && !this.#complete) {
      if (this.#chunkState === "data") {
        const taken = Math.min(this.#remaining, data.length);
        this.#remaining -= taken;
        data = data.subarray(taken);
        if (this.#remaining === 0) {
          this.#chunkState = "data-end";
          this.#remaining = 2;
        }
        continue;
      }
      if (this.#chunkState === "data-end") {
        const taken = Math.min(this.#remaining, data.length);
        this.#remaining -= taken;
        data = data.subarray(taken);
        if (this.#remaining === 0) this.#chunkState = "size";
        continue;
      }
      // "size" and "trailer" both read one line at a time.
      let lineEnd = -1;
      for (let index = 1; index < data.length; index++) {
        if (data[index] === LF && data[index - 1] === CR) {
          lineEnd = index + 1;
          break;
        }
      }
      if (lineEnd === -1) {
        if (data.length > MAX_HEAD_BYTES) throw new Error("Chunk line too long");
        this.#pending = data;
        return;
      }
      const line = latin1(data.subarray(0, lineEnd - 2));
      data = data.subarray(lineEnd);
      if (this.#chunkState === "trailer") {
        if (line === "") this.#complete = true;
        continue;
      }
      const size = /^([0-9a-fA-F]+)(?:;.*)?$/.exec(line.trim());
      if (size === null) throw new Error(`Malformed chunk size "${line.slice(0, 40)}"`);
      this.#remaining = parseInt(size[1]!, 16);
      this.#chunkState = this.#remaining === 0 ? "trailer" : "data";
    }
  }
}
