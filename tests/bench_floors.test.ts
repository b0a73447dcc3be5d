/**
 * The benchmark's socket-layer floors (floor/node, floor/bun, floor/deno): their byte scans, how
 * they are found or skipped with a line, ours/node from a bundle, and each floor program started
 * the way the benchmark starts it, on the runtime it is for, in tcp and http mode, forwarding to
 * two raw origins in this process: bytes unchanged both ways, round robin (per connection in tcp
 * mode, per request in http mode), heads and bodies split across reads, and a 32 MiB response
 * read slowly: more than loopback's socket buffers hold, so the floor has to pause the origin and
 * resume it on the client's drain, or the response never completes.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContenderSetup, ProxyMode } from "../scripts/bench/contenders.ts";
import { discoverContenders, startContender } from "../scripts/bench/contenders.ts";
import { FLOOR_PROXIES, isFloor } from "../scripts/bench/floor_proxies.ts";
import { contentLength, headEnd } from "../scripts/bench/floors/_http_head.ts";
import { ProcessRegistry } from "../scripts/bench/processes.ts";
import { ROOT } from "./_cli_helpers.ts";
import { contenderSetupIn } from "./helpers/bench_fixtures.ts";

/** More than the kernel buffers on loopback between origin, floor and client (a few MiB each way). */
const LARGE_BODY_BYTES = 32 * 1024 * 1024;

