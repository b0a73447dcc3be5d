/**
 * Configuration files: defaults and inheritance of every key, every error at its exact position,
 * merging of several files, and the examples in docs/config.md and examples/.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { ConfigFileError, formatConfigIssue, loadConfigFiles, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import { DEFAULTS } from "../src/config/types.ts";
import { errorFilePaths } from "../src/config/validate.ts";
import type { TlsValidation } from "../src/config/validate.ts";
import { currentRuntime } from "../src/runtime/detect.ts";
import { parseDuration } from "../src/config/duration.ts";
import { closestMatch } from "../src/config/did_you_mean.ts";

const MINIMAL = `
[frontends.web]
bind = ":8080"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;

function load(text: string, name = "test.toml") {
  return loadConfigSources([{ name, text }]);
}

/** The errors of a configuration that must fail, as "line:col path: message". */
function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues
      .filter((issue: ConfigIssue) => issue.severity === "error")
      .map((issue: ConfigIssue) => `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`);
  }
  throw new Error("the configuration was accepted");
}

describe("defaults and inheritance", () => {
  test("every key has its default", () => {
    const { config, warnings } = load(MINIMAL);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.global, {
      maxconn: DEFAULTS.globalMaxconn,
      pidfile: null,
      tune: { bufsize: 16_384, maxrewrite: 1_024, httpMaxhdr: 101 },
      log: [],
      hardStopAfter: null,
      workers: 1,
      user: null,
      group: null,
      cpuMap: null,
      chroot: null,
      statsSockets: [],
      serverStateFile: null,
    });
    const http = { httpRequestRules: [], httpResponseRules: [], errorFiles: [], connectionMode: "http-keep-alive", httpNoDelay: false };
    const frontend = config.frontends[0]!;
    assert.equal(frontend.mode, "tcp");
    assert.equal(frontend.maxconn, DEFAULTS.frontendMaxconn);
    assert.equal(frontend.backlog, DEFAULTS.backlog);
    assert.deepEqual(frontend.binds, [{ text: ":8080", host: "0.0.0.0", port: 8080, reusePort: true, tls: null, acceptProxy: false }]);
    assert.deepEqual(frontend.timeouts, {
      client: DEFAULTS.timeoutClient,
      httpRequest: DEFAULTS.timeoutHttpRequest,
      httpKeepAlive: DEFAULTS.timeoutHttpKeepAlive,
      inspectDelay: DEFAULTS.timeoutInspectDelay,
    });
    assert.deepEqual(frontend.routes, []);
    assert.deepEqual(frontend.sniRoutes, []);
    assert.deepEqual(frontend.http, http);
    const backend = config.backends[0]!;
    assert.equal(backend.balance, "roundrobin");
    assert.equal(backend.hashKey, null);
    assert.equal(backend.httpReuse, "safe");
    assert.deepEqual(backend.http, http);
    assert.equal(backend.retries, 3);
    assert.equal(backend.redispatch, true);
    assert.equal(backend.allBackups, false);
    assert.deepEqual(backend.timeouts, {
      connect: DEFAULTS.timeoutConnect,
      server: DEFAULTS.timeoutServer,
      queue: DEFAULTS.timeoutConnect,
      tunnel: DEFAULTS.timeoutTunnel,
    });
    assert.deepEqual(backend.servers[0], {
      name: "a",
      address: "10.0.0.1:80",
      host: "10.0.0.1",
      port: 80,
      weight: 1,
      maxconn: 0,
      maxqueue: 0,
      backup: false,
      disabled: false,
      slowstart: 0,
      check: null,
      tls: null,
      sendProxy: { version: 0, ssl: false, sslCn: false, check: undefined },
    });
    assert.ok(Object.isFrozen(config.frontends) && Object.isFrozen(backend.timeouts));
  });

  test("[defaults] is inherited, and a section's own value wins", () => {
    const { config } = load(`
[global]
maxconn = 900
pidfile = "/tmp/proxy.pid"
[defaults]
balance = "leastconn"
retries = 1
redispatch = false
allbackups = true
maxconn = 77
backlog = 64
[defaults.timeout]
connect = "1s"
client = "2m"
server = "3h"
http-request = "4s"
http-keep-alive = 5000
inspect-delay = "7s"
queue = "6s"
tunnel = "1d"
[frontends.a]
bind = "127.0.0.1:1"
default-backend = "x"
[frontends.b]
bind = "127.0.0.1:2"
default-backend = "y"
maxconn = 5
backlog = 6
reuseport = false
timeout = { client = "100ms", inspect-delay = "8s" }
[backends.x]
servers = [{ name = "s", address = "h:1", weight = 256, maxconn = 9, backup = true }]
[backends.y]
balance = "first"
retries = 0
redispatch = true
allbackups = false
timeout = { connect = "2s", tunnel = "0" }
servers = []
`);
    assert.deepEqual(config.global, { maxconn: 900, pidfile: "/tmp/proxy.pid", tune: { bufsize: 16_384, maxrewrite: 1_024, httpMaxhdr: 101 }, log: [],
      hardStopAfter: null, workers: 1, user: null, group: null, cpuMap: null, chroot: null, statsSockets: [],
      serverStateFile: null });
    const [a, b] = config.frontends;
    assert.equal(a!.maxconn, 77);
    assert.equal(a!.backlog, 64);
    assert.deepEqual(a!.timeouts, { client: 120_000, httpRequest: 4_000, httpKeepAlive: 5_000, inspectDelay: 7_000 });
    assert.equal(b!.maxconn, 5);
    assert.equal(b!.backlog, 6);
    assert.equal(b!.binds[0]!.reusePort, false);
    assert.deepEqual(b!.timeouts, { client: 100, httpRequest: 4_000, httpKeepAlive: 5_000, inspectDelay: 8_000 });
    const [x, y] = config.backends;
    assert.deepEqual([x!.balance, x!.retries, x!.redispatch, x!.allBackups], ["leastconn", 1, false, true]);
    assert.deepEqual(x!.timeouts, { connect: 1_000, server: 10_800_000, queue: 6_000, tunnel: 86_400_000 });
    assert.deepEqual([y!.balance, y!.retries, y!.redispatch, y!.allBackups], ["first", 0, true, false]);
    assert.deepEqual(y!.timeouts, { connect: 2_000, server: 10_800_000, queue: 6_000, tunnel: 0 });
    assert.deepEqual(x!.servers[0]!.port, 1);
    assert.deepEqual([x!.servers[0]!.weight, x!.servers[0]!.maxconn, x!.servers[0]!.backup], [256, 9, true]);
  });

  test("durations: units, bare milliseconds, and limits", () => {
    assert.equal(parseDuration("100ms"), 100);
    assert.equal(parseDuration("5s"), 5_000);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration("250"), 250);
    assert.equal(typeof parseDuration("5 s"), "string");
    assert.equal(typeof parseDuration("-1s"), "string");
    assert.equal(typeof parseDuration(1.5), "string");
    assert.equal(typeof parseDuration("30d"), "string");
  });

  test("did-you-mean finds near misses only", () => {
    assert.equal(closestMatch("default_backend", ["default-backend", "bind"]), "default-backend");
    assert.equal(closestMatch("maxcon", ["maxconn", "mode"]), "maxconn");
    assert.equal(closestMatch("zzz", ["maxconn", "mode"]), undefined);
  });
});

