import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { formatTomlPath, locateTomlKeys, parseTomlPath } from "../src/config/toml_positions.ts";
import type { KeyLocation, TomlPositions } from "../src/config/toml_positions.ts";

type At = readonly [line: number, column: number];

/** A KeyLocation from [line, column] pairs; an omitted value position means "same as the key". */
function loc(key: At, value: At = key): KeyLocation {
  return { key: { line: key[0], column: key[1] }, value: { line: value[0], column: value[1] } };
}

/** Asserts the exact key and value positions of `path`. */
function assertAt(positions: TomlPositions, path: string, key: At, value: At = key): void {
  assert.deepEqual(positions.get(path), loc(key, value), `position of ${path}`);
}

/** Every path of the parsed document, tables and arrays included, formatted like the locator does. */
function parsedPaths(node: unknown, prefix: readonly (string | number)[] = [], out: string[] = []): string[] {
  if (Array.isArray(node)) {
    node.forEach((element, index) => {
      const path = [...prefix, index];
      out.push(formatTomlPath(path));
      parsedPaths(element, path, out);
    });
  } else if (typeof node === "object" && node !== null && !(node instanceof Date)) {
    for (const [key, value] of Object.entries(node)) {
      const path = [...prefix, key];
      out.push(formatTomlPath(path));
      parsedPaths(value, path, out);
    }
  }
  return out;
}

/** Follows `path` through the parsed document; `found` is false where a segment does not exist. */
function walk(root: unknown, path: string): { found: boolean } {
  const segments = parseTomlPath(path);
  assert.ok(segments !== undefined, `reported path ${path} does not parse`);
  let node: unknown = root;
  for (const segment of segments) {
    if (typeof segment === "number") {
      if (!Array.isArray(node) || segment >= node.length) return { found: false };
      node = node[segment];
    } else {
      if (typeof node !== "object" || node === null || Array.isArray(node) || node instanceof Date) {
        return { found: false };
      }
      if (!Object.hasOwn(node, segment)) return { found: false };
      node = (node as Record<string, unknown>)[segment];
    }
  }
  return { found: true };
}

const EXAMPLE = `[global]
maxconn = 20000            # process-wide concurrent client connections
log = [{ target = "udp://127.0.0.1:514", facility = "local0", format = "rfc5424", level = "info" }]

[defaults]                 # inherited by every frontend and backend unless they set it
mode = "http"
[defaults.timeout]
connect = "5s"

[frontends.web]
bind = [":80", "[::]:80"]
default-backend = "app"

[backends.app]
balance = "leastconn"
check = { type = "http", path = "/health", expect-status = 200, interval = "2s", rise = 2, fall = 3 }
servers = [
  { name = "a", address = "10.0.0.1:8080", weight = 10, maxconn = 100 },
  { name = "b", address = "10.0.0.2:8080", backup = true },
]
`;

const STRINGS = `# a comment with = and [table] and "quote" and 'single'
a = "x # not a comment" # real comment, a = 2
b = 'C:\\path\\#[x]'   # literal: the backslash escapes nothing
c = "esc \\" # = [ still the string \\\\" # after
d = """
multi # line = [x]
  ""quoted"" \\""" still \\
  continued"""
e = '''
literal # = [ ] { }
'''
f = """""x"""""
g = ''''y''''
h = """one line""" # after
`;

const KEYS = `bare_key-1 = 1
"quoted key" = 2
'literal.key' = 3
a.b.c = 4
"a b" . c = 5
x . 'y.z' . "w\\u0021" = 6
"" = 7
1234 = 8
3.14 = 9
`;

const TABLES = `[ a . "b c" ]
k = 1

[[backends.app.servers]]
name = "a"
[backends.app.servers.check]
path = "/"
[[backends.app.servers]]   # second
name = "b"
[[backends.app.servers.tags]]
t = 1
[[backends.app.servers.tags]]
t = 2

[backends]
x = 1
[[ empty ]]
[[empty]]
`;

