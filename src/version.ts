/**
 * The version of this build. A test keeps it equal to package.json's.
 *
 * @module
 */

/** Semantic version of the proxy. */
export const VERSION = "0.1.0";
