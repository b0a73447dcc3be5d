/**
 * The contract's connected UDP sockets over `node:dgram`, which all three runtimes provide.
 *
 * Quirks handled here:
 * - An ICMP port unreachable comes back as an `error` event (ECONNREFUSED, syscall recvmsg) on Node
 *   and Bun: dgram keeps reading a connected socket, and the kernel reports the pending error on the
 *   next receive. An `error` event with no listener would end the process, so one listener is always
 *   attached, and it goes to `handler.onError`. Deno reports nothing: its node:dgram `connect` is
 *   emulated (the kernel socket stays unconnected, sends are `sendto`), so no ICMP error reaches the
 *   socket, `connect` never fails in the kernel (a broadcast address without SO_BROADCAST is
 *   accepted, EACCES on Node), and the local address reads as the wildcard ("0.0.0.0" or "::").
 * - One datagram at a time is handed to dgram; the others wait in a queue here. Deno's node:dgram
 *   sends the datagrams of the first burst on a new socket in reverse order (and calls back in that
 *   order too); one in flight keeps the order on every runtime, and costs nothing measurable: 20,000
 *   datagrams of 200 bytes took no longer one at a time than all at once (Node 88 ms against 97,
 *   Bun 75 against 82, Deno 364 against 549).
 * - dgram's send callback is called with the send request as `this`, not the socket, so each socket
 *   makes one callback function at creation and hands that same function to every `send`: no
 *   closure per datagram.
 * - `send` after `close` throws ERR_SOCKET_DGRAM_NOT_RUNNING. The contract never throws from
 *   `send`: those sends, and the ones still queued here at the close, get `onSent` with EPIPE,
 *   after the one in flight. That one is called back after `close` on all three runtimes: with
 *   success on Node and Bun, which had sent it, with an error on Deno, which cancels every send not
 *   yet done (closing right after a send loses that datagram there).
 * - dgram's `connect` resolves names with dns.lookup. The contract takes IP literals only, so a
 *   name is refused before any lookup; a port out of range, which dgram would throw as a RangeError,
 *   is refused the same way.
 * - Bun reports a failed kernel connect without an errno ("Failed to connect socket"): EIO.
 *
 * @module
 */

import * as dgram from "node:dgram";
import { isIP } from "node:net";
import type { DatagramHandler, DatagramOptions, DatagramSocket, NetAddr } from "./types.ts";
import { addressOf, UNKNOWN_ADDRESS } from "./_addresses.ts";
import { formatHostPort, NetError, toNetError } from "./net_error.ts";

const DATAGRAM_SOCKET = Symbol("proxy.datagramSocket");

type OwnedSocket = dgram.Socket & { [DATAGRAM_SOCKET]?: NodeDatagramSocket };

/** A DatagramSocket over a connected node:dgram Socket. */
class NodeDatagramSocket implements DatagramSocket {
  readonly socket: dgram.Socket;
  readonly handler: DatagramHandler;
  readonly remote: NetAddr;
  local: NetAddr = UNKNOWN_ADDRESS;
  /** "host:port" of the peer, for error messages. */
  readonly target: string;
  closed = false;
  /** A send is handed to dgram and its callback has not come yet. */
  sending = false;
  /** Sends waiting for the one in flight, first at `queueHead`. */
  readonly queue: Array<Uint8Array | undefined> = [];
  queueHead = 0;
  /** Sends that will never go (made or still queued at `close`), told behind the one in flight. */
  refused = 0;
  /** Set while connecting: a socket error then fails the connect instead of reaching the handler. */
  failConnect: ((error: unknown) => void) | undefined = undefined;
  /** The one send callback of this socket. */
  readonly sendDone: (error: Error | null | undefined) => void;
  readonly tellRefusedLater: () => void;

  constructor(socket: dgram.Socket, handler: DatagramHandler, remote: NetAddr, target: string) {
    this.socket = socket;
    this.handler = handler;
    this.remote = remote;
    this.target = target;
    this.sendDone = (error) => this.onSendDone(error);
    this.tellRefusedLater = () => this.tellRefused();
    (socket as OwnedSocket)[DATAGRAM_SOCKET] = this;
    socket.on("error", onDatagramError);
  }

  send(bytes: Uint8Array): void {
    if (this.closed) {
      this.refused++;
      if (!this.sending && this.refused === 1) queueMicrotask(this.tellRefusedLater);
      return;
    }
    if (this.sending) this.queue.push(bytes);
    else this.handOver(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.refused += this.queue.length - this.queueHead;
    this.queue.length = 0;
    this.queueHead = 0;
    if (!this.sending && this.refused > 0) queueMicrotask(this.tellRefusedLater);
    try {
      this.socket.close();
    } catch {
      // Already closed underneath: nothing left to release.
    }
  }

  private handOver(bytes: Uint8Array): void {
    this.sending = true;
    try {
      this.socket.send(bytes, this.sendDone);
    } catch (error) {
      // Told in its turn like any completion, never from inside send().
      queueMicrotask(() => this.onSendDone(error as Error));
    }
  }

  private onSendDone(error: Error | null | undefined): void {
    this.sending = false;
    if (!this.closed && this.queueHead < this.queue.length) this.handOver(this.dequeue());
    this.handler.onSent(error ? toNetError(error, "Cannot send to", this.target) : undefined);
    if (!this.sending && this.refused > 0) this.tellRefused();
  }

  private dequeue(): Uint8Array {
    const bytes = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return bytes;
  }

  private tellRefused(): void {
    while (!this.sending && this.refused > 0) {
      this.refused--;
      this.handler.onSent(new NetError("EPIPE", `Cannot send to "${this.target}": socket closed`));
    }
  }
}

function onDatagramError(this: dgram.Socket, error: Error): void {
  const owner = (this as OwnedSocket)[DATAGRAM_SOCKET]!;
  if (owner.failConnect !== undefined) {
    owner.failConnect(error);
    return;
  }
  owner.handler.onError(toNetError(error, "Sending to", owner.target));
}

/** Opens a UDP socket connected to `options` with node:dgram; its sends report through `handler`. */
export function connectNodeDgram(options: DatagramOptions, handler: DatagramHandler): Promise<DatagramSocket> {
  const target = formatHostPort(options.host, options.port);
  const family = isIP(options.host);
  if (family === 0) {
    return Promise.reject(new NetError("EADDRNOTAVAIL", `Cannot connect to "${target}": not an IP address`));
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    return Promise.reject(new NetError("EADDRNOTAVAIL", `Cannot connect to "${target}": port out of range`));
  }
  return new Promise<DatagramSocket>((resolve, reject) => {
    let owner: NodeDatagramSocket;
    try {
      const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
      owner = new NodeDatagramSocket(socket, handler, addressOf(options.host, options.port), target);
    } catch (error) {
      reject(toNetError(error, "Cannot connect to", target));
      return;
    }
    owner.failConnect = (error: unknown) => {
      owner.failConnect = undefined;
      owner.close();
      reject(toNetError(error, "Cannot connect to", target));
    };
    try {
      // The callback gets the connect error, if any; an implicit bind's error comes as `error`.
      owner.socket.connect(options.port, options.host, (error?: Error) => {
        if (owner.failConnect === undefined) return;
        if (error) {
          owner.failConnect(error);
          return;
        }
        owner.failConnect = undefined;
        try {
          const local = owner.socket.address();
          owner.local = addressOf(local.address, local.port);
        } catch {
          // Some runtime cannot tell: the address stays unknown rather than failing the socket.
        }
        resolve(owner);
      });
    } catch (error) {
      owner.failConnect(error);
    }
  });
}
