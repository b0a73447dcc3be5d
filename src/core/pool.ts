/**
 * A LIFO free list: the most recently released object is reused first, so it is still in cache
 * (HAProxy's pools). Objects are reset by their owner before release.
 *
 * @module
 */

/** Keeps up to `capacity` released objects for reuse. */
export class Pool<T> {
  private readonly items: T[] = [];
  private readonly capacity: number;
  private readonly create: () => T;
  /** Objects built because the pool was empty. */
  created = 0;

  constructor(create: () => T, capacity: number) {
    this.create = create;
    this.capacity = capacity;
  }

  /** A released object, or a new one. */
  acquire(): T {
    const item = this.items.pop();
    if (item !== undefined) return item;
    this.created++;
    return this.create();
  }

  /** Gives an object back; beyond the capacity it is left to the garbage collector. */
  release(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
  }

  /** Objects waiting for reuse. */
  get size(): number {
    return this.items.length;
  }
}
