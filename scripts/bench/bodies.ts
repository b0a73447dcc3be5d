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
export const BODY_PATHS: Readonly<Record<BodyName, string>> = { small: "/", "1mb": "/1mb" };
