import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Server } from "../src/core/server.ts";
import type { ServerSpec } from "../src/core/server.ts";
import {
  BALANCE_ALGORITHMS,
  createBalancer,
  FirstBalancer,
  hashClientAddress,
  hashHeaderValue,
  hashRequestUri,
  HeaderHashBalancer,
  isBalanceAlgorithm,
  LeastConnectionsBalancer,
  RandomTwoChoicesBalancer,
  RoundRobinBalancer,
  SourceHashBalancer,
  StaticRoundRobinBalancer,
  UriHashBalancer,
} from "../src/core/balance/mod.ts";
import type {
  BalanceAlgorithmName,
  BalanceContext,
  BalanceHashKeyConfig,
  Balancer,
  HeaderHashKeyConfig,
  UriHashKeyConfig,
} from "../src/core/balance/mod.ts";

const NAMES = "abcdefghijklmnopqrstuvwxyz";

/** A fake request: `headers` keyed by lower-case name; target "" and no headers stand for tcp mode. */
function requestContext(
  clientAddress: string,
  requestTarget = "",
  headers: Readonly<Record<string, string>> = {},
): BalanceContext {
  return {
    clientAddress,
    requestTarget,
    requestHeader: (lowerName) => Object.hasOwn(headers, lowerName) ? headers[lowerName] : undefined,
  };
}

const ANY_CLIENT = requestContext("127.0.0.1", "/index.html", { "x-user": "someone" });

/** Algorithms that send a key to its server even when it is full (the request then queues there). */
const HASHING: readonly BalanceAlgorithmName[] = ["source", "uri", "hdr"];

function uriKey(options: Partial<Omit<UriHashKeyConfig, "kind">> = {}): UriHashKeyConfig {
  return { kind: "uri", depth: 0, len: 0, whole: false, pathOnly: false, ...options };
}

function headerKey(name: string, useDomainOnly = false): HeaderHashKeyConfig {
  return { kind: "hdr", name, lowerName: name.toLowerCase(), useDomainOnly };
}

/** Options `uri` and `hdr` need; the others ignore them. */
const HASH_KEYS: Partial<Record<BalanceAlgorithmName, BalanceHashKeyConfig>> = {
  uri: uriKey(),
  hdr: headerKey("X-User"),
};

function makeServers(weights: readonly number[], overrides: Partial<ServerSpec> = {}): Server[] {
  return weights.map(
    (weight, index) =>
      new Server(
        {
          name: NAMES[index]!,
          host: "127.0.0.1",
          port: 8000 + index,
          weight,
          maxconn: 0,
          backup: false,
          ...overrides,
        },
        index,
      ),
  );
}

