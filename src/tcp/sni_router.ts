/**
 * The router of a tcp-mode frontend with SNI routes: the first route listing the ClientHello's
 * server name picks the target (a backend), else the fallback (the default backend, or null:
 * close). Built once per frontend.
 *
 * @module
 */

/** One route as the router is built from it: lower-case names, "*.suffix" for any subdomain. */
export interface SniRouterRoute<T> {
  readonly names: readonly string[];
  readonly target: T;
}

/** Picks a target per server name. */
export class SniRouter<T> {
  /** The target when no route matches or no name was read; null: none (the connection is closed). */
  readonly fallback: T | null;
  /** Exact name → index of the first route listing it. */
  readonly #exact = new Map<string, number>();
  /** ".example.com" of each "*.example.com", with its route's index, in route order. */
  readonly #suffixes: string[] = [];
  readonly #suffixRoutes: number[] = [];
  readonly #targets: readonly T[];

  constructor(routes: readonly SniRouterRoute<T>[], fallback: T | null) {
    this.fallback = fallback;
    this.#targets = routes.map((route) => route.target);
    routes.forEach((route, index) => {
      for (const name of route.names) {
        if (name.startsWith("*.")) {
          this.#suffixes.push(name.slice(1));
          this.#suffixRoutes.push(index);
        } else if (!this.#exact.has(name)) {
          this.#exact.set(name, index);
        }
      }
    });
  }

  /**
   * The first route's target for `serverName` (lower case, no trailing dot, as the ClientHello
   * reader gives it), else the fallback; "" (no name) always gets the fallback. Routes keep their
   * order across exact and wildcard names: a wildcard listed before an exact name wins.
   */
  pick(serverName: string): T | null {
    if (serverName === "") return this.fallback;
    let best = this.#exact.get(serverName) ?? this.#targets.length;
    const suffixes = this.#suffixes;
    for (let i = 0; i < suffixes.length && this.#suffixRoutes[i]! < best; i++) {
      const suffix = suffixes[i]!;
      // "*.example.com" wants at least one label before ".example.com", as HAProxy's `-m end .example.com`.
      if (serverName.length > suffix.length && serverName.endsWith(suffix)) best = this.#suffixRoutes[i]!;
    }
    return best < this.#targets.length ? this.#targets[best]! : this.fallback;
  }
}
