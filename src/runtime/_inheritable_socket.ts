/**
 * Sockets a process binds for its children (`Runtime.bindInheritable`): what a -W master hands
 * every generation of workers, so that a reload never closes a listening socket.
 *
 * The parent binds and does not listen: a bound socket has no accept queue, so nothing can be
 * accepted by the parent, and its event loop never polls it. The first child that adopts it
 * (`listen({ fd })`) calls listen(2), which puts the socket itself in the listening state; from then
 * on it listens as long as any process holds a descriptor of it, and connections wait in its one
 * queue whoever closes a copy. Node's cluster module shares handles the same way (the primary
 * binds, the workers listen).
 *
 * Bun and Deno bind through their FFI and libc (socket, setsockopt, bind, getsockname), on Linux
 * x64 and arm64, whose socket constants are the same; Node through `net._createServerHandle`
 * (`bindWithNodeHandle` below). Node's and Bun's `spawnSelf` pass the descriptors with
 * node:child_process's `stdio` array, which dup2s each into the child's 3, 4, ... (the child's
 * copy only loses close-on-exec: ours keeps it, so no other program we start inherits them).
 * Deno's node:child_process does that too, but first makes the descriptor blocking, and O_NONBLOCK
 * belongs to the open socket that every worker shares: an old worker's accept() would then block
 * whenever another process took the connection it woke up for, and with it every session it
 * serves (measured: 5 s stalls on each reload under load). So Deno's `spawnSelf` clears
 * close-on-exec around a synchronous spawn instead (`whileInheritable`), and the child finds
 * the sockets under our numbers.
 *
 * @module
 */

import type { InheritableSocket, ListenOptions, NetAddr } from "./types.ts";
import { familyOf } from "./_addresses.ts";
import { formatHostPort, NetError, toNetError } from "./net_error.ts";
import { lookupNodeDns } from "./_node_net.ts";

/** A socket bound by this process for its children; `fd` is its descriptor here. */
export class BoundSocket implements InheritableSocket {
  readonly address: NetAddr;
  private descriptor: number;
  private readonly closeDescriptor: (fd: number) => void;

  constructor(fd: number, address: NetAddr, closeDescriptor: (fd: number) => void) {
    this.descriptor = fd;
    this.address = address;
    this.closeDescriptor = closeDescriptor;
  }

  /** The descriptor, or -1 once closed. */
  get fd(): number {
    return this.descriptor;
  }

  close(): void {
    if (this.descriptor < 0) return;
    const fd = this.descriptor;
    this.descriptor = -1;
    this.closeDescriptor(fd);
  }
}

/** The descriptors to pass to a child, in order; throws for a socket that is closed or not ours. */
export function descriptorsOf(sockets: readonly InheritableSocket[] | undefined): number[] {
  if (sockets === undefined) return [];
  return sockets.map((socket) => {
    if (!(socket instanceof BoundSocket)) throw new Error("Cannot pass a socket this runtime did not bind");
    if (socket.fd < 0) {
      throw new Error(`Cannot pass the socket of "${formatHostPort(socket.address.address, socket.address.port)}": it is closed`);
    }
    return socket.fd;
  });
}

/** The address to bind: `host` itself when it is an IP literal, else its first address. */
export async function bindableAddress(options: ListenOptions): Promise<string> {
  const [address] = await lookupNodeDns(options.host);
  if (address === undefined) throw new NetError("ENOTFOUND", `Cannot resolve "${options.host}": no address`);
  return address;
}

/** True where `bindWithLibc` knows the socket constants: Linux on x64 and arm64 (Node's or Deno's names). */
export function libcSocketsAvailable(os: string, arch: string): boolean {
  return os === "linux" && ["x64", "x86_64", "arm64", "aarch64"].includes(arch);
}

/** The libc calls the FFI modules provide (Bun's bun:ffi, Deno's Deno.dlopen). */
export interface LibcSockets {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, length: number): number;
  bind(fd: number, address: Uint8Array, length: number): number;
  getsockname(fd: number, address: Uint8Array, length: Uint32Array): number;
  close(fd: number): number;
  /** inet_pton: 1 when `text` (NUL-terminated) is an address of `family`. */
  inet_pton(family: number, text: Uint8Array, address: Uint8Array): number;
  /** if_nametoindex: 0 when there is no such interface. */
  if_nametoindex(name: Uint8Array): number;
  /** fcntl with an int argument (F_SETFD here). */
  fcntl(fd: number, command: number, argument: number): number;
  /** The calling thread's errno, read right after the call that failed. */
  errno(): number;
}