/** Deterministic PRNG (mulberry32) so random-based tests are reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickNames(balancer: Balancer, count: number, context: BalanceContext = ANY_CLIENT): string {
  let names = "";
  for (let i = 0; i < count; i++) names += balancer.pick(context, null)?.name ?? "-";
  return names;
}

function countPicks(
  balancer: Balancer,
  count: number,
  context: BalanceContext = ANY_CLIENT,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const name = balancer.pick(context, null)?.name ?? "-";
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Picks and keeps each connection open, as sessions would. */
function pickAndHold(balancer: Balancer, count: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const server = balancer.pick(ANY_CLIENT, null);
    const name = server?.name ?? "-";
    if (server) server.activeConnections++;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function longestRun(sequence: string, name: string): number {
  let longest = 0;
  let current = 0;
  for (const picked of sequence) {
    current = picked === name ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  return longest;
}

function clientAddress(index: number): string {
  return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

/** The index-th distinct client, with its own URI and X-User header, so every algorithm sees a new key. */
function nthClient(index: number): BalanceContext {
  return requestContext(clientAddress(index), `/item/${index}`, { "x-user": `user${index}` });
}

function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe("every algorithm", () => {
  for (const algorithm of BALANCE_ALGORITHMS) {
    describe(algorithm, () => {
      const build = (servers: readonly Server[]) =>
        createBalancer(algorithm, servers, seededRandom(1), HASH_KEYS[algorithm]);

      test("reports its name", () => {
        assert.equal(build(makeServers([1])).algorithm, algorithm);
      });

      test("returns null without servers", () => {
        assert.equal(build([]).pick(ANY_CLIENT, null), null);
      });

      test("returns null when every server is down, drained or full", () => {
        const servers = makeServers([1, 1, 1], { maxconn: 1 });
        const balancer = build(servers);
        servers[0]!.up = false;
        servers[1]!.weight = 0;
        servers[2]!.activeConnections = 1;
        balancer.update();
        if (HASHING.includes(algorithm)) {
          // A key keeps its server when it is full: the request waits in that server's queue.
          assert.equal(balancer.pick(ANY_CLIENT, null), servers[2]);
          assert.equal(balancer.pick(ANY_CLIENT, servers[2]!), servers[2]);
          servers[2]!.up = false;
          balancer.update();
        }
        assert.equal(balancer.pick(ANY_CLIENT, null), null);
        assert.equal(balancer.pick(ANY_CLIENT, servers[2]!), null);
      });

      test("never picks a down or zero-weight server, nor a full one unless it hashes", () => {
        const servers = makeServers([1, 1, 1, 1], { maxconn: 1 });
        const balancer = build(servers);
        servers[0]!.up = false;
        servers[1]!.weight = 0;
        servers[3]!.activeConnections = 1;
        balancer.update();
        const picked = new Set<string>();
        for (let i = 0; i < 50; i++) picked.add(balancer.pick(nthClient(i), null)?.name ?? "none");
        assert.deepEqual([...picked].sort(), HASHING.includes(algorithm) ? ["c", "d"] : ["c"]);
      });

      test("skips avoid while another server is available", () => {
        const servers = makeServers([1, 1, 1]);
        const balancer = build(servers);
        const avoid = servers[1]!;
        const seen = new Set<string>();
        for (let i = 0; i < 200; i++) {
          const picked = balancer.pick(nthClient(i), avoid);
          assert.ok(picked !== null && picked !== avoid, `pick ${i} returned ${picked?.name}`);
          seen.add(picked.name);
        }
        if (algorithm !== "first") assert.deepEqual([...seen].sort(), ["a", "c"]);
      });

      test("returns avoid when it is the only available server", () => {
        const servers = makeServers([1, 1]);
        const balancer = build(servers);
        servers[0]!.up = false;
        balancer.update();
        assert.equal(balancer.pick(ANY_CLIENT, servers[1]!), servers[1]);
        servers[1]!.up = false;
        balancer.update();
        assert.equal(balancer.pick(ANY_CLIENT, servers[1]!), null);
      });
    });
  }
});

describe("createBalancer and names", () => {
  test("lists the eight HAProxy algorithms", () => {
    assert.deepEqual([...BALANCE_ALGORITHMS], [
      "roundrobin",
      "static-rr",
      "leastconn",
      "first",
      "source",
      "random",
      "uri",
      "hdr",
    ]);
  });

  test("isBalanceAlgorithm accepts only known names", () => {
    assert.equal(isBalanceAlgorithm("leastconn"), true);
    assert.equal(isBalanceAlgorithm("static-rr"), true);
    assert.equal(isBalanceAlgorithm("uri"), true);
    assert.equal(isBalanceAlgorithm("hdr"), true);
    assert.equal(isBalanceAlgorithm("rr"), false);
    assert.equal(isBalanceAlgorithm("RoundRobin"), false);
    assert.equal(isBalanceAlgorithm(""), false);
  });

  test("builds the matching class", () => {
    const servers = makeServers([1]);
    assert.ok(createBalancer("roundrobin", servers) instanceof RoundRobinBalancer);
    assert.ok(createBalancer("static-rr", servers) instanceof StaticRoundRobinBalancer);
    assert.ok(createBalancer("leastconn", servers) instanceof LeastConnectionsBalancer);
    assert.ok(createBalancer("first", servers) instanceof FirstBalancer);
    assert.ok(createBalancer("source", servers) instanceof SourceHashBalancer);
    assert.ok(createBalancer("random", servers) instanceof RandomTwoChoicesBalancer);
    assert.ok(createBalancer("uri", servers, undefined, uriKey()) instanceof UriHashBalancer);
    assert.ok(createBalancer("hdr", servers, undefined, headerKey("Host")) instanceof HeaderHashBalancer);
  });

  test("uri and hdr refuse to be built without their own hash key options", () => {
    const servers = makeServers([1]);
    assert.throws(
      () => createBalancer("uri", servers),
      /balance "uri" needs hash key options of kind "uri" \(got none\)/,
    );
    assert.throws(() => createBalancer("hdr", servers, undefined, null), /balance "hdr" needs .*got none/);
    assert.throws(() => createBalancer("uri", servers, undefined, headerKey("Host")), /got kind "hdr"/);
    assert.throws(() => createBalancer("hdr", servers, undefined, uriKey()), /got kind "uri"/);
  });

  test("rejects an unknown name coming from untyped code", () => {
    assert.throws(
      () => createBalancer("bogus" as "first", makeServers([1])),
      /Unknown balance algorithm "bogus"/,
    );
  });
});

describe("roundrobin", () => {
  test("weights 3:1 over 400 picks give 300:100, smoothly", () => {
    const balancer = new RoundRobinBalancer(makeServers([3, 1]));
    const sequence = pickNames(balancer, 400);
    assert.equal(sequence.replaceAll("b", "").length, 300);
    assert.equal(sequence.replaceAll("a", "").length, 100);
    assert.equal(longestRun(sequence, "a"), 3);
    assert.equal(longestRun(sequence, "b"), 1);
  });

  test("weights 5:1:1 interleave as nginx does", () => {
    const balancer = new RoundRobinBalancer(makeServers([5, 1, 1]));
    assert.equal(pickNames(balancer, 14), "aabacaa".repeat(2));
  });

  test("equal weights rotate strictly", () => {
    const balancer = new RoundRobinBalancer(makeServers([1, 1, 1]));
    assert.equal(pickNames(balancer, 9), "abcabcabc");
  });

  test("a weight change applies on the next picks without update()", () => {
    const servers = makeServers([1, 1]);
    const balancer = new RoundRobinBalancer(servers);
    assert.deepEqual(countPicks(balancer, 100), { a: 50, b: 50 });
    servers[0]!.weight = 3;
    const counts = countPicks(balancer, 400);
    assert.ok(Math.abs(counts.a! - 300) <= 2, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 100) <= 2, `b got ${counts.b}`);
  });

  test("a down server's share goes to the others, and comes back", () => {
    const servers = makeServers([1, 1, 2]);
    const balancer = new RoundRobinBalancer(servers);
    servers[2]!.up = false;
    assert.deepEqual(countPicks(balancer, 100), { a: 50, b: 50 });
    servers[2]!.up = true;
    balancer.update();
    assert.deepEqual(countPicks(balancer, 400), { a: 100, b: 100, c: 200 });
  });
});

describe("static-rr", () => {
  test("weights 3:1 over 400 picks give 300:100, smoothly", () => {
    const balancer = new StaticRoundRobinBalancer(makeServers([3, 1]));
    const sequence = pickNames(balancer, 400);
    assert.deepEqual(countPicks(balancer, 400), { a: 300, b: 100 });
    assert.equal(longestRun(sequence, "a"), 3);
    assert.equal(longestRun(sequence, "b"), 1);
  });

  test("ignores a weight change until update()", () => {
    const servers = makeServers([3, 1]);
    const balancer = new StaticRoundRobinBalancer(servers);
    servers[0]!.weight = 1;
    assert.deepEqual(countPicks(balancer, 400), { a: 300, b: 100 });
    balancer.update();
    assert.deepEqual(countPicks(balancer, 400), { a: 200, b: 200 });
  });

  test("a server with weight 0 at build time stays out even when given weight, until update()", () => {
    const servers = makeServers([1, 0]);
    const balancer = new StaticRoundRobinBalancer(servers);
    servers[1]!.weight = 1;
    assert.deepEqual(countPicks(balancer, 10), { a: 10 });
    balancer.update();
    assert.deepEqual(countPicks(balancer, 10), { a: 5, b: 5 });
  });

  test("skips a down server at once and takes it back when it is up", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new StaticRoundRobinBalancer(servers);
    servers[1]!.up = false;
    assert.deepEqual(countPicks(balancer, 300), { a: 150, c: 150 });
    servers[1]!.up = true;
    assert.deepEqual(countPicks(balancer, 300), { a: 100, b: 100, c: 100 });
  });

  test("reduces large equal weights to a short sequence with the same shares", () => {
    const balancer = new StaticRoundRobinBalancer(makeServers([200, 100]));
    assert.equal(pickNames(balancer, 6), "abaaba");
  });
});

describe("leastconn", () => {
  test("picks the least loaded server", () => {
    const servers = makeServers([1, 1, 1]);
    servers[0]!.activeConnections = 5;
    servers[1]!.activeConnections = 2;
    servers[2]!.activeConnections = 7;
    const balancer = new LeastConnectionsBalancer(servers);
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "b");
  });

  test("spreads ties round robin instead of piling on the first", () => {
    const balancer = new LeastConnectionsBalancer(makeServers([1, 1, 1]));
    assert.equal(pickNames(balancer, 9), "abcabcabc");
  });

  test("ties among the least loaded only rotate among them", () => {
    const servers = makeServers([1, 1, 1, 1]);
    servers[1]!.activeConnections = 3;
    const balancer = new LeastConnectionsBalancer(servers);
    assert.equal(pickNames(balancer, 6), "acdacd");
  });

  test("held connections end up even across equal servers", () => {
    const servers = makeServers([1, 1, 1]);
    servers[0]!.activeConnections = 6;
    const balancer = new LeastConnectionsBalancer(servers);
    assert.deepEqual(pickAndHold(balancer, 30), { a: 6, b: 12, c: 12 });
    assert.deepEqual(
      servers.map((server) => server.activeConnections),
      [12, 12, 12],
    );
  });

  test("held connections follow the weights", () => {
    const servers = makeServers([2, 1]);
    const balancer = new LeastConnectionsBalancer(servers);
    const counts = pickAndHold(balancer, 300);
    assert.ok(Math.abs(counts.a! - 200) <= 2, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 100) <= 2, `b got ${counts.b}`);
  });

  test("weighs the load each server would have after taking the connection", () => {
    const servers = makeServers([1, 3]);
    servers[0]!.activeConnections = 2;
    servers[1]!.activeConnections = 7;
    const balancer = new LeastConnectionsBalancer(servers);
    // a would be at 3/1, b at 8/3: b, although 7/3 is above 2/1 before the connection.
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "b");
  });

  test("sends new connections to a server that just freed up", () => {
    const servers = makeServers([1, 1]);
    const balancer = new LeastConnectionsBalancer(servers);
    pickAndHold(balancer, 10);
    servers[1]!.activeConnections -= 3;
    assert.deepEqual(pickAndHold(balancer, 3), { b: 3 });
  });
});

