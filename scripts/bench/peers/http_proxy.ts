/**
 * peer/http-proxy: the reverse proxy a user writes on Node in a few lines with the npm package
 * `http-proxy`, for the benchmark to compare ours with on the same runtime (issue 21).
 *
 * Plain and idiomatic on purpose, not tuned: a node:http server, and http-proxy forwarding
 * through a keep-alive http.Agent (without an agent, http-proxy asks the origin to close every
 * connection). Bodies are piped both ways, never buffered.
 *
 * Run: `node_modules/.bin/node scripts/bench/peers/http_proxy.ts PORT BACKEND...`
 *
 * @module
 */

import { Agent, createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import httpProxy from "http-proxy";
import { parsePeerArguments } from "./_arguments.ts";
import { hopByHopNames } from "./_hop_by_hop.ts";

const { port, backends } = parsePeerArguments(process.argv.slice(2));
const proxy = httpProxy.createProxyServer({ agent: new Agent({ keepAlive: true }) });
let next = 0;

// http-proxy ships no types: its listeners' arguments are annotated here.
// http-proxy passes the origin's hop-by-hop fields on to the client: a proxy drops them (RFC 9110
// section 7.6.1). It sets Connection again afterwards, from the client's request.
proxy.on("proxyRes", (proxyResponse: IncomingMessage) => {
  for (const name of hopByHopNames(proxyResponse.headers.connection)) delete proxyResponse.headers[name];
});
proxy.on("error", (_error: Error, _request: IncomingMessage, response: ServerResponse | Socket) => {
  // The error event also serves WebSocket upgrades, where the third argument is a socket.
  if ("headersSent" in response && !response.headersSent) response.writeHead(502).end();
  else response.destroy();
});

createServer((request, response) => {
  // With an agent, http-proxy forwards the client's hop-by-hop fields as they came. They are taken
  // out here rather than in a "proxyReq" listener, which runs once the origin connection is
  // assigned, possibly after a request body has started and the head has gone out.
  for (const name of hopByHopNames(request.headers.connection)) delete request.headers[name];
  proxy.web(request, response, { target: `http://${backends[next++ % backends.length]}` });
}).listen(port, "127.0.0.1");
