/**
 * peer/deno-fetch: the reverse proxy a user writes on Deno in a few lines, Deno.serve in front
 * and fetch behind, for the benchmark to compare ours with on the same runtime (issue 21).
 *
 * Plain and idiomatic on purpose, not tuned: fetch keeps connections to the origins alive by
 * itself, and a response body handed to Response is streamed, not buffered.
 *
 * Run: `node_modules/.bin/deno run -A scripts/bench/peers/deno_fetch.ts PORT BACKEND...`
 *
 * @module
 */

import { parsePeerArguments } from "./_arguments.ts";
import { fetchHeadersWithoutHopByHop } from "./_hop_by_hop.ts";

const { port, backends } = parsePeerArguments(Deno.args);
let next = 0;

Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
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
});