describe("first", () => {
  test("fills servers in declaration order up to their maxconn", () => {
    const servers = makeServers([1, 1, 1], { maxconn: 2 });
    const balancer = new FirstBalancer(servers);
    assert.equal(
      Array.from({ length: 6 }, () => {
        const server = balancer.pick(ANY_CLIENT, null)!;
        server.activeConnections++;
        return server.name;
      }).join(""),
      "aabbcc",
    );
    assert.equal(balancer.pick(ANY_CLIENT, null), null);
    servers[0]!.activeConnections--;
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "a");
  });

  test("without maxconn always picks the first usable server", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new FirstBalancer(servers);
    assert.deepEqual(pickAndHold(balancer, 50), { a: 50 });
    servers[0]!.up = false;
    assert.deepEqual(pickAndHold(balancer, 5), { b: 5 });
  });

  test("follows server.index, not the order of the array", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new FirstBalancer([servers[2]!, servers[0]!, servers[1]!]);
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "a");
    assert.equal(balancer.pick(ANY_CLIENT, servers[0]!)?.name, "b");
  });
});

describe("source", () => {
  const CLIENTS = 6000;

  function mapClients(balancer: Balancer): string[] {
    return Array.from({ length: CLIENTS }, (_, index) => {
      return balancer.pick(requestContext(clientAddress(index)), null)?.name ?? "-";
    });
  }

  test("hashes without depending on anything but the address", () => {
    assert.equal(hashClientAddress("192.0.2.1"), hashClientAddress("192.0.2.1"));
    assert.notEqual(hashClientAddress("192.0.2.1"), hashClientAddress("192.0.2.2"));
    const hash = hashClientAddress("2001:db8::1");
    assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32);
  });

  test("keeps a client on the same server", () => {
    const balancer = new SourceHashBalancer(makeServers([1, 1, 1, 1]));
    const context = requestContext("198.51.100.7");
    const first = balancer.pick(context, null);
    for (let i = 0; i < 20; i++) assert.equal(balancer.pick(context, null), first);
    assert.deepEqual(mapClients(balancer), mapClients(new SourceHashBalancer(makeServers([1, 1, 1, 1]))));
  });

  test("spreads many clients by weight", () => {
    const counts = tally(mapClients(new SourceHashBalancer(makeServers([1, 2, 1]))));
    assert.ok(Math.abs(counts.a! - 1500) < 150, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 3000) < 150, `b got ${counts.b}`);
    assert.ok(Math.abs(counts.c! - 1500) < 150, `c got ${counts.c}`);
  });

  test("spreads neighbouring addresses evenly over two servers", () => {
    const balancer = new SourceHashBalancer(makeServers([1, 1]));
    let onA = 0;
    for (let last = 0; last < 256; last++) {
      if (balancer.pick(requestContext(`192.168.1.${last}`), null)?.name === "a") onA++;
    }
    assert.ok(onA > 100 && onA < 156, `a got ${onA} of 256`);
  });

  test("moves only the clients of a server that goes down, over all the others, and back", () => {
    const servers = makeServers([1, 1, 1, 1]);
    const balancer = new SourceHashBalancer(servers);
    const before = mapClients(balancer);
    servers[1]!.up = false;
    balancer.update();
    const during = mapClients(balancer);
    const movedTo: Record<string, number> = {};
    for (let index = 0; index < CLIENTS; index++) {
      if (before[index] === "b") {
        assert.notEqual(during[index], "b");
        movedTo[during[index]!] = (movedTo[during[index]!] ?? 0) + 1;
      } else {
        assert.equal(during[index], before[index], `client ${index} moved`);
      }
    }
    const displaced = tally(before).b!;
    for (const name of ["a", "c", "d"]) {
      assert.ok((movedTo[name] ?? 0) > displaced / 5, `${name} took ${movedTo[name]} of ${displaced}`);
    }
    servers[1]!.up = true;
    balancer.update();
    assert.deepEqual(mapClients(balancer), before);
  });

  test("a weight change reshapes the table on update() only", () => {
    const servers = makeServers([1, 1]);
    const balancer = new SourceHashBalancer(servers);
    const before = mapClients(balancer);
    servers[0]!.weight = 3;
    assert.deepEqual(mapClients(balancer), before);
    balancer.update();
    const counts = tally(mapClients(balancer));
    assert.ok(Math.abs(counts.a! - 4500) < 200, `a got ${counts.a}`);
  });

  test("draining to weight 0 moves only that server's clients", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new SourceHashBalancer(servers);
    const before = mapClients(balancer);
    servers[2]!.weight = 0;
    balancer.update();
    const during = mapClients(balancer);
    for (let index = 0; index < CLIENTS; index++) {
      if (before[index] !== "c") assert.equal(during[index], before[index]);
      else assert.notEqual(during[index], "c");
    }
    servers[2]!.weight = 1;
    balancer.update();
    assert.deepEqual(mapClients(balancer), before);
  });

  test("sends a retry away from avoid, to the same place every time", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new SourceHashBalancer(servers);
    const context = requestContext("203.0.113.9");
    const usual = balancer.pick(context, null)!;
    const retry = balancer.pick(context, usual);
    assert.ok(retry !== null && retry !== usual);
    assert.equal(balancer.pick(context, usual), retry);
    assert.equal(balancer.pick(context, null), usual);
  });
});

