/**
 * Helpers for tests that need real TLS bytes from the runtime running them.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { Duplex } from "node:stream";

/** The first TLS record a node:tls client sends (its ClientHello), read by the record's length. */
export async function captureHello(servername: string | undefined): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let client: tls.TLSSocket | undefined;
  const server = net.createServer();
  try {
    const captured = new Promise<Uint8Array>((resolve, reject) => {
      server.on("connection", (socket) => {
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          const bytes = Buffer.concat(chunks);
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
            socket.destroy();
            resolve(new Uint8Array(bytes.subarray(0, 5 + bytes.readUInt16BE(3))));
          }
        });
        socket.on("end", () => reject(new Error("the client closed before its hello")));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    client = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) });
    client.on("error", () => {});
    return await captured;
  } finally {
    client?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * How the clear bytes before a ClientHello reach the proxy: "separate" (the prefix in one write,
 * the hello in the next), "together" (both in one write), "byte-by-byte" (every byte of both in a
 * write of its own, each sent before the next), "split-hello" (the prefix and the hello's first 5
 * bytes in one write, then the rest of the hello byte by byte).
 */
export type PrefixPacing = "separate" | "together" | "byte-by-byte" | "split-hello";

/**
 * A TLS client that sends `prefix` in clear before its handshake, as a balancer in front of an
 * `accept-proxy` bind sends its PROXY header: node:tls over a Duplex of a loopback TCP socket. The
 * TCP socket is destroyed with the TLS one.
 */
export function prefixedTlsConnect(port: number, prefix: Uint8Array, pacing: PrefixPacing, options: tls.ConnectionOptions): tls.TLSSocket {
  const raw = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true, noDelay: true });
  let first = true;
  if (pacing === "separate") raw.write(prefix);
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      if (!first) {
        raw.write(chunk, () => done());
        return;
      }
      first = false;
      if (pacing === "separate") {
        raw.write(chunk, () => done());
        return;
      }
      const bytes = Buffer.concat([prefix, chunk]);
      if (pacing === "together") {
        raw.write(bytes, () => done());
        return;
      }
      let at = 0;
      if (pacing === "split-hello") {
        at = prefix.length + 5;
        raw.write(bytes.subarray(0, at));
      }
      const next = (): void => {
        if (raw.destroyed) return done(new Error("the connection closed while the hello was written"));
        if (at === bytes.length) return done();
        raw.write(bytes.subarray(at, ++at), () => setImmediate(next));
      };
      next();
    },
    final(done) {
      raw.end();
      done();
    },
    destroy(error, done) {
      raw.destroy();
      done(error);
    },
  });
  raw.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) raw.pause();
  });
  raw.on("end", () => stream.push(null));
  raw.on("error", (error) => stream.destroy(error));
  raw.on("close", () => stream.destroy());
  return tls.connect({ ...options, socket: stream });
}

/**
 * The server side of a TLS connection over `socket`, whose first bytes (a PROXY header) were read
 * from it: `rest`, what was read past them, is the first of the handshake. Node and Bun read what is
 * put back on the socket first; Deno's node:tls reads a socket that was read from out of order
 * (docs/architecture.md), so there it reads through a Duplex of the socket, as the proxy does.
 */
export function serveTlsAfter(socket: net.Socket, rest: Uint8Array, options: tls.TLSSocketOptions): tls.TLSSocket {
  socket.pause();
  if ((globalThis as { Deno?: unknown }).Deno === undefined) {
    if (rest.length > 0) socket.unshift(rest);
    return new tls.TLSSocket(socket, { ...options, isServer: true });
  }
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      socket.write(chunk, () => done());
    },
    final(done) {
      socket.end();
      done();
    },
    destroy(error, done) {
      socket.destroy();
      done(error);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on("end", () => stream.push(null));
  socket.on("close", () => stream.destroy());
  if (rest.length > 0) stream.push(rest);
  return new tls.TLSSocket(stream, { ...options, isServer: true });
}
