/**
 * peer/bun-fetch: the reverse proxy a user writes on Bun in a few lines, Bun.serve in front and
 * fetch behind, for the benchmark to compare ours with on the same runtime (issue 21).
 *
 * Plain and idiomatic on purpose, not tuned: fetch keeps connections to the origins alive by
 * itself, and a response body handed to Response is streamed, not buffered.
 *
 * Run: `node_modules/.bin/bun scripts/bench/peers/bun_fetch.ts PORT BACKEND...`
 *
 * @module
 */

import { parsePeerArguments } from "./_arguments.ts";
import { fetchHeadersWithoutHopByHop } from "./_hop_by_hop.ts";

// The part of the Bun global used here, declared so that `deno check` can check this file too.
declare const Bun: {
  serve(options: { hostname: string; port: number; fetch(request: Request): Promise<Response> }): unknown;
};

const { port, backends } = parsePeerArguments(process.argv.slice(2));
let next = 0;

Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    const backend = backends[next++ % backends.length];
    const url = new URL(request.url);
    const upstream = await fetch(`http://${backend}${url.pathname}${url.search}`, {
      method: request.method,
      headers: fetchHeadersWithoutHopByHop(request.headers),
      body: request.body,
      redirect: "manual",
    });
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: fetchHeadersWithoutHopByHop(upstream.headers),
    });
  },
});
