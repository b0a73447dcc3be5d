/**
 * Cost of the http head parser alone, per head, on the runtime that runs it:
 *   node scripts/parser_bench.ts | bun scripts/parser_bench.ts | deno run -A scripts/parser_bench.ts
 *
 * Heads: what wrk sends (the request of the keep-alive benchmark), a browser's request with ten
 * headers (once with the usual capitalised names, once lower-case as HTTP/2 clients send them:
 * no lowering), nginx's response head, and the browser's request split over three chunks (the
 * gathering path). Each figure is the best of many short rounds, so that a busy machine slows
 * some rounds but not the result; still, run it under `flock /tmp/bench.lock` on a shared machine.
 */

import { HEAD_FAILED, HEAD_INCOMPLETE, HeadParser } from "../src/http/head_parser.ts";
import type { MessageKind } from "../src/http/head_parser.ts";

const ROUNDS = 80;
const HEADS_PER_ROUND = 20_000;

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

const BROWSER = "GET /assets/app.js?v=123 HTTP/1.1\r\nHost: www.example.com\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
  "Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n" +
  "Referer: https://www.example.com/\r\nCookie: session=abcdef0123456789; theme=dark; tracking=xyz\r\n" +
  "Connection: keep-alive\r\nSec-Fetch-Mode: no-cors\r\n\r\n";
const BROWSER_LOWER = BROWSER.replace(/\r\n([A-Za-z-]+):/g, (_match, name: string) => `\r\n${name.toLowerCase()}:`);

const browser = bytes(BROWSER);
const cases: [name: string, kind: MessageKind, chunks: Uint8Array[]][] = [
  ["wrk request", "request", [bytes("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")]],
  ["browser request", "request", [browser]],
  ["browser request, lower-case names", "request", [bytes(BROWSER_LOWER)]],
  [
    "nginx response",
    "response",
    [bytes("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 07 Dec 2026 14:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: keep-alive\r\n\r\n")],
  ],
  ["browser request in 3 chunks", "request", [browser.subarray(0, 100), browser.subarray(100, 300), browser.subarray(300)]],
];

for (const [name, kind, chunks] of cases) {
  const parser = new HeadParser(kind);
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    for (let n = 0; n < HEADS_PER_ROUND; n++) {
      parser.reset("GET");
      for (let c = 0; c < chunks.length; c++) {
        const result = parser.feed(chunks[c]!, 0);
        if (result === HEAD_FAILED) throw new Error(`${name}: ${parser.error!.message}`);
        if (result !== HEAD_INCOMPLETE) break;
      }
    }
    const perHead = ((performance.now() - started) * 1e6) / HEADS_PER_ROUND;
    if (perHead < best) best = perHead;
  }
  console.log(`${name.padEnd(36)} ${best.toFixed(0).padStart(6)} ns per head`);
}