describe("errors name file:line:col, the key path, what was found and what is allowed", () => {
  test("an unknown key, with a suggestion", () => {
    assert.deepEqual(errorsOf(MINIMAL + `[backends.app.timeout]\nconect = "1s"\n`), [
      `9:1 backends.app.timeout.conect: Unknown key "conect": did you mean "connect"?`,
    ]);
    assert.deepEqual(errorsOf(MINIMAL.replace('default-backend = "app"', 'default_backend = "app"')), [
      `2:2 frontends.web: Frontend "web" has no "default-backend": name the backend that gets its connections`,
      `4:1 frontends.web.default_backend: Unknown key "default_backend": did you mean "default-backend"?`,
    ]);
    assert.deepEqual(errorsOf(MINIMAL + `[sessions]\nx = 1\n`)[0], `8:2 sessions: Unknown key "sessions": expected one of global, defaults, frontends, backends`);
  });

  test("wrong types and out-of-range values", () => {
    assert.deepEqual(errorsOf(MINIMAL.replace(`address = "10.0.0.1:80" }`, `address = "10.0.0.1:80", weight = 257 }`)), [
      `7:60 backends.app.servers[0].weight: Expected an integer from 0 to 256, found 257`,
    ]);
    assert.deepEqual(errorsOf(`[global]\nmaxconn = "lots"\n` + MINIMAL), [
      `2:11 global.maxconn: Expected an integer from 1 to 10000000, found "lots"`,
    ]);
    assert.deepEqual(errorsOf(`[defaults]\nredispatch = "yes"\nbalance = "roundrobbin"\n` + MINIMAL), [
      `2:14 defaults.redispatch: Expected true or false, found "yes"`,
      `3:11 defaults.balance: Expected one of "roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri", "hdr(NAME)", found "roundrobbin": did you mean "roundrobin"?`,
    ]);
    assert.deepEqual(errorsOf(`[defaults.timeout]\nclient = "30 seconds"\n` + MINIMAL), [
      `2:10 defaults.timeout.client: Invalid duration: expected a duration such as "100ms", "5s", "2m", "1h" or "1d", found "30 seconds"`,
    ]);
  });

  test("addresses", () => {
    assert.deepEqual(errorsOf(MINIMAL.replace('bind = ":8080"', 'bind = [":8080", "127.0.0.1:99999"]')), [
      `3:18 frontends.web.bind[1]: Invalid port in "127.0.0.1:99999": expected 0 to 65535`,
    ]);
    assert.equal(errorsOf(MINIMAL.replace('"10.0.0.1:80"', '"http://10.0.0.1"'))[0], `7:36 backends.app.servers[0].address: Invalid address "http://10.0.0.1": expected HOST:PORT, not a URL`);
  });

  test("cross-references: unknown backend, server names, bind twice, modes", () => {
    assert.deepEqual(errorsOf(MINIMAL.replace('default-backend = "app"', 'default-backend = "apps"')), [
      `4:19 frontends.web.default-backend: Backend "apps" does not exist: did you mean "app"?`,
    ]);
    assert.deepEqual(
      errorsOf(MINIMAL.replace(`servers = [{ name = "a", address = "10.0.0.1:80" }]`, `servers = [\n  { name = "a", address = "h:1" },\n  { name = "a", address = "h:2" },\n]`)),
      [`9:12 backends.app.servers[1].name: Server name "a" is already used by servers[0] of backend "app"`],
    );
    assert.deepEqual(errorsOf(MINIMAL + `[frontends.other]\nbind = ["*:8080"]\ndefault-backend = "app"\n`), [
      `9:9 frontends.other.bind[0]: Address "*:8080" is bound twice: also at frontends.web.bind`,
    ]);
    const modes = errorsOf(MINIMAL.replace("[frontends.web]", `[frontends.web]\nmode = "http"`) + `mode = "tcp"\n`);
    assert.deepEqual(modes, [
      `5:19 frontends.web.default-backend: Frontend "web" is in http mode but backend "app" is in tcp mode`,
    ]);
    assert.deepEqual(errorsOf(`[backends.app]\nservers = []\n`), [
      `1:1 frontends: No frontend is defined: nothing would listen (add a [frontends.NAME] table)`,
    ]);
  });

  test("process keys: workers, user, group, cpu-map, hard-stop-after", () => {
    const { config } = load(
      `[global]\nworkers = 4\nuser = "nobody"\ngroup = 65534\nhard-stop-after = "30s"\n` +
        `cpu-map = { 1 = "0-2,5", 2 = 3, 3 = [1, 0], all = "6" }\n` + MINIMAL,
    );
    assert.equal(config.global.workers, 4);
    assert.equal(config.global.user, "nobody");
    assert.equal(config.global.group, 65534);
    assert.equal(config.global.hardStopAfter, 30_000);
    assert.deepEqual(config.global.cpuMap, { all: [6], byWorker: { 1: [0, 1, 2, 5], 2: [3], 3: [0, 1] } });
    assert.equal(load(`[global]\nworkers = "auto"\ncpu-map = "auto"\n` + MINIMAL).config.global.cpuMap, "auto");
    assert.deepEqual(errorsOf(`[global]\nworkers = 0\nuser = "bad name"\ngroup = -1\nhard-stop-after = "soon"\n` + MINIMAL), [
      `2:11 global.workers: Expected a number of processes from 1 to 256 or "auto", found 0`,
      `3:8 global.user: Expected a user name or a numeric id, found "bad name"`,
      `4:9 global.group: Expected a group name or a numeric id, found -1`,
      `5:19 global.hard-stop-after: Invalid duration: expected a duration such as "100ms", "5s", "2m", "1h" or "1d", found "soon"`,
    ]);
    assert.deepEqual(errorsOf(`[global]\ncpu-map = { 0 = "1", x = "2", 2 = "3-1", 3 = "9999" }\n` + MINIMAL), [
      `2:17 global.cpu-map.0: Expected a worker number from 1 to 256 or "all" as key, found "0"`,
      `2:26 global.cpu-map.x: Expected a worker number from 1 to 256 or "all" as key, found "x"`,
      `2:35 global.cpu-map.2: Expected cores such as "0-3,6", 2 or [0, 1] (each from 0 to 1023), found "3-1"`,
      `2:46 global.cpu-map.3: Expected cores such as "0-3,6", 2 or [0, 1] (each from 0 to 1023), found "9999"`,
    ]);
  });

  test("every error is reported, in file order, and formatted for editors", () => {
    try {
      load(`[global]\nmaxconn = 0\n[frontends.web]\nbind = ":1"\n[backends.app]\nbalance = 3\n`, "etc/proxy.toml");
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      assert.deepEqual(error.issues.map(formatConfigIssue), [
        `etc/proxy.toml:2:11: global.maxconn: Expected an integer from 1 to 10000000, found 0`,
        `etc/proxy.toml:3:2: frontends.web: Frontend "web" has no "default-backend": name the backend that gets its connections`,
        `etc/proxy.toml:5:2: warning: backends.app: Backend "app" has no servers: its clients will be turned away`,
        `etc/proxy.toml:6:11: backends.app.balance: Expected one of "roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri", "hdr(NAME)", found 3`,
      ]);
      assert.match(error.message, /^Configuration has 3 errors:\netc\/proxy\.toml:2:11: /);
    }
  });

  test("a TOML syntax error has its position", () => {
    assert.deepEqual(errorsOf(`[frontends.web]\nbind = ":80\n`), [`2:12 : Invalid TOML: control characters are not allowed in strings`]);
    assert.deepEqual(errorsOf(`[frontends.web\nbind = ":80"\n`), [`1:15 : Invalid TOML: illegal character in key`]);
  });
});