describe("uri", () => {
  const URIS = 6000;

  function mapUris(
    balancer: Balancer,
    uri: (index: number) => string = (index) => `/static/img${index}.png`,
  ): string[] {
    return Array.from({ length: URIS }, (_, index) => {
      return balancer.pick(requestContext("192.0.2.1", uri(index)), null)?.name ?? "-";
    });
  }

  function sameHash(key: UriHashKeyConfig, ...targets: string[]): boolean {
    return targets.every((target) => hashRequestUri(target, key) === hashRequestUri(targets[0]!, key));
  }

  test("spreads many URIs by weight", () => {
    const counts = tally(mapUris(new UriHashBalancer(makeServers([1, 2, 1]), uriKey())));
    assert.ok(Math.abs(counts.a! - 1500) < 150, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 3000) < 150, `b got ${counts.b}`);
    assert.ok(Math.abs(counts.c! - 1500) < 150, `c got ${counts.c}`);
  });

  test("keeps a URI on the same server, whoever asks", () => {
    const balancer = new UriHashBalancer(makeServers([1, 1, 1, 1]), uriKey());
    const first = balancer.pick(requestContext("198.51.100.7", "/video/42.mp4"), null);
    for (let i = 0; i < 20; i++) {
      assert.equal(balancer.pick(requestContext(clientAddress(i), "/video/42.mp4"), null), first);
    }
    assert.deepEqual(mapUris(balancer), mapUris(new UriHashBalancer(makeServers([1, 1, 1, 1]), uriKey())));
  });

  test("leaves the query string out unless whole", () => {
    assert.ok(sameHash(uriKey(), "/a/b", "/a/b?x=1", "/a/b?x=2&y=/c"));
    assert.ok(!sameHash(uriKey({ whole: true }), "/a/b", "/a/b?x=1"));
    assert.ok(!sameHash(uriKey({ whole: true }), "/a/b?x=1", "/a/b?x=2"));
    const plain = new UriHashBalancer(makeServers([1, 1, 1]), uriKey());
    const searchServer = plain.pick(requestContext("192.0.2.1", "/search"), null)!.name;
    assert.deepEqual(new Set(mapUris(plain, (index) => `/search?q=${index}`)), new Set([searchServer]));
    const whole = new UriHashBalancer(makeServers([1, 1, 1]), uriKey({ whole: true }));
    assert.deepEqual(new Set(mapUris(whole, (index) => `/search?q=${index}`)), new Set(["a", "b", "c"]));
  });

  test("depth hashes that many directories, as HAProxy counts slashes", () => {
    const depth1 = uriKey({ depth: 1 });
    assert.ok(sameHash(depth1, "/a", "/a/", "/a/b", "/a/b/c?q", "/a?x"));
    assert.ok(!sameHash(depth1, "/a/b", "/b/b"));
    const depth2 = uriKey({ depth: 2 });
    assert.ok(sameHash(depth2, "/a/b", "/a/b/", "/a/b/c", "/a/b/d/e", "/a/b?x"));
    assert.ok(!sameHash(depth2, "/a/b/c", "/a/c/c"));
    assert.ok(!sameHash(uriKey({ depth: 0 }), "/a/b/c", "/a/b/d"), "0 means no limit");
    assert.ok(sameHash(uriKey({ depth: 2, whole: true }), "/a/b/c?x", "/a/b/d?y"));
    assert.ok(!sameHash(uriKey({ depth: 2, whole: true }), "/a/b?x", "/a/b?y"));
    assert.ok(
      sameHash(uriKey({ depth: 2 }), "http://example.com/a", "http://example.com/b"),
      "the slashes of an absolute-form target count unless pathOnly",
    );
  });

  test("len hashes only the first characters", () => {
    const len4 = uriKey({ len: 4 });
    assert.ok(sameHash(len4, "/abc", "/abcdef", "/abc/x/y"));
    assert.ok(!sameHash(len4, "/abc", "/abd"));
    assert.ok(sameHash(len4, "/ab", "/ab?x=1"), "the query is still left out within len");
    assert.ok(!sameHash(uriKey({ len: 5, whole: true }), "/ab?x", "/ab?y"));
    assert.ok(sameHash(uriKey({ len: 4, whole: true }), "/ab?x", "/ab?y"));
    assert.ok(sameHash(uriKey({ len: 6, depth: 1 }), "/abc/d", "/abc/e", "/abc"));
    assert.ok(!sameHash(uriKey({ len: 6, depth: 2 }), "/abc/d", "/abc/e"));
    assert.ok(!sameHash(uriKey({ len: 0 }), "/abcdef", "/abcxyz"), "0 means no limit");
  });

  test("pathOnly hashes an absolute-form target by its path", () => {
    const pathOnly = uriKey({ pathOnly: true });
    assert.ok(sameHash(pathOnly, "/a/b", "http://example.com/a/b", "HTTPS://Example.com:8443/a/b?q=1"));
    assert.ok(
      sameHash(pathOnly, "/", "http://example.com", "http://example.com?q=1", "*", "example.com:443"),
    );
    assert.ok(
      !sameHash(uriKey(), "/a/b", "http://example.com/a/b"),
      "without pathOnly the target is hashed as received",
    );
    assert.ok(sameHash(uriKey({ pathOnly: true, depth: 2 }), "http://example.com/a/b/c", "/a/b/d"));
    assert.ok(sameHash(uriKey({ pathOnly: true, len: 2 }), "http://example.com/ab", "/ax"));
    const balancer = new UriHashBalancer(makeServers([1, 1, 1]), pathOnly);
    assert.deepEqual(
      mapUris(balancer, (index) => `http://cdn${index % 7}.example.net/static/img${index}.png`),
      mapUris(balancer),
    );
  });

  test("falls back to round robin without a request target (tcp mode)", () => {
    const servers = makeServers([2, 1]);
    const balancer = new UriHashBalancer(servers, uriKey());
    const tcp = requestContext("192.0.2.1");
    assert.equal(pickNames(balancer, 6, tcp), "abaaba");
    assert.equal(balancer.pick(tcp, servers[0]!)?.name, "b");
  });

  test("moves only the URIs of a server that goes down, over all the others, and back", () => {
    const servers = makeServers([1, 1, 1, 1]);
    const balancer = new UriHashBalancer(servers, uriKey());
    const before = mapUris(balancer);
    servers[2]!.up = false;
    balancer.update();
    const during = mapUris(balancer);
    const movedTo: Record<string, number> = {};
    for (let index = 0; index < URIS; index++) {
      if (before[index] === "c") {
        assert.notEqual(during[index], "c");
        movedTo[during[index]!] = (movedTo[during[index]!] ?? 0) + 1;
      } else {
        assert.equal(during[index], before[index], `URI ${index} moved`);
      }
    }
    const displaced = tally(before).c!;
    for (const name of ["a", "b", "d"]) {
      assert.ok((movedTo[name] ?? 0) > displaced / 5, `${name} took ${movedTo[name]} of ${displaced}`);
    }
    servers[2]!.up = true;
    balancer.update();
    assert.deepEqual(mapUris(balancer), before);
  });

  test("sends a retry away from avoid, to the same place every time", () => {
    const balancer = new UriHashBalancer(makeServers([1, 1, 1]), uriKey());
    const context = requestContext("203.0.113.9", "/cart");
    const usual = balancer.pick(context, null)!;
    const retry = balancer.pick(context, usual);
    assert.ok(retry !== null && retry !== usual);
    assert.equal(balancer.pick(requestContext("198.51.100.1", "/cart"), usual), retry);
    assert.equal(balancer.pick(context, null), usual);
  });
});

