/**
 * A stand-in for wrk on machines without it: `node builtin_load.ts PORT PATH SECONDS CONNECTIONS`.
 *
 * It keeps CONNECTIONS keep-alive connections busy with one request at a time each, and prints
 * its results in wrk's format so that one parser reads both. Being JavaScript, it runs out of
 * CPU long before wrk does: its figures show that a contender works, not how fast it is.
 *
 * @module
 */

import { connect } from "node:net";

const [portText, path = "/", secondsText = "1", connectionsText = "16"] = process.argv.slice(2);
const port = Number(portText);
const durationMs = Number(secondsText) * 1_000;
const connectionCount = Number(connectionsText);
if (!Number.isInteger(port) || !(durationMs > 0) || !(connectionCount > 0)) {
  console.error(
    `Invalid arguments "${
      process.argv.slice(2).join(" ")
    }": usage: builtin_load.ts PORT PATH SECONDS CONNECTIONS`,
  );
  process.exit(2);
}

const latenciesMicros: number[] = [];
const errors = { connect: 0, read: 0, write: 0, timeout: 0 };
let non2xx = 0;
let bytesRead = 0;
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, "latin1");
const startedAt = performance.now();
const endsAt = startedAt + durationMs;

const EMPTY = Buffer.alloc(0);

function runConnection(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    // Only the head is accumulated: a 1 MiB body is counted, never copied.
    let head: Buffer = EMPTY;
    let bodyRemaining = 0;
    let sentAt = 0;
    let connected = false;
    const send = (): void => {
      if (performance.now() >= endsAt) {
        socket.destroy();
        return resolve();
      }
      sentAt = performance.now();
      socket.write(request);
    };
    const complete = (): void => {
      latenciesMicros.push((performance.now() - sentAt) * 1_000);
      send();
    };
    socket.on("connect", () => {
      connected = true;
      send();
    });
    socket.on("error", () => {
      if (connected) errors.read++;
      else errors.connect++;
    });
    socket.on("close", () => resolve());
    socket.on("data", (chunk: Buffer) => {
      bytesRead += chunk.length;
      let data: Buffer = chunk;
      while (data.length > 0) {
        if (bodyRemaining > 0) {
          const taken = Math.min(bodyRemaining, data.length);
          bodyRemaining -= taken;
          data = data.subarray(taken);
          if (bodyRemaining === 0) complete();
          continue;
        }
        head = head.length === 0 ? data : Buffer.concat([head, data]);
        data = EMPTY;
        const headEnd = head.indexOf("\r\n\r\n");
        if (headEnd === -1) break;
        const text = head.subarray(0, headEnd).toString("latin1");
        if (!/^HTTP\/1\.[01] [23]/.test(text)) non2xx++;
        bodyRemaining = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? "0");
        data = head.subarray(headEnd + 4);
        head = EMPTY;
        if (bodyRemaining === 0) complete();
      }
    });
  });
}

function formatTime(micros: number): string {
  if (micros < 1_000) return `${micros.toFixed(2)}us`;
  if (micros < 1_000_000) return `${(micros / 1_000).toFixed(2)}ms`;
  return `${(micros / 1_000_000).toFixed(2)}s`;
}

function formatSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)}${units[unit]}`;
}

await Promise.all(Array.from({ length: connectionCount }, runConnection));
const elapsedSeconds = (performance.now() - startedAt) / 1_000;
const sorted = latenciesMicros.sort((a, b) => a - b);
const at = (fraction: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
const average = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
const deviation = Math.sqrt(
  sorted.reduce((sum, value) => sum + (value - average) ** 2, 0) / Math.max(1, sorted.length),
);
const lines = [
  `Running ${secondsText}s test @ http://127.0.0.1:${port}${path} (built-in load generator)`,
  `  1 threads and ${connectionCount} connections`,
  "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
  `    Latency ${formatTime(average)} ${formatTime(deviation)} ${formatTime(sorted.at(-1) ?? 0)} 0.00%`,
  "  Latency Distribution",
  `     50% ${formatTime(at(0.5))}`,
  `     75% ${formatTime(at(0.75))}`,
  `     90% ${formatTime(at(0.9))}`,
  `     99% ${formatTime(at(0.99))}`,
  `  ${sorted.length} requests in ${elapsedSeconds.toFixed(2)}s, ${formatSize(bytesRead)} read`,
];
if (errors.connect + errors.read + errors.write + errors.timeout > 0) {
  lines.push(
    `  Socket errors: connect ${errors.connect}, read ${errors.read}, write ${errors.write}, timeout ${errors.timeout}`,
  );
}
if (non2xx > 0) lines.push(`  Non-2xx or 3xx responses: ${non2xx}`);
lines.push(`Requests/sec: ${(sorted.length / elapsedSeconds).toFixed(2)}`);
lines.push(`Transfer/sec: ${formatSize(bytesRead / elapsedSeconds)}`);
console.log(lines.join("\n"));