describe("forwardfor, forwarded-proto, forwarded-host", () => {
  const HTTP = MINIMAL.replace("[frontends.web]", `[frontends.web]\nmode = "http"`).replace("[backends.app]", `[backends.app]\nmode = "http"`);

  test("off by default, on with true, in either section", () => {
    const { config, warnings } = load(HTTP);
    assert.deepEqual(warnings, []);
    const off = { forwardFor: null, forwardedProto: false, forwardedHost: false };
    assert.deepEqual(config.frontends[0]!.forwarded, off);
    assert.deepEqual(config.backends[0]!.forwarded, off);
    const on = load(HTTP.replace(`mode = "http"\nbind`, `mode = "http"\nforwardfor = true\nforwarded-proto = true\nbind`)
      .replace(`[backends.app]\n`, `[backends.app]\nforwarded-host = true\n`)).config;
    assert.deepEqual(on.frontends[0]!.forwarded, {
      forwardFor: { except: null, header: "X-Forwarded-For", ifNone: false },
      forwardedProto: true,
      forwardedHost: false,
    });
    assert.deepEqual(on.backends[0]!.forwarded, { forwardFor: null, forwardedProto: false, forwardedHost: true });
  });

  test("a table sets except, header and if-none; [defaults] is inherited and a section's own value wins", () => {
    const { config } = load(`
[defaults]
mode = "http"
forwardfor = { except = "127.0.0.1/8", header = "X-Client", if-none = true }
forwarded-host = true
[frontends.a]
bind = "127.0.0.1:1"
default-backend = "x"
[frontends.b]
bind = "127.0.0.1:2"
default-backend = "x"
forwardfor = false
forwarded-host = false
[backends.x]
forwardfor = { except = "2001:db8::/32" }
servers = []
`);
    const [a, b] = config.frontends;
    const inherited = a!.forwarded.forwardFor!;
    assert.deepEqual([inherited.except!.text, [...inherited.except!.bytes], inherited.except!.prefix], ["127.0.0.1/8", [127, 0, 0, 0], 8]);
    assert.deepEqual([inherited.header, inherited.ifNone, a!.forwarded.forwardedHost], ["X-Client", true, true]);
    assert.deepEqual(b!.forwarded, { forwardFor: null, forwardedProto: false, forwardedHost: false });
    const own = config.backends[0]!.forwarded.forwardFor!;
    assert.deepEqual([own.except!.family, own.except!.prefix, own.header, own.ifNone], [6, 32, "X-Forwarded-For", false]);
    assert.ok(Object.isFrozen(a!.forwarded) && Object.isFrozen(inherited));
  });

  test("errors at their positions, with the value quoted and did-you-mean for sub-keys", () => {
    assert.deepEqual(errorsOf(HTTP.replace(`bind = ":8080"`, `bind = ":8080"\nforwardfor = { except = "10.0.0.0/33" }`)), [
      `5:25 frontends.web.forwardfor.except: Invalid network "10.0.0.0/33": the prefix length must be an integer from 0 to 32`,
    ]);
    assert.deepEqual(errorsOf(HTTP.replace(`bind = ":8080"`, `bind = ":8080"\nforwardfor = { exept = "10.0.0.0/8", if-none = "yes" }`)), [
      `5:16 frontends.web.forwardfor.exept: Unknown key "exept": did you mean "except"?`,
      `5:48 frontends.web.forwardfor.if-none: Expected true or false, found "yes"`,
    ]);
    assert.deepEqual(errorsOf(`[defaults]\nforwardfor = "yes"\nforwarded-proto = 1\nforwarded-hots = true\n` + MINIMAL), [
      `2:14 defaults.forwardfor: Expected true, false or a table such as { except = "127.0.0.0/8" }, found "yes"`,
      `3:19 defaults.forwarded-proto: Expected true or false, found 1`,
      `4:1 defaults.forwarded-hots: Unknown key "forwarded-hots": did you mean "forwarded-host"?`,
    ]);
    assert.deepEqual(errorsOf(HTTP + `forwardfor = { except = "localhost", header = "X Client" }\n`), [
      `10:25 backends.app.forwardfor.except: Invalid network "localhost": expected an IPv4 or IPv6 network such as "10.0.0.0/8" or "2001:db8::/32"`,
      `10:47 backends.app.forwardfor.header: Invalid header name "X Client": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`,
    ]);
  });

  test("set in a tcp-mode section: a warning", () => {
    const { warnings } = load(MINIMAL.replace(`bind = ":8080"`, `bind = ":8080"\nforwardfor = true`));
    assert.deepEqual(warnings.map((w) => `${w.line}:${w.column} ${w.path}: ${w.message}`), [
      `4:14 frontends.web.forwardfor: "forwardfor" has no effect in tcp mode: it adds a header to http requests`,
    ]);
  });
});

/** http mode everywhere; the frontend's keys go before `default-backend` (line 7), the backend's at the end. */
const HTTP_MINIMAL = `
[defaults]
mode = "http"

[frontends.web]
bind = ":8080"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;

/** HTTP_MINIMAL with `lines` added to the frontend, before its default-backend. */
function withFrontend(lines: string, text = HTTP_MINIMAL): string {
  return text.replace(`default-backend = "app"`, `${lines}\ndefault-backend = "app"`);
}

function warningsOf(text: string): string[] {
  return load(text).warnings.map((w) => `${w.line}:${w.column} ${w.path}: ${w.message}`);
}

describe("[global.tune]", () => {
  test("sets bufsize, maxrewrite and http-maxhdr; maxrewrite's default stays below half of bufsize", () => {
    const tuned = load(`[global.tune]\nbufsize = 65536\nmaxrewrite = 4096\nhttp-maxhdr = 200\n` + MINIMAL).config.global.tune;
    assert.deepEqual(tuned, { bufsize: 65_536, maxrewrite: 4_096, httpMaxhdr: 200 });
    assert.ok(Object.isFrozen(tuned));
    assert.deepEqual(load(`[global.tune]\nbufsize = 1024\n` + MINIMAL).config.global.tune, { bufsize: 1_024, maxrewrite: 511, httpMaxhdr: 101 });
  });

  test("errors", () => {
    assert.deepEqual(errorsOf(`[global.tune]\nbufsize = 512\nhttp-maxhdr = 40000\nbuf-size = 1\n` + MINIMAL), [
      `2:11 global.tune.bufsize: Expected an integer from 1024 to 1048576, found 512`,
      `3:15 global.tune.http-maxhdr: Expected an integer from 1 to 32767, found 40000`,
      `4:1 global.tune.buf-size: Unknown key "buf-size": did you mean "bufsize"?`,
    ]);
    assert.deepEqual(errorsOf(`[global.tune]\nbufsize = 4096\nmaxrewrite = 2048\n` + MINIMAL), [
      `3:14 global.tune.maxrewrite: Expected an integer from 0 to 2047, below half of bufsize (4096), found 2048`,
    ]);
  });
});

describe("balance uri and hdr", () => {
  // Keys appended to HTTP_MINIMAL land in [backends.app], at line 11.
  const HTTP_BACKEND = HTTP_MINIMAL;

  test("string forms, HAProxy's spelling", () => {
    const uri = load(HTTP_BACKEND + `balance = "uri"\n`).config.backends[0]!;
    assert.equal(uri.balance, "uri");
    assert.deepEqual(uri.hashKey, { kind: "uri", depth: 0, len: 0, whole: false, pathOnly: false });
    const hdr = load(HTTP_BACKEND + `balance = "hdr(X-Session)"\n`).config.backends[0]!;
    assert.equal(hdr.balance, "hdr");
    assert.deepEqual(hdr.hashKey, { kind: "hdr", name: "X-Session", lowerName: "x-session", useDomainOnly: false });
  });

  test("table forms with their parameters; other algorithms have no hash key", () => {
    const uri = load(HTTP_BACKEND + `balance = { algorithm = "uri", depth = 2, len = 64, whole = true, path-only = true }\n`).config.backends[0]!;
    assert.deepEqual(uri.hashKey, { kind: "uri", depth: 2, len: 64, whole: true, pathOnly: true });
    const hdr = load(HTTP_BACKEND + `balance = { algorithm = "hdr", name = "Host", use-domain-only = true }\n`).config.backends[0]!;
    assert.deepEqual([hdr.balance, hdr.hashKey], ["hdr", { kind: "hdr", name: "Host", lowerName: "host", useDomainOnly: true }]);
    const plain = load(HTTP_BACKEND + `balance = { algorithm = "leastconn" }\n`).config.backends[0]!;
    assert.deepEqual([plain.balance, plain.hashKey], ["leastconn", null]);
  });

  test("inherited from [defaults] with its parameters, and replaced whole by a section's own", () => {
    const text = HTTP_MINIMAL.replace(`mode = "http"`, `mode = "http"\nbalance = { algorithm = "uri", depth = 3 }`) +
      `[backends.other]\nbalance = "source"\nservers = []\n`;
    const [app, other] = load(text).config.backends;
    assert.deepEqual([app!.balance, app!.hashKey], ["uri", { kind: "uri", depth: 3, len: 0, whole: false, pathOnly: false }]);
    assert.deepEqual([other!.balance, other!.hashKey], ["source", null]);
  });

  test("errors: hdr without a name, parameters in the string, unknown parameters, tcp mode", () => {
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = "hdr"\n`), [
      `11:11 backends.app.balance: Balance "hdr" needs the name of the header to hash: write "hdr(NAME)", e.g. "hdr(Host)"`,
    ]);
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = "hdr(X Y)"\n`), [
      `11:11 backends.app.balance: Invalid header name "X Y" in "hdr(X Y)": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`,
    ]);
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = "uri depth 2"\n`), [
      `11:11 backends.app.balance: Invalid balance "uri depth 2": give the parameters of "uri" in a table, e.g. balance = { algorithm = "uri", depth = 2 }`,
    ]);
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = { algorithm = "uri", dept = 2, name = "Host", depth = -1 }\n`), [
      `11:32 backends.app.balance.dept: Unknown key "dept": did you mean "depth"?`,
      `11:42 backends.app.balance.name: Key "name" does not apply to algorithm "uri": expected one of algorithm, depth, len, whole, path-only`,
      `11:65 backends.app.balance.depth: Expected an integer from 0 to 255, found -1`,
    ]);
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = { algorithm = "hdr" }\n`), [
      `11:11 backends.app.balance: Missing "name": balance "hdr" hashes the header it names, e.g. { algorithm = "hdr", name = "Host" }`,
    ]);
    assert.deepEqual(errorsOf(HTTP_BACKEND + `balance = { depth = 2 }\n`), [
      `11:11 backends.app.balance: Missing "algorithm": e.g. balance = { algorithm = "uri", depth = 2 }`,
    ]);
    assert.deepEqual(errorsOf(MINIMAL + `balance = "uri"\n`), [
      `8:11 backends.app.balance: Balance "uri" needs http mode (it hashes the request's URI): backend "app" is in tcp mode`,
    ]);
    assert.deepEqual(errorsOf(`[defaults]\nbalance = "hdr(Host)"\n` + MINIMAL), [
      `8:2 backends.app: Backend "app" is in tcp mode but inherits balance "hdr" from [defaults], which needs http mode: give it its own balance`,
    ]);
  });
});