describe("floor head scans", () => {
  test("the head ends after its blank line; -1 while it is incomplete", () => {
    assert.equal(headEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), 27);
    assert.equal(headEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody")), 27);
    assert.equal(headEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n")), -1);
    assert.equal(headEnd(Buffer.from("")), -1);
  });

  test("Content-Length in any case, after blanks; 0 without one; nothing past the head counts", () => {
    const length = (text: string): number => {
      const bytes = Buffer.from(text);
      return contentLength(bytes, headEnd(bytes));
    };
    assert.equal(length("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n"), 16);
    assert.equal(
      length("HTTP/1.1 200 OK\r\nserver: x\r\ncontent-length:\t 1048576\r\nx: y\r\n\r\n"),
      1_048_576,
    );
    assert.equal(length("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 7\r\n\r\n"), 7);
    assert.equal(length("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"), 0);
    assert.equal(
      length("HTTP/1.1 200 OK\r\nX-Content-Length: 9\r\n\r\n"),
      0,
      "a name that only ends the same",
    );
    assert.equal(length("HTTP/1.1 200 OK\r\n\r\nContent-Length: 5\r\n\r\n"), 0, "in the body, not the head");
  });
});

/** What starting a contender needs, for a run in `directory`. */
function setupIn(directory: string, registry: ProcessRegistry): ContenderSetup {
  return contenderSetupIn(directory, registry, ROOT);
}

describe("floor discovery", () => {
  const directory = mkdtempSync(join(tmpdir(), "bench-floors-"));
  after(() => rmSync(directory, { recursive: true, force: true }));

  test("every floor is found in tcp and http mode, started with its runtime and its layer's program", () => {
    const { specs } = discoverContenders(ROOT);
    const floors = specs.filter((spec) => isFloor(spec.name));
    assert.deepEqual(floors.map((spec) => spec.name), ["floor/node", "floor/bun", "floor/deno"]);
    for (const spec of floors) {
      assert.deepEqual(spec.modes, ["tcp", "http"]);
      assert.equal(spec.isOurs, false);
      assert.equal(spec.peer, false, "floors are in the memory scenario");
    }
    const setup = setupIn(directory, new ProcessRegistry(directory));
    const launch = (name: string, mode: ProxyMode) =>
      floors.find((spec) => spec.name === name)!.launch(
        mode,
        9000,
        ["127.0.0.1:1", "127.0.0.1:2"],
        setup,
        null,
      );
    const bin = (runtime: string) => join(ROOT, "node_modules", ".bin", runtime);
    assert.deepEqual(launch("floor/node", "tcp"), {
      command: bin("node"),
      args: [join(ROOT, "scripts/bench/floors/node_net_tcp.ts"), "9000", "127.0.0.1:1", "127.0.0.1:2"],
    });
    assert.deepEqual(launch("floor/deno", "http"), {
      command: bin("deno"),
      args: [
        "run",
        "-A",
        join(ROOT, "scripts/bench/floors/node_net_http.ts"),
        "9000",
        "127.0.0.1:1",
        "127.0.0.1:2",
      ],
    });
    assert.deepEqual(
      launch("floor/bun", "http").args[0],
      join(ROOT, "scripts/bench/floors/bun_native_http.ts"),
    );
    assert.deepEqual(
      launch("floor/bun", "tcp").args[0],
      join(ROOT, "scripts/bench/floors/bun_native_tcp.ts"),
    );
  });

  test("a missing runtime binary gives a skip line per floor, never silence", () => {
    const bare = mkdtempSync(join(directory, "bare-"));
    const { specs, skipped } = discoverContenders(bare);
    assert.ok(!specs.some((spec) => isFloor(spec.name)));
    for (const floor of FLOOR_PROXIES) {
      const binary = join(bare, "node_modules", ".bin", floor.runtime);
      assert.ok(
        skipped.includes(`${floor.name}: skipped ("${binary}" not found: run npm install)`),
        skipped.join("\n"),
      );
    }
  });

  test("with a Node bundle, ours/node and its variants run it; Bun and Deno keep the sources", () => {
    const bundle = join(directory, "proxy.cjs");
    const { specs } = discoverContenders(ROOT, { nodeBundle: bundle });
    const setup = { ...setupIn(directory, new ProcessRegistry(directory)), logPort: 514 };
    const argsOf = (name: string) =>
      specs.find((spec) => spec.name === name)!.launch("http", 9000, ["127.0.0.1:1"], setup, 9001).args;
    for (const name of ["ours/node", "ours/node+log", "ours/node+stats"]) {
      assert.equal(argsOf(name)[0], bundle, name);
    }
    assert.equal(argsOf("ours/bun")[0], join(ROOT, "src/main.ts"));
    assert.deepEqual(argsOf("ours/deno").slice(0, 3), ["run", "-A", join(ROOT, "src/main.ts")]);
    const fromSources = discoverContenders(ROOT).specs.find((spec) => spec.name === "ours/node")!;
    assert.equal(
      fromSources.launch("http", 9000, ["127.0.0.1:1"], setup, null).args[0],
      join(ROOT, "src/main.ts"),
    );
  });
});

/** Two raw origins: each records the request heads it reads, byte for byte, and answers by path. */
type RawOrigins = { servers: Server[]; ports: number[]; heads: string[][] };

/**
 * GET / answers 16 bytes naming the origin; /split sends its head and body in three writes 30 ms
 * apart, cutting the head in the middle of Content-Length; /large sends LARGE_BODY_BYTES in one write.
 */
async function startRawOrigins(): Promise<RawOrigins> {
  const servers: Server[] = [];
  const heads: string[][] = [[], []];
  for (let origin = 0; origin < 2; origin++) {
    const server = createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (let end = pending.indexOf("\r\n\r\n"); end !== -1; end = pending.indexOf("\r\n\r\n")) {
          const head = pending.subarray(0, end + 4).toString("latin1");
          pending = pending.subarray(end + 4);
          heads[origin]!.push(head);
          answer(socket, origin, head.split(" ")[1]!);
        }
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
  }
  return { servers, ports: servers.map((server) => (server.address() as AddressInfo).port), heads };
}

function answer(socket: Socket, origin: number, path: string): void {
  if (path === "/split") {
    socket.write(`HTTP/1.1 200 OK\r\nX-Origin: ${origin}\r\nConte`);
    setTimeout(() => socket.write("nt-Length: 5\r\n\r\nsp"), 30);
    setTimeout(() => socket.write("lit"), 60);
  } else if (path === "/large") {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${LARGE_BODY_BYTES}\r\n\r\n`);
    socket.write(Buffer.alloc(LARGE_BODY_BYTES, "x"));
  } else {
    // The benchmark's check wants the 16-byte body itself on GET /.
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 16\r\nX-Origin: ${origin}\r\n\r\n0123456789abcdef`);
  }
}

