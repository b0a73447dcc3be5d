/**
 * The memory scenario: N idle keep-alive client connections held open through a proxy, opened
 * from this process (loopback only, bounded concurrency, bounded time, all closed afterwards).
 *
 * Each connection first completes one request, so that it is known to reach an origin and the
 * proxy holds whatever per-connection state a real keep-alive client leaves behind; then it sits
 * idle while the proxy's resident memory is read.
 *
 * @module
 */

import { connect } from "node:net";
import type { Socket } from "node:net";

/** Connections opening at once: enough to be quick, few enough to stay under accept backlogs. */
const OPEN_CONCURRENCY = 200;
/** One connection's request must complete within this, or it counts as failed. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The whole opening phase ends after this, however many connections are held. */
const OPEN_DEADLINE_MS = 120_000;
/** Stop opening once this many have failed: the limit (ports, fds, the proxy) has been reached. */
const MAX_FAILURES = 200;

/** Connections held open, to be measured and then closed. */
export type HeldConnections = {
  /** Connections that completed their request and are still open. */
  openCount: () => number;
  firstError: string | null;
  closeAll: () => Promise<void>;
};

function openOne(port: number, request: string, open: Set<Socket>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(message));
    };
    socket.setNoDelay(true);
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => fail(`no response within ${REQUEST_TIMEOUT_MS} ms`));
    socket.on("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    socket.on("close", () => {
      open.delete(socket);
      fail("closed before the response was complete");
    });
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      if (settled) return;
      received += chunk.toString("latin1");
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, headEnd + 2));
      if (length === null) return fail(`response without Content-Length: "${received.slice(0, 40)}"`);
      if (received.length - headEnd - 4 < Number(length[1])) return;
      if (!received.startsWith("HTTP/1.1 200")) {
        return fail(`status line "${received.slice(0, received.indexOf("\r\n"))}"`);
      }
      settled = true;
      socket.setTimeout(0);
      open.add(socket);
      resolve();
    });
  });
}

/** Opens up to `count` connections through the proxy on `port` and leaves them idle. */
export async function openIdleConnections(port: number, count: number): Promise<HeldConnections> {
  const open = new Set<Socket>();
  const request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
  const deadline = Date.now() + OPEN_DEADLINE_MS;
  let started = 0;
  let failures = 0;
  let firstError: string | null = null;

  const worker = async (): Promise<void> => {
    while (started < count && failures < MAX_FAILURES && Date.now() < deadline) {
      started++;
      try {
        await openOne(port, request, open);
      } catch (error) {
        failures++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
  if (firstError === null && Date.now() >= deadline && started < count) {
    firstError = `opening stopped after ${OPEN_DEADLINE_MS} ms`;
  }

  return {
    openCount: () => open.size,
    firstError,
    closeAll: async () => {
      for (const socket of open) socket.destroy();
      open.clear();
      // Let the proxy see the closes before it is stopped or measured again.
      await new Promise((resolve) => setTimeout(resolve, 500));
    },
  };
}
