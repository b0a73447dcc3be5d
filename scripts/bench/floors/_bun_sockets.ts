/**
 * What the Bun floors use of Bun's native sockets (`Bun.listen`, `Bun.connect`), the socket layer
 * ours uses on Bun, typed here so that `deno check` reads these files too (no bun-types).
 *
 * Bun's `socket.write` is a bare non-blocking send: it returns the bytes the kernel took and keeps
 * nothing, so the rest waits in a queue of ours until `drain` (as in src/runtime/_bun_native.ts).
 * uSockets turns Nagle off on every socket by itself.
 *
 * @module
 */

/** A TCP socket of Bun's native API, with the state its floor keeps in `data`. */
export interface BunSocket<State> {
  data: State;
  /** Sends at once; the bytes the kernel took, or -1 when the socket is closed. */
  write(bytes: Uint8Array): number;
  /** Flushes and closes (not a half-close). */
  end(): void;
  pause(): void;
  resume(): void;
}

/** The handlers of a listener or of a dialled connection; `State` is what `socket.data` holds. */
export interface BunSocketHandler<State> {
  /** Chunks come as Buffers, for their native substring search (`binaryType: "buffer"`). */
  binaryType: "buffer";
  open?(socket: BunSocket<State>): void;
  data(socket: BunSocket<State>, chunk: Buffer): void;
  drain(socket: BunSocket<State>): void;
  close(socket: BunSocket<State>): void;
  connectError?(socket: BunSocket<State>, error: Error): void;
  error?(socket: BunSocket<State>, error: Error): void;
}

/** `Bun.listen` and `Bun.connect`. */
export interface BunSocketApi {
  listen<State>(options: { hostname: string; port: number; socket: BunSocketHandler<State> }): unknown;
  connect<State>(
    options: { hostname: string; port: number; socket: BunSocketHandler<State>; data: State },
  ): Promise<BunSocket<State>>;
}

/** The `Bun` global, touched only when called. */
export function bunSocketApi(): BunSocketApi {
  return (globalThis as unknown as { Bun: BunSocketApi }).Bun;
}

/** `host:port` as Bun's options spell it. */
export function hostAndPort(backend: string): { hostname: string; port: number } {
  const separator = backend.lastIndexOf(":");
  return { hostname: backend.slice(0, separator), port: Number(backend.slice(separator + 1)) };
}

/**
 * Writes `bytes` behind whatever `queue` still holds; false when some of it had to wait in the
 * queue (the caller then pauses whoever it read them from until `flushQueue` empties it).
 */
export function writeOrQueue<State>(
  socket: BunSocket<State>,
  queue: Uint8Array[],
  bytes: Uint8Array,
): boolean {
  if (queue.length > 0) {
    queue.push(bytes);
    return false;
  }
  const written = socket.write(bytes);
  if (written >= bytes.length) return true;
  queue.push(written > 0 ? bytes.subarray(written) : bytes);
  return false;
}

/** Writes what the kernel takes of `queue`, from its `drain`; true once it is empty. */
export function flushQueue<State>(socket: BunSocket<State>, queue: Uint8Array[]): boolean {
  while (queue.length > 0) {
    const bytes = queue[0]!;
    const written = socket.write(bytes);
    if (written < bytes.length) {
      if (written > 0) queue[0] = bytes.subarray(written);
      return false;
    }
    queue.shift();
  }
  return true;
}