describe("http-reuse, http-connection-mode, http-no-delay", () => {
  test("defaults, inheritance, and a section's own value", () => {
    const { config } = load(HTTP_MINIMAL.replace(`mode = "http"`, `mode = "http"\nhttp-reuse = "never"\nhttp-connection-mode = "http-server-close"\nhttp-no-delay = true`) +
      `http-reuse = "always"\nhttp-connection-mode = "httpclose"\nhttp-no-delay = false\n`);
    const frontend = config.frontends[0]!;
    const backend = config.backends[0]!;
    assert.deepEqual([frontend.http.connectionMode, frontend.http.httpNoDelay], ["http-server-close", true]);
    assert.deepEqual([backend.httpReuse, backend.http.connectionMode, backend.http.httpNoDelay], ["always", "httpclose", false]);
    const plain = load(HTTP_MINIMAL).config;
    assert.deepEqual([plain.backends[0]!.httpReuse, plain.frontends[0]!.http.connectionMode, plain.frontends[0]!.http.httpNoDelay], ["safe", "http-keep-alive", false]);
  });

  test("errors, and a warning in tcp mode", () => {
    assert.deepEqual(errorsOf(withFrontend(`http-connection-mode = "keep-alive"\nhttp-no-delay = "yes"\nhttp-reuse = "safe"`)), [
      `7:24 frontends.web.http-connection-mode: Expected one of "http-keep-alive", "http-server-close", "httpclose", found "keep-alive"`,
      `8:17 frontends.web.http-no-delay: Expected true or false, found "yes"`,
      `9:1 frontends.web.http-reuse: Unknown key "http-reuse": did you mean "http-request"?`,
    ]);
    assert.deepEqual(errorsOf(HTTP_MINIMAL + `http-reuse = "sometimes"\n`), [
      `11:14 backends.app.http-reuse: Expected one of "never", "safe", "always", found "sometimes"`,
    ]);
    assert.deepEqual(warningsOf(MINIMAL + `http-reuse = "never"\nhttp-no-delay = true\n`), [
      `8:14 backends.app.http-reuse: "http-reuse" has no effect in tcp mode: it applies to server connections carrying http requests`,
      `9:17 backends.app.http-no-delay: "http-no-delay" has no effect in tcp mode: it applies to http message bodies`,
    ]);
  });
});

describe("routes", () => {
  const ROUTED = `
[defaults]
mode = "http"

[frontends.web]
bind = ":8080"
default-backend = "app"

[[frontends.web.routes]]
backend = "api"
host = ["API.example.com", "*.api.example.com", "[2001:DB8::1]"]
path-prefix = "/api/"

[[frontends.web.routes]]
backend = "api"
path = ["/status", "/version"]
path-regex = "^/v[0-9]+/"
method = "GET"
header = [{ name = "X-Env", equals = "prod" }, { name = "X-Debug", present = false }, { name = "Cookie", regex = "session=" }]
source = ["10.0.0.0/8", "2001:db8::/32"]

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]

[backends.api]
servers = [{ name = "b", address = "10.0.0.2:80" }]
`;

  test("matchers, in order; lists are OR, matchers are AND", () => {
    const { config, warnings } = load(ROUTED);
    assert.deepEqual(warnings, []);
    const [first, second] = config.frontends[0]!.routes;
    assert.equal(first!.backend, "api");
    assert.deepEqual(first!.condition, {
      hosts: ["api.example.com", "*.api.example.com", "2001:db8::1"],
      paths: null,
      pathPrefixes: ["/api/"],
      pathRegex: null,
      methods: null,
      headers: null,
      sources: null,
      tls: null,
      sni: null,
      alpn: null,
      clientCert: null,
      ppAuthority: null,
    });
    const condition = second!.condition;
    assert.deepEqual([condition.paths, condition.methods, condition.hosts], [["/status", "/version"], ["GET"], null]);
    assert.ok(condition.pathRegex!.test("/v2/users") && !condition.pathRegex!.test("/users"));
    assert.deepEqual(condition.headers!.map((h) => [h.name, h.lowerName, h.present, h.equals, h.regex?.source ?? null]), [
      ["X-Env", "x-env", true, "prod", null],
      ["X-Debug", "x-debug", false, null, null],
      ["Cookie", "cookie", true, null, "session="],
    ]);
    assert.deepEqual(condition.sources!.map((cidr) => cidr.text), ["10.0.0.0/8", "2001:db8::/32"]);
    assert.ok(Object.isFrozen(config.frontends[0]!.routes) && Object.isFrozen(condition) && Object.isFrozen(condition.headers![0]));
  });

  test("default-backend is optional for an http frontend with routes (unmatched requests get a 503)", () => {
    const { config } = load(ROUTED.replace(`default-backend = "app"\n`, ""));
    assert.equal(config.frontends[0]!.defaultBackend, "");
    // In tcp mode routes match the ClientHello's server name: request matchers are refused.
    assert.deepEqual(errorsOf(ROUTED.replace(`default-backend = "app"\n`, `mode = "tcp"\n`)).slice(0, 2), [
      `11:1 frontends.web.routes[0].host: "host" needs http mode: in tcp-mode frontend "web" a route matches the server name of the TLS ClientHello (sni)`,
      `12:1 frontends.web.routes[0].path-prefix: "path-prefix" needs http mode: in tcp-mode frontend "web" a route matches the server name of the TLS ClientHello (sni)`,
    ]);
  });

  test("a route without a matcher, unknown or tcp backends, bad matchers", () => {
    assert.deepEqual(errorsOf(ROUTED.replace(`host = ["API.example.com", "*.api.example.com", "[2001:DB8::1]"]\npath-prefix = "/api/"\n`, "")), [
      `9:3 frontends.web.routes[0]: Route has no matcher: it would take every request, hiding default-backend and the routes after it; give at least one of host, path, path-prefix, path-regex, method, header, source, tls, sni, alpn, client-cert, pp-authority (or make "api" the default-backend)`,
    ]);
    assert.deepEqual(errorsOf(ROUTED.replace(`backend = "api"\nhost`, `backend = "apii"\nhost`)), [
      `10:11 frontends.web.routes[0].backend: Backend "apii" does not exist: did you mean "api"?`,
    ]);
    assert.deepEqual(errorsOf(ROUTED + `mode = "tcp"\n`), [
      `10:11 frontends.web.routes[0].backend: Backend "api" is in tcp mode: a route leads requests to an http backend`,
      `15:11 frontends.web.routes[1].backend: Backend "api" is in tcp mode: a route leads requests to an http backend`,
    ]);
    assert.deepEqual(errorsOf(ROUTED.replace(`host = ["API.example.com", "*.api.example.com", "[2001:DB8::1]"]`, `host = ["exa mple.com", "example.com:8080", "*", "[1::zz]", []]`)), [
      `11:9 frontends.web.routes[0].host[0]: Invalid host "exa mple.com": expected a host name such as "example.com", "*.example.com" (any subdomain of example.com) or "192.0.2.1"`,
      `11:25 frontends.web.routes[0].host[1]: Invalid host "example.com:8080": give it without a port: the port is removed from the Host header before matching`,
      `11:45 frontends.web.routes[0].host[2]: Invalid host "*": expected a host name such as "example.com", "*.example.com" (any subdomain of example.com) or "192.0.2.1"`,
      `11:50 frontends.web.routes[0].host[3]: Invalid host "[1::zz]": expected an IPv6 address such as "2001:db8::1" or "[2001:db8::1]"`,
      `11:61 frontends.web.routes[0].host[4]: Expected a non-empty string, found an array`,
    ]);
    assert.deepEqual(errorsOf(ROUTED.replace(`path = ["/status", "/version"]`, `path = ["status", "/a?b", "/a b"]`).replace(`method = "GET"`, `method = ["G ET"]`)), [
      `16:9 frontends.web.routes[1].path[0]: Invalid path "status": a path starts with "/"`,
      `16:19 frontends.web.routes[1].path[1]: Invalid path "/a?b": the query string is not part of a path (it starts at "?")`,
      `16:27 frontends.web.routes[1].path[2]: Invalid path "/a b": spaces, "#", control and non-ASCII characters cannot appear in a request's path: write them percent-encoded, as requests carry them`,
      `18:11 frontends.web.routes[1].method[0]: Invalid method "G ET": a method is a token (letters, digits and ! # $ % & ' * + - . ^ _ \` | ~)`,
    ]);
    const regexError = errorsOf(ROUTED.replace(`path-regex = "^/v[0-9]+/"`, `path-regex = "(unclosed"`));
    assert.equal(regexError.length, 1);
    assert.match(regexError[0]!, /^17:14 frontends\.web\.routes\[1\]\.path-regex: Invalid regular expression "\(unclosed": \S/);
  });

  test("header tests and sources", () => {
    const headerLine = `header = [{ name = "X-Env", equals = "prod" }, { name = "X-Debug", present = false }, { name = "Cookie", regex = "session=" }]`;
    assert.deepEqual(errorsOf(ROUTED.replace(headerLine, `header = [{ name = "X Env" }, { name = "X-Debug", present = false, equals = "1" }, { equals = "1" }, { name = "A", equals = "1", regex = "1" }, { nmae = "B" }]`)), [
      `19:20 frontends.web.routes[1].header[0].name: Invalid header name "X Env": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`,
      `19:61 frontends.web.routes[1].header[1].present: "present = false" tests that the header is absent: it cannot be combined with "equals" or "regex"`,
      `19:84 frontends.web.routes[1].header[2]: Missing "name": a header test names its header, e.g. { name = "X-Env", equals = "prod" }`,
      `19:138 frontends.web.routes[1].header[3].regex: Give "equals" or "regex", not both: to require both, write two header tests`,
      `19:145 frontends.web.routes[1].header[4]: Missing "name": a header test names its header, e.g. { name = "X-Env", equals = "prod" }`,
      `19:147 frontends.web.routes[1].header[4].nmae: Unknown key "nmae": did you mean "name"?`,
    ]);
    assert.deepEqual(errorsOf(ROUTED.replace(headerLine, `header = []\nsource = "10.0.0.0/40"`).replace(`source = ["10.0.0.0/8", "2001:db8::/32"]\n`, "")), [
      `19:10 frontends.web.routes[1].header: Expected a header test such as { name = "X-Env", equals = "prod" } or a non-empty array of them, found an empty array`,
      `20:10 frontends.web.routes[1].source: Invalid network "10.0.0.0/40": the prefix length must be an integer from 0 to 32`,
    ]);
  });

  test("lower-case methods get a warning: methods are case-sensitive", () => {
    assert.deepEqual(warningsOf(ROUTED.replace(`method = "GET"`, `method = ["GET", "get"]`)), [
      `18:18 frontends.web.routes[1].method[1]: Method "get" is not upper case: methods are case-sensitive, so it matches only requests that write it "get"`,
    ]);
  });
});

