/**
 * Source positions of the keys and values of a TOML document.
 *
 * smol-toml reports positions for syntax errors only, yet every validation error must name the
 * file:line:col of the offending key or value. This scanner walks the same text once more and records,
 * for every key path, where its key and its value start. It runs only after smol-toml accepted the text,
 * so it does not validate anything: it is tolerant, never throws, and always moves forward (linear time,
 * no regular expressions).
 *
 * Paths: keys joined with ".", array elements as `[i]`, keys that are not bare keys quoted as TOML quotes
 * them (see {@link formatTomlPath}): `backends.app.servers[1].weight`, `frontends."my.site".bind[0]`.
 *
 * Positions: `line` and `column` are 1-based; `column` counts UTF-16 code units (a character outside the
 * BMP takes two columns, a tab one). A leading byte order mark is not counted.
 *
 * What is recorded:
 * - `key = value`: key = start of the key as written (for `a.b.c = 1`, the `a`), value = first character
 *   of the value (`"`, `[`, `{`, digit, sign...). The tables a dotted key implies (`a`, `a.b`) are recorded
 *   at the same key position, unless a table header or a key defines them elsewhere.
 * - `[a.b]` and `[[a.b]]`: path `a.b` (`a.b[n]` for the n-th array-of-tables header, from 0), key = value =
 *   first character of the header's key; the implied `a` (and the array `a.b`) at their first mention.
 * - array elements: key = value = the element's first character.
 *
 * @module
 */

/** A 1-based line and column; the column counts UTF-16 code units. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Where a key and its value start; for a table header or an array element both are the same. */
export interface KeyLocation {
  readonly key: SourcePosition;
  readonly value: SourcePosition;
}

/** The located key paths of one TOML document. */
export interface TomlPositions {
  /** Exact path, e.g. "backends.app.servers[1].weight", "frontends.web.bind[0]", "global". */
  get(path: string): KeyLocation | undefined;
  /** The path itself if located, else its nearest located ancestor, else the document start {1,1}. */
  nearest(path: string): KeyLocation;
  /** Every located path, in the order first seen in the document. */
  paths(): readonly string[];
}

/** Where nearest() points when nothing on the path is located. */
const DOCUMENT_START: KeyLocation = Object.freeze({
  key: Object.freeze({ line: 1, column: 1 }),
  value: Object.freeze({ line: 1, column: 1 }),
});

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const EQUALS = 0x3d;
const COMMA = 0x2c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

/** TOML bare key characters: A-Z a-z 0-9 _ -. */
function isBareKeyChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f ||
    c === 0x2d;
}

/** Quotes `segment` as a TOML basic string unless it is a non-empty bare key. */
function formatSegment(segment: string): string {
  let bare = segment.length > 0;
  for (let i = 0; bare && i < segment.length; i++) bare = isBareKeyChar(segment.charCodeAt(i));
  if (bare) return segment;
  let out = '"';
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === DQUOTE) out += '\\"';
    else if (c === BACKSLASH) out += "\\\\";
    else if (c === LF) out += "\\n";
    else if (c === TAB) out += "\\t";
    else if (c === CR) out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += segment[i];
  }
  return out + '"';
}

/** Appends one segment to an already formatted path: `.key` (bare or quoted) or `[index]`. */
function appendSegment(prefix: string, segment: string | number): string {
  if (typeof segment === "number") return `${prefix}[${segment}]`;
  const formatted = formatSegment(segment);
  return prefix === "" ? formatted : `${prefix}.${formatted}`;
}

/** Formats a key path: keys joined with ".", quoted like TOML unless bare; indexes as `[i]`. */
export function formatTomlPath(segments: readonly (string | number)[]): string {
  let path = "";
  for (const segment of segments) path = appendSegment(path, segment);
  return path;
}

/** Splits a path into keys and indexes, the inverse of formatTomlPath; undefined if malformed. */
export function parseTomlPath(path: string): (string | number)[] | undefined {
  const segments: (string | number)[] = [];
  let i = 0;
  // After a key or an index, a "." (then a key) or a "[" (an index) must follow.
  let expectKey = true;
  while (i < path.length) {
    const c = path.charCodeAt(i);
    if (c === LBRACKET) {
      const close = path.indexOf("]", i + 1);
      if (close < 0 || close === i + 1) return undefined;
      let index = 0;
      for (let j = i + 1; j < close; j++) {
        const d = path.charCodeAt(j) - 0x30;
        if (d < 0 || d > 9) return undefined;
        index = index * 10 + d;
      }
      segments.push(index);
      i = close + 1;
      expectKey = false;
    } else if (c === DOT) {
      if (expectKey) return undefined;
      i++;
      expectKey = true;
    } else {
      if (!expectKey) return undefined;
      if (c === DQUOTE) {
        const read = readBasicString(path, i + 1);
        if (read === undefined) return undefined;
        segments.push(read.value);
        i = read.end;
      } else {
        // Lenient: anything up to the next separator is the key, so hand-written `a.my site.b` works too.
        const start = i;
        while (i < path.length && path.charCodeAt(i) !== DOT && path.charCodeAt(i) !== LBRACKET) i++;
        segments.push(path.slice(start, i));
      }
      expectKey = false;
    }
  }
  return expectKey && segments.length > 0 ? undefined : segments;
}

