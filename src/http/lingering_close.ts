/**
 * Lingering close: how long, and how much, a client connection that the proxy is closing keeps
 * being read after the last answer.
 *
 * A socket closed while bytes it received are still unread makes the kernel send a reset instead
 * of a FIN, and a reset can destroy the answer still in the client's buffers (RFC 9112 9.6: a
 * server "SHOULD ... continue to read from the connection" after its half-close). That is the
 * case of every answer sent before the request body has fully arrived: a 413 from a server, a
 * `deny`, an error page. So the session half-closes (FIN after the answer), then reads and drops
 * what the client still sends, and closes once the client closes too, or when a bound is reached:
 *
 * - {@link LINGER_MAX_BYTES} dropped in all,
 * - {@link LINGER_MAX_MS} in all (nginx's `lingering_time`),
 * - an idle wait between two reads of `timeout client` when it is set (HAProxy drains for up to
 *   `timeout client`), else {@link LINGER_IDLE_MS} (nginx's `lingering_timeout`).
 *
 * This module is the bookkeeping only (pure: the session gives it the time and the byte counts).
 *
 * @module
 */

/**
 * Most bytes read and dropped after the last answer. Clients that read while they send (browsers,
 * curl, Node's and Go's HTTP clients) have the answer long before; this is for those that read
 * only once their body is sent, and 16 MiB covers the uploads an early 4xx usually cuts short,
 * while capping what a client can make the proxy read for nothing.
 */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;

/** Longest lingering in all, whatever the client keeps sending: nginx's `lingering_time`. */
export const LINGER_MAX_MS = 30_000;

/** Longest wait for the client's next bytes (or its close) when `timeout client` is unset: nginx's `lingering_timeout`. */
export const LINGER_IDLE_MS = 5_000;

/** `LingeringClose.drained` result: a bound is reached, close now. */
export const LINGER_OVER = -1;

/** The bounds of one lingering close; reused by its session for each close. */
export class LingeringClose {
  #until = 0;
  #idleMs = LINGER_IDLE_MS;
  #bytes = 0;

  /**
   * Starts lingering at `now` (ms). `clientTimeoutMs` is the frontend's `timeout client` (0:
   * unset). Returns the ms to wait for the client's next bytes or its close.
   */
  begin(now: number, clientTimeoutMs: number): number {
    this.#until = now + LINGER_MAX_MS;
    this.#idleMs = clientTimeoutMs > 0 ? clientTimeoutMs : LINGER_IDLE_MS;
    this.#bytes = 0;
    return this.#idleMs < LINGER_MAX_MS ? this.#idleMs : LINGER_MAX_MS;
  }

  /**
   * `bytes` more were read and dropped at `now`: returns the ms to wait for more, or
   * {@link LINGER_OVER} when a bound is reached.
   */
  drained(bytes: number, now: number): number {
    this.#bytes += bytes;
    if (this.#bytes > LINGER_MAX_BYTES) return LINGER_OVER;
    const left = this.#until - now;
    if (left <= 0) return LINGER_OVER;
    return this.#idleMs < left ? this.#idleMs : left;
  }

  /** Bytes dropped since `begin`. */
  get bytes(): number {
    return this.#bytes;
  }
}
