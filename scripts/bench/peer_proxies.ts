/**
 * The JavaScript peer proxies (issue 21): what a user could write in a few lines on each runtime
 * instead of running ours. Every benchmark run measures them beside ours, so that the comparison
 * "how much cheaper per request than the obvious ten lines" is in every run.
 *
 * Pure data, shared by the contender list (how to start them) and the targets (whom ours is
 * compared with on each runtime).
 *
 * @module
 */

/** The runtimes a peer runs on: the binaries of the project's dev dependencies. */
export type PeerRuntime = "node" | "bun" | "deno";

/** One peer proxy: its contender name, its runtime, its program and the npm packages it needs. */
export type PeerProxy = {
  name: `peer/${string}`;
  runtime: PeerRuntime;
  /** The program, relative to the project root; it takes `PORT BACKEND...`. */
  program: string;
  /** npm packages (dev dependencies) it imports; when one is missing the peer is skipped. */
  packages: readonly string[];
};

/** Bun.serve + fetch on Bun. */
export const BUN_FETCH_PEER = "peer/bun-fetch";
/** Deno.serve + fetch on Deno. */
export const DENO_FETCH_PEER = "peer/deno-fetch";
/** node:http + the npm package http-proxy on Node. */
export const HTTP_PROXY_PEER = "peer/http-proxy";
/** node:http + an undici Pool per origin on Node. */
export const UNDICI_PEER = "peer/undici";

/** Every peer, in the order they are started and printed. */
export const PEER_PROXIES: readonly PeerProxy[] = [
  { name: BUN_FETCH_PEER, runtime: "bun", program: "scripts/bench/peers/bun_fetch.ts", packages: [] },
  { name: DENO_FETCH_PEER, runtime: "deno", program: "scripts/bench/peers/deno_fetch.ts", packages: [] },
  {
    name: HTTP_PROXY_PEER,
    runtime: "node",
    program: "scripts/bench/peers/http_proxy.ts",
    packages: ["http-proxy"],
  },
  { name: UNDICI_PEER, runtime: "node", program: "scripts/bench/peers/undici_pool.ts", packages: ["undici"] },
];

/** The peers ours is compared with on each runtime: on Node the cheaper of the two. */
export const PEERS_BY_RUNTIME: Readonly<Record<PeerRuntime, readonly string[]>> = {
  bun: [BUN_FETCH_PEER],
  deno: [DENO_FETCH_PEER],
  node: [HTTP_PROXY_PEER, UNDICI_PEER],
};