describe("http-request and http-response rules", () => {
  test("every action with its defaults, guards, in order", () => {
    const { config, warnings } = load(withFrontend(`http-request = [
  { action = "set-header", name = "X-Env", value = "prod" },
  { action = "add-header", name = "X-Empty", value = "" },
  { action = "del-header", name = "X-Debug", unless = { source = "10.0.0.0/8" } },
  { action = "set-path", path = "/v2/", if = { path-prefix = "/v1/" } },
  { action = "redirect", location = "https://example.com/moved" },
  { action = "redirect", prefix = "https://www.example.com", code = 308, drop-query = true },
  { action = "redirect", scheme = "https", if = { host = "*.example.com" } },
  { action = "deny" },
  { action = "deny", status = 429 },
  { action = "return" },
  { action = "return", status = 503, content-type = "application/json", body = "{}" },
]
http-response = [{ action = "set-header", name = "X-Frame-Options", value = "DENY", if = { method = "GET" } }]`));
    assert.deepEqual(warnings, []);
    const rules = config.frontends[0]!.http.httpRequestRules;
    const plain = rules.map((rule) => ({ ...rule, when: rule.when === null ? null : rule.when.negate ? "unless" : "if" }));
    assert.deepEqual(plain, [
      { action: "set-header", name: "X-Env", value: "prod", when: null },
      { action: "add-header", name: "X-Empty", value: "", when: null },
      { action: "del-header", name: "X-Debug", when: "unless" },
      { action: "set-path", path: "/v2/", when: "if" },
      { action: "redirect", code: 302, location: "https://example.com/moved", prefix: null, scheme: null, dropQuery: false, when: null },
      { action: "redirect", code: 308, location: null, prefix: "https://www.example.com", scheme: null, dropQuery: true, when: null },
      { action: "redirect", code: 302, location: null, prefix: null, scheme: "https", dropQuery: false, when: "if" },
      { action: "deny", status: 403, when: null },
      { action: "deny", status: 429, when: null },
      { action: "return", status: 200, contentType: "text/plain", body: "", when: null },
      { action: "return", status: 503, contentType: "application/json", body: "{}", when: null },
    ]);
    assert.deepEqual(rules[2]!.when!.condition.sources!.map((cidr) => cidr.text), ["10.0.0.0/8"]);
    assert.deepEqual(rules[6]!.when!.condition.hosts, ["*.example.com"]);
    const response = config.frontends[0]!.http.httpResponseRules;
    assert.deepEqual(response.map((rule) => [rule.action, rule.name, rule.when!.condition.methods]), [["set-header", "X-Frame-Options", ["GET"]]]);
    assert.ok(Object.isFrozen(rules) && Object.isFrozen(rules[0]));
  });

  test("[defaults] rules apply to sections that set none; [] sets them aside", () => {
    const text = HTTP_MINIMAL.replace(`mode = "http"`, `mode = "http"\nhttp-request = [{ action = "del-header", name = "X-Debug" }]\nhttp-response = [{ action = "del-header", name = "Server" }]`) +
      `http-request = [{ action = "set-header", name = "X-Backend", value = "app" }]\nhttp-response = []\n` +
      `[backends.tcp]\nmode = "tcp"\nservers = []\n`;
    const { config } = load(text);
    const frontend = config.frontends[0]!.http;
    const [app, tcp] = config.backends;
    assert.deepEqual(frontend.httpRequestRules.map((rule) => rule.action), ["del-header"]);
    assert.deepEqual(frontend.httpResponseRules.map((rule) => rule.action), ["del-header"]);
    assert.deepEqual(app!.http.httpRequestRules.map((rule) => rule.action), ["set-header"]);
    assert.deepEqual(app!.http.httpResponseRules, []);
    // A tcp section inherits them without complaint: it never applies them.
    assert.equal(tcp!.http.httpRequestRules.length, 1);
  });

  test("rules that would break framing or hop-by-hop handling are refused", () => {
    const errors = errorsOf(withFrontend(`http-request = [
  { action = "set-header", name = "Content-Length", value = "0" },
  { action = "del-header", name = "transfer-encoding" },
  { action = "add-header", name = "Connection", value = "close" },
  { action = "set-header", name = "Upgrade", value = "websocket" },
  { action = "del-header", name = "TE" },
  { action = "set-header", name = "Trailer", value = "X" },
]
http-response = [{ action = "del-header", name = "Keep-Alive" }, { action = "set-header", name = "Proxy-Connection", value = "x" }]`));
    assert.deepEqual(errors, [
      `8:35 frontends.web.http-request[0].name: Header "Content-Length" cannot be changed by a rule: it frames the message body, which the proxy keeps consistent`,
      `9:35 frontends.web.http-request[1].name: Header "transfer-encoding" cannot be changed by a rule: it frames the message body, which the proxy keeps consistent`,
      `10:35 frontends.web.http-request[2].name: Header "Connection" cannot be changed by a rule: it is hop-by-hop: the proxy handles it on each connection`,
      `11:35 frontends.web.http-request[3].name: Header "Upgrade" cannot be changed by a rule: it is hop-by-hop: the proxy handles it on each connection`,
      `12:35 frontends.web.http-request[4].name: Header "TE" cannot be changed by a rule: it is hop-by-hop: the proxy handles it on each connection`,
      `13:35 frontends.web.http-request[5].name: Header "Trailer" cannot be changed by a rule: it announces the fields after a chunked body, which the proxy forwards as they are`,
      `15:50 frontends.web.http-response[0].name: Header "Keep-Alive" cannot be changed by a rule: it is hop-by-hop: the proxy handles it on each connection`,
      `15:98 frontends.web.http-response[1].name: Header "Proxy-Connection" cannot be changed by a rule: it is hop-by-hop: the proxy handles it on each connection`,
    ]);
  });

  test("header values: no CR, LF or NUL, latin1 only", () => {
    assert.deepEqual(errorsOf(withFrontend(`http-request = [
  { action = "set-header", name = "X-A", value = "a\\r\\nX-Injected: 1" },
  { action = "set-header", name = "X-B", value = "nul\\u0000" },
  { action = "set-header", name = "X-C", value = "price in €" },
  { action = "set-header", name = "X-D", value = "café" },
  { action = "set-header", name = "X E", value = "1" },
]`)), [
      `8:50 frontends.web.http-request[0].value: Invalid header value "a\\r\\nX-Injected: 1": it contains a CR, LF or NUL character, which would split or end the header`,
      `9:50 frontends.web.http-request[1].value: Invalid header value "nul\\u0000": it contains a CR, LF or NUL character, which would split or end the header`,
      `10:50 frontends.web.http-request[2].value: Invalid header value "price in €": character "€" is not latin1: a header value is bytes, write it percent-encoded`,
      `12:35 frontends.web.http-request[4].name: Invalid header name "X E": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`,
    ]);
  });

  test("actions and their arguments", () => {
    assert.deepEqual(errorsOf(withFrontend(`http-request = [
  { action = "rewrite" },
  { name = "X-A" },
  { action = "set-header", name = "X-A" },
  { action = "set-header", name = "X-A", value = "1", status = 200 },
  { action = "del-header", nmae = "X-A" },
  { action = "set-path", path = "v2" },
  { action = "set-path", path = "/v2?x=1" },
  { action = "redirect" },
  { action = "redirect", location = "/a", scheme = "https" },
  { action = "redirect", scheme = "ftp", code = 300 },
  { action = "deny", status = 99 },
  { action = "return", status = 204, body = "x" },
]
http-response = [{ action = "deny" }, { action = "return" }]`)), [
      `8:14 frontends.web.http-request[0].action: Expected one of "set-header", "add-header", "del-header", "set-path", "redirect", "deny", "return", found "rewrite"`,
      `9:3 frontends.web.http-request[1]: Missing "action": expected one of "set-header", "add-header", "del-header", "set-path", "redirect", "deny", "return"`,
      `10:3 frontends.web.http-request[2]: Missing "value": action "set-header" needs name and value`,
      `11:55 frontends.web.http-request[3].status: Key "status" does not apply to action "set-header": expected one of action, name, value, if, unless`,
      `12:3 frontends.web.http-request[4]: Missing "name": action "del-header" needs name`,
      `12:28 frontends.web.http-request[4].nmae: Unknown key "nmae": did you mean "name"?`,
      `13:33 frontends.web.http-request[5].path: Invalid path "v2": a path starts with "/"`,
      `14:33 frontends.web.http-request[6].path: Invalid path "/v2?x=1": the query string is not part of a path (it starts at "?"); set-path keeps the request's query string`,
      `15:3 frontends.web.http-request[7]: Missing the target: action "redirect" needs one of "location", "prefix" or "scheme"`,
      `16:43 frontends.web.http-request[8].scheme: Give only one of "location", "prefix" and "scheme": this redirect has "location" and "scheme"`,
      `17:35 frontends.web.http-request[9].scheme: Expected one of "http", "https", found "ftp"`,
      `17:49 frontends.web.http-request[9].code: Expected one of 301, 302, 303, 307, 308, found 300`,
      `18:31 frontends.web.http-request[10].status: Expected an integer from 200 to 599, found 99`,
      `19:45 frontends.web.http-request[11].body: A 204 response has no body: remove "body" or use another status`,
      `21:29 frontends.web.http-response[0].action: Action "deny" is not available in http-response: expected one of "set-header", "add-header", "del-header"`,
      `21:50 frontends.web.http-response[1].action: Action "return" is not available in http-response: expected one of "set-header", "add-header", "del-header"`,
    ]);
  });

  test("http-response lists its own actions", () => {
    assert.deepEqual(errorsOf(HTTP_MINIMAL + `http-response = [{ action = "replace-header" }]\n`), [
      `11:29 backends.app.http-response[0].action: Expected one of "set-header", "add-header", "del-header", found "replace-header"`,
    ]);
  });

  test("guards", () => {
    assert.deepEqual(errorsOf(withFrontend(`http-request = [
  { action = "deny", if = { path = "/a" }, unless = { path = "/b" } },
  { action = "deny", if = {} },
  { action = "deny", unless = "internal" },
  { action = "deny", if = { paht = "/a" } },
  { action = "deny", if = { host = "a b" } },
]`)), [
      `8:44 frontends.web.http-request[0].unless: Give "if" or "unless", not both`,
      `9:27 frontends.web.http-request[1].if: Empty condition: give at least one of host, path, path-prefix, path-regex, method, header, source, tls, sni, alpn, client-cert, pp-authority (without "if", the rule always applies)`,
      `10:31 frontends.web.http-request[2].unless: Expected a condition such as { path-prefix = "/admin/" }, found "internal"`,
      `11:27 frontends.web.http-request[3].if: Empty condition: give at least one of host, path, path-prefix, path-regex, method, header, source, tls, sni, alpn, client-cert, pp-authority (without "if", the rule always applies)`,
      `11:29 frontends.web.http-request[3].if.paht: Unknown key "paht": did you mean "path"?`,
      `12:36 frontends.web.http-request[4].if.host: Invalid host "a b": expected a host name such as "example.com", "*.example.com" (any subdomain of example.com) or "192.0.2.1"`,
    ]);
  });

  test("rules in a tcp-mode section are an error; a non-array is too", () => {
    assert.deepEqual(errorsOf(MINIMAL.replace(`bind = ":8080"`, `bind = ":8080"\nhttp-request = [{ action = "deny" }]\nhttp-response = []`) +
      `http-response = [{ action = "del-header", name = "Server" }]\n`), [
      `4:16 frontends.web.http-request: "http-request" rules need http mode: frontend "web" is in tcp mode`,
      `10:17 backends.app.http-response: "http-response" rules need http mode: backend "app" is in tcp mode`,
    ]);
    assert.deepEqual(errorsOf(HTTP_MINIMAL + `http-request = { action = "deny" }\n`), [
      `11:16 backends.app.http-request: Expected an array of rules such as [{ action = "del-header", name = "X-Debug" }], found a table`,
    ]);
  });
});

