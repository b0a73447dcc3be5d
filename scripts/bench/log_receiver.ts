/**
 * The syslog receiver of the logging scenario: a UDP socket on loopback that counts the traffic
 * lines the logging contenders send, so that the report can set the lines that arrived against
 * the requests wrk made. It stands in for a syslog daemon but only counts: what a daemon does with
 * a line (parsing, writing it to disk) is not the proxy's cost.
 *
 * UDP may lose lines: when the socket's receive buffer is full the kernel drops the datagram and
 * counts it in the `drops` column of /proc/net/udp, which is read before and after each run so
 * that losses are reported, not hidden.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";

/** Receive buffer asked for; Linux caps it at net.core.rmem_max (the report gives the size granted). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Marks a traffic line (httplog's quoted request line) apart from operator messages. */
const TRAFFIC_LINE_MARK = '"GET ';

/** What the receiver has counted so far. */
export type LogCounts = {
  /** Datagrams holding a traffic line. */
  lines: number;
  /** Every datagram, operator messages (start, stop) included. */
  datagrams: number;
  /** Datagrams the kernel dropped for this socket (full receive buffer); null when unknown. */
  kernelDrops: number | null;
};

/** A running receiver. */
export type LogReceiver = {
  port: number;
  /** The receive buffer the kernel granted, in bytes (Linux reports twice what it accounts). */
  receiveBufferBytes: number;
  counts: () => LogCounts;
  /** Resolves once no line has arrived for `quietMs`, or after `maxMs`: lines still in flight land. */
  settle: (quietMs: number, maxMs: number) => Promise<void>;
  /** Resolves true once `lines` exceeds `than`, false after `maxMs`. */
  waitForLines: (than: number, maxMs: number) => Promise<boolean>;
  close: () => Promise<void>;
};

/**
 * The `drops` counter of the IPv4 UDP socket bound to 127.0.0.1:port in the text of
 * /proc/net/udp; null when no such socket is listed.
 */
export function udpSocketDrops(procNetUdp: string, port: number): number | null {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of procNetUdp.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (fields.length < 13) continue;
    const [address, localPort] = fields[1]!.split(":");
    if (localPort !== portHex) continue;
    // 127.0.0.1 as the kernel prints it on little-endian machines (0100007F) or big-endian ones.
    if (address !== "0100007F" && address !== "7F000001") continue;
    const drops = Number(fields[12]);
    return Number.isFinite(drops) ? drops : null;
  }
  return null;
}

function readKernelDrops(port: number): number | null {
  try {
    return udpSocketDrops(readFileSync("/proc/net/udp", "utf8"), port);
  } catch {
    return null;
  }
}

/** Binds a UDP socket on 127.0.0.1 (a port the kernel picks) and starts counting. */
export function startLogReceiver(): Promise<LogReceiver> {
  const socket = createSocket({ type: "udp4", recvBufferSize: RECEIVE_BUFFER_BYTES });
  let lines = 0;
  let datagrams = 0;
  let lastArrival = Date.now();
  socket.on("message", (message: Buffer) => {
    datagrams++;
    if (message.includes(TRAFFIC_LINE_MARK)) lines++;
    lastArrival = Date.now();
  });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      socket.off("error", reject);
      // An error after binding (none is expected for a receiver) must not end the benchmark.
      socket.on("error", () => {});
      const port = socket.address().port;
      const poll = (done: () => boolean, maxMs: number): Promise<boolean> => {
        const deadline = Date.now() + maxMs;
        return new Promise((resolveWait) => {
          const check = (): void => {
            if (done()) resolveWait(true);
            else if (Date.now() >= deadline) resolveWait(false);
            else setTimeout(check, 10);
          };
          check();
        });
      };
      resolve({
        port,
        receiveBufferBytes: socket.getRecvBufferSize(),
        counts: () => ({ lines, datagrams, kernelDrops: readKernelDrops(port) }),
        settle: async (quietMs, maxMs) => {
          await poll(() => Date.now() - lastArrival >= quietMs, maxMs);
        },
        waitForLines: (than, maxMs) => poll(() => lines > than, maxMs),
        close: () => new Promise((resolveClose) => socket.close(() => resolveClose())),
      });
    });
  });
}
