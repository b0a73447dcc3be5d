/**
 * The socket-layer floors (issue 21: "where a runtime's socket layer is the limit, prove it with a
 * minimal pipe on that layer in the same run, and say so"): on each runtime, the least per-request
 * work a proxy can do on the socket layer ours uses there, node:net on Node and Deno, Bun's native
 * sockets on Bun. Every run measures them beside ours, in tcp mode (a bare splice) and http mode
 * (head end and Content-Length found, bytes forwarded unchanged over pooled origin connections),
 * so that "ours against what the layer itself costs" is in every run.
 *
 * Pure data, shared by the contender list (how to start them) and the report (whom ours is
 * divided by).
 *
 * @module
 */

import type { PeerRuntime } from "./peer_proxies.ts";

/** The prefix of every floor's contender name. */
export const FLOOR_PREFIX = "floor/";

/** One floor: its contender name, its runtime, the socket layer and the program for each mode. */
export type FloorProxy = {
  name: `floor/${PeerRuntime}`;
  runtime: PeerRuntime;
  /** The socket layer it runs on: the one ours uses by default on that runtime. */
  socketLayer: string;
  /** Programs relative to the project root; each takes `PORT BACKEND...`, like the peers. */
  programs: { readonly tcp: string; readonly http: string };
};

const NODE_NET_PROGRAMS = {
  tcp: "scripts/bench/floors/node_net_tcp.ts",
  http: "scripts/bench/floors/node_net_http.ts",
} as const;

/** Every floor, in the order they are started and printed. */
export const FLOOR_PROXIES: readonly FloorProxy[] = [
  { name: "floor/node", runtime: "node", socketLayer: "node:net", programs: NODE_NET_PROGRAMS },
  {
    name: "floor/bun",
    runtime: "bun",
    socketLayer: "Bun.listen/Bun.connect",
    programs: {
      tcp: "scripts/bench/floors/bun_native_tcp.ts",
      http: "scripts/bench/floors/bun_native_http.ts",
    },
  },
  { name: "floor/deno", runtime: "deno", socketLayer: "node:net", programs: NODE_NET_PROGRAMS },
];

/** Whether a contender is one of the floors. */
export function isFloor(contender: string): boolean {
  return contender.startsWith(FLOOR_PREFIX);
}
