/**
 * A session's claim on a server: waiting in a queue for a slot, or holding one.
 *
 * HAProxy's `pendconn` and the stream's `srv_conn` in one object. Each session owns one
 * {@link ServerSlot} for its whole life and reuses it for every request, so queueing and holding
 * allocate nothing: the slot is linked into one intrusive list at a time, a queue (a server's or a
 * backend's) while it waits, its server's list of holders while it holds a slot. The holders list
 * is what `on-marked-down shutdown-sessions` walks.
 *
 * @module
 */

import type { BalanceContext } from "./balance/types.ts";
import type { Server } from "./server.ts";

/** What a session does when the backend decides about its slot. */
export interface SlotUser extends BalanceContext {
  /** A queued request got a slot on `server` (already counted): connect now. */
  slotGranted(server: Server): void;
  /** A queued request can no longer be served (no server left up): answer 503 at once. */
  slotRefused(): void;
  /**
   * The server the slot is on was taken out: close now. `cause` is the termination-state letter
   * HAProxy logs: "D" the server went down (`shutdown-sessions`), "U" an active server came back
   * up and this backup's sessions are closed (`shutdown-backup-sessions`), "K" an operator killed
   * them (the runtime API's `shutdown sessions server`).
   */
  shutdownByServer(cause: ShutdownCause): void;
}

/** Why {@link SlotUser.shutdownByServer} closes a session. */
export type ShutdownCause = "D" | "U" | "K";

/** Not in any list. */
export const SLOT_FREE = 0;
/** In a queue, waiting. */
export const SLOT_WAITING = 1;
/** Holding a slot on `server`. */
export const SLOT_HOLDING = 2;

/** One session's claim; see the module notes. */
export class ServerSlot {
  readonly user: SlotUser;
  state = SLOT_FREE;
  /** The server whose slot is held, or whose queue the slot waits in (null in a backend's queue). */
  server: Server | null = null;
  /** The queue waited in. */
  queue: SlotQueue | null = null;
  /** Clock time it entered its queue, ms. */
  queuedAt = 0;
  /** @internal Neighbours in the current list. */
  prev: ServerSlot | null = null;
  /** @internal */
  next: ServerSlot | null = null;

  constructor(user: SlotUser) {
    this.user = user;
  }
}

/** A first-in first-out list of slots: a queue, or a server's holders. */
export class SlotQueue {
  first: ServerSlot | null = null;
  last: ServerSlot | null = null;
  length = 0;

  push(slot: ServerSlot): void {
    slot.prev = this.last;
    slot.next = null;
    if (this.last !== null) this.last.next = slot;
    else this.first = slot;
    this.last = slot;
    this.length++;
  }

  remove(slot: ServerSlot): void {
    if (slot.prev !== null) slot.prev.next = slot.next;
    else this.first = slot.next;
    if (slot.next !== null) slot.next.prev = slot.prev;
    else this.last = slot.prev;
    slot.prev = null;
    slot.next = null;
    this.length--;
  }

  shift(): ServerSlot | null {
    const slot = this.first;
    if (slot !== null) this.remove(slot);
    return slot;
  }

  /** The slots in order, copied: callers may change the list while they go through them. */
  toArray(): ServerSlot[] {
    const slots: ServerSlot[] = [];
    for (let slot = this.first; slot !== null; slot = slot.next) slots.push(slot);
    return slots;
  }
}
