/**
 * Pieces every socket module of the runtime layer shares: address values and the placeholder
 * handler a connection has before its owner sets one.
 *
 * @module
 */

import type { ConnectionHandler, NetAddr } from "./types.ts";

/** The address of a socket that has none (yet): an outgoing connection before it opens. */
export const UNKNOWN_ADDRESS: NetAddr = Object.freeze({ address: "", port: 0, family: 4 });

/** 6 for an IPv6 literal (it has a colon), else 4. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}

/** A NetAddr from a socket's address and port, or UNKNOWN_ADDRESS when either is missing. */
export function addressOf(address: string | undefined, port: number | undefined): NetAddr {
  if (address === undefined || port === undefined) return UNKNOWN_ADDRESS;
  return { address, port, family: familyOf(address) };
}

/** Drops every event: the handler of a connection nobody has claimed yet, or any more. */
export const NOOP_HANDLER: ConnectionHandler = Object.freeze({
  onOpen() {},
  onData() {},
  onDrain() {},
  onEnd() {},
  onClose() {},
});