describe("errorfiles", () => {
  const FIXTURES = fileURLToPath(new URL("fixtures/errorfiles/", import.meta.url));
  const readText = (path: string) => readFile(path, "utf8");

  /** A configuration whose frontend has one errorfile per line, from line 9 on, values at column 7. */
  function withErrorFiles(files: Record<string, string>, defaults = ""): string {
    return `[defaults]
mode = "http"
${defaults}
[frontends.web]
bind = ":8080"
default-backend = "app"

[frontends.web.errorfiles]
${Object.entries(files).map(([status, file]) => `${status} = "${file}"`).join("\n")}

[backends.app]
servers = []
`;
  }

  async function loadFromFiles(text: string, read: (path: string) => Promise<string> = readText) {
    return await loadConfigFiles(["proxy.toml"], (path) => path === "proxy.toml" ? Promise.resolve(text) : read(path));
  }

  async function fileErrorsOf(text: string, read?: (path: string) => Promise<string>): Promise<string[]> {
    try {
      await loadFromFiles(text, read);
    } catch (error) {
      assert.ok(error instanceof ConfigFileError, String(error));
      return error.issues.filter((issue) => issue.severity === "error").map(formatConfigIssue);
    }
    throw new Error("the configuration was accepted");
  }

  test("read when the configuration is loaded; [defaults] pages merge status by status", async () => {
    const text = withErrorFiles({ "503": `${FIXTURES}503.http` }, `errorfiles = { 403 = "${FIXTURES}403_crlf.http" }`);
    const { config } = await loadFromFiles(text);
    const files = config.frontends[0]!.http.errorFiles;
    assert.deepEqual(files.map((file) => [file.status, file.path]), [[403, `${FIXTURES}403_crlf.http`], [503, `${FIXTURES}503.http`]]);
    assert.equal(files[0]!.text, readFileSync(`${FIXTURES}403_crlf.http`, "utf8"));
    assert.equal(files[1]!.text, readFileSync(`${FIXTURES}503.http`, "utf8"));
    assert.ok(Object.isFrozen(files));
    // The backend sets none: it has [defaults]' pages.
    assert.deepEqual(config.backends[0]!.http.errorFiles.map((file) => file.status), [403]);
  });

  test("paths are given to readTextFile as written (relative to the current directory), each read once", async () => {
    const asked: string[] = [];
    const read = (path: string) => {
      asked.push(path);
      return Promise.resolve(`HTTP/1.1 ${path.slice(-8, -5)} Error\n\n`);
    };
    const text = withErrorFiles({ "502": "errors/502.http", "504": "errors/504.http" }, `errorfiles = { 502 = "errors/502.http" }`);
    const { config } = await loadFromFiles(text, read);
    assert.deepEqual(asked.sort(), ["errors/502.http", "errors/504.http"]);
    assert.deepEqual(config.backends[0]!.http.errorFiles.map((file) => file.path), ["errors/502.http"]);
  });

  test("a missing file, a wrong status, a wrong Content-Length and bad content, at the key's file:line:col", async () => {
    const text = withErrorFiles({
      "500": `${FIXTURES}missing.http`,
      "503": `${FIXTURES}wrong_status.http`,
      "502": `${FIXTURES}bad_length.http`,
      "504": "no/such/page.http",
    });
    // (Object.entries lists the statuses in numeric order: 500, 502, 503, 504 on lines 9 to 12.)
    assert.deepEqual(await fileErrorsOf(text), [
      `proxy.toml:9:7: frontends.web.errorfiles.500: Cannot read errorfile "${FIXTURES}missing.http": no such file`,
      `proxy.toml:10:7: frontends.web.errorfiles.502: Invalid errorfile "${FIXTURES}bad_length.http": "Content-Length" is 5 but the body has 20 bytes (UTF-8, line endings as in the file); remove the header to have it computed`,
      `proxy.toml:11:7: frontends.web.errorfiles.503: Errorfile "${FIXTURES}wrong_status.http" answers 502, not 503: its status line must be "HTTP/1.1 503 ..."`,
      `proxy.toml:12:7: frontends.web.errorfiles.504: Cannot read errorfile "no/such/page.http": no such file (a relative path is relative to the current directory)`,
    ]);
    const page = (content: string) => () => Promise.resolve(content);
    assert.deepEqual(await fileErrorsOf(withErrorFiles({ "503": "p.http" }), page("<html>Sorry</html>\n")), [
      `proxy.toml:9:7: frontends.web.errorfiles.503: Invalid errorfile "p.http": line 1: expected a status line such as "HTTP/1.1 503 Service Unavailable", found "<html>Sorry</html>"`,
    ]);
    assert.deepEqual(await fileErrorsOf(withErrorFiles({ "503": "p.http" }), page("HTTP/1.1 503 Busy\nContent-Type: text/plain\n")), [
      `proxy.toml:9:7: frontends.web.errorfiles.503: Invalid errorfile "p.http": the headers do not end with a blank line: a response needs one before its body, even an empty body`,
    ]);
    assert.deepEqual(await fileErrorsOf(withErrorFiles({ "503": "p.http" }), page("HTTP/1.1 503 Busy\nTransfer-Encoding: chunked\n\n0\r\n\r\n")), [
      `proxy.toml:9:7: frontends.web.errorfiles.503: Invalid errorfile "p.http": line 2: "Transfer-Encoding" is not allowed: the page is sent whole, framed by Content-Length`,
    ]);
  });

  test("a page must fit in tune.bufsize", async () => {
    const text = `[global.tune]\nbufsize = 1024\n` + withErrorFiles({ "503": "big.http" });
    assert.deepEqual(await fileErrorsOf(text, () => Promise.resolve(`HTTP/1.1 503 Busy\n\n${"x".repeat(1100)}`)), [
      `proxy.toml:11:7: frontends.web.errorfiles.503: Errorfile "big.http" has 1119 bytes, more than tune.bufsize (1024): a page must fit in one buffer`,
    ]);
  });

  test("only HAProxy's errorfile statuses; a warning in tcp mode", async () => {
    assert.deepEqual(await fileErrorsOf(withErrorFiles({ "404": "a.http", "5xx": "b.http", "503": "" })), [
      `proxy.toml:9:1: frontends.web.errorfiles.404: No errorfile can be given for status 404: expected one of 400, 403, 408, 500, 502, 503, 504`,
      `proxy.toml:10:7: frontends.web.errorfiles.503: Expected a non-empty string, found an empty string`,
      `proxy.toml:11:1: frontends.web.errorfiles.5xx: Unknown key "5xx": expected a status code, one of 400, 403, 408, 500, 502, 503, 504`,
    ]);
    const tcp = (await loadFromFiles(withErrorFiles({ "503": `${FIXTURES}503.http` }).replace(`mode = "http"`, `mode = "tcp"`))).warnings.map(formatConfigIssue);
    assert.deepEqual(tcp, [
      `proxy.toml:8:2: warning: frontends.web.errorfiles: "errorfiles" has no effect in tcp mode: it replaces error pages of http responses`,
      `proxy.toml:12:11: warning: backends.app.servers: Backend "app" has no servers: its clients will be turned away`,
    ]);
  });

  test("loadConfigSources takes errorfile texts in a map, and refuses errorfiles without them", () => {
    const text = withErrorFiles({ "503": "pages/503.http" });
    const { config } = loadConfigSources([{ name: "proxy.toml", text }], { errorFiles: new Map([["pages/503.http", "HTTP/1.1 503 Busy\r\n\r\n"]]) });
    assert.deepEqual(config.frontends[0]!.http.errorFiles, [{ status: 503, path: "pages/503.http", text: "HTTP/1.1 503 Busy\r\n\r\n" }]);
    assert.deepEqual(errorsOf(text), [
      `9:7 frontends.web.errorfiles.503: Errorfile "pages/503.http" was not read: errorfiles are read when a configuration is loaded from files`,
    ]);
    try {
      loadConfigSources([{ name: "proxy.toml", text }], { errorFiles: new Map() });
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      assert.equal(
        formatConfigIssue(error.issues[0]!),
        `proxy.toml:9:7: frontends.web.errorfiles.503: Cannot read errorfile "pages/503.http": it is not among the errorFiles given to loadConfigSources`,
      );
    }
  });
});

