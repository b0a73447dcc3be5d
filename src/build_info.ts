/**
 * What a compiled executable knows about how it was built: the commit, the date and the target.
 *
 * `scripts/build.ts` compiles a generated entry that calls {@link recordBuild} before it imports
 * `main.ts` (ES modules run in import order), so the values are baked into the executable without a
 * compiler-specific "define" (Bun has one, `deno compile` does not). Run from source, there is none.
 *
 * @module
 */

/** How this executable was built. */
export interface BuildInfo {
  /** The git commit, `-dirty` appended when tracked files had changes. */
  readonly commit: string;
  /** ISO 8601, UTC; SOURCE_DATE_EPOCH when the build was given one. */
  readonly date: string;
  /** The build target: `linux-x64-musl`, `darwin-arm64`... */
  readonly target: string;
  /** The compiler: `bun build --compile`, `deno compile`, `node --experimental-sea-config`. */
  readonly compiler: string;
}

const KEY = "__proxyBuildInfo";

/** Records the build; called once by the generated entry, before anything else runs. */
export function recordBuild(info: BuildInfo): void {
  (globalThis as Record<string, unknown>)[KEY] = Object.freeze({ ...info });
}

/** The build of this executable, or undefined when run from source. */
export function buildInfo(): BuildInfo | undefined {
  return (globalThis as Record<string, unknown>)[KEY] as BuildInfo | undefined;
}