describe("hdr", () => {
  const VALUES = 6000;

  function mapValues(balancer: Balancer, header: string, value: (index: number) => string): string[] {
    return Array.from({ length: VALUES }, (_, index) => {
      return balancer.pick(requestContext("192.0.2.1", "/", { [header]: value(index) }), null)?.name ?? "-";
    });
  }

  const sessionId = (index: number) => `session-${index}`;

  test("spreads many values by weight and keeps a value on its server", () => {
    const balancer = new HeaderHashBalancer(makeServers([1, 2, 1]), headerKey("X-Session"));
    const mapped = mapValues(balancer, "x-session", sessionId);
    const counts = tally(mapped);
    assert.ok(Math.abs(counts.a! - 1500) < 150, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 3000) < 150, `b got ${counts.b}`);
    assert.ok(Math.abs(counts.c! - 1500) < 150, `c got ${counts.c}`);
    assert.deepEqual(mapValues(balancer, "x-session", sessionId), mapped);
  });

  test("asks for the header by its lower-case name", () => {
    const asked: string[] = [];
    const balancer = new HeaderHashBalancer(makeServers([1, 1]), headerKey("X-Session"));
    balancer.pick({
      clientAddress: "192.0.2.1",
      requestTarget: "/",
      requestHeader: (name) => (asked.push(name), "s"),
    }, null);
    assert.deepEqual(asked, ["x-session"]);
  });

  test("falls back to round robin without the header, or in tcp mode", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new HeaderHashBalancer(servers, headerKey("X-Session"));
    assert.equal(pickNames(balancer, 6, requestContext("192.0.2.1", "/", { "x-other": "1" })), "abcabc");
    assert.equal(pickNames(balancer, 3, requestContext("192.0.2.1")), "abc");
    const withHeader = requestContext("192.0.2.1", "/", { "x-session": "s1" });
    const first = balancer.pick(withHeader, null);
    assert.equal(pickNames(balancer, 3, withHeader), first!.name.repeat(3));
  });

  test("hashes the first element of a list, without surrounding whitespace", () => {
    assert.equal(hashHeaderValue(" abc , def", false), hashHeaderValue("abc", false));
    assert.equal(hashHeaderValue("\tabc", false), hashHeaderValue("abc", false));
    assert.notEqual(hashHeaderValue("abc", false), hashHeaderValue("abd", false));
    assert.notEqual(
      hashHeaderValue("Abc", false),
      hashHeaderValue("abc", false),
      "values are case-sensitive",
    );
  });

  test("useDomainOnly hashes the label below the top-level domain, without a port", () => {
    const haproxy = hashHeaderValue("haproxy", false);
    for (
      const host of [
        "www.haproxy.org",
        "haproxy.org",
        "static.haproxy.com:8080",
        "WWW.HAProxy.org.",
        "a.b.haproxy.net",
      ]
    ) {
      assert.equal(hashHeaderValue(host, true), haproxy, host);
    }
    assert.notEqual(hashHeaderValue("www.example.org", true), haproxy);
    assert.equal(hashHeaderValue("localhost:3000", true), hashHeaderValue("localhost", false));
    assert.equal(hashHeaderValue("192.0.2.10:80", true), hashHeaderValue("192.0.2.10", false));
    assert.notEqual(hashHeaderValue("192.0.2.10", true), hashHeaderValue("198.51.100.10", true));
    assert.equal(hashHeaderValue("[2001:db8::1]:8443", true), hashHeaderValue("[2001:db8::1]", false));
    assert.notEqual(hashHeaderValue("www.haproxy.org", false), haproxy, "only with useDomainOnly");
  });

  test("useDomainOnly keeps a site's subdomains together", () => {
    const balancer = new HeaderHashBalancer(makeServers([1, 1, 1, 1]), headerKey("Host", true));
    const site = (index: number) => `site${Math.floor(index / 10)}.example`;
    const sub = (index: number) => `host${index % 10}.site${Math.floor(index / 10)}.example:8080`;
    const mapped = mapValues(balancer, "host", sub);
    assert.deepEqual(mapped, mapValues(balancer, "host", site));
    assert.deepEqual(new Set(mapped), new Set(["a", "b", "c", "d"]));
  });

  test("moves only the values of a server that goes down, and avoids a failed server deterministically", () => {
    const servers = makeServers([1, 1, 1]);
    const balancer = new HeaderHashBalancer(servers, headerKey("X-Session"));
    const before = mapValues(balancer, "x-session", sessionId);
    servers[0]!.up = false;
    balancer.update();
    const during = mapValues(balancer, "x-session", sessionId);
    for (let index = 0; index < VALUES; index++) {
      if (before[index] === "a") assert.notEqual(during[index], "a");
      else assert.equal(during[index], before[index], `value ${index} moved`);
    }
    servers[0]!.up = true;
    balancer.update();
    const context = requestContext("192.0.2.1", "/", { "x-session": "s42" });
    const usual = balancer.pick(context, null)!;
    const retry = balancer.pick(context, usual);
    assert.ok(retry !== null && retry !== usual);
    assert.equal(balancer.pick(context, usual), retry);
  });
});

