/**
 * SIGHUP's state dump: every server's state and counters written to the log, in HAProxy's words
 * (`sig_dump_state` in haproxy.c), so scripts and habits made for HAProxy's logs work unchanged:
 *
 *     SIGHUP: Server app/a is UP. Conn: 2 act, 0 pend, 118 tot.
 *     SIGHUP: Proxy app has 1 active servers and 0 backup servers available. Conn: act(FE+BE): 0+2, 0 pend (0 unass), tot(FE+BE): 0+118.
 *
 * Our frontends and backends are separate sections where HAProxy may have one `listen` proxy, so a
 * frontend reports its sessions on the FE side (and has no servers), a backend on the BE side.
 *
 * @module
 */

/** What the dump reads of a server (a `Server` of src/core/server.ts). */
export interface ServerState {
  readonly name: string;
  readonly up: boolean;
  readonly maintenance: boolean;
  readonly activeConnections: number;
  readonly totalConnections: number;
  readonly queue: { readonly length: number };
}

/** What the dump reads of a backend (a `Backend` of src/core/backend.ts). */
export interface BackendState {
  readonly name: string;
  readonly servers: readonly ServerState[];
  readonly usableActive: number;
  readonly usableBackup: number;
  readonly activeConnections: number;
  readonly totalConnections: number;
  /** Requests waiting for any server (HAProxy's "unassigned"). */
  readonly queue: { readonly length: number };
}

/** What the dump reads of a frontend (a `Frontend` of src/engine/frontend.ts). */
export interface FrontendState {
  readonly name: string;
  readonly activeSessions: number;
  readonly totalSessions: number;
}

/** The first line of a dump, as HAProxy logs it. */
export const STATE_DUMP_HEADER = "SIGHUP received, dumping servers states.";

/**
 * The lines of a dump: the header, each frontend, then each backend's servers followed by the
 * backend itself. HAProxy's server state is binary here: UP unless stopped (down by checks or in
 * maintenance), so a draining server is UP.
 */
export function stateDumpLines(frontends: readonly FrontendState[], backends: readonly BackendState[]): string[] {
  const lines = [STATE_DUMP_HEADER];
  for (const frontend of frontends) {
    lines.push(
      `SIGHUP: Proxy ${frontend.name} has no servers. ` +
        `Conn: act(FE+BE): ${frontend.activeSessions}+0, 0 pend (0 unass), tot(FE+BE): ${frontend.totalSessions}+0.`,
    );
  }
  for (const backend of backends) {
    let pending = backend.queue.length;
    for (const server of backend.servers) {
      const state = server.up && !server.maintenance ? "UP" : "DOWN";
      pending += server.queue.length;
      lines.push(
        `SIGHUP: Server ${backend.name}/${server.name} is ${state}. ` +
          `Conn: ${server.activeConnections} act, ${server.queue.length} pend, ${server.totalConnections} tot.`,
      );
    }
    const connections = `Conn: act(FE+BE): 0+${backend.activeConnections}, ${pending} pend (${backend.queue.length} unass), ` +
      `tot(FE+BE): 0+${backend.totalConnections}.`;
    if (backend.servers.length === 0) {
      lines.push(`SIGHUP: Proxy ${backend.name} has no servers. ${connections}`);
    } else if (backend.usableActive === 0) {
      const what = backend.usableBackup > 0 ? "is running on backup servers" : "has no server available";
      lines.push(`SIGHUP: Proxy ${backend.name} ${what} ! ${connections}`);
    } else {
      lines.push(
        `SIGHUP: Proxy ${backend.name} has ${backend.usableActive} active servers and ${backend.usableBackup} backup servers available. ` +
          connections,
      );
    }
  }
  return lines;
}
