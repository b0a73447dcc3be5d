/**
 * The listening sockets a -W master binds once and hands to every generation of its workers, as
 * HAProxy's master does: a reload never closes a listening socket, so no connection waiting in an
 * accept queue is reset, whatever `net.ipv4.tcp_migrate_req` says.
 *
 * The master binds each address of the configuration (`Runtime.bindInheritable`: bound, not
 * listening, so the master never accepts) and starts each worker with the sockets inherited
 * (`spawnSelf`'s `sockets`); the setup tells the worker which of its descriptors is which bind of
 * which frontend, and the worker adopts them (`listen({ fd })`) instead of binding. Every worker
 * of every generation holds the same sockets: the kernel hands each new connection to one of the
 * processes accepting from the socket. A worker that stops listening (told to finish by a reload) closes its
 * own descriptors only; the master's keep the sockets listening with their queues, and the next
 * generation, already accepting from them, takes what waits there.
 *
 * On reload the master binds what the new configuration adds before starting the new generation
 * (a bind error fails the reload, and the old generation serves on), and closes what it no longer
 * names once the old generation has been told to finish.
 *
 * @module
 */

import type { InheritableSocket, Runtime } from "../runtime/types.ts";
import { formatHostPort, NetError } from "../runtime/net_error.ts";
import type { Config } from "../config/types.ts";
import type { InheritedListener, InheritedListeners } from "../engine/frontend.ts";
import { LifecycleError } from "./errors.ts";

/** Which bind of which frontend a socket is, and where it is bound. */
export interface SocketBind {
  readonly frontend: string;
  /** The index of the bind in the frontend's `bind` list. */
  readonly bind: number;
  readonly host: string;
  readonly port: number;
}

/** One socket a worker inherits, as its setup says: its bind, and its descriptor in the worker. */
export interface InheritedSocketSetup extends SocketBind {
  readonly fd: number;
}

/** The sockets of one generation of workers: what `spawnSelf` passes, and the bind of each. */
export interface GenerationSockets {
  readonly sockets: readonly InheritableSocket[];
  readonly binds: readonly SocketBind[];
}

/** Stdin, stdout and stderr are never an inherited socket. */
const LOWEST_INHERITED_FD = 3;

/** The setup of a worker's sockets: each bind with its descriptor in that worker (`ChildProcess.inherited`). */
export function inheritedSocketSetup(sockets: GenerationSockets, descriptors: readonly number[]): InheritedSocketSetup[] {
  if (descriptors.length !== sockets.binds.length) {
    throw new LifecycleError(
      "LIFECYCLE_WORKER",
      `The worker inherited ${descriptors.length} socket(s) of ${sockets.binds.length}`,
    );
  }
  return sockets.binds.map((bind, index) => ({ ...bind, fd: descriptors[index]! }));
}

/**
 * The key of a bind across reloads: its address, so a frontend renamed or a bind moved keeps its
 * socket. Port 0 is any free port: those are told apart by frontend and position instead.
 */
function bindKey(frontend: string, index: number, host: string, port: number): string {
  return port === 0 ? `${frontend}#${index}|${host}|0` : `${host}|${port}`;
}

/** The master's sockets, bound once and kept across generations. */
export class MasterListeners {
  private readonly runtime: Runtime;
  private readonly held = new Map<string, InheritableSocket>();
  /** Real ports of port-0 binds: bound again after a pause, they take the port they had. */
  private readonly ports = new Map<string, number>();

  constructor(runtime: Runtime) {
    this.runtime = runtime;
  }

  /** How many sockets the master holds. */
  get size(): number {
    return this.held.size;
  }

  /**
   * The sockets a generation running `config` gets: those already held for the same addresses,
   * and new ones bound now. All or nothing: on a bind error the sockets bound by this call are
   * closed again and the NetError (EADDRINUSE...) is rethrown with the frontend's name.
   */
  async bindFor(config: Config): Promise<GenerationSockets> {
    const sockets: InheritableSocket[] = [];
    const binds: SocketBind[] = [];
    const added: string[] = [];
    try {
      for (const frontend of config.frontends) {
        for (const [index, bind] of frontend.binds.entries()) {
          const key = bindKey(frontend.name, index, bind.host, bind.port);
          let socket = this.held.get(key);
          if (socket === undefined) {
            socket = await this.bind(frontend.name, bind.host, bind.port === 0 ? this.ports.get(key) ?? 0 : bind.port, bind.reusePort);
            this.held.set(key, socket);
            added.push(key);
            if (bind.port === 0) this.ports.set(key, socket.address.port);
          }
          binds.push({ frontend: frontend.name, bind: index, host: socket.address.address, port: socket.address.port });
          sockets.push(socket);
        }
      }
    } catch (error) {
      for (const key of added) {
        this.held.get(key)?.close();
        this.held.delete(key);
      }
      throw error;
    }
    return { sockets, binds };
  }