const ARRAYS = `servers = [ { name = "a" }, { name = "b" } ]
deep = { a = { b = { c = [1, { d = true }] } }, e.f = "g" }
nested = [ [1, 2], [ ["x"], [] ], ]
multi = [
  # a comment, with [brackets] and "quotes"
  "one", # trailing comment
  'two',

  """three
""",
  { k = [ 1,
          2 ], },   # trailing comma above
]
empty = []
none = {}
wrapped = {
  a = 1, # TOML 1.1
  b = 2,
}
`;

const VALUES = `int = +1_000
neg = -17
hex = 0xDEAD_beef
oct = 0o755
bin = 0b1101
flt = -3.141_592e+2
exp = 5E-3
pinf = +inf
ninf = -inf
nan = nan
yes = true
no = false
odt = 1979-05-27T07:32:00.999-07:00
spc = 1979-05-27 07:32:00Z
ldt = 1979-05-27T07:32:00
ld = 1979-05-27
lt = 07:32:00.5
mix = [ 0x1f, -inf, 1979-05-27 07:32:00Z, false, "s" ] # comment
after = 1
`;

/** CRLF line ends, a byte order mark, and keys and values outside ASCII (one outside the BMP). */
const CRLF =
  '\uFEFF[t]\r\nk = "v" # c\r\narr = [\r\n  1,\r\n  2,\r\n]\r\n"\u{1F600}" = { "\u00E9t\u00E9" = 1, z = "\u{1F600}" }\r\n';

test("toml positions: the example configuration", () => {
  const positions = locateTomlKeys(EXAMPLE);
  assertAt(positions, "global", [1, 2]);
  assertAt(positions, "global.maxconn", [2, 1], [2, 11]);
  assertAt(positions, "global.log", [3, 1], [3, 7]);
  assertAt(positions, "global.log[0]", [3, 8]);
  assertAt(positions, "global.log[0].target", [3, 10], [3, 19]);
  assertAt(positions, "global.log[0].facility", [3, 42], [3, 53]);
  assertAt(positions, "global.log[0].level", [3, 83], [3, 91]);
  assertAt(positions, "defaults", [5, 2]);
  assertAt(positions, "defaults.mode", [6, 1], [6, 8]);
  assertAt(positions, "defaults.timeout", [7, 2]);
  assertAt(positions, "defaults.timeout.connect", [8, 1], [8, 11]);
  assertAt(positions, "frontends", [10, 2]);
  assertAt(positions, "frontends.web", [10, 2]);
  assertAt(positions, "frontends.web.bind", [11, 1], [11, 8]);
  assertAt(positions, "frontends.web.bind[0]", [11, 9]);
  assertAt(positions, "frontends.web.bind[1]", [11, 16]);
  assertAt(positions, "frontends.web.default-backend", [12, 1], [12, 19]);
  assertAt(positions, "backends.app", [14, 2]);
  assertAt(positions, "backends.app.balance", [15, 1], [15, 11]);
  assertAt(positions, "backends.app.check", [16, 1], [16, 9]);
  assertAt(positions, "backends.app.check.expect-status", [16, 44], [16, 60]);
  assertAt(positions, "backends.app.check.fall", [16, 92], [16, 99]);
  assertAt(positions, "backends.app.servers", [17, 1], [17, 11]);
  assertAt(positions, "backends.app.servers[0]", [18, 3]);
  assertAt(positions, "backends.app.servers[0].name", [18, 5], [18, 12]);
  assertAt(positions, "backends.app.servers[0].weight", [18, 44], [18, 53]);
  assertAt(positions, "backends.app.servers[0].maxconn", [18, 57], [18, 67]);
  assertAt(positions, "backends.app.servers[1]", [19, 3]);
  assertAt(positions, "backends.app.servers[1].backup", [19, 44], [19, 53]);

  assert.equal(positions.get("backends.app.servers[1].weight"), undefined);
  assert.deepEqual(positions.nearest("backends.app.servers[1].weight"), loc([19, 3]));
  assert.equal(positions.get("backends.app.servers[2]"), undefined);
  assert.deepEqual(positions.nearest("backends.app.servers[2].name"), loc([17, 1], [17, 11]));
  assert.deepEqual(positions.nearest("defaults.timeout.server"), loc([7, 2]));
  assert.deepEqual(positions.nearest("frontends.api.bind"), loc([10, 2]));
  assert.deepEqual(positions.nearest("defaults.timeout.connect"), loc([8, 1], [8, 11]));
  assert.deepEqual(positions.nearest("peers.p1"), loc([1, 1]));
  assert.deepEqual(positions.nearest(""), loc([1, 1]));
});

