/**
 * The origins the smoke test puts behind a proxy, and the clients it talks through the proxy with.
 * Every origin answers with its own name, so that the order of answers shows the balancing; every
 * socket is on 127.0.0.1, port 0, and every wait is bounded.
 *
 * @module
 */

import * as http from "node:http";
import * as net from "node:net";
import { sleep } from "./proxy_process.ts";

/** An origin that can be closed with every connection it holds. */
export interface Origin {
  readonly name: string;
  readonly address: string;
  close(): Promise<void>;
}

async function listen(
  server: net.Server,
  sockets: Set<net.Socket>,
): Promise<{ address: string; close: () => Promise<void> }> {
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP origin that writes its name and closes each connection. */
export async function tcpOrigin(name: string): Promise<Origin> {
  const server = net.createServer((socket) => socket.end(name));
  return { name, ...(await listen(server, new Set())) };
}

/** An HTTP origin answering its name, except `/hold`, which waits for {@link HttpOrigin.release}. */
export interface HttpOrigin extends Origin {
  /** Requests received so far, held ones included. */
  requests(): number;
  /** Answers every held request. */
  release(): void;
}

export async function httpOrigin(name: string): Promise<HttpOrigin> {
  let requests = 0;
  const held: Array<() => void> = [];
  const server = http.createServer((request, response) => {
    requests++;
    const answer = () => response.end(request.url === "/hold" ? `${name} held` : name);
    if (request.url === "/hold") held.push(answer);
    else answer();
  });
  return {
    name,
    requests: () => requests,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    ...(await listen(server, new Set())),
  };
}

/** Starts one origin per name; closes those already started if one fails. */
export async function startOrigins<T extends Origin>(
  names: readonly string[],
  start: (name: string) => Promise<T>,
): Promise<T[]> {
  const started: T[] = [];
  try {
    for (const name of names) started.push(await start(name));
    return started;
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

export async function closeAll(origins: readonly Origin[]): Promise<void> {
  await Promise.all(origins.map((origin) => origin.close()));
}

/** Connects, sends `data` if any, and resolves with everything received until the proxy closes. */
export function exchange(port: number, data: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `No answer and close within ${timeoutMs} ms; got ${
            JSON.stringify(Buffer.concat(chunks).toString())
          }`,
        ),
      );
    }, timeoutMs);
    socket.on("connect", () => {
      if (data !== "") socket.write(data);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** `GET path` on its own connection; resolves with the whole response. */
export function httpGet(port: number, path: string, timeoutMs: number): Promise<string> {
  return exchange(port, `GET ${path} HTTP/1.1\r\nHost: smoke\r\nConnection: close\r\n\r\n`, timeoutMs);
}

/** The body of a response read whole. */
export function responseBody(response: string): string {
  const end = response.indexOf("\r\n\r\n");
  if (!response.startsWith("HTTP/1.1 200 ") || end < 0) {
    throw new Error(`Expected a 200 response, got ${JSON.stringify(response.slice(0, 200))}`);
  }
  return response.slice(end + 4);
}

/** A connection that stays open: requests are sent on it one by one, as a keep-alive client does. */
export class KeepAliveClient {
  readonly socket: net.Socket;
  received = "";
  closed = false;
  readonly opened: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    this.socket.on("data", (chunk: Buffer) => (this.received += chunk.toString("latin1")));
    this.socket.on("error", () => {});
    // As real clients do: once the proxy closes its side, close ours.
    this.socket.on("end", () => {
      this.closed = true;
      this.socket.end();
    });
    this.socket.on("close", () => (this.closed = true));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: smoke\r\n\r\n`);
  }

  /** Waits until what was received satisfies `done`, bounded. */
  async until(done: (text: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received)) {
      if (Date.now() > deadline) {
        throw new Error(
          `No ${what} within ${timeoutMs} ms; received ${JSON.stringify(this.received.slice(0, 500))}`,
        );
      }
      await sleep(5);
    }
    return this.received;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resolves with whether something accepts a TCP connection on `port` now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    // Loopback answers at once either way; the bound is for a machine in trouble.
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A port nothing listens on now (bound, then closed), for a proxy whose port must be known beforehand. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
