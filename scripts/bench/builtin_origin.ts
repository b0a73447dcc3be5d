/**
 * A small, fast HTTP/1.1 origin for machines without nginx: `node builtin_origin.ts PORT`.
 *
 * It answers GET / with 16 bytes and GET /1mb with 1 MiB, keeps connections alive and pipelines.
 * It is not an HTTP server for anything else: it understands exactly what wrk, the proxies and
 * the memory scenario send, which keeps it cheap enough not to be what the benchmark measures.
 *
 * @module
 */

import { createServer } from "node:net";
import type { Socket } from "node:net";
import { LARGE_BODY_BYTES, SMALL_BODY } from "./bodies.ts";

const MAX_HEAD_BYTES = 64 * 1024;

function response(status: string, body: Uint8Array): Buffer {
  const head =
    `HTTP/1.1 ${status}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

const smallResponse = response("200 OK", Buffer.from(SMALL_BODY, "latin1"));
const largeResponse = response("200 OK", Buffer.alloc(LARGE_BODY_BYTES, "x"));
const notFoundResponse = response("404 Not Found", Buffer.from("not found\n", "latin1"));

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let pending = "";
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    pending += chunk.toString("latin1");
    let headEnd = pending.indexOf("\r\n\r\n");
    if (headEnd === -1) {
      if (pending.length > MAX_HEAD_BYTES) socket.destroy();
      return;
    }
    socket.cork();
    while (headEnd !== -1) {
      const head = pending.slice(0, headEnd);
      pending = pending.slice(headEnd + 4);
      const firstSpace = head.indexOf(" ");
      const path = head.slice(firstSpace + 1, head.indexOf(" ", firstSpace + 1));
      socket.write(path === "/" ? smallResponse : path === "/1mb" ? largeResponse : notFoundResponse);
      const lowerHead = head.toLowerCase();
      const closeAfter = lowerHead.includes("\r\nconnection: close") ||
        (head.includes(" HTTP/1.0\r\n") && !lowerHead.includes("\r\nconnection: keep-alive"));
      if (closeAfter) {
        socket.end();
        break;
      }
      headEnd = pending.indexOf("\r\n\r\n");
    }
    socket.uncork();
  });
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  console.error(`Invalid port "${process.argv[2]}": usage: builtin_origin.ts PORT`);
  process.exit(2);
}
const server = createServer(serve);
server.listen({ host: "127.0.0.1", port, backlog: 4096 });
process.on("SIGTERM", () => process.exit(0));
