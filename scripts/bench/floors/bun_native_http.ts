/**
 * floor/bun in http mode: the least per-request work an HTTP/1.1 keep-alive proxy can do on Bun's
 * native sockets (`Bun.listen`, `Bun.connect`), the socket layer ours uses on Bun (issue 21). The
 * same steps as node_net_http.ts on the other layer.
 *
 * Not a proxy anyone should run: it finds the end of a request head, sends the bytes unchanged to
 * a pooled keep-alive origin connection picked round robin per request, finds the end of the
 * response head and its Content-Length, and passes the bytes back; what the kernel does not take
 * waits in a queue while the origin is paused. No header parsing, no rules, no timers, no logging,
 * no errors answered; GET only (a request body would be read as the next head), one request at a
 * time per connection, and responses must carry Content-Length (the benchmark's origins do).
 *
 * Run: `node_modules/.bin/bun scripts/bench/floors/bun_native_http.ts PORT BACKEND...`
 *
 * @module
 */

import { parsePeerArguments } from "../peers/_arguments.ts";
import type { BunSocket, BunSocketHandler } from "./_bun_sockets.ts";
import { bunSocketApi, flushQueue, hostAndPort, writeOrQueue } from "./_bun_sockets.ts";
import { contentLength, headEnd } from "./_http_head.ts";

/** A client connection, and the origin connection carrying its response while one is under way. */
type Client = {
  socket: BunSocket<Client>;
  heldHead: Buffer | null;
  origin: Origin | null;
  queue: Uint8Array[];
};

/** An origin connection: connecting, idle in its backend's pool, or carrying the response of `client`. */
type Origin = {
  socket: BunSocket<Origin> | null;
  backend: number;
  client: Client | null;
  heldHead: Buffer | null;
  inHead: boolean;
  /** Body bytes of the current response still to come. */
  remaining: number;
  queue: Uint8Array[];
};

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const targets = backends.map(hostAndPort);
/** Idle origin connections per backend, reused last in, first out. */
const pools: Origin[][] = targets.map(() => []);
let nextBackend = 0;

const originHandlers: BunSocketHandler<Origin> = {
  binaryType: "buffer",
  open(socket) {
    const origin = socket.data;
    origin.socket = socket;
    // The client left while this connection was being made: nobody is waiting for it.
    if (origin.client === null) socket.end();
    else flushQueue(socket, origin.queue);
  },
  data(socket, chunk) {
    const origin = socket.data;
    const client = origin.client;
    if (client === null) return;
    let bytes = chunk;
    if (origin.inHead) {
      if (origin.heldHead !== null) bytes = Buffer.concat([origin.heldHead, chunk]);
      const end = headEnd(bytes);
      if (end === -1) {
        origin.heldHead = bytes;
        return;
      }
      origin.heldHead = null;
      origin.inHead = false;
      origin.remaining = contentLength(bytes, end) - (bytes.length - end);
    } else {
      origin.remaining -= bytes.length;
    }
    const flowing = writeOrQueue(client.socket, client.queue, bytes);
    if (origin.remaining <= 0) {
      origin.inHead = true;
      origin.client = null;
      client.origin = null;
      pools[origin.backend]!.push(origin);
    } else if (!flowing) {
      // Resumed by the client's drain: nothing more is read from the origin than the client takes.
      socket.pause();
    }
  },
  drain(socket) {
    flushQueue(socket, socket.data.queue);
  },
  close(socket) {
    const origin = socket.data;
    const pool = pools[origin.backend]!;
    const at = pool.indexOf(origin);
    if (at !== -1) pool.splice(at, 1);
    // Cut off in the middle of a response: the client cannot be answered any more.
    origin.client?.socket.end();
  },
  connectError(socket) {
    socket.data.client?.socket.end();
  },
  error() {},
};

function originFor(client: Client): Origin {
  const backend = nextBackend;
  nextBackend = (nextBackend + 1) % targets.length;
  let origin = pools[backend]!.pop();
  if (origin === undefined) {
    origin = { socket: null, backend, client: null, heldHead: null, inHead: true, remaining: 0, queue: [] };
    bunSocketApi().connect({ ...targets[backend]!, socket: originHandlers, data: origin }).catch(() => {});
  }
  origin.client = client;
  client.origin = origin;
  return origin;
}

const clientHandlers: BunSocketHandler<Client> = {
  binaryType: "buffer",
  open(socket) {
    socket.data = { socket, heldHead: null, origin: null, queue: [] };
  },
  data(socket, chunk) {
    const client = socket.data;
    const bytes = client.heldHead === null ? chunk : Buffer.concat([client.heldHead, chunk]);
    if (headEnd(bytes) === -1) {
      client.heldHead = bytes;
      return;
    }
    client.heldHead = null;
    const origin = originFor(client);
    if (origin.socket === null) origin.queue.push(bytes);
    else writeOrQueue(origin.socket, origin.queue, bytes);
  },
  drain(socket) {
    const client = socket.data;
    if (flushQueue(socket, client.queue)) client.origin?.socket?.resume();
  },
  close(socket) {
    // An origin left in the middle of a response cannot serve anyone else.
    const origin = socket.data.origin;
    if (origin !== null) {
      origin.client = null;
      origin.socket?.end();
    }
  },
  error() {},
};

bunSocketApi().listen({ hostname: "127.0.0.1", port, socket: clientHandlers });
