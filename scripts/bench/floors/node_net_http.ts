/**
 * floor/node and floor/deno in http mode: the least per-request work an HTTP/1.1 keep-alive proxy
 * can do on node:net, the socket layer ours uses on Node and Deno (issue 21: "where a runtime's
 * socket layer is the limit, prove it with a minimal pipe on that layer in the same run").
 *
 * Not a proxy anyone should run: it finds the end of a request head, sends the bytes unchanged to
 * a pooled keep-alive origin connection picked round robin per request, finds the end of the
 * response head and its Content-Length, and passes the bytes back, pausing the origin while the
 * client is not reading. No header parsing, no rules, no timers, no logging, no errors answered;
 * GET only (a request body would be read as the next head), one request at a time per connection,
 * and responses must carry Content-Length (the benchmark's origins do). Origin connections read
 * through `onread`, as ours does (src/runtime/_node_net.ts): into one shared buffer, each read
 * copied out, without the readable stream's work per chunk; accepted sockets cannot, and emit
 * `data`.
 *
 * Run: `node_modules/.bin/node scripts/bench/floors/node_net_http.ts PORT BACKEND...`
 * (or `deno run -A`).
 *
 * @module
 */

import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { parsePeerArguments } from "../peers/_arguments.ts";
import { contentLength, headEnd } from "./_http_head.ts";

/** A client connection, and the origin connection carrying its response while one is under way. */
type Client = { socket: Socket; heldHead: Buffer | null; origin: Origin | null };

/** An origin connection: idle in its backend's pool, or carrying the response of `client`. */
type Origin = {
  socket: Socket;
  backend: number;
  client: Client | null;
  heldHead: Buffer | null;
  inHead: boolean;
  /** Body bytes of the current response still to come. */
  remaining: number;
};

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const targets = backends.map((backend) => {
  const separator = backend.lastIndexOf(":");
  return { host: backend.slice(0, separator), port: Number(backend.slice(separator + 1)) };
});
/** Idle origin connections per backend, reused last in, first out. */
const pools: Origin[][] = targets.map(() => []);
let nextBackend = 0;
/** libuv's read size, and ours. */
const READ_BYTES = 64 * 1024;
/** Every origin socket reads into this; a read is copied out before the next one overwrites it. */
const readBuffer = new Uint8Array(READ_BYTES);

function originFor(client: Client): Origin {
  const backend = nextBackend;
  nextBackend = (nextBackend + 1) % targets.length;
  const origin = pools[backend]!.pop() ?? dial(backend);
  origin.client = client;
  client.origin = origin;
  return origin;
}

function dial(backend: number): Origin {
  const socket = connect({
    ...targets[backend]!,
    onread: {
      buffer: readBuffer,
      callback: (bytesRead: number) => fromOrigin(origin, Buffer.from(readBuffer.subarray(0, bytesRead))),
    },
  });
  socket.setNoDelay(true);
  const origin: Origin = { socket, backend, client: null, heldHead: null, inHead: true, remaining: 0 };
  socket.on("error", () => {});
  socket.on("close", () => {
    const pool = pools[backend]!;
    const at = pool.indexOf(origin);
    if (at !== -1) pool.splice(at, 1);
    // Cut off in the middle of a response: the client cannot be answered any more.
    origin.client?.socket.destroy();
  });
  return origin;
}

/** Passes a read of the origin to its client; false pauses the origin (the client is not taking more). */
function fromOrigin(origin: Origin, chunk: Buffer): boolean {
  const client = origin.client;
  if (client === null) return true;
  let bytes = chunk;
  if (origin.inHead) {
    if (origin.heldHead !== null) bytes = Buffer.concat([origin.heldHead, chunk]);
    const end = headEnd(bytes);
    if (end === -1) {
      origin.heldHead = bytes;
      return true;
    }
    origin.heldHead = null;
    origin.inHead = false;
    origin.remaining = contentLength(bytes, end) - (bytes.length - end);
  } else {
    origin.remaining -= bytes.length;
  }
  const flowing = client.socket.write(bytes);
  if (origin.remaining > 0) return flowing;
  origin.inHead = true;
  origin.client = null;
  client.origin = null;
  pools[origin.backend]!.push(origin);
  return true;
}

createServer((socket) => {
  socket.setNoDelay(true);
  const client: Client = { socket, heldHead: null, origin: null };
  socket.on("data", (chunk: Buffer) => {
    const bytes = client.heldHead === null ? chunk : Buffer.concat([client.heldHead, chunk]);
    if (headEnd(bytes) === -1) {
      client.heldHead = bytes;
      return;
    }
    client.heldHead = null;
    originFor(client).socket.write(bytes);
  });
  // A paused origin (see fromOrigin) reads on once the client has taken what it was given.
  socket.on("drain", () => client.origin?.socket.resume());
  socket.on("error", () => {});
  socket.on("close", () => {
    // An origin left in the middle of a response cannot serve anyone else.
    if (client.origin !== null) {
      client.origin.client = null;
      client.origin.socket.destroy();
    }
  });
}).listen(port, "127.0.0.1");
