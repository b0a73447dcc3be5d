/**
 * floor/bun in tcp mode: a bare splice on Bun's native sockets (`Bun.listen`, `Bun.connect`), the
 * socket layer ours uses on Bun, for the benchmark to show what the layer itself costs per
 * forwarded request (issue 21).
 *
 * Not a proxy anyone should run: it accepts, dials the next origin round robin, and passes bytes
 * both ways; what the kernel does not take waits in a queue while the reading side is paused. A
 * close on one side closes the other once its queue is written (Bun's `end()` closes: no
 * half-close). No timeouts, no limits, no logging.
 *
 * Run: `node_modules/.bin/bun scripts/bench/floors/bun_native_tcp.ts PORT BACKEND...`
 *
 * @module
 */

import { parsePeerArguments } from "../peers/_arguments.ts";
import type { BunSocket, BunSocketHandler } from "./_bun_sockets.ts";
import { bunSocketApi, flushQueue, hostAndPort, writeOrQueue } from "./_bun_sockets.ts";

/** One side of a splice: its socket (null while an origin is connecting) and what waits to be written to it. */
type Side = { socket: BunSocket<Side> | null; queue: Uint8Array[]; other: Side | null; closing: boolean };

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const targets = backends.map(hostAndPort);
let nextBackend = 0;

/** Ends `side`'s socket now, or once its queue is written. */
function closeSoon(side: Side): void {
  if (side.socket !== null && side.queue.length === 0) side.socket.end();
  else side.closing = true;
}

function forward(socket: BunSocket<Side>, chunk: Buffer): void {
  const other = socket.data.other!;
  if (other.socket === null) other.queue.push(chunk);
  else if (!writeOrQueue(other.socket, other.queue, chunk)) socket.pause();
}

function flush(socket: BunSocket<Side>): void {
  const side = socket.data;
  if (!flushQueue(socket, side.queue)) return;
  if (side.closing) socket.end();
  else side.other!.socket?.resume();
}

/** Both sides share the same handlers but for `open`. */
const spliceHandlers = {
  binaryType: "buffer",
  data: forward,
  drain: flush,
  close(socket) {
    closeSoon(socket.data.other!);
  },
  error() {},
} as const satisfies Omit<BunSocketHandler<Side>, "open">;

const originHandlers: BunSocketHandler<Side> = {
  ...spliceHandlers,
  open(socket) {
    socket.data.socket = socket;
    flush(socket);
  },
  connectError(socket) {
    closeSoon(socket.data.other!);
  },
};

const clientHandlers: BunSocketHandler<Side> = {
  ...spliceHandlers,
  open(socket) {
    const client: Side = { socket, queue: [], other: null, closing: false };
    const origin: Side = { socket: null, queue: [], other: client, closing: false };
    client.other = origin;
    socket.data = client;
    const target = targets[nextBackend]!;
    nextBackend = (nextBackend + 1) % targets.length;
    bunSocketApi().connect({ ...target, socket: originHandlers, data: origin }).catch(() => {});
  },
};

bunSocketApi().listen({ hostname: "127.0.0.1", port, socket: clientHandlers });
