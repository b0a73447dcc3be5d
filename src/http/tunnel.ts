/**
 * The tunnel an http session becomes when a server answers a forwarded upgrade with 101 Switching
 * Protocols (RFC 9110 7.8, 15.2.2): from then on bytes pass untouched both ways, as in a tcp
 * session. One {@link HttpTunnel} per `HttpSession` (session.ts), created and pooled with it.
 *
 * - **Which requests may open one** ({@link offersUpgrade}): an HTTP/1.1 request with
 *   `Connection: upgrade`, an Upgrade other than h2c, and no body (the body would have to be read
 *   before the protocol switch). Only those are forwarded with their Upgrade header; a 101 to any
 *   other request answers nothing we sent, and the session makes it a 502.
 * - **Backpressure** as in tcp mode: a write that returns false pauses the other side until its
 *   drain, so the proxy holds at most a socket buffer per direction.
 * - **Half-close**: a FIN is passed on to the other side. A clean close of the client after its
 *   FIN waits for the server to finish sending; a close with an error, or one side's close before
 *   its FIN, cuts the other side (termination state CD or SD).
 * - **The timeout** (`timeout tunnel`, else min(client, server): the session decides) is the
 *   session's one wheel entry, refreshed by traffic either way.
 *
 * Methods named after an end's events return true when the tunnel, and with it the session, is
 * over; the session then lets its server side go and ends. The bytes count in the request's log
 * line (%U, %B) as they pass.
 *
 * @module
 */

import type { Connection } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { WheelTimer } from "../core/timer_wheel.ts";
import { PHASE_LETTER_DATA } from "../tcp/session_log.ts";
import { BODY_NONE } from "./head_parser.ts";
import type { HeadParser } from "./head_parser.ts";
import type { RequestLog } from "./request_log.ts";
import { serializeHead, withoutH2c } from "./serialize.ts";
import type { SerializeOptions } from "./serialize.ts";
import { writeJoined } from "./write_joined.ts";

/** The 101 as the client gets it: the Upgrade header kept, the connection named as upgraded. */
const UPGRADE_RESPONSE_OPTIONS: SerializeOptions = Object.freeze({ keepUpgrade: true, addHeaders: Object.freeze(["Connection", "upgrade"]) });

/** Whether `request`'s upgrade is forwarded, so that a 101 to it opens a tunnel (see the module notes). */
export function offersUpgrade(request: HeadParser): boolean {
  return request.version === "1.1" && request.connectionUpgrade && request.upgrade !== undefined &&
    request.bodyKind === BODY_NONE && withoutH2c(request.upgrade) !== "";
}

/** Bytes spliced between a client and a server connection after a 101; see the module notes. */
export class HttpTunnel {
  /** The session's one wheel entry. */
  private readonly timer: WheelTimer;
  /** The request whose 101 opened the tunnel: the bytes and the termination state go in its line. */
  private readonly requestLog: RequestLog;
  /** Each end, null once it closed (or before the tunnel opens). */
  private client: Connection | null = null;
  private server: Connection | null = null;
  private timeoutMs = 0;
  /** Each end sent its FIN. */
  private clientFinished = false;
  private serverFinished = false;

  /** `timer` and `requestLog` are the session's. */
  constructor(timer: WheelTimer, requestLog: RequestLog) {
    this.timer = timer;
    this.requestLog = requestLog;
  }

  /**
   * Opens the tunnel on `response`, the 101 (response rules applied): it leaves for the client with
   * `serverBytes`, what the server sent after it, while the client's bytes `held` meanwhile go to
   * the server, and a FIN the client sent already (`clientFinished`) follows them. `timeoutMs`:
   * the idle timeout, 0 for none.
   */
  open(
    client: Connection,
    server: Connection,
    response: HeadParser,
    serverBytes: Uint8Array | null,
    held: readonly Uint8Array[],
    clientFinished: boolean,
    timeoutMs: number,
  ): void {
    this.client = client;
    this.server = server;
    this.timeoutMs = timeoutMs;
    this.clientFinished = clientFinished;
    this.serverFinished = false;
    const head = serializeHead(response, UPGRADE_RESPONSE_OPTIONS);
    if (timeoutMs > 0) this.timer.arm(timeoutMs);
    else this.timer.disarm();
    this.requestLog.bytesOut += head.length + (serverBytes === null ? 0 : serverBytes.length);
    let flowing = serverBytes !== null ? writeJoined(client, head, serverBytes, 0, serverBytes.length) : client.write(head);
    if (!flowing) server.pause();
    flowing = true;
    for (let i = 0; i < held.length; i++) flowing = server.write(held[i]!);
    if (clientFinished) server.end();
    else if (flowing) client.resume();
    else client.pause();
  }

  fromClient(chunk: Uint8Array): void {
    const server = this.server;
    if (server === null) return;
    this.requestLog.bytesIn += chunk.length;
    this.touch();
    if (!server.write(chunk)) this.client!.pause();
  }

  fromServer(chunk: Uint8Array): void {
    const client = this.client;
    if (client === null) return;
    this.requestLog.bytesOut += chunk.length;
    this.touch();
    if (!client.write(chunk)) this.server!.pause();
  }

  clientDrained(): void {
    this.server?.resume();
  }

  serverDrained(): void {
    this.client?.resume();
  }

  clientEnded(): void {
    this.clientFinished = true;
    this.server?.end();
  }

  /** The server's FIN; true when the client is gone already. */
  serverEnded(): boolean {
    this.serverFinished = true;
    const client = this.client;
    if (client === null) return true;
    client.end();
    return false;
  }

  /** The client connection closed; true unless a clean half-close waits for the server's end. */
  clientClosed(error: NetError | undefined): boolean {
    this.client = null;
    if (error !== undefined || !this.clientFinished) {
      this.requestLog.terminate("C" + PHASE_LETTER_DATA);
      return true;
    }
    // A clean half-close: the server may still be sending its last bytes to nobody; wait for its end.
    return this.server === null;
  }

  /** The server connection closed; true when the client is gone already. */
  serverClosed(error: NetError | undefined): boolean {
    this.server = null;
    const client = this.client;
    if (client === null) return true;
    if (error !== undefined || !this.serverFinished) {
      this.requestLog.terminate("S" + PHASE_LETTER_DATA);
      client.destroy();
    } else {
      // A clean end: the client got our FIN; it may have been paused by this server's backpressure.
      client.resume();
    }
    return false;
  }

  /** Forgets both ends (the session is over). */
  clear(): void {
    this.client = null;
    this.server = null;
  }

  /** Traffic either way moves the deadline (one field write on the wheel). */
  private touch(): void {
    if (this.timeoutMs > 0) this.timer.touch(this.timeoutMs);
  }
}