  /**
   * Closes the held sockets none of `generations` uses (addresses a reload removed, or a failed
   * reload added); a free port dropped that way is forgotten.
   */
  keepOnly(generations: readonly (GenerationSockets | null)[]): void {
    const used = new Set(generations.flatMap((generation) => generation?.sockets ?? []));
    for (const [key, socket] of this.held) {
      if (used.has(socket)) continue;
      socket.close();
      this.held.delete(key);
      this.ports.delete(key);
    }
  }

  /** Closes every socket the master holds (a pause, or the end); the workers keep their copies until they close them. */
  closeAll(): void {
    for (const socket of this.held.values()) socket.close();
    this.held.clear();
  }

  private async bind(frontend: string, host: string, port: number, reusePort: boolean): Promise<InheritableSocket> {
    try {
      // The same ipv6Only rule as a frontend's own bind (nginx's ipv6only=on for "::").
      return await this.runtime.bindInheritable({ host, port, backlog: 0, reusePort, ipv6Only: host === "::" });
    } catch (error) {
      if (error instanceof NetError) {
        throw new NetError(error.code, `Frontend "${frontend}": ${error.message}`, { cause: error });
      }
      throw error;
    }
  }
}

/** A worker's table of the sockets its master handed down, for its frontends to adopt (`Proxy`'s `inherited`). */
class InheritedSocketTable implements InheritedListeners {
  private readonly entries = new Map<string, InheritedSocketSetup>();
  private readonly taken = new Set<string>();

  constructor(setup: readonly InheritedSocketSetup[]) {
    for (const entry of setup) this.entries.set(`${entry.frontend}#${entry.bind}`, entry);
  }

  take(frontend: string, index: number): InheritedListener {
    const key = `${frontend}#${index}`;
    const entry = this.entries.get(key);
    if (entry === undefined) {
      throw new LifecycleError(
        "LIFECYCLE_WORKER",
        `Invalid setup from the master: no socket for bind ${index + 1} of frontend "${frontend}"`,
      );
    }
    const where = formatHostPort(entry.host, entry.port);
    if (this.taken.has(key)) {
      // The old descriptor is closed and its number may be any file's now: only new workers get the socket again.
      throw new LifecycleError(
        "LIFECYCLE_WORKER",
        `Cannot listen on "${where}" again: its socket came from the master and this worker closed it; ` +
          "SIGTTIN or a reload at the master starts workers that listen",
      );
    }
    this.taken.add(key);
    return { fd: entry.fd, host: entry.host, port: entry.port };
  }
}

/**
 * The sockets a worker adopts from its setup: null when the master handed none down (the workers
 * bind their own). Every bind of `config` must have its socket.
 */
export function inheritedListeners(setup: readonly InheritedSocketSetup[] | null, config: Config): InheritedListeners | null {
  if (setup === null) return null;
  const table = new InheritedSocketTable(setup);
  const expected = config.frontends.reduce((count, frontend) => count + frontend.binds.length, 0);
  if (setup.length !== expected) {
    throw new LifecycleError(
      "LIFECYCLE_WORKER",
      `Invalid setup from the master: ${setup.length} socket(s) for ${expected} bind(s)`,
    );
  }
  return table;
}

/** Reads the `listeners` of a setup frame; throws a LifecycleError naming what is wrong. */
export function parseInheritedSockets(value: unknown): InheritedSocketSetup[] | null {
  if (value === null) return null;
  const invalid = (what: string) => new LifecycleError("LIFECYCLE_WORKER", `Invalid setup from the master: ${what}`);
  if (!Array.isArray(value)) throw invalid("listeners is neither null nor a list");
  return value.map((entry: unknown) => {
    const item = entry as Record<string, unknown> | null;
    if (
      typeof item !== "object" || item === null || typeof item.frontend !== "string" ||
      !Number.isSafeInteger(item.bind) || (item.bind as number) < 0 ||
      !Number.isSafeInteger(item.fd) || (item.fd as number) < LOWEST_INHERITED_FD ||
      typeof item.host !== "string" || !Number.isSafeInteger(item.port) || (item.port as number) < 1 ||
      (item.port as number) > 65_535
    ) {
      throw invalid("listeners holds something else than {frontend, bind, fd, host, port}");
    }
    return {
      frontend: item.frontend,
      bind: item.bind as number,
      fd: item.fd as number,
      host: item.host,
      port: item.port as number,
    };
  });
}
