/**
 * Helpers of the http-mode end-to-end tests: a counting node:http origin, a raw client that waits
 * for what it expects, and temporary configuration files.
 */

import * as http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as net from "node:net";
import { CliProcess, sleep } from "./_cli_helpers.ts";

/** A node:http origin counting its connections and requests. */
export async function httpOrigin(handler: http.RequestListener): Promise<{
  address: string;
  connections: () => number;
  requests: () => number;
  /** Connections open now. */
  open: () => number;
  close: () => Promise<void>;
}> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((request, response) => {
    requests++;
    handler(request, response);
  });
  server.on("connection", (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    requests: () => requests,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw client connection that collects what it receives and can wait for it. */
export class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;
  readonly opened: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    this.socket.on("data", (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    this.socket.on("error", () => {});
    // Like real clients: once the proxy closes its side, close ours.
    this.socket.on("end", () => {
      this.closed = true;
      this.socket.end();
    });
    this.socket.on("close", () => (this.closed = true));
    this.opened = new Promise((resolve) => this.socket.on("connect", () => resolve()));
  }

  get text(): string {
    return this.received.toString("latin1");
  }

  send(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Waits until `predicate` holds on what was received; fails after a bound. */
  async until(predicate: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.text)) {
      if (Date.now() > deadline) throw new Error(`Timed out; received so far: ${JSON.stringify(this.text.slice(0, 2000))}`);
      await sleep(5);
    }
    return this.text;
  }

  /** Waits for the proxy to close the connection. */
  async untilClosed(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`Not closed; received: ${JSON.stringify(this.text.slice(0, 2000))}`);
      await sleep(5);
    }
    return this.text;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Writes a TOML file into a fresh temporary directory; `remove` deletes it. */
export function configFile(text: string): { path: string; remove: () => void } {
  const directory = mkdtempSync(join(tmpdir(), "proxy-http-"));
  const path = join(directory, "proxy.toml");
  writeFileSync(path, text);
  return { path, remove: () => rmSync(directory, { recursive: true, force: true }) };
}


/** Starts the CLI on a configuration (written to a temporary file) and resolves once frontend "web" listens, with its port. */
export async function startWithConfig(text: string): Promise<{ proxy: CliProcess; port: number; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/);
    return { proxy, port: Number(match[1]), remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** One request on its own connection, raw: the exact bytes sent and received, the status and the body. */
export function rawRequest(port: number, request: string): Promise<{ sent: number; received: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(20_000, () => socket.destroy(new Error(`No answer to ${JSON.stringify(request.split("\r\n")[0])}`)));
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const response = Buffer.concat(chunks);
      const text = response.toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ sent: Buffer.byteLength(request), received: response.length, status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
  });
}

/** A GET request closing its connection, for {@link rawRequest}. */
export function getRequest(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n${extra}\r\n`;
}