test("toml positions: comments and strings of every kind hide # = [ { and newlines", () => {
  const positions = locateTomlKeys(STRINGS);
  assert.deepEqual(positions.paths(), ["a", "b", "c", "d", "e", "f", "g", "h"]);
  assertAt(positions, "a", [2, 1], [2, 5]);
  assertAt(positions, "b", [3, 1], [3, 5]);
  assertAt(positions, "c", [4, 1], [4, 5]);
  assertAt(positions, "d", [5, 1], [5, 5]);
  assertAt(positions, "e", [9, 1], [9, 5]);
  assertAt(positions, "f", [12, 1], [12, 5]);
  assertAt(positions, "g", [13, 1], [13, 5]);
  assertAt(positions, "h", [14, 1], [14, 5]);
});

test("toml positions: bare, quoted, literal and dotted keys", () => {
  const positions = locateTomlKeys(KEYS);
  assertAt(positions, "bare_key-1", [1, 1], [1, 14]);
  assertAt(positions, '"quoted key"', [2, 1], [2, 16]);
  assertAt(positions, '"literal.key"', [3, 1], [3, 17]);
  // A dotted key: the key starts at its first segment; the implied tables are located there too.
  assertAt(positions, "a", [4, 1]);
  assertAt(positions, "a.b", [4, 1]);
  assertAt(positions, "a.b.c", [4, 1], [4, 9]);
  assertAt(positions, '"a b".c', [5, 1], [5, 13]);
  // Escapes in quoted keys are decoded, as smol-toml does: "w\u0021" is the key w!.
  assertAt(positions, 'x."y.z"."w!"', [6, 1], [6, 25]);
  assertAt(positions, '""', [7, 1], [7, 6]);
  assertAt(positions, "1234", [8, 1], [8, 8]);
  assertAt(positions, "3.14", [9, 1], [9, 8]);
  assertAt(positions, "3", [9, 1]);
  // Equivalent spellings of a path find the same key.
  assertAt(positions, "quoted key", [2, 1], [2, 16]);
  assertAt(positions, '"a"."b".c', [4, 1], [4, 9]);
  assert.equal(positions.get("literal.key"), undefined, "unquoted, that is the path literal -> key");
});

test("toml positions: table headers and arrays of tables", () => {
  const positions = locateTomlKeys(TABLES);
  assertAt(positions, "a", [1, 3]);
  assertAt(positions, 'a."b c"', [1, 3]);
  assertAt(positions, 'a."b c".k', [2, 1], [2, 5]);
  assertAt(positions, "backends.app.servers", [4, 3]);
  assertAt(positions, "backends.app.servers[0]", [4, 3]);
  assertAt(positions, "backends.app.servers[0].name", [5, 1], [5, 8]);
  // A table header below an array of tables belongs to its latest element.
  assertAt(positions, "backends.app.servers[0].check", [6, 2]);
  assertAt(positions, "backends.app.servers[0].check.path", [7, 1], [7, 8]);
  assertAt(positions, "backends.app.servers[1]", [8, 3]);
  assertAt(positions, "backends.app.servers[1].name", [9, 1], [9, 8]);
  assertAt(positions, "backends.app.servers[1].tags", [10, 3]);
  assertAt(positions, "backends.app.servers[1].tags[0].t", [11, 1], [11, 5]);
  assertAt(positions, "backends.app.servers[1].tags[1]", [12, 3]);
  assertAt(positions, "backends.app.servers[1].tags[1].t", [13, 1], [13, 5]);
  // [backends] defines the table the earlier headers only implied: its own header wins.
  assertAt(positions, "backends", [15, 2]);
  assertAt(positions, "backends.x", [16, 1], [16, 5]);
  assertAt(positions, "empty[0]", [17, 4]);
  assertAt(positions, "empty[1]", [18, 3]);
  assert.equal(positions.get("backends.app.servers[2]"), undefined);
  assert.deepEqual(positions.nearest("backends.app.servers[1].check.path"), loc([8, 3]));
});

