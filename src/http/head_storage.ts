/**
 * The storage a head parser holds only while it has a message, and the shared spare list it is
 * taken from and given back to (see HeadParser.reset in head_parser.ts).
 *
 * @module
 */

/** Header lines a storage has room for before it grows: browsers send 10 to 20. */
const INITIAL_HEADER_LINES = 24;

/**
 * What a parser needs only while it holds a message: the header arrays, the line marks and the
 * buffer of a head split over reads. A parser takes one from a shared spare list when a message
 * starts and gives it back in `reset()`, so that a keep-alive connection waiting for its next
 * request holds none: 2.5 kB of the memory of each idle connection (issue 21: 10,000 idle
 * connections within 100 MB). The spares are as many as the messages in progress at the busiest
 * moment, at most {@link MAX_SPARE_STORAGE}.
 */
export class HeadStorage {
  readonly names: string[] = [];
  readonly lowerNames: string[] = [];
  readonly values: string[] = [];
  readonly tokens: string[] = [];
  /** Per header line: name start, name end, value start, value end; grown by long heads. */
  marks: Int32Array = new Int32Array(4 * INITIAL_HEADER_LINES);
  /** Per header line: 1 when the name has upper-case letters. */
  upperNames: Uint8Array = new Uint8Array(INITIAL_HEADER_LINES);
  /** The head bytes of earlier reads, when a head comes in several. */
  buffer: Uint8Array | undefined = undefined;
}

/** Room for twice the header lines (at most `maxLines`), keeping those recorded. */
export function growMarks(storage: HeadStorage, maxLines: number): Int32Array {
  const lines = Math.min(2 * storage.upperNames.length, maxLines);
  const marks = new Int32Array(4 * lines);
  marks.set(storage.marks);
  const upperNames = new Uint8Array(lines);
  upperNames.set(storage.upperNames);
  storage.marks = marks;
  storage.upperNames = upperNames;
  return marks;
}

const spareStorage: HeadStorage[] = [];
const MAX_SPARE_STORAGE = 1024;
/** Spares that may keep the buffer of a split head. */
const SPARES_WITH_BUFFER = 64;
/** The arrays of a parser without storage: frozen, so that a write there fails instead of going astray. */
export const NO_STRINGS = Object.freeze([]) as unknown as string[];

/** A storage from the spares, or a new one. */
export function takeHeadStorage(): HeadStorage {
  return spareStorage.pop() ?? new HeadStorage();
}

/** Back to the spares (at most MAX_SPARE_STORAGE are kept). */
export function giveBackHeadStorage(storage: HeadStorage): void {
  // The other arrays' stale entries are overwritten by the next message (headerCount bounds them).
  storage.tokens.length = 0;
  // Split heads are rare: past the first spares, a buffer (up to the head limit, 15 KiB) is not
  // kept, so that a burst of them does not leave 1,024 buffers behind.
  if (spareStorage.length >= SPARES_WITH_BUFFER) storage.buffer = undefined;
  if (spareStorage.length < MAX_SPARE_STORAGE) spareStorage.push(storage);
}
