/**
 * UNIX stream sockets over `node:net`, which all three runtimes provide: the runtime API's socket
 * (HAProxy's `stats socket /path mode 600`) and `proxy ctl`, which connects to it. The traffic is a
 * few commands a minute, so one implementation serves every runtime and socket API.
 *
 * How a socket is put in place is HAProxy's (uxst_bind_receiver): bound under a temporary name
 * beside the path (`path.PID.tmp`), given its mode, then renamed over the path. So the socket never
 * shows at the path with the umask's permissions, and a reload's new process replaces its
 * predecessor's socket in one step (the old process keeps listening on a file nobody can reach).
 *
 * Quirks handled here:
 * - Node, Bun and Deno all unlink the path a server was bound to when it closes (libuv's
 *   uv_pipe's close, and the same in Bun's and Deno's node:net): that path is the temporary
 *   name, gone since the rename, so closing never removes a socket another process put at the
 *   real path since. `close` removes the real path itself, and only while it is still the file
 *   this listener created (same device and inode).
 * - A socket file left by a process that died looks the same as a live one: a connection attempt
 *   tells them apart (ECONNREFUSED: nobody listens). An EACCES there counts as live: we cannot
 *   tell, and must not take a socket we cannot even reach.
 * - Accepted and dialled sockets have no address: `remoteAddress` is undefined, so the
 *   connection's `remote` and `local` are the empty address (port 0).
 * - Node reports a bind in a directory that does not exist as EACCES (Bun and Deno: ENOENT): the
 *   directory is looked at first, so every runtime says ENOENT.
 * - sun_path holds 108 bytes with its NUL on Linux (104 on the BSDs and macOS): a longer path
 *   fails with ENAMETOOLONG here, before anything is created.
 *
 * @module
 */

import * as net from "node:net";
import { chmod, lstat, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import process from "node:process";
import type { Connection, ConnectionHandler, UnixListener, UnixListenOptions } from "./types.ts";
import { NOOP_HANDLER } from "./_addresses.ts";
import { NodeNetConnection } from "./_node_net.ts";
import { NetError, toNetError } from "./net_error.ts";

/** The longest socket path the kernel takes, in bytes: sun_path less its NUL (Linux 108, BSDs 104). */
export const MAX_UNIX_PATH_BYTES = process.platform === "linux" ? 107 : 103;

/** What a connection attempt says about a socket file: someone answers, nobody does, or we cannot tell. */
type Liveness = "live" | "stale" | "missing";

/** The temporary name a socket is bound under before it is renamed to `path`. */
export function temporarySocketPath(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

/** Binds, sets the mode, renames into place: see the module notes. */
export async function listenUnixNodeNet(
  options: UnixListenOptions,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
): Promise<UnixListener> {
  const path = options.path;
  const temporary = temporarySocketPath(path, process.pid);
  const bytes = new TextEncoder().encode(temporary).length;
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new NetError(
      "ENAMETOOLONG",
      `Cannot bind "${path}": a UNIX socket path may have ${MAX_UNIX_PATH_BYTES} bytes, ` +
        `and "${temporary}", the name it is bound under first, has ${bytes}`,
    );
  }
  await checkInTheWay(path, options.takeOver);
  // A temporary file of an earlier process with our pid (it died between bind and rename).
  await unlinkQuietly(temporary);
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
  server.on("connection", (socket: net.Socket) => onAccept(new NodeNetConnection(socket, NOOP_HANDLER, true, "")));
  await new Promise<void>((resolve, reject) => {
    const onBindError = (error: Error) => {
      server.close();
      reject(toNetError(error, "Cannot bind", path));
    };
    server.once("error", onBindError);
    server.listen({ path: temporary, backlog: options.backlog }, () => {
      server.off("error", onBindError);
      server.on("error", (error: Error) => onError(toNetError(error, "Listener", path)));
      resolve();
    });
  });
  let identity: FileIdentity;
  try {
    await chmod(temporary, options.mode);
    await rename(temporary, path);
    identity = fileIdentity(await lstat(path));
  } catch (error) {
    server.close();
    await unlinkQuietly(temporary);
    throw toNetError(error, "Cannot bind", path);
  }
  return new NodeUnixListener(server, path, identity);
}

/** Dials the socket at `path` with node:net; the connection reports through `handler`. */
export function connectUnixNodeNet(path: string, handler: ConnectionHandler): Connection {
  const socket = net.connect({ path, allowHalfOpen: true });
  return new NodeNetConnection(socket, handler, false, path);
}

/** Which file a path named when it was looked at. */
interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

function fileIdentity(stats: { readonly dev: number; readonly ino: number }): FileIdentity {
  return { dev: stats.dev, ino: stats.ino };
}

class NodeUnixListener implements UnixListener {
  readonly path: string;
  private readonly server: net.Server;
  private readonly identity: FileIdentity;
  private closed = false;

  constructor(server: net.Server, path: string, identity: FileIdentity) {
    this.server = server;
    this.path = path;
    this.identity = identity;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // As a TCP listener's: the callback would wait for every accepted connection to end.
    this.server.close();
    try {
      const found = fileIdentity(await lstat(this.path));
      if (found.dev === this.identity.dev && found.ino === this.identity.ino) await unlink(this.path);
    } catch {
      // Gone, replaced, unreachable from a chroot or no longer ours to remove: it stays, as HAProxy's does.
    }
  }
}

/**
 * Refuses what is at `path` unless it is a socket nobody answers on (or one to take over): a file
 * that is not a socket is never replaced, a live socket only with `takeOver`.
 */
async function checkInTheWay(path: string, takeOver: boolean): Promise<void> {
  let found: { isSocket(): boolean };
  try {
    found = await lstat(path);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw toNetError(error, "Cannot bind", path);
    // Node would say EACCES for a missing directory: say what it is.
    try {
      await stat(dirname(path));
    } catch (directoryError) {
      throw toNetError(directoryError, "Cannot bind", path);
    }
    return;
  }
  if (!found.isSocket()) {
    throw new NetError("EADDRINUSE", `Cannot bind "${path}": address already in use (a file that is not a socket is there)`);
  }
  if (takeOver) return;
  if (await liveness(path) === "live") {
    throw new NetError("EADDRINUSE", `Cannot bind "${path}": address already in use (a running process answers on it)`);
  }
}

/** Connects once to tell a live socket from a stale file. */
function liveness(path: string): Promise<Liveness> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve("live");
    });
    socket.once("error", (error: Error) => {
      socket.destroy();
      const code = (error as { code?: unknown }).code;
      resolve(code === "ECONNREFUSED" ? "stale" : code === "ENOENT" ? "missing" : "live");
    });
  });
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Nothing there.
  }
}
