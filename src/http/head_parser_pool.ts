/**
 * Head parsers taken per message exchange and given back between them, so that a keep-alive
 * connection waiting for its next request holds no parser (issue 21: 10,000 idle connections
 * within 100 MB; two parsers were 864 bytes of each idle connection on Bun, measured with a heap
 * snapshot). A session takes its request parser when the first byte of a request arrives and its
 * response parser when the request goes to a server, and gives both back once the response is
 * over; the spares are as many as the exchanges in progress at the busiest moment, at most
 * {@link MAX_SPARE_PARSERS}.
 *
 * @module
 */

import { HeadParser } from "./head_parser.ts";
import type { HeadParserOptions, MessageKind } from "./head_parser.ts";

/** Spares kept per pool: beyond this, a parser given back is left to the garbage collector. */
export const MAX_SPARE_PARSERS = 1024;

/** Parsers of one kind and limits (one pool per frontend and kind). */
export class HeadParserPool {
  readonly kind: MessageKind;
  readonly #limits: HeadParserOptions;
  readonly #spare: HeadParser[] = [];

  constructor(kind: MessageKind, limits: HeadParserOptions) {
    this.kind = kind;
    this.#limits = limits;
  }

  /** Parsers waiting to be taken. */
  get spareCount(): number {
    return this.#spare.length;
  }

  /** A parser ready for a message: a spare, or a new one. */
  take(): HeadParser {
    return this.#spare.pop() ?? new HeadParser(this.kind, this.#limits);
  }

  /** Resets `parser` (its header storage goes back to the storage spares) and keeps it for the next exchange. */
  giveBack(parser: HeadParser): void {
    parser.reset();
    if (this.#spare.length < MAX_SPARE_PARSERS) this.#spare.push(parser);
  }
}