/** The symbols of LIBC_SOCKET_SYMBOLS as an FFI gives them, `Pointer` being its pointer type. */
export type OpenedLibcSockets<Pointer> = Omit<LibcSockets, "errno"> & { __errno_location(): Pointer };

/**
 * The LibcSockets of a library opened with LIBC_SOCKET_SYMBOLS, `readInt` reading the int that
 * `__errno_location()` points at (each FFI has its own pointer type and reader).
 */
export function libcSocketsOf<Pointer>(opened: OpenedLibcSockets<Pointer>, readInt: (pointer: Pointer) => number): LibcSockets {
  return {
    socket: opened.socket,
    setsockopt: opened.setsockopt,
    bind: opened.bind,
    getsockname: opened.getsockname,
    close: opened.close,
    inet_pton: opened.inet_pton,
    if_nametoindex: opened.if_nametoindex,
    fcntl: opened.fcntl,
    errno: () => readInt(opened.__errno_location()),
  };
}

/** The libc symbols every FFI binding opens, as name and C signature (argument kinds, result kind). */
export const LIBC_SOCKET_SYMBOLS = {
  socket: { args: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { args: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { args: ["i32", "buffer", "buffer"], result: "i32" },
  close: { args: ["i32"], result: "i32" },
  inet_pton: { args: ["i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { args: ["buffer"], result: "u32" },
  fcntl: { args: ["i32", "i32", "i32"], result: "i32" },
  __errno_location: { args: [], result: "pointer" },
} as const;

// Linux's values, the same on x64 and arm64 (asm-generic).
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_REUSEPORT = 15;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const SOCKADDR_IN_BYTES = 16;
const SOCKADDR_IN6_BYTES = 28;
/** Room for any sockaddr getsockname may write (sockaddr_storage). */
const SOCKADDR_STORAGE_BYTES = 128;

/** Errno values of Linux (x64 and arm64) that a bind can end with, by name. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  12: "ENOMEM",
  13: "EACCES",
  19: "ENODEV",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  105: "ENOBUFS",
};

/** A NetError for a failed libc call: the known codes with their description, others by name. */
function libcError(errno: number, target: string): NetError {
  const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const error = toNetError({ code: name }, "Cannot bind", target);
  if (error.code !== "EIO") return error;
  return new NetError("EIO", `Cannot bind "${target}": ${name}`);
}

function cString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const terminated = new Uint8Array(bytes.length + 1);
  terminated.set(bytes);
  return terminated;
}

/** The sockaddr_in or sockaddr_in6 of `ip` (with an optional `%zone`) and `port`. */
function socketAddress(libc: LibcSockets, ip: string, port: number, target: string): Uint8Array {
  const family = familyOf(ip) === 6 ? AF_INET6 : AF_INET;
  const percent = ip.indexOf("%");
  const literal = percent === -1 ? ip : ip.slice(0, percent);
  const address = new Uint8Array(family === AF_INET6 ? SOCKADDR_IN6_BYTES : SOCKADDR_IN_BYTES);
  const view = new DataView(address.buffer);
  view.setUint16(0, family, true);
  view.setUint16(2, port, false);
  const bytes = address.subarray(family === AF_INET6 ? 8 : 4, family === AF_INET6 ? 24 : 8);
  if (libc.inet_pton(family, cString(literal), bytes) !== 1) {
    throw new NetError("EADDRNOTAVAIL", `Cannot bind "${target}": "${literal}" is not an IP address`);
  }
  if (family === AF_INET6 && percent !== -1) {
    const zone = ip.slice(percent + 1);
    const index = /^[0-9]+$/.test(zone) ? Number(zone) : libc.if_nametoindex(cString(zone));
    if (index === 0) throw new NetError("EADDRNOTAVAIL", `Cannot bind "${target}": no interface "${zone}"`);
    view.setUint32(24, index, true);
  }
  return address;
}

/**
 * Runs `start` (a synchronous spawn) with `fds` inheritable: close-on-exec is cleared before and
 * set again after, so the child gets them under the same numbers, as they are (no runtime
 * touches them on the way), and no later child of ours does. Throws naming the descriptor when
 * fcntl fails; the flags are put back in any case.
 */
export function whileInheritable<T>(libc: LibcSockets, fds: readonly number[], start: () => T): T {
  const cleared: number[] = [];
  try {
    for (const fd of fds) {
      if (libc.fcntl(fd, F_SETFD, 0) !== 0) {
        throw new Error(`Cannot make descriptor ${fd} inheritable: fcntl failed (errno ${libc.errno()})`);
      }
      cleared.push(fd);
    }
    return start();
  } finally {
    for (const fd of cleared) libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

/**
 * Binds a socket through libc as `bindInheritable` promises (SO_REUSEADDR as libuv and uSockets
 * set it, SO_REUSEPORT and IPV6_V6ONLY as asked; non-blocking and close-on-exec from the start).
 * errno is read right after the call that failed, on the same thread, before anything else runs.
 */
export async function bindWithLibc(options: ListenOptions, libc: LibcSockets): Promise<BoundSocket> {
  const target = formatHostPort(options.host, options.port);
  const ip = await bindableAddress(options);
  const address = socketAddress(libc, ip, options.port, target);
  const family = address.length === SOCKADDR_IN6_BYTES ? AF_INET6 : AF_INET;
  const fd = libc.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw libcError(libc.errno(), target);
  const fail = (): never => {
    const error = libcError(libc.errno(), target);
    libc.close(fd);
    throw error;
  };
  const option = (level: number, name: number, on: boolean) => {
    if (libc.setsockopt(fd, level, name, new Int32Array([on ? 1 : 0]), 4) !== 0) fail();
  };
  option(SOL_SOCKET, SO_REUSEADDR, true);
  if (options.reusePort) option(SOL_SOCKET, SO_REUSEPORT, true);
  if (family === AF_INET6) option(IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6Only ?? false);
  if (libc.bind(fd, address, address.length) !== 0) fail();
  const bound = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  if (libc.getsockname(fd, bound, new Uint32Array([SOCKADDR_STORAGE_BYTES])) !== 0) fail();
  const port = new DataView(bound.buffer).getUint16(2, false);
  return new BoundSocket(fd, { address: ip, port, family: family === AF_INET6 ? 6 : 4 }, (descriptor) => {
    libc.close(descriptor);
  });
}

/** What Node's `net._createServerHandle` gives: libuv's TCP handle, bound and not listening. */
interface NodeTcpHandle {
  readonly fd: number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  close(): void;
}

type CreateServerHandle = (
  address: string,
  port: number,
  addressType: 4 | 6,
  fd: undefined,
  flags: number,
) => NodeTcpHandle | number;

/** libuv's `uv_tcp_flags`, what `_createServerHandle` passes to uv_tcp_bind. */
const UV_TCP_IPV6ONLY = 1;
const UV_TCP_REUSEPORT = 2;

/** Node's `net._createServerHandle`, or undefined where node:net has none with a real descriptor (Bun's, Deno's). */
export function nodeServerHandleFactory(net: object): CreateServerHandle | undefined {
  const factory = (net as { readonly _createServerHandle?: unknown })._createServerHandle;
  return typeof factory === "function" ? factory as CreateServerHandle : undefined;
}

/**
 * Binds with Node's `net._createServerHandle`: the function Node's cluster module binds its shared
 * handles with (lib/internal/cluster/shared_handle.js), which binds a libuv TCP handle without
 * listening. Node has no FFI and no public call that binds without listening, and a listening
 * net.Server accepts whatever reaches it.
 */
export async function bindWithNodeHandle(options: ListenOptions, create: CreateServerHandle): Promise<BoundSocket> {
  const target = formatHostPort(options.host, options.port);
  const ip = await bindableAddress(options);
  const family = familyOf(ip);
  const flags = (options.reusePort ? UV_TCP_REUSEPORT : 0) | (family === 6 && options.ipv6Only ? UV_TCP_IPV6ONLY : 0);
  const handle = create(ip, options.port, family, undefined, flags);
  if (typeof handle === "number") throw libcError(-handle, target);
  const bound: { address?: string; port?: number } = {};
  const status = handle.getsockname(bound);
  if (status !== 0 || typeof handle.fd !== "number" || handle.fd < 0) {
    handle.close();
    throw status !== 0 ? libcError(-status, target) : new NetError("EIO", `Cannot bind "${target}": Node gave no descriptor`);
  }
  return new BoundSocket(handle.fd, { address: ip, port: bound.port ?? options.port, family }, () => handle.close());
}
