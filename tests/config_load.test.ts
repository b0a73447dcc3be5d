/**
 * Configuration files: defaults and inheritance of every key, every error at its exact position,
 * merging of several files, and the examples in docs/config.md and examples/.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { ConfigFileError, formatConfigIssue, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import { DEFAULTS } from "../src/config/types.ts";
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
    assert.deepEqual(config.global, { maxconn: DEFAULTS.globalMaxconn, pidfile: null });
    const frontend = config.frontends[0]!;
    assert.equal(frontend.mode, "tcp");
    assert.equal(frontend.maxconn, DEFAULTS.frontendMaxconn);
    assert.equal(frontend.backlog, DEFAULTS.backlog);
    assert.deepEqual(frontend.binds, [{ text: ":8080", host: "0.0.0.0", port: 8080, reusePort: true }]);
    assert.deepEqual(frontend.timeouts, {
      client: DEFAULTS.timeoutClient,
      httpRequest: DEFAULTS.timeoutHttpRequest,
      httpKeepAlive: DEFAULTS.timeoutHttpKeepAlive,
    });
    const backend = config.backends[0]!;
    assert.equal(backend.balance, "roundrobin");
    assert.equal(backend.retries, 3);
    assert.equal(backend.redispatch, true);
    assert.equal(backend.allBackups, false);
    assert.deepEqual(backend.timeouts, {
      connect: DEFAULTS.timeoutConnect,
      server: DEFAULTS.timeoutServer,
      queue: DEFAULTS.timeoutQueue,
      tunnel: DEFAULTS.timeoutTunnel,
    });
    assert.deepEqual(backend.servers[0], {
      name: "a",
      address: "10.0.0.1:80",
      host: "10.0.0.1",
      port: 80,
      weight: 1,
      maxconn: 0,
      backup: false,
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
timeout = { client = "100ms" }
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
    assert.deepEqual(config.global, { maxconn: 900, pidfile: "/tmp/proxy.pid" });
    const [a, b] = config.frontends;
    assert.equal(a!.maxconn, 77);
    assert.equal(a!.backlog, 64);
    assert.deepEqual(a!.timeouts, { client: 120_000, httpRequest: 4_000, httpKeepAlive: 5_000 });
    assert.equal(b!.maxconn, 5);
    assert.equal(b!.backlog, 6);
    assert.equal(b!.binds[0]!.reusePort, false);
    assert.deepEqual(b!.timeouts, { client: 100, httpRequest: 4_000, httpKeepAlive: 5_000 });
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
      `3:11 defaults.balance: Expected one of "roundrobin", "static-rr", "leastconn", "first", "source", "random", found "roundrobbin": did you mean "roundrobin"?`,
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

  test("keys of later work are refused, not silently ignored", () => {
    const errors = errorsOf(`[global]\nuser = "proxy"\nworkers = "auto"\n` + MINIMAL.replace(`}]`, `, check = false }]`));
    assert.equal(errors.length, 3);
    assert.match(errors[0]!, /^2:8 global\.user: "user" is not supported by this version yet/);
    assert.match(errors[1]!, /^3:11 global\.workers: "workers" is not supported by this version yet/);
    assert.match(errors[2]!, /^10:60 backends\.app\.servers\[0\]\.check: "check" is not supported/);
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
        `etc/proxy.toml:6:11: backends.app.balance: Expected one of "roundrobin", "static-rr", "leastconn", "first", "source", "random", found 3`,
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

describe("documented configurations", () => {
  for (const document of ["docs/config.md", "README.md"]) {
    test(`every complete TOML example in ${document} is valid`, () => {
      const markdown = readFileSync(new URL(`../${document}`, import.meta.url), "utf8");
      const blocks = [...markdown.matchAll(/```toml\n([\s\S]*?)```/g)].map((match) => match[1]!);
      const complete = blocks.filter((block) => block.includes("[frontends."));
      assert.ok(complete.length >= 1, `${document} has no complete TOML example`);
      for (const block of complete) {
        const { config } = load(block, document);
        assert.ok(config.frontends.length > 0);
      }
    });
  }

  test("every file in examples/ is valid", () => {
    const directory = new URL("../examples/", import.meta.url);
    const files = readdirSync(directory).filter((name) => name.endsWith(".toml"));
    assert.ok(files.length >= 3);
    for (const file of files) load(readFileSync(new URL(file, directory), "utf8"), `examples/${file}`);
  });
});
