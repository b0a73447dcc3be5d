/**
 * The kernel's share of a TCP path, read from /proc/net/tcp (Linux): the bytes each loopback
 * socket has queued to send (`tx_queue`: written, not yet acknowledged) and received but not yet
 * read (`rx_queue`). With them a test can tell how many bytes a proxy holds in its own memory:
 * what the origin handed to its kernel, minus what sits in every kernel queue along the way, minus
 * what the client read.
 */

import { readFileSync } from "node:fs";

/** One IPv4 TCP socket's queues. */
export interface SocketQueues {
  readonly localPort: number;
  readonly remotePort: number;
  /** Bytes written by the socket's owner and not yet acknowledged by the peer. */
  readonly sendQueue: number;
  /** Bytes received and not yet read by the socket's owner. */
  readonly receiveQueue: number;
}

/** True where /proc/net/tcp can be read (Linux). */
export function tcpQueuesAvailable(): boolean {
  try {
    readFileSync("/proc/net/tcp", "latin1");
    return true;
  } catch {
    return false;
  }
}

/**
 * Every IPv4 TCP socket except listeners (state 0A), with its queues. The kernel writes the file a
 * page at a time, so while other sockets come and go a socket can be listed twice or skipped: the
 * file is read twice and each socket (its addresses and inode) counted once, so that a quiet one
 * is always there.
 */
export function tcpSockets(): SocketQueues[] {
  const sockets = new Map<string, SocketQueues>();
  for (let pass = 0; pass < 2; pass++) {
    const lines = readFileSync("/proc/net/tcp", "latin1").split("\n");
    for (let i = 1; i < lines.length; i++) {
      const fields = lines[i]!.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] === "0A") continue;
      const [tx, rx] = fields[4]!.split(":");
      sockets.set(`${fields[1]} ${fields[2]} ${fields[9]}`, {
        localPort: parseInt(fields[1]!.split(":")[1]!, 16),
        remotePort: parseInt(fields[2]!.split(":")[1]!, 16),
        sendQueue: parseInt(tx!, 16),
        receiveQueue: parseInt(rx!, 16),
      });
    }
  }
  return [...sockets.values()];
}