describe("several files", () => {
  test("later files override earlier ones, key by key, and positions follow the file that set the value", () => {
    const base = { name: "base.toml", text: MINIMAL };
    const override = { name: "override.toml", text: `[backends.app]\nbalance = "source"\n[frontends.web]\nmaxconn = 10\n` };
    const { config, files } = loadConfigSources([base, override]);
    assert.deepEqual(files, ["base.toml", "override.toml"]);
    assert.equal(config.backends[0]!.balance, "source");
    assert.equal(config.frontends[0]!.maxconn, 10);
    assert.equal(config.frontends[0]!.binds[0]!.port, 8080);
    try {
      loadConfigSources([base, { name: "bad.toml", text: `[frontends.web]\nmaxconn = -1\n` }]);
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      assert.equal(formatConfigIssue(error.issues[0]!), `bad.toml:2:11: frontends.web.maxconn: Expected an integer from 1 to 10000000, found -1`);
    }
  });
});

const runtime = currentRuntime();
const TEST_CERTIFICATE = readFileSync(new URL("./fixtures/tls/default.pem", import.meta.url), "utf8");
const TEST_CA = readFileSync(new URL("./fixtures/tls/ca.pem", import.meta.url), "utf8");

/**
 * Certificates for documented configurations: every `crt` the text names is the test certificate
 * (a directory holds it once), every `ca-file` the test CA.
 */
function stubTls(): TlsValidation {
  return {
    file: (path) => path.endsWith("/") ? { entries: [`${path}site.pem`] } : { text: /ca[^/]*\.pem$/.test(path) ? TEST_CA : TEST_CERTIFICATE },
    inspectCertificate: (chain, key) => runtime.inspectCertificate(chain, key),
    support: runtime.info.tls,
    now: Date.parse("2026-12-07T00:00:00Z"),
  };
}

/** A valid errorfile for the status named in `path` (docs name their pages "…/503.http"). */
function stubErrorFiles(text: string): Map<string, string> {
  const pages = new Map<string, string>();
  for (const path of errorFilePaths(parse(text))) {
    const status = /([0-9]{3})[^/]*$/.exec(path)?.[1] ?? "503";
    pages.set(path, `HTTP/1.1 ${status} Error\n\n`);
  }
  return pages;
}

