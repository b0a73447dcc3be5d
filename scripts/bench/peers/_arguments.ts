/**
 * The command line every peer proxy takes: `PORT BACKEND...`, each backend a `host:port`.
 *
 * @module
 */

/** Where a peer listens (always 127.0.0.1) and the backends it balances over, round robin. */
export type PeerArguments = { port: number; backends: string[] };

/** Reads `PORT BACKEND...` (the arguments after the script); throws with the usage line otherwise. */
export function parsePeerArguments(args: readonly string[]): PeerArguments {
  const [portText, ...backends] = args;
  const port = Number(portText);
  if (portText === undefined || !/^\d+$/.test(portText) || port < 1 || port > 65_535) {
    throw new Error(`Invalid port "${portText ?? ""}": usage: PORT BACKEND... (e.g. 8080 127.0.0.1:8001)`);
  }
  if (backends.length === 0) {
    throw new Error("No backend given: usage: PORT BACKEND... (e.g. 8080 127.0.0.1:8001)");
  }
  for (const backend of backends) {
    if (!/^[^:\s]+:\d+$/.test(backend)) throw new Error(`Invalid backend "${backend}": expected host:port`);
  }
  return { port, backends };
}
