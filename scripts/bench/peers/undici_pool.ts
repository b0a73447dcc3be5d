/**
 * peer/undici: the reverse proxy a user writes on Node in a few lines with undici, for the
 * benchmark to compare ours with on the same runtime (issue 21).
 *
 * Plain and idiomatic on purpose, not tuned: a node:http server, one undici Pool per origin
 * (keep-alive is undici's default), and `pool.stream`, which writes the origin's body straight
 * into the client's response (undici's recommended way to proxy: no intermediate Readable).
 *
 * Run: `node_modules/.bin/node scripts/bench/peers/undici_pool.ts PORT BACKEND...`
 *
 * @module
 */

import { createServer } from "node:http";
import { Pool } from "undici";
import { parsePeerArguments } from "./_arguments.ts";
import { withoutHopByHop } from "./_hop_by_hop.ts";

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const pools = backends.map((backend) => new Pool(`http://${backend}`));
let next = 0;

createServer(async (request, response) => {
  const pool = pools[next++ % pools.length]!;
  // undici would send a request without a body as an empty chunked one.
  const hasBody = request.headers["content-length"] !== undefined ||
    request.headers["transfer-encoding"] !== undefined;
  try {
    await pool.stream(
      {
        method: request.method ?? "GET",
        path: request.url ?? "/",
        // undici refuses hop-by-hop fields in a request (it manages the connection itself).
        headers: withoutHopByHop(request.headers),
        body: hasBody ? request : null,
      },
      ({ statusCode, headers }) => {
        response.writeHead(statusCode, withoutHopByHop(headers));
        return response;
      },
    );
  } catch {
    if (!response.headersSent) response.writeHead(502).end();
    else response.destroy();
  }
}).listen(port, "127.0.0.1");