test("toml positions: inline tables and arrays, nested, multi-line, with comments and trailing commas", () => {
  const positions = locateTomlKeys(ARRAYS);
  assertAt(positions, "servers", [1, 1], [1, 11]);
  assertAt(positions, "servers[0]", [1, 13]);
  assertAt(positions, "servers[0].name", [1, 15], [1, 22]);
  assertAt(positions, "servers[1]", [1, 29]);
  assertAt(positions, "servers[1].name", [1, 31], [1, 38]);
  assertAt(positions, "deep.a", [2, 10], [2, 14]);
  assertAt(positions, "deep.a.b.c", [2, 22], [2, 26]);
  assertAt(positions, "deep.a.b.c[1]", [2, 30]);
  assertAt(positions, "deep.a.b.c[1].d", [2, 32], [2, 36]);
  assertAt(positions, "deep.e", [2, 49]);
  assertAt(positions, "deep.e.f", [2, 49], [2, 55]);
  assertAt(positions, "nested[0][1]", [3, 16]);
  assertAt(positions, "nested[1][0][0]", [3, 23]);
  assertAt(positions, "nested[1][1]", [3, 29]);
  assert.equal(positions.get("nested[2]"), undefined, "a trailing comma is no element");
  assertAt(positions, "multi", [4, 1], [4, 9]);
  assertAt(positions, "multi[0]", [6, 3]);
  assertAt(positions, "multi[1]", [7, 3]);
  assertAt(positions, "multi[2]", [9, 3]);
  assertAt(positions, "multi[3]", [11, 3]);
  assertAt(positions, "multi[3].k[0]", [11, 11]);
  assertAt(positions, "multi[3].k[1]", [12, 11]);
  assert.equal(positions.get("multi[4]"), undefined);
  assertAt(positions, "empty", [14, 1], [14, 9]);
  assertAt(positions, "none", [15, 1], [15, 8]);
  assertAt(positions, "wrapped.a", [17, 3], [17, 7]);
  assertAt(positions, "wrapped.b", [18, 3], [18, 7]);
});

test("toml positions: values of every type start where the value starts", () => {
  const positions = locateTomlKeys(VALUES);
  const expected: Array<[string, number]> = [
    ["int", 7],
    ["neg", 7],
    ["hex", 7],
    ["oct", 7],
    ["bin", 7],
    ["flt", 7],
    ["exp", 7],
    ["pinf", 8],
    ["ninf", 8],
    ["nan", 7],
    ["yes", 7],
    ["no", 6],
    ["odt", 7],
    ["spc", 7],
    ["ldt", 7],
    ["ld", 6],
    ["lt", 6],
  ];
  expected.forEach(([key, column], index) => assertAt(positions, key, [index + 1, 1], [index + 1, column]));
  assertAt(positions, "mix[0]", [18, 9]);
  assertAt(positions, "mix[1]", [18, 15]);
  // A date with a space inside is one value: the next element starts after it.
  assertAt(positions, "mix[2]", [18, 21]);
  assertAt(positions, "mix[3]", [18, 43]);
  assertAt(positions, "mix[4]", [18, 50]);
  assertAt(positions, "after", [19, 1], [19, 9]);
});

test("toml positions: CRLF, byte order mark, columns in UTF-16 code units", () => {
  const positions = locateTomlKeys(CRLF);
  assertAt(positions, "t", [1, 2]);
  assertAt(positions, "t.k", [2, 1], [2, 5]);
  assertAt(positions, "t.arr[0]", [4, 3]);
  assertAt(positions, "t.arr[1]", [5, 3]);
  assertAt(positions, 't."\u{1F600}"', [7, 1], [7, 8]);
  assertAt(positions, 't."\u{1F600}"."\u00E9t\u00E9"', [7, 10], [7, 18]);
  assertAt(positions, 't."\u{1F600}".z', [7, 21], [7, 25]);
});

