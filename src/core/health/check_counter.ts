/**
 * HAProxy's health counter: how a run of check results moves a server between up and down.
 *
 * The counter goes from 0 to rise + fall - 1. A server is up from `rise` on. A good check raises
 * it by one, and on reaching `rise` it jumps to the top, so that `fall` bad checks in a row are
 * then needed to take the server down; a bad check lowers it by one, and on falling below `rise`
 * it drops to 0, so that `rise` good checks in a row are needed to bring it back. A server with
 * checks starts at `rise`: up, but taken down by its first failed check (HAProxy's start-up rule,
 * so that a dead server does not keep its share of traffic for `fall` intervals after a start).
 *
 * @module
 */

/** What a check result did to the counter. */
export type CounterChange = "none" | "moved" | "went-up" | "went-down";

/** The counter of one server; see the module notes. */
export class CheckCounter {
  readonly rise: number;
  readonly fall: number;
  health: number;

  constructor(rise: number, fall: number) {
    this.rise = rise;
    this.fall = fall;
    this.health = rise;
  }

  /** Highest value: up and steady. */
  get top(): number {
    return this.rise + this.fall - 1;
  }

  get isUp(): boolean {
    return this.health >= this.rise;
  }

  /** Neither steady up nor steady down: HAProxy checks at `fastinter` then. */
  get isChanging(): boolean {
    return this.health !== 0 && this.health !== this.top;
  }

  /** Steady down: HAProxy checks at `downinter` then. */
  get isDown(): boolean {
    return this.health === 0;
  }

  /** Counts a good check. */
  pass(): CounterChange {
    if (this.health >= this.top) return "none";
    const wasUp = this.isUp;
    this.health++;
    if (this.health >= this.rise) this.health = this.top;
    return !wasUp && this.isUp ? "went-up" : "moved";
  }

  /** Counts a failed check. */
  fail(): CounterChange {
    if (this.health === 0) return "none";
    const wasUp = this.isUp;
    this.health--;
    if (this.health < this.rise) this.health = 0;
    return wasUp && !this.isUp ? "went-down" : "moved";
  }

  /** HAProxy's `sudden-death`: one more failed check will take the server down. */
  suddenDeath(): CounterChange {
    if (!this.isUp || this.health === this.rise) return "none";
    this.health = this.rise;
    return "moved";
  }

  /** Down at once (`mark-down`). */
  markDown(): CounterChange {
    if (this.health === 0) return "none";
    const wasUp = this.isUp;
    this.health = 0;
    return wasUp ? "went-down" : "moved";
  }

  /**
   * The state as HAProxy's stats show it: "UP" and "DOWN" when steady; while changing, how far it
   * is from the other state: "UP 2/3" (up, two of the three failed checks that take it down still
   * to come) or "DOWN 1/2" (down, one of the two good checks that bring it up done).
   */
  describe(): string {
    if (this.isUp) return this.health === this.top ? "UP" : `UP ${this.health - this.rise + 1}/${this.fall}`;
    return this.health === 0 ? "DOWN" : `DOWN ${this.health}/${this.rise}`;
  }

  /** The progress as HAProxy's check messages end: "2/3 UP", "1/2 DOWN". */
  progress(): string {
    return this.isUp ? `${this.health - this.rise + 1}/${this.fall} UP` : `${this.health}/${this.rise} DOWN`;
  }
}