/** Decodes a single-line basic string whose body starts at `start`; end is just past the closing quote. */
function readBasicString(text: string, start: number): { value: string; end: number } | undefined {
  let value = "";
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === DQUOTE) return { value, end: i + 1 };
    if (c === LF) return undefined;
    if (c !== BACKSLASH) {
      value += text[i];
      i++;
      continue;
    }
    const e = text[i + 1];
    i += 2;
    if (e === "x" || e === "u" || e === "U") {
      const digits = e === "x" ? 2 : e === "u" ? 4 : 8;
      const code = Number.parseInt(text.slice(i, i + digits), 16);
      if (!Number.isFinite(code) || code > 0x10ffff) return undefined;
      value += String.fromCodePoint(code);
      i += digits;
    } else if (e === "b") value += "\b";
    else if (e === "t") value += "\t";
    else if (e === "n") value += "\n";
    else if (e === "f") value += "\f";
    else if (e === "r") value += "\r";
    else if (e === "e") value += "\x1b";
    else if (e === undefined) return undefined;
    else value += e;
  }
  return undefined;
}

/** One key of a (possibly dotted) key, decoded. */
interface ParsedKey {
  readonly names: string[];
  readonly at: SourcePosition;
}

/** Scans `text` (valid TOML, already accepted by smol-toml) and records the position of every key path. */
export function locateTomlKeys(text: string): TomlPositions {
  const found = new Map<string, KeyLocation>();
  // Paths recorded from a mere mention (the `a` of `[a.b]` or of `a.b = 1`): a definition replaces them.
  const implied = new Set<string>();
  // Array-of-tables path -> headers seen so far, so `[a.b]` after `[[a]]` resolves to `a[last].b`.
  const tableArrays = new Map<string, number>();
  const length = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;

  function here(): SourcePosition {
    return { line, column: i - lineStart + 1 };
  }
  /** Advances one code unit, keeping the line count. */
  function bump(): void {
    if (text.charCodeAt(i) === LF) {
      line++;
      lineStart = i + 1;
    }
    i++;
  }
  function define(path: string, location: KeyLocation): void {
    if (!found.has(path) || implied.has(path)) {
      found.set(path, location);
      implied.delete(path);
    }
  }
  function mention(path: string, location: KeyLocation): void {
    if (!found.has(path)) {
      found.set(path, location);
      implied.add(path);
    }
  }
  function skipSpaces(): void {
    while (i < length && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  }
  function skipComment(): void {
    if (text.charCodeAt(i) === HASH) { while (i < length && text.charCodeAt(i) !== LF) i++; }
  }
  /** Blank space, newlines and comments, as allowed between array elements and (TOML 1.1) in inline tables. */
  function skipBlank(): void {
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === SPACE || c === TAB || c === CR || c === LF) bump();
      else if (c === HASH) skipComment();
      else return;
    }
  }
  /** Past the end of the current line: whatever remains there is a comment or blank in valid TOML. */
  function skipLine(): void {
    while (i < length && text.charCodeAt(i) !== LF) i++;
    if (i < length) bump();
  }
  /** A string of any kind starting at `i`: ''' and """ may span lines and hold # = [ { freely. */
  function skipString(): void {
    const quote = text.charCodeAt(i);
    const escapes = quote === DQUOTE;
    if (text.charCodeAt(i + 1) === quote && text.charCodeAt(i + 2) === quote) {
      i += 3;
      while (i < length) {
        const c = text.charCodeAt(i);
        if (escapes && c === BACKSLASH) {
          bump();
          if (i < length) bump();
        } else if (c === quote && text.charCodeAt(i + 1) === quote && text.charCodeAt(i + 2) === quote) {
          i += 3;
          // Up to two more quotes belong to the content: `""""a""""` ends with `"a"`.
          if (text.charCodeAt(i) === quote) i++;
          if (text.charCodeAt(i) === quote) i++;
          return;
        } else bump();
      }
      return;
    }
    i++;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === quote) {
        i++;
        return;
      }
      if (c === LF) return; // unterminated: stay tolerant, the caller resumes on the next line
      i += escapes && c === BACKSLASH ? 2 : 1;
    }
  }
  /** A dotted key: bare, "basic" and 'literal' keys separated by dots with optional blanks. */
  function readKey(): ParsedKey {
    skipSpaces();
    const at = here();
    const names: string[] = [];
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === DQUOTE) {
        const read = readBasicString(text, i + 1);
        if (read === undefined) break;
        names.push(read.value);
        i = read.end;
      } else if (c === SQUOTE) {
        // Scanned by hand, not with indexOf("\n"), which would rescan the rest of a one-line file per key.
        let close = i + 1;
        while (close < length && text.charCodeAt(close) !== SQUOTE && text.charCodeAt(close) !== LF) close++;
        if (text.charCodeAt(close) !== SQUOTE) break;
        names.push(text.slice(i + 1, close));
        i = close + 1;
      } else {
        const start = i;
        while (i < length && isBareKeyChar(text.charCodeAt(i))) i++;
        if (i === start) break;
        names.push(text.slice(start, i));
      }
      skipSpaces();
      if (text.charCodeAt(i) !== DOT) break;
      i++;
      skipSpaces();
    }
    return { names, at };
  }
  /** Records the tables a dotted key implies below `table`, and returns the full path of the key. */
  function keyPath(table: string, key: ParsedKey): string {
    let path = table;
    for (let k = 0; k < key.names.length; k++) {
      path = appendSegment(path, key.names[k]!);
      if (k < key.names.length - 1) mention(path, { key: key.at, value: key.at });
    }
    return path;
  }
  /** `key = value` under `table`; the value's own children are recorded too. */
  function keyValue(table: string): void {
    const key = readKey();
    if (key.names.length === 0) {
      // Not a key: cannot happen in valid TOML, but moving on keeps the scan linear and total.
      if (i < length) bump();
      return;
    }
    const path = keyPath(table, key);
    skipSpaces();
    if (text.charCodeAt(i) === EQUALS) i++;
    skipSpaces();
    define(path, { key: key.at, value: here() });
    value(path);
  }
  /** Walks the items of an array or inline table up to `close`, skipping blanks, comments and commas. */
  function sequence(close: number, item: () => void): void {
    while (i < length) {
      skipBlank();
      const d = text.charCodeAt(i);
      if (d === close) {
        i++;
        return;
      }
      if (d === COMMA) {
        i++;
        continue;
      }
      if (i >= length) return;
      item();
    }
  }

  /** Any value at `i`; records the elements of arrays and the keys of inline tables under `path`. */
  function value(path: string): void {
    const start = i;
    const c = text.charCodeAt(i);
    if (c === DQUOTE || c === SQUOTE) skipString();
    else if (c === LBRACKET) {
      i++;
      let index = 0;
      sequence(RBRACKET, () => {
        const element = appendSegment(path, index++);
        const at = here();
        define(element, { key: at, value: at });
        value(element);
      });
    } else if (c === LBRACE) {
      i++;
      sequence(RBRACE, () => keyValue(path));
    } else {
      // Numbers, booleans, inf/nan, dates and times: up to a delimiter. A space may occur inside
      // (`1979-05-27 07:32:00`), so it does not end the value; trailing blanks are harmless.
      while (i < length) {
        const d = text.charCodeAt(i);
        if (d === COMMA || d === RBRACKET || d === RBRACE || d === HASH || d === LF || d === CR) break;
        i++;
      }
    }
    // A stray delimiter where a value should be: step over it so callers' loops always progress.
    if (i === start && i < length) bump();
  }
  /** `[a.b]` or `[[a.b]]` at `i`; returns the resolved table path the following keys belong to. */
  function header(): string {
    const arrayOfTables = text.charCodeAt(i + 1) === LBRACKET;
    i += arrayOfTables ? 2 : 1;
    const key = readKey();
    const at: KeyLocation = { key: key.at, value: key.at };
    let path = "";
    for (let k = 0; k < key.names.length; k++) {
      path = appendSegment(path, key.names[k]!);
      const last = k === key.names.length - 1;
      if (last && arrayOfTables) {
        mention(path, at);
        const count = tableArrays.get(path) ?? 0;
        tableArrays.set(path, count + 1);
        path = appendSegment(path, count);
        define(path, at);
      } else {
        if (last) define(path, at);
        else mention(path, at);
        // A header below an array of tables extends its latest element.
        const count = tableArrays.get(path);
        if (count !== undefined && !last) path = appendSegment(path, count - 1);
      }
    }
    skipLine();
    return path;
  }

  let table = "";
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === TAB || c === CR || c === LF) bump();
    else if (c === HASH) skipComment();
    else if (c === LBRACKET) table = header();
    else {
      keyValue(table);
      // The rest of the line is blank or a comment in valid TOML.
      skipLine();
    }
  }

  return {
    get(path: string): KeyLocation | undefined {
      const direct = found.get(path);
      if (direct !== undefined) return direct;
      // Accept equivalent spellings (`"web"` for `web`, `my site` for `"my site"`).
      const segments = parseTomlPath(path);
      return segments === undefined ? undefined : found.get(formatTomlPath(segments));
    },
    nearest(path: string): KeyLocation {
      const segments = parseTomlPath(path);
      if (segments === undefined) return found.get(path) ?? DOCUMENT_START;
      for (let n = segments.length; n > 0; n--) {
        const location = found.get(formatTomlPath(segments.slice(0, n)));
        if (location !== undefined) return location;
      }
      return DOCUMENT_START;
    },
    paths(): readonly string[] {
      return [...found.keys()];
    },
  };
}
