/**
 * floor/node and floor/deno in tcp mode: a bare splice on node:net, the socket layer ours uses on
 * Node and Deno, for the benchmark to show what the layer itself costs per forwarded request
 * (issue 21).
 *
 * Not a proxy anyone should run: it accepts, dials the next origin round robin, and passes bytes
 * both ways, pausing a side while the other is not taking its writes; a FIN is passed on, an error
 * closes both. No timeouts, no limits, no logging. Hand-written rather than `pipe()`, which adds a
 * stream layer of its own on top of the sockets' events. The origin side reads through `onread`,
 * as ours does (src/runtime/_node_net.ts): into one shared buffer, each read copied out, without
 * the readable stream's work per chunk; accepted sockets cannot, and emit `data`.
 *
 * Run: `node_modules/.bin/node scripts/bench/floors/node_net_tcp.ts PORT BACKEND...`
 * (or `deno run -A`).
 *
 * @module
 */

import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { parsePeerArguments } from "../peers/_arguments.ts";

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const targets = backends.map((backend) => {
  const separator = backend.lastIndexOf(":");
  return { host: backend.slice(0, separator), port: Number(backend.slice(separator + 1)) };
});
let nextBackend = 0;

/** libuv's read size, and ours. */
const READ_BYTES = 64 * 1024;
/** Every origin socket reads into this; a read is copied out before the next one overwrites it. */
const readBuffer = new Uint8Array(READ_BYTES);

/** Passes `from`'s FIN on to `to`; an error on `from` cuts `to` off, a clean close lets it flush. */
function closeTogether(from: Socket, to: Socket): void {
  from.on("end", () => to.end());
  from.on("error", () => {});
  from.on("close", (hadError: boolean) => {
    if (hadError) to.destroy();
  });
}

// Half-open on both sides, so that a FIN travels on its own and the other direction keeps flowing.
createServer({ allowHalfOpen: true }, (client) => {
  const origin = connect({
    ...targets[nextBackend]!,
    allowHalfOpen: true,
    // Returning false (the client is over its high-water mark) pauses the origin until the client drains.
    onread: {
      buffer: readBuffer,
      callback: (bytesRead: number) => client.write(readBuffer.slice(0, bytesRead)),
    },
  });
  nextBackend = (nextBackend + 1) % targets.length;
  client.setNoDelay(true);
  origin.setNoDelay(true);
  client.on("data", (chunk: Buffer) => {
    if (!origin.write(chunk)) client.pause();
  });
  origin.on("drain", () => client.resume());
  client.on("drain", () => origin.resume());
  closeTogether(client, origin);
  closeTogether(origin, client);
}).listen(port, "127.0.0.1");
