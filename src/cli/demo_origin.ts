/**
 * The tiny HTTP origin servers of `proxy demo`: each answers every request with a short text naming
 * itself, keeping the connection alive. A demo aid, not an HTTP server: it only counts request heads
 * (the blank line that ends each) and ignores bodies.
 *
 * @module
 */

import type { Connection, ConnectionHandler, Listener, Runtime } from "../runtime/types.ts";

const CR = 13;
const LF = 10;

/** Starts an origin on a free loopback port; `name` appears in every answer. */
export function startDemoOrigin(runtime: Runtime, name: string, host = "127.0.0.1"): Promise<Listener> {
  const body = `Hello from ${name}\n`;
  const response = new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nServer: proxy-demo\r\n\r\n${body}`,
  );
  const handler: ConnectionHandler = {
    onOpen() {},
    onData(conn: Connection, chunk: Uint8Array) {
      // State: how many bytes of "\r\n\r\n" were seen at the end of the previous chunk.
      let matched = (conn.owner as number | undefined) ?? 0;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if ((matched === 0 || matched === 2) && byte === CR) matched++;
        else if ((matched === 1 || matched === 3) && byte === LF) matched++;
        else matched = byte === CR ? 1 : 0;
        if (matched === 4) {
          conn.write(response);
          matched = 0;
        }
      }
      conn.owner = matched;
    },
    onDrain() {},
    onEnd(conn: Connection) {
      conn.end();
    },
    onClose() {},
  };
  return runtime.listen(
    { host, port: 0, backlog: 511, reusePort: false },
    (conn) => conn.setHandler(handler),
    () => {},
  );
}
