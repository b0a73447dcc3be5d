/**
 * The benchmark's JavaScript peer proxies (peer/bun-fetch, peer/deno-fetch, peer/http-proxy,
 * peer/undici): how they are found or skipped with a line, what their shared helpers drop, and
 * each one started the way the benchmark starts it, forwarding to two origins in this process:
 * method, path, headers without the hop-by-hop ones, status, body, round robin, a 1 MiB response.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMALL_BODY } from "../scripts/bench/bodies.ts";
import type { ContenderSetup } from "../scripts/bench/contenders.ts";
import { discoverContenders, startContender } from "../scripts/bench/contenders.ts";
import { PEER_PROXIES, PEERS_BY_RUNTIME } from "../scripts/bench/peer_proxies.ts";
import { parsePeerArguments } from "../scripts/bench/peers/_arguments.ts";
import {
  fetchHeadersWithoutHopByHop,
  hopByHopNames,
  withoutHopByHop,
} from "../scripts/bench/peers/_hop_by_hop.ts";
import { ProcessRegistry } from "../scripts/bench/processes.ts";
import { ROOT } from "./_cli_helpers.ts";
import { contenderSetupIn } from "./helpers/bench_fixtures.ts";

const LARGE_BODY_BYTES = 1024 * 1024;

describe("peer helpers", () => {
  test("hop-by-hop names: the fixed ones and those the Connection field names, once each", () => {
    const names = hopByHopNames("keep-alive, X-Trace ,x-trace,, Upgrade");
    for (const name of ["connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"]) {
      assert.ok(names.includes(name), name);
    }
    assert.equal(names.filter((name) => name === "x-trace").length, 1);
    assert.equal(names.filter((name) => name === "upgrade").length, 1);
    assert.ok(hopByHopNames(["close", "X-A"]).includes("x-a"), "node:http gives repeated fields as an array");
    assert.ok(!hopByHopNames(undefined).includes("content-length"));
  });

  test("node:http and undici headers lose the hop-by-hop fields, keep the others and their arrays", () => {
    const kept = withoutHopByHop({
      host: "a",
      connection: "keep-alive, x-secret",
      "x-secret": "1",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      "set-cookie": ["a=1", "b=2"],
      "x-absent": undefined,
    });
    assert.deepEqual(kept, { host: "a", "set-cookie": ["a=1", "b=2"] });
  });

  test("fetch headers lose the hop-by-hop fields; the original is left alone", () => {
    const original = new Headers({ connection: "x-secret", "x-secret": "1", te: "trailers", accept: "*/*" });
    const kept = fetchHeadersWithoutHopByHop(original);
    assert.deepEqual([...kept], [["accept", "*/*"]]);
    assert.equal(original.get("x-secret"), "1");
  });

  test("peer arguments: PORT BACKEND..., anything else refused with the usage", () => {
    assert.deepEqual(parsePeerArguments(["8080", "127.0.0.1:1", "127.0.0.1:2"]), {
      port: 8080,
      backends: ["127.0.0.1:1", "127.0.0.1:2"],
    });
    assert.throws(() => parsePeerArguments([]), /Invalid port "": usage: PORT BACKEND/);
    assert.throws(() => parsePeerArguments(["80x", "127.0.0.1:1"]), /Invalid port "80x"/);
    assert.throws(() => parsePeerArguments(["70000", "127.0.0.1:1"]), /Invalid port "70000"/);
    assert.throws(() => parsePeerArguments(["8080"]), /No backend given/);
    assert.throws(
      () => parsePeerArguments(["8080", "localhost"]),
      /Invalid backend "localhost": expected host:port/,
    );
  });
});

/** What starting a contender needs, for a run in `directory`. */
function setupIn(directory: string, registry: ProcessRegistry): ContenderSetup {
  return contenderSetupIn(directory, registry, ROOT);
}