describe("random", () => {
  test("follows the weights when loads are equal", () => {
    const balancer = new RandomTwoChoicesBalancer(makeServers([3, 1]), seededRandom(42));
    const counts = countPicks(balancer, 4000);
    assert.ok(Math.abs(counts.a! - 3000) < 120, `a got ${counts.a}`);
    assert.ok(Math.abs(counts.b! - 1000) < 120, `b got ${counts.b}`);
  });

  test("keeps the less loaded of the two draws", () => {
    const servers = makeServers([1, 1]);
    servers[0]!.activeConnections = 10;
    const draws = [0.1, 0.9, 0.9, 0.1, 0.1, 0.2];
    let next = 0;
    const balancer = new RandomTwoChoicesBalancer(servers, () => draws[next++]!);
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "b");
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "b");
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "a", "both draws landed on a");
    assert.equal(next, 6);
  });

  test("prefers a less loaded server three times out of four with two servers", () => {
    const servers = makeServers([1, 1]);
    servers[0]!.activeConnections = 10;
    const counts = countPicks(new RandomTwoChoicesBalancer(servers, seededRandom(7)), 4000);
    assert.ok(Math.abs(counts.b! - 3000) < 120, `b got ${counts.b}`);
  });

  test("keeps held connections close to even", () => {
    const servers = makeServers([1, 1, 1, 1, 1]);
    const balancer = new RandomTwoChoicesBalancer(servers, seededRandom(3));
    pickAndHold(balancer, 1000);
    const loads = servers.map((server) => server.activeConnections);
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 10, `loads ${loads.join(",")}`);
  });

  test("compares loads relative to weight", () => {
    const servers = makeServers([4, 1]);
    servers[0]!.activeConnections = 3;
    servers[1]!.activeConnections = 1;
    const draws = [0.1, 0.9];
    let next = 0;
    const balancer = new RandomTwoChoicesBalancer(servers, () => draws[next++ % 2]!);
    assert.equal(balancer.pick(ANY_CLIENT, null)?.name, "a");
  });
});