test("toml positions: formatTomlPath quotes like TOML and parseTomlPath inverts it", () => {
  assert.equal(formatTomlPath(["backends", "app", "servers", 1, "weight"]), "backends.app.servers[1].weight");
  assert.equal(formatTomlPath(["frontends", "my.site", "bind", 0]), 'frontends."my.site".bind[0]');
  assert.equal(
    formatTomlPath(["a b", 'say "hi"', "back\\slash", "", "new\nline"]),
    '"a b"."say \\"hi\\""."back\\\\slash"."".' + '"new\\nline"',
  );
  assert.equal(formatTomlPath(["x[0]", "é"]), '"x[0]"."é"');
  assert.equal(formatTomlPath([]), "");
  const samples: (string | number)[][] = [
    ["backends", "app", "servers", 1, "weight"],
    ["frontends", "my.site", "bind", 0],
    ["m", 0, 1, 2],
    ["a b", 'say "hi"', "back\\slash", "", "new\nline", "tab\there", "\u0001", "x[0]", "\u{1F600}"],
  ];
  for (const segments of samples) assert.deepEqual(parseTomlPath(formatTomlPath(segments)), segments);
  assert.deepEqual(parseTomlPath("a.my site.b"), ["a", "my site", "b"]);
  assert.deepEqual(parseTomlPath(""), [], "the document root, as formatTomlPath([]) gives it");
  for (const bad of [".a", "a.", "a..b", "a[x]", "a[]", "a[1", '"open', "a[0]b"]) {
    assert.equal(parseTomlPath(bad), undefined, bad);
  }
});

test('toml positions: quoted keys in the path, as in frontends."my.site".bind', () => {
  const text = '[frontends."my.site"]\nbind = [":80"]\n[frontends.my]\nsite = 1\n';
  const positions = locateTomlKeys(text);
  assertAt(positions, 'frontends."my.site".bind', [2, 1], [2, 8]);
  assertAt(positions, 'frontends."my.site".bind[0]', [2, 9]);
  assertAt(positions, "frontends.my.site", [4, 1], [4, 8]);
  assert.deepEqual(positions.nearest('frontends."my.site".mode'), loc([1, 2]));
});

test("toml positions: every reported path exists in smol-toml's result, every parsed node is located", () => {
  for (const [name, text] of Object.entries({ EXAMPLE, STRINGS, KEYS, TABLES, ARRAYS, VALUES, CRLF })) {
    const parsed = parse(text);
    const positions = locateTomlKeys(text);
    for (const path of positions.paths()) {
      assert.ok(walk(parsed, path).found, `${name}: ${path} was reported but smol-toml has no such node`);
    }
    const expected = parsedPaths(parsed);
    for (const path of expected) assert.ok(positions.get(path), `${name}: ${path} was not located`);
    assert.deepEqual([...positions.paths()].sort(), [...expected].sort(), name);
  }
});

test("toml positions: tolerant and linear on input smol-toml would reject", () => {
  for (
    const text of ["[", "[[", "a", "a =", 'a = "open', "a = '''open", "= 1", "a = [1, {b = ", "}]]", "a.=1"]
  ) {
    assert.doesNotThrow(() => locateTomlKeys(text), text);
  }
  // Deep nesting and long lines finish promptly: each character is visited a bounded number of times.
  const deep = "a = " + "[".repeat(2000) + "]".repeat(2000) + "\n";
  assertAt(locateTomlKeys(deep), "a[0][0]", [1, 7]);
  const wide = "a = [" + "1, ".repeat(100_000) + "]\n";
  assertAt(locateTomlKeys(wide), "a[99999]", [1, 6 + 3 * 99_999]);
  const manyStrings = 'a = "' + '\\"#'.repeat(50_000) + '"\nb = 1\n';
  assertAt(locateTomlKeys(manyStrings), "b", [2, 1], [2, 5]);
});
