/**
 * The two responses every origin serves, and the paths that ask for them.
 *
 * @module
 */

import type { BodyName } from "./report.ts";

/** 16 bytes: small enough that the proxy's per-request cost is all there is to see. */
export const SMALL_BODY = "0123456789abcdef";
/** 1 MiB: large enough that copying and backpressure dominate. */
export const LARGE_BODY_BYTES = 1024 * 1024;

/** The request path for each body. */
export const BODY_PATHS: Readonly<Record<BodyName, string>> = { small: "/", "1mb": "/1mb", "small-close": "/" };

/** Whether every request of this load comes on a new connection (wrk sends `Connection: close`). */
export function closesEachConnection(body: BodyName): boolean {
  return body === "small-close";
}