describe("peer discovery", () => {
  const directories: string[] = [];
  const scratch = (): string => {
    const directory = mkdtempSync(join(tmpdir(), "bench-peers-"));
    directories.push(directory);
    return directory;
  };
  after(() => {
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  test("every peer of the project is found, in http mode only, started with its runtime", () => {
    const { specs } = discoverContenders(ROOT);
    const peers = specs.filter((spec) => spec.peer);
    assert.deepEqual(peers.map((spec) => spec.name), PEER_PROXIES.map((peer) => peer.name));
    for (const spec of peers) {
      assert.deepEqual(spec.modes, ["http"]);
      assert.equal(spec.isOurs, false);
    }
    assert.ok(specs.filter((spec) => spec.name.startsWith("ours/")).every((spec) => !spec.peer));
    const directory = scratch();
    const setup = setupIn(directory, new ProcessRegistry(directory));
    const launch = (name: string) =>
      peers.find((spec) => spec.name === name)!.launch(
        "http",
        9000,
        ["127.0.0.1:1", "127.0.0.1:2"],
        setup,
        null,
      );
    const deno = launch("peer/deno-fetch");
    assert.equal(deno.command, join(ROOT, "node_modules", ".bin", "deno"));
    assert.deepEqual(deno.args, [
      "run",
      "-A",
      join(ROOT, "scripts/bench/peers/deno_fetch.ts"),
      "9000",
      "127.0.0.1:1",
      "127.0.0.1:2",
    ]);
    const undici = launch("peer/undici");
    assert.equal(undici.command, join(ROOT, "node_modules", ".bin", "node"));
    assert.deepEqual(undici.args.slice(1), ["9000", "127.0.0.1:1", "127.0.0.1:2"]);
    assert.deepEqual(Object.keys(PEERS_BY_RUNTIME).sort(), ["bun", "deno", "node"]);
  });

  test("a missing runtime binary or package gives a skip line per peer, never silence", () => {
    const bare = scratch();
    const withoutBinaries = discoverContenders(bare);
    assert.ok(!withoutBinaries.specs.some((spec) => spec.peer));
    assert.ok(
      withoutBinaries.skipped.includes(
        `peer/bun-fetch: skipped ("${join(bare, "node_modules", ".bin", "bun")}" not found: run npm install)`,
      ),
      withoutBinaries.skipped.join("\n"),
    );
    for (const peer of PEER_PROXIES) {
      assert.ok(
        withoutBinaries.skipped.some((line) => line.startsWith(`${peer.name}: skipped (`)),
        peer.name,
      );
    }

    // The runtimes installed, the two npm packages not.
    const runtimesOnly = scratch();
    mkdirSync(join(runtimesOnly, "node_modules", ".bin"), { recursive: true });
    for (const runtime of ["node", "bun", "deno"]) {
      symlinkSync(
        join(ROOT, "node_modules", ".bin", runtime),
        join(runtimesOnly, "node_modules", ".bin", runtime),
      );
    }
    const withoutPackages = discoverContenders(runtimesOnly);
    assert.deepEqual(
      withoutPackages.specs.filter((spec) => spec.peer).map((spec) => spec.name),
      ["peer/bun-fetch", "peer/deno-fetch"],
    );
    assert.ok(
      withoutPackages.skipped.includes(
        'peer/http-proxy: skipped (package "http-proxy" not installed: run npm install)',
      ),
    );
    assert.ok(
      withoutPackages.skipped.includes(
        'peer/undici: skipped (package "undici" not installed: run npm install)',
      ),
    );
  });
});

/** What an origin saw of a request, as it answers it. */
type Seen = { origin: number; method: string; url: string; headers: IncomingHttpHeaders; body: string };

/** Two origins on loopback: GET / the benchmark's body, /1mb 1 MiB in pieces, anything else echoed. */
async function startOrigins(): Promise<{ servers: Server[]; ports: number[] }> {
  const servers: Server[] = [];
  for (let origin = 0; origin < 2; origin++) {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        if (request.url === "/") {
          response.writeHead(200, { "content-length": SMALL_BODY.length });
          response.end(SMALL_BODY);
        } else if (request.url === "/1mb") {
          // Chunked, in sixteen writes: a peer that waits for a length or the end has to stream.
          const piece = Buffer.alloc(LARGE_BODY_BYTES / 16, "x");
          response.writeHead(200, { "content-type": "application/octet-stream" });
          for (let index = 0; index < 16; index++) response.write(piece);
          response.end();
        } else {
          const seen: Seen = {
            origin,
            method: request.method ?? "",
            url: request.url ?? "",
            headers: request.headers,
            body: Buffer.concat(chunks).toString(),
          };
          response.writeHead(201, {
            "content-type": "application/json",
            connection: "keep-alive, x-hop-response",
            "x-hop-response": "1",
            "x-kept-response": "yes",
          });
          response.end(JSON.stringify(seen));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
  }
  return { servers, ports: servers.map((server) => (server.address() as AddressInfo).port) };
}

/** One request on a fresh connection; the whole response. */
function send(
  port: number,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: options.method,
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on(
          "end",
          () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
        );
        response.on("error", reject);
      },
    );
    outgoing.setTimeout(15_000, () => outgoing.destroy(new Error("no answer within 15 s")));
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

describe("peer forwarding", () => {
  const directory = mkdtempSync(join(tmpdir(), "bench-peers-run-"));
  const registry = new ProcessRegistry(directory);
  let origins: { servers: Server[]; ports: number[] };

  before(async () => {
    origins = await startOrigins();
  });
  after(async () => {
    await registry.stopAll();
    for (const server of origins?.servers ?? []) {
      server.closeAllConnections();
      server.close();
    }
    rmSync(directory, { recursive: true, force: true });
  });

  for (const peer of PEER_PROXIES) {
    test(`${peer.name} forwards method, path, headers without hop-by-hop ones, status, body; round robin`, async () => {
      const spec = discoverContenders(ROOT).specs.find((candidate) => candidate.name === peer.name);
      assert.ok(spec !== undefined, `${peer.name} is not installed: run npm ci`);
      // The benchmark's own start: it waits for the port and checks GET / against the 16-byte body.
      const started = await startContender(spec, "http", origins.ports, setupIn(directory, registry));
      assert.ok(!("unavailable" in started), "unavailable" in started ? started.unavailable : "");

      const answers = [];
      for (let index = 0; index < 2; index++) {
        answers.push(
          await send(started.port, {
            method: "POST",
            path: "/echo?q=1",
            headers: {
              connection: "keep-alive, x-hop",
              "x-hop": "secret",
              "keep-alive": "timeout=5",
              "x-kept": "yes",
              "content-type": "text/plain",
            },
            body: `hello peer ${index}`,
          }),
        );
      }
      const originsSeen = new Set<number>();
      answers.forEach((answer, index) => {
        assert.equal(answer.status, 201);
        assert.equal(answer.headers["x-kept-response"], "yes");
        assert.equal(answer.headers["x-hop-response"], undefined, "named by the origin's Connection field");
        const seen = JSON.parse(answer.body.toString()) as Seen;
        originsSeen.add(seen.origin);
        assert.equal(seen.method, "POST");
        assert.equal(seen.url, "/echo?q=1");
        assert.equal(seen.body, `hello peer ${index}`);
        assert.equal(seen.headers["x-kept"], "yes");
        assert.equal(seen.headers["x-hop"], undefined, "named by the client's Connection field");
        assert.equal(seen.headers["keep-alive"], undefined);
      });
      assert.equal(originsSeen.size, 2, "two requests in a row go to both origins");

      const large = await send(started.port, { method: "GET", path: "/1mb" });
      assert.equal(large.status, 200);
      assert.equal(large.body.length, LARGE_BODY_BYTES);
    });
  }
});
