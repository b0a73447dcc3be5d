/**
 * Helpers for tests that need real TLS bytes from the runtime running them.
 */

import * as net from "node:net";
import * as tls from "node:tls";

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
