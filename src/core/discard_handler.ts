/**
 * The handler of a connection its session has let go of (a connect attempt abandoned after a
 * timeout, a server connection dropped mid-exchange): late events are swallowed, and an attempt
 * that opens after all is closed at once.
 *
 * @module
 */

import type { Connection, ConnectionHandler } from "../runtime/types.ts";

/** Swallows every event; destroys a connection that opens late. */
export const DISCARD_HANDLER: ConnectionHandler = Object.freeze({
  onOpen(conn: Connection) {
    conn.destroy();
  },
  onData() {},
  onDrain() {},
  onEnd() {},
  onClose() {},
});
