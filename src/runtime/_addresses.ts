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

/** The last local address made by localAddressOf: accepted connections share their listener's. */
let lastLocal: NetAddr = UNKNOWN_ADDRESS;

/**
 * The local address of an accepted connection: the same frozen object as the previous one when
 * address and port are the same, as they are for every connection of a listener on one address.
 * A NetAddr per connection was 100 bytes of every idle connection (issue 21).
 */
export function localAddressOf(address: string | undefined, port: number | undefined): NetAddr {
  if (address === undefined || port === undefined) return UNKNOWN_ADDRESS;
  const last = lastLocal;
  if (last.port === port && last.address === address) return last;
  return lastLocal = Object.freeze({ address, port, family: familyOf(address) });
}

/** Drops every event: the handler of a connection nobody has claimed yet, or any more. */
export const NOOP_HANDLER: ConnectionHandler = Object.freeze({
  onOpen() {},
  onData() {},
  onDrain() {},
  onEnd() {},
  onClose() {},
});