/** A client connection that reads whole responses (head and Content-Length body) one after the other. */
class RawClient {
  readonly socket: Socket;
  /** Chunks received and not yet taken, joined only when a response may be complete (32 MiB arrive in 64 KiB reads). */
  #chunks: Buffer[] = [];
  #length = 0;
  #waiting: (() => void) | null = null;
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#waiting?.();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#waiting?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Sends a GET and reads its response; `pauseMs` stops reading that long once the head is in. */
  async get(path: string, headers = "", pauseMs = 0): Promise<{ head: string; body: Buffer }> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: floor.test\r\n${headers}\r\n`);
    const deadline = Date.now() + 15_000;
    let head: string | null = null;
    let needed = Number.POSITIVE_INFINITY;
    for (;;) {
      if (head === null) {
        const end = this.#joined().indexOf("\r\n\r\n");
        if (end !== -1) {
          head = this.#joined().subarray(0, end + 4).toString("latin1");
          needed = end + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (pauseMs > 0) {
            this.socket.pause();
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
            this.socket.resume();
          }
        }
      }
      if (this.#length >= needed) {
        const bytes = this.#joined();
        this.#chunks = [bytes.subarray(needed)];
        this.#length -= needed;
        return { head: head!, body: bytes.subarray(head!.length, needed) };
      }
      if (this.#closed) throw new Error(`closed after ${this.#length} bytes of the response to ${path}`);
      if (Date.now() > deadline) throw new Error(`no complete response to ${path} within 15 s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiting = () => {
          clearTimeout(timer);
          this.#waiting = null;
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const originOf = (head: string): string => /\r\nX-Origin: (\d)/.exec(head)?.[1] ?? "?";

describe("floor forwarding", () => {
  const directory = mkdtempSync(join(tmpdir(), "bench-floors-run-"));
  const registry = new ProcessRegistry(directory);
  let origins: RawOrigins;

  before(async () => {
    origins = await startRawOrigins();
  });
  after(async () => {
    await registry.stopAll();
    for (const server of origins?.servers ?? []) server.close();
    rmSync(directory, { recursive: true, force: true });
  });

  for (const floor of FLOOR_PROXIES) {
    test(`${floor.name} http: heads unchanged, round robin per request on one connection, split heads, 32 MiB slowly`, async () => {
      const spec = discoverContenders(ROOT).specs.find((candidate) => candidate.name === floor.name);
      assert.ok(spec !== undefined, `${floor.name} cannot run: run npm ci`);
      // The benchmark's own start: it waits for the port and checks GET / against the 16-byte body.
      const started = await startContender(spec, "http", origins.ports, setupIn(directory, registry));
      assert.ok(!("unavailable" in started), "unavailable" in started ? started.unavailable : "");
      for (const seen of origins.heads) seen.length = 0;
      const client = await RawClient.open(started.port);
      try {
        const headers = "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nx-MiXeD: Case  kept\r\n";
        const first = await client.get("/a?q=1", headers);
        const second = await client.get("/b", headers);
        assert.equal(first.body.toString(), "0123456789abcdef");
        assert.notEqual(originOf(first.head), originOf(second.head), "one request each, round robin");
        const seen = [...origins.heads[0]!, ...origins.heads[1]!];
        assert.ok(
          seen.includes(`GET /a?q=1 HTTP/1.1\r\nHost: floor.test\r\n${headers}\r\n`),
          `the head reaches the origin byte for byte: ${JSON.stringify(seen)}`,
        );

        const split = await client.get("/split");
        assert.equal(split.body.toString(), "split");
        assert.match(split.head, /^HTTP\/1\.1 200 OK\r\nX-Origin: \d\r\nContent-Length: 5\r\n\r\n$/);

        const large = await client.get("/large", "", 300);
        assert.ok(large.body.equals(Buffer.alloc(LARGE_BODY_BYTES, "x")));
        // The connection is still in step after all of it.
        assert.equal((await client.get("/")).body.toString(), "0123456789abcdef");
      } finally {
        client.close();
        await registry.stop(started.process);
      }
    });

    test(`${floor.name} tcp: bytes unchanged both ways, round robin per connection, 32 MiB slowly`, async () => {
      const spec = discoverContenders(ROOT).specs.find((candidate) => candidate.name === floor.name);
      assert.ok(spec !== undefined, `${floor.name} cannot run: run npm ci`);
      const started = await startContender(spec, "tcp", origins.ports, setupIn(directory, registry));
      assert.ok(!("unavailable" in started), "unavailable" in started ? started.unavailable : "");
      for (const seen of origins.heads) seen.length = 0;
      const clients = [await RawClient.open(started.port), await RawClient.open(started.port)];
      try {
        const answers = [];
        for (const client of clients) answers.push(await client.get("/", "X-Raw: a  b\r\n"));
        assert.notEqual(originOf(answers[0]!.head), originOf(answers[1]!.head), "one connection each");
        assert.deepEqual(
          [...origins.heads[0]!, ...origins.heads[1]!].filter((head) => head.includes("X-Raw")),
          [0, 1].map(() => "GET / HTTP/1.1\r\nHost: floor.test\r\nX-Raw: a  b\r\n\r\n"),
        );
        const large = await clients[0]!.get("/large", "", 300);
        assert.ok(large.body.equals(Buffer.alloc(LARGE_BODY_BYTES, "x")));
        assert.equal((await clients[0]!.get("/split")).body.toString(), "split");
      } finally {
        for (const client of clients) client.close();
        await registry.stop(started.process);
      }
    });
  }
});