describe("documented configurations", () => {
  for (const document of ["docs/config.md", "README.md"]) {
    test(`every complete TOML example in ${document} is valid`, () => {
      const markdown = readFileSync(new URL(`../${document}`, import.meta.url), "utf8");
      const blocks = [...markdown.matchAll(/```toml\n([\s\S]*?)```/g)].map((match) => match[1]!);
      const complete = blocks.filter((block) => block.includes("[frontends."));
      assert.ok(complete.length >= 1, `${document} has no complete TOML example`);
      for (const block of complete) {
        const { config } = loadConfigSources([{ name: document, text: block }], { errorFiles: stubErrorFiles(block), tls: stubTls() });
        assert.ok(config.frontends.length > 0);
      }
    });
  }

  test("every file in examples/ is valid, with the errorfiles it names", async () => {
    const directory = new URL("../examples/", import.meta.url);
    const files = readdirSync(directory).filter((name) => name.endsWith(".toml"));
    assert.ok(files.length >= 3);
    // Errorfile paths are relative to the current directory: the examples expect the repository's root.
    const readFromRoot = (path: string) => readFile(path.startsWith("/") ? path : new URL(`../${path}`, import.meta.url), "utf8");
    const tls = {
      listDirectory: (path: string) => runtime.listDirectory(path.startsWith("/") ? path : fileURLToPath(new URL(`../${path}`, import.meta.url))),
      inspectCertificate: (chain: string, key: string) => runtime.inspectCertificate(chain, key),
      support: runtime.info.tls,
      now: () => Date.parse("2026-12-07T00:00:00Z"),
    };
    for (const file of files) {
      const pathKind = (path: string) => runtime.pathKind(path.startsWith("/") ? path : fileURLToPath(new URL(`../${path}`, import.meta.url)));
      const loaded = await loadConfigFiles([`examples/${file}`], readFromRoot, pathKind, tls);
      assert.deepEqual(loaded.warnings, [], file);
    }
  });
});

describe("tcp-mode SNI routes", () => {
  const SNI = `
[frontends.edge]
bind = ":443"
default-backend = "fallback"
routes = [
  { sni = "WWW.Example.com", backend = "exact" },
  { sni = ["*.Example.com", "example.org"], backend = "wild" },
]

[backends.exact]
servers = [{ name = "a", address = "10.0.0.1:443" }]

[backends.wild]
servers = [{ name = "b", address = "10.0.0.2:443" }]

[backends.fallback]
servers = [{ name = "c", address = "10.0.0.3:443" }]
`;

  test("names in lower case, in order; the inspect delay's default and inheritance", () => {
    const { config, warnings } = load(SNI);
    assert.deepEqual(warnings, []);
    const edge = config.frontends[0]!;
    assert.deepEqual(edge.sniRoutes, [
      { backend: "exact", names: ["www.example.com"] },
      { backend: "wild", names: ["*.example.com", "example.org"] },
    ]);
    assert.deepEqual(edge.routes, []);
    assert.equal(edge.timeouts.inspectDelay, 5_000);
    assert.ok(Object.isFrozen(edge.sniRoutes) && Object.isFrozen(edge.sniRoutes[1]) && Object.isFrozen(edge.sniRoutes[1]!.names));
    assert.equal(load(`[defaults]\ntimeout = { inspect-delay = "2s" }\n` + SNI).config.frontends[0]!.timeouts.inspectDelay, 2_000);
    const own = load(SNI.replace(`bind = ":443"`, `bind = ":443"\ntimeout = { inspect-delay = "300ms" }`)).config.frontends[0]!;
    assert.equal(own.timeouts.inspectDelay, 300);
  });

  test("default-backend is optional: a connection no route takes is closed", () => {
    const { config } = load(SNI.replace(`default-backend = "fallback"\n`, ""));
    assert.equal(config.frontends[0]!.defaultBackend, "");
    assert.equal(config.frontends[0]!.sniRoutes.length, 2);
    // An empty array is no routes: the default-backend is needed again.
    assert.deepEqual(errorsOf(MINIMAL.replace(`default-backend = "app"\n`, "routes = []\n")), [
      `2:2 frontends.web: Frontend "web" has no "default-backend": name the backend that gets its connections`,
    ]);
  });

  test("a tcp frontend's routes may lead to tcp or http backends, as its default-backend may", () => {
    const { config } = load(SNI.replace(`[backends.wild]\n`, `[backends.wild]\nmode = "http"\n`));
    assert.equal(config.frontends[0]!.sniRoutes[1]!.backend, "wild");
  });

  test("errors at their positions: names, keys, backends, the inspect delay", () => {
    const routes = (text: string) => SNI.replace(/routes = \[[^\]]*\][^\]]*\]\n/, `routes = [\n${text}\n]\n`);
    assert.deepEqual(errorsOf(routes(`  { sni = ["exa mple.com", "192.0.2.1", "[2001:db8::1]", "example.com:443", "*", "example.com.", ""], backend = "exact" },`)), [
      `6:12 frontends.edge.routes[0].sni[0]: Invalid sni "exa mple.com": expected a host name such as "example.com" or "*.example.com" (any subdomain of example.com)`,
      `6:28 frontends.edge.routes[0].sni[1]: Invalid sni "192.0.2.1": TLS clients send no server name for an IP address, and none with a port (RFC 6066 3)`,
      `6:41 frontends.edge.routes[0].sni[2]: Invalid sni "[2001:db8::1]": TLS clients send no server name for an IP address, and none with a port (RFC 6066 3)`,
      `6:58 frontends.edge.routes[0].sni[3]: Invalid sni "example.com:443": TLS clients send no server name for an IP address, and none with a port (RFC 6066 3)`,
      `6:77 frontends.edge.routes[0].sni[4]: Invalid sni "*": expected a host name such as "example.com" or "*.example.com" (any subdomain of example.com)`,
      `6:82 frontends.edge.routes[0].sni[5]: Invalid sni "example.com.": expected a host name such as "example.com" or "*.example.com" (any subdomain of example.com)`,
      `6:98 frontends.edge.routes[0].sni[6]: Expected a non-empty string, found an empty string`,
    ]);
    assert.deepEqual(errorsOf(routes(`  { backend = "exact" },\n  { sni = "a.example.com" },\n  { sni = [], backend = "exact" },\n  { snii = "x.example.com", backend = "exact" },\n  "exact",`)), [
      `6:3 frontends.edge.routes[0]: Route has no "sni": in a tcp-mode frontend a route picks connections by the server name a TLS client asks for, e.g. { backend = "www", sni = ["www.example.com", "*.example.com"] }`,
      `7:3 frontends.edge.routes[1]: Missing "backend": name the backend this route leads to`,
      `8:11 frontends.edge.routes[2].sni: Expected a string or a non-empty array of strings such as "www.example.com" or ["example.com", "*.example.com"], found an empty array`,
      `9:3 frontends.edge.routes[3]: Route has no "sni": in a tcp-mode frontend a route picks connections by the server name a TLS client asks for, e.g. { backend = "www", sni = ["www.example.com", "*.example.com"] }`,
      `9:5 frontends.edge.routes[3].snii: Unknown key "snii": did you mean "sni"?`,
      `10:3 frontends.edge.routes[4]: Expected a route such as { backend = "www", sni = ["www.example.com", "*.example.com"] }, found "exact"`,
    ]);
    assert.deepEqual(errorsOf(routes(`  { sni = "a.example.com", backend = "exakt", path-prefix = "/" },`)), [
      `6:38 frontends.edge.routes[0].backend: Backend "exakt" does not exist: did you mean "exact"?`,
      `6:47 frontends.edge.routes[0].path-prefix: "path-prefix" needs http mode: in tcp-mode frontend "edge" a route matches the server name of the TLS ClientHello (sni)`,
    ]);
    assert.deepEqual(errorsOf(SNI.replace(`routes = [`, `timeout = { inspect-delay = 0 }\nroutes = [`)), [
      `5:29 frontends.edge.timeout.inspect-delay: Expected a duration of at least 1ms, found 0`,
    ]);
    assert.deepEqual(errorsOf(SNI.replace(/routes = \[[^\]]*\][^\]]*\]\n/, `routes = { sni = "a.example.com" }\n`)), [
      `5:10 frontends.edge.routes: Expected an array of routes such as [{ backend = "www", sni = "www.example.com" }], found a table`,
    ]);
  });

  test("a name already routed by an earlier route gets a warning", () => {
    const text = SNI.replace(`"example.org"]`, `"example.org", "www.example.com"]`);
    assert.deepEqual(warningsOf(text), [
      `7:44 frontends.edge.routes[1].sni[2]: Server name "www.example.com" is already routed by routes[0]: this entry never matches`,
    ]);
  });
});
