/**
 * Logging in configuration files: `log` of [global] (strings, tables, arrays, every key and its
 * default), `log`, `log-format`, `dontlognull` and `log-separate-errors` of [defaults] and
 * frontends with their inheritance and `log = "global"`, and every error and warning at its
 * file:line:col.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigFileError, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import { buildQuickStartConfig } from "../src/config/quick_start.ts";
import type { Config, FrontendConfig, LogTargetConfig } from "../src/config/types.ts";

/** `before` (e.g. [global], [defaults]) from line 1, then frontend "web" (`web` starts 3 lines below `before`). */
function document(before: string, web = ""): string {
  return `${before}
[frontends.web]
bind = ":8080"
default-backend = "app"
${web}

[backends.app]
mode = "http"
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;
}

function load(text: string) {
  return loadConfigSources([{ name: "test.toml", text }]);
}

/** A configuration that must load without a warning. */
function config(text: string): Config {
  const loaded = load(text);
  assert.deepEqual(loaded.warnings, []);
  return loaded.config;
}

function web(text: string): FrontendConfig {
  return config(text).frontends.find((frontend) => frontend.name === "web")!;
}

function format(issue: ConfigIssue): string {
  return `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`;
}

/** The errors of a configuration that must fail, as "line:col path: message". */
function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues.filter((issue) => issue.severity === "error").map(format);
  }
  throw new Error("the configuration was accepted");
}

/** The warnings of a configuration that must load. */
function warningsOf(text: string): string[] {
  return load(text).warnings.map(format);
}

/** A target with every default, over `fields`. */
function target(fields: Partial<LogTargetConfig> & Pick<LogTargetConfig, "target" | "transport">): LogTargetConfig {
  const stream = fields.transport === "stdout" || fields.transport === "stderr";
  return {
    host: "",
    port: stream ? 0 : 514,
    format: stream ? "raw" : "local",
    facility: 16,
    level: 6,
    tag: "proxy",
    hostname: null,
    pid: true,
    maxLength: 1024,
    ...fields,
  };
}

describe("[global] log", () => {
  test("absent: no targets, and frontends log nothing, with the format of their mode", () => {
    const loaded = config(document("", `mode = "http"`) + `[frontends.db]\nbind = ":5432"\ndefault-backend = "app"\n`);
    assert.deepEqual(loaded.global.log, []);
    assert.ok(Object.isFrozen(loaded.global.log));
    const [http, tcp] = loaded.frontends;
    assert.deepEqual(http!.log, { targets: [], format: "httplog", dontLogNull: false, separateErrors: false });
    assert.deepEqual(tcp!.log, { targets: [], format: "tcplog", dontLogNull: false, separateErrors: false });
    assert.ok(Object.isFrozen(http!.log) && Object.isFrozen(http!.log.targets));
  });

  test("one string: udp and tcp, with and without port, IPv4, bracketed IPv6, host names, stdout, stderr", () => {
    assert.deepEqual(config(document(`[global]\nlog = "udp://127.0.0.1:514"`)).global.log, [
      target({ target: "udp://127.0.0.1:514", transport: "udp", host: "127.0.0.1" }),
    ]);
    const targets = config(document(`[global]
log = ["stdout", "stderr", "udp://10.0.0.5", "tcp://10.0.0.6:601", "udp://[::1]", "tcp://[fe80::1]:6514", "udp://logs.example.com:5140", "tcp://syslog"]
`)).global.log;
    assert.deepEqual(targets, [
      target({ target: "stdout", transport: "stdout" }),
      target({ target: "stderr", transport: "stderr" }),
      target({ target: "udp://10.0.0.5", transport: "udp", host: "10.0.0.5" }),
      target({ target: "tcp://10.0.0.6:601", transport: "tcp", host: "10.0.0.6", port: 601 }),
      target({ target: "udp://[::1]", transport: "udp", host: "::1" }),
      target({ target: "tcp://[fe80::1]:6514", transport: "tcp", host: "fe80::1", port: 6514 }),
      target({ target: "udp://logs.example.com:5140", transport: "udp", host: "logs.example.com", port: 5140 }),
      target({ target: "tcp://syslog", transport: "tcp", host: "syslog" }),
    ]);
    assert.ok(targets.every((entry) => Object.isFrozen(entry)));
  });

  test("a table: every key, and the defaults of those left out", () => {
    const targets = config(document(`[global]
log = [
  { target = "udp://10.0.0.5:514", format = "rfc5424", facility = "local3", level = "notice", tag = "edge", hostname = "edge1", pid = false, max-length = 4096 },
  { target = "stdout" },
  { target = "tcp://10.0.0.7", format = "raw", facility = "kern", level = "debug", max-length = 80 },
  { target = "stderr", format = "rfc3164", level = "emerg", max-length = 65535 },
]
`)).global.log;
    assert.deepEqual(targets, [
      target({
        target: "udp://10.0.0.5:514",
        transport: "udp",
        host: "10.0.0.5",
        format: "rfc5424",
        facility: 19,
        level: 5,
        tag: "edge",
        hostname: "edge1",
        pid: false,
        maxLength: 4096,
      }),
      target({ target: "stdout", transport: "stdout" }),
      target({ target: "tcp://10.0.0.7", transport: "tcp", host: "10.0.0.7", format: "raw", facility: 0, level: 7, maxLength: 80 }),
      target({ target: "stderr", transport: "stderr", format: "rfc3164", level: 0, maxLength: 65535 }),
    ]);
  });

  test("syslog targets default to HAProxy's legacy local header; a host name switches the default to rfc3164", () => {
    const targets = config(document(`[global]
log = [
  "udp://10.0.0.5",
  { target = "udp://10.0.0.5", format = "rfc3164" },
  { target = "udp://10.0.0.5", hostname = "edge1" },
  { target = "udp://10.0.0.5", hostname = "edge1", format = "local" },
]
`)).global.log;
    assert.deepEqual(targets.map((entry) => [entry.format, entry.hostname]), [
      ["local", null],
      ["rfc3164", null],
      ["rfc3164", "edge1"],
      ["local", "edge1"],
    ]);
  });

  test("strings and tables mixed in one array; a lone table; [[global.log]]; false and [] are none", () => {
    const mixed = config(document(`[global]\nlog = ["stdout", { target = "udp://10.0.0.5", facility = "local7" }]`)).global.log;
    assert.deepEqual(mixed, [
      target({ target: "stdout", transport: "stdout" }),
      target({ target: "udp://10.0.0.5", transport: "udp", host: "10.0.0.5", facility: 23 }),
    ]);
    assert.deepEqual(config(document(`[global]\nlog = { target = "stderr", level = "err" }`)).global.log, [
      target({ target: "stderr", transport: "stderr", level: 3 }),
    ]);
    const tables = config(document(`[[global.log]]\ntarget = "stdout"\n[[global.log]]\ntarget = "tcp://h"\ntag = "x"\n`)).global.log;
    assert.deepEqual(tables, [
      target({ target: "stdout", transport: "stdout" }),
      target({ target: "tcp://h", transport: "tcp", host: "h", tag: "x" }),
    ]);
    assert.deepEqual(config(document(`[global]\nlog = false`)).global.log, []);
    assert.deepEqual(config(document(`[global]\nlog = []`)).global.log, []);
  });

  test("a target string that is not one, at its file:line:col", () => {
    assert.deepEqual(errorsOf(document(`[global]\nlog = "http://10.0.0.5"`)), [
      `2:7 global.log: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "http://10.0.0.5"`,
    ]);
    assert.deepEqual(errorsOf(document(`[global]
log = [
  "udp://10.0.0.5:70000",
  "udp://10.0.0.5:0",
  "tcp://10.0.0.5:",
  "udp://",
  "udp://::1:514",
  "udp://[::1",
  "udp://10.0.0.256",
  "tcp://a b",
  "udp:// 10.0.0.5",
  "",
  3,
]
`)), [
      `3:3 global.log[0]: Invalid log target "udp://10.0.0.5:70000": invalid port in "10.0.0.5:70000": expected 1 to 65535`,
      `4:3 global.log[1]: Invalid log target "udp://10.0.0.5:0": invalid port in "10.0.0.5:0": expected 1 to 65535`,
      `5:3 global.log[2]: Invalid log target "tcp://10.0.0.5:": invalid address "10.0.0.5:": missing port`,
      `6:3 global.log[3]: Invalid log target "udp://": missing host`,
      `7:3 global.log[4]: Invalid log target "udp://::1:514": put an IPv6 address in brackets, as in "udp://[::1]:514"`,
      `8:3 global.log[5]: Invalid log target "udp://[::1": invalid address "[::1": missing "]"`,
      `9:3 global.log[6]: Invalid log target "udp://10.0.0.256": invalid IPv4 address in "10.0.0.256": "10.0.0.256"`,
      `10:3 global.log[7]: Invalid log target "tcp://a b": invalid host in "a b": "a b"`,
      `11:3 global.log[8]: Invalid log target "udp:// 10.0.0.5": remove the spaces around the address`,
      `12:3 global.log[9]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found ""`,
      `13:3 global.log[10]: Expected a log target such as "udp://127.0.0.1:514" or { target = "stdout", level = "notice" }, found 3`,
    ]);
  });

  test("HAProxy's forms and near misses get a suggestion", () => {
    assert.deepEqual(errorsOf(document(`[global]\nlog = ["udp@10.0.0.5:514", "tcp6@host:601", "10.0.0.5:514", "stdot", "STDERR"]`)), [
      `2:8 global.log[0]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "udp@10.0.0.5:514": did you mean "udp://10.0.0.5:514"?`,
      `2:28 global.log[1]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "tcp6@host:601": did you mean "tcp://host:601"?`,
      `2:45 global.log[2]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "10.0.0.5:514": did you mean "udp://10.0.0.5:514"?`,
      `2:61 global.log[3]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "stdot": did you mean "stdout"?`,
      `2:70 global.log[4]: Expected a log target "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr", found "STDERR": did you mean "stderr"?`,
    ]);
  });

  test("unix sockets are refused, saying why", () => {
    const errors = errorsOf(document(`[global]\nlog = ["/dev/log", "unix:///var/run/syslog", "unix@/dev/log", "unixhost:514"]`));
    assert.equal(errors.length, 4);
    assert.equal(
      errors[0],
      `2:8 global.log[0]: Log target "/dev/log" is a unix socket, which is not supported (Node and Bun cannot open a unix datagram socket, Deno only behind --unstable-net): have the syslog daemon listen on UDP and use "udp://127.0.0.1:514"`,
    );
    assert.match(errors[1]!, /^2:20 global\.log\[1\]: Log target "unix:\/\/\/var\/run\/syslog" is a unix socket, which is not supported/);
    assert.match(errors[2]!, /^2:46 global\.log\[2\]: Log target "unix@\/dev\/log" is a unix socket/);
    // A host whose name starts with "unix" is only a target without its scheme.
    assert.match(errors[3]!, /^2:63 global\.log\[3\]: Expected a log target .* found "unixhost:514": did you mean "udp:\/\/unixhost:514"\?$/);
  });

  test("table keys: wrong values, unknown keys and a missing target, each at its key", () => {
    assert.deepEqual(errorsOf(document(`[global]
log = [
  { target = "udp://h", format = "rfc5425", facility = "local9", level = "inf" },
  { target = "udp://h", tag = "my proxy", hostname = "edge 1", pid = 1, max-length = 79 },
  { target = "udp://h", max-length = 65536, severity = "info" },
  { facility = "local1" },
  { target = "/dev/log", tag = "" },
]
`)), [
      `3:34 global.log[0].format: Expected one of "local", "rfc3164", "rfc5424", "raw", found "rfc5425": did you mean "rfc5424"?`,
      `3:56 global.log[0].facility: Expected one of "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", found "local9": did you mean "local0"?`,
      `3:74 global.log[0].level: Expected one of "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", found "inf": did you mean "info"?`,
      `4:31 global.log[1].tag: Syslog tag "my proxy" must be printable ASCII without spaces`,
      `4:54 global.log[1].hostname: Syslog hostname "edge 1" must be printable ASCII without spaces`,
      `4:70 global.log[1].pid: Expected true or false, found 1`,
      `4:86 global.log[1].max-length: Expected an integer from 80 to 65535, found 79`,
      `5:38 global.log[2].max-length: Expected an integer from 80 to 65535, found 65536`,
      `5:45 global.log[2].severity: Unknown key "severity": expected one of target, format, facility, level, tag, hostname, pid, max-length`,
      `6:3 global.log[3]: Missing "target": give "udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr"`,
      `7:14 global.log[4].target: Log target "/dev/log" is a unix socket, which is not supported (Node and Bun cannot open a unix datagram socket, Deno only behind --unstable-net): have the syslog daemon listen on UDP and use "udp://127.0.0.1:514"`,
      `7:32 global.log[4].tag: Expected a non-empty string, found an empty string`,
    ]);
  });

  test("rfc5424 limits the tag to 48 characters, as the framer does; other formats do not", () => {
    const long = "t".repeat(49);
    assert.deepEqual(errorsOf(document(`[global]\nlog = { target = "udp://h", format = "rfc5424", tag = "${long}" }`)), [
      `2:55 global.log.tag: Syslog tag "${long}" is longer than rfc5424's 48 characters`,
    ]);
    assert.equal(config(document(`[global]\nlog = { target = "udp://h", tag = "${long}" }`)).global.log[0]!.tag, long);
    assert.equal(config(document(`[global]\nlog = { target = "udp://h", format = "rfc5424", tag = "${"t".repeat(48)}" }`)).global.log[0]!.tag.length, 48);
  });

  test(`"global" in [global] is an error, and log = true is one too`, () => {
    assert.deepEqual(errorsOf(document(`[global]\nlog = "global"`)), [
      `2:7 global.log: "global" stands for the targets of [global]: use it in [defaults] or a frontend, and list the targets here`,
    ]);
    assert.deepEqual(errorsOf(document(`[global]\nlog = true`)), [
      `2:7 global.log: Expected a log target such as "udp://127.0.0.1:514" or { target = "stdout" }, an array of them, or false, found true`,
    ]);
  });
});

describe("log of [defaults] and frontends", () => {
  test(`log = "global" is [global]'s targets: the same objects`, () => {
    const loaded = config(document(`[global]\nlog = ["udp://10.0.0.5", "stdout"]`, `log = "global"`));
    const frontend = loaded.frontends[0]!;
    assert.equal(frontend.log.targets, loaded.global.log);
    const mixed = config(document(`[global]\nlog = ["udp://10.0.0.5", "stdout"]`, `log = ["stderr", "global"]`));
    const targets = mixed.frontends[0]!.log.targets;
    assert.equal(targets.length, 3);
    assert.deepEqual(targets[0], target({ target: "stderr", transport: "stderr" }));
    assert.equal(targets[1], mixed.global.log[0]);
    assert.equal(targets[2], mixed.global.log[1]);
    assert.ok(Object.isFrozen(targets));
  });

  test("a frontend inherits [defaults] key by key; its own values win", () => {
    const loaded = config(`[global]
log = "udp://10.0.0.5"

[defaults]
mode = "http"
log = "global"
log-format = "%ci [%t] %r %ST"
dontlognull = true
log-separate-errors = true

[frontends.inherits]
bind = ":8080"
default-backend = "app"

[frontends.own]
bind = ":8081"
default-backend = "app"
log = { target = "stdout", level = "err" }
log-format = "json"
dontlognull = false
log-separate-errors = false

[frontends.some]
bind = ":8082"
default-backend = "app"
log-format = "httplog"
log-separate-errors = false

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]
`);
    const [inherits, own, some] = loaded.frontends;
    assert.deepEqual(inherits!.log, { targets: loaded.global.log, format: "%ci [%t] %r %ST", dontLogNull: true, separateErrors: true });
    assert.equal(inherits!.log.targets, loaded.global.log);
    assert.deepEqual(own!.log, {
      targets: [target({ target: "stdout", transport: "stdout", level: 3 })],
      format: "json",
      dontLogNull: false,
      separateErrors: false,
    });
    assert.equal(some!.log.targets, loaded.global.log);
    assert.deepEqual([some!.log.format, some!.log.dontLogNull, some!.log.separateErrors], ["httplog", true, false]);
  });

  test("frontends inheriting [defaults]' own targets share the same objects", () => {
    const loaded = config(`[defaults]
log = ["stderr", "udp://10.0.0.5"]

[frontends.a]
bind = ":8080"
default-backend = "app"

[frontends.b]
bind = ":8081"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]
`);
    const [a, b] = loaded.frontends;
    assert.equal(a!.log.targets.length, 2);
    assert.equal(a!.log.targets, b!.log.targets);
    assert.deepEqual(loaded.global.log, []);
  });

  test("log = false in a frontend drops the targets of [defaults]; [] does too", () => {
    const defaults = `[global]\nlog = "stdout"\n[defaults]\nlog = "global"\n`;
    assert.deepEqual(web(document(defaults, `log = false`)).log.targets, []);
    assert.deepEqual(web(document(defaults, `log = []`)).log.targets, []);
    assert.equal(web(document(defaults)).log.targets.length, 1);
  });

  test("errors in a frontend's or [defaults]' log, at their keys", () => {
    assert.deepEqual(errorsOf(document(`[defaults]\nlog = ["stdout", "udp://h:99999"]`, `log = ["global", { target = "tcp://h", level = "loud" }, "global", true]`)), [
      `2:18 defaults.log[1]: Invalid log target "udp://h:99999": invalid port in "h:99999": expected 1 to 65535`,
      `6:48 frontends.web.log[1].level: Expected one of "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", found "loud"`,
      `6:58 frontends.web.log[2]: "global" is listed twice`,
      `6:68 frontends.web.log[3]: Expected a log target such as "udp://127.0.0.1:514" or { target = "stdout", level = "notice" }, found true`,
    ]);
    assert.deepEqual(errorsOf(document("", `log = true\ndontlognull = "yes"\nlog-separate-errors = 1\nlog-format = ""`)), [
      `5:7 frontends.web.log: Expected "global", a log target such as "udp://127.0.0.1:514" or { target = "stdout" }, an array of them, or false, found true`,
      `6:15 frontends.web.dontlognull: Expected true or false, found "yes"`,
      `7:23 frontends.web.log-separate-errors: Expected true or false, found 1`,
      `8:14 frontends.web.log-format: Expected a non-empty string, found an empty string`,
    ]);
    assert.deepEqual(errorsOf(document(`[defaults]\nlogformat = "tcplog"`)), [
      `2:1 defaults.logformat: Unknown key "logformat": did you mean "log-format"?`,
    ]);
  });

  test(`log = "global" without targets in [global]: a warning where it is written, not an error`, () => {
    assert.deepEqual(warningsOf(document("", `log = "global"`)), [
      `5:7 frontends.web.log: [global] has no log targets, so this frontend logs nothing`,
    ]);
    assert.deepEqual(warningsOf(document("", `log = ["global"]`)), [
      `5:8 frontends.web.log[0]: [global] has no log targets, so this frontend logs nothing`,
    ]);
    assert.deepEqual(warningsOf(document("", `log = ["stdout", "global"]`)), [
      `5:18 frontends.web.log[1]: [global] has no log targets, so "global" adds none here`,
    ]);
    assert.deepEqual(warningsOf(document(`[defaults]\nlog = "global"`)), [
      `2:7 defaults.log: [global] has no log targets, so the frontends that inherit this log nothing`,
    ]);
    assert.deepEqual(warningsOf(document(`[global]\nlog = false\n[defaults]\nlog = "global"`)), [
      `4:7 defaults.log: [global] has no log targets, so the frontends that inherit this log nothing`,
    ]);
    // [global]'s own errors are enough: no warning on top of them.
    const issues = (() => {
      try {
        load(document(`[global]\nlog = "/dev/log"`, `log = "global"`));
      } catch (error) {
        assert.ok(error instanceof ConfigFileError);
        return error.issues.map(format);
      }
      throw new Error("accepted");
    })();
    assert.equal(issues.length, 1);
    assert.match(issues[0]!, /^2:7 global\.log: Log target "\/dev\/log" is a unix socket/);
  });
});

describe("log-format", () => {
  test("the named formats, json and a custom format are accepted as written", () => {
    const stdout = `[global]\nlog = "stdout"\n[defaults]\nlog = "global"\n`;
    for (const name of ["tcplog", "json", "%ci:%cp [%t] %ft %b/%s %Tt %B %ts", "%{+Q}r %%", "%{+X}ci %{+Q,+E}HU %HQ"]) {
      assert.equal(web(document(stdout, `log-format = ${JSON.stringify(name)}`)).log.format, name);
    }
    assert.equal(web(document(stdout, `mode = "http"\nlog-format = "httplog"`)).log.format, "httplog");
  });

  test("a format that does not compile: an error at the key, with the column counted from 1", () => {
    assert.deepEqual(errorsOf(document(`[defaults]\nlog-format = "%ci:%cp %foo"`)), [
      `2:14 defaults.log-format: Invalid log-format at column 9: unknown log variable "%foo"`,
    ]);
    assert.deepEqual(
      errorsOf(document("", `log-format = "%ci %[src]"\n[frontends.b]\nbind = ":1"\ndefault-backend = "app"\nlog-format = "%{+Z}r"\n[frontends.c]\nbind = ":2"\ndefault-backend = "app"\nlog-format = "100%"\n[frontends.d]\nbind = ":3"\ndefault-backend = "app"\nlog-format = "%{+Q r"\n[frontends.e]\nbind = ":4"\ndefault-backend = "app"\nlog-format = "% ci"`)),
      [
        `5:14 frontends.web.log-format: Invalid log-format at column 5: sample expressions %[...] are not supported: "%[src]" (only the TLS and PROXY-header fetches ssl_fc, ssl_fc_protocol, ssl_fc_cipher, ssl_fc_sni, ssl_fc_alpn, ssl_c_used, ssl_c_verify, ssl_c_s_dn, fc_pp_authority, fc_pp_unique_id, fc_pp_tlv(ALPN), fc_pp_tlv(AUTHORITY), fc_pp_tlv(UNIQUE_ID), fc_pp_tlv(SSL_VERSION), fc_pp_tlv(SSL_CN), fc_pp_tlv(SSL_CIPHER), without converters)`,
        `9:14 frontends.b.log-format: Invalid log-format at column 3: unknown log format flag "+Z" (expected +Q, +E, +X or their - forms)`,
        `13:14 frontends.c.log-format: Invalid log-format at column 4: unexpected "%" at the end of the log format (write "%%" for a literal %)`,
        `17:14 frontends.d.log-format: Invalid log-format at column 1: unterminated "%{": the flags need a closing "}"`,
        `21:14 frontends.e.log-format: Invalid log-format at column 1: expected a log variable name after "%", found " " (write "%%" for a literal %)`,
      ],
    );
  });

  test(`"httplog" on a tcp frontend falls back to "tcplog", with a warning`, () => {
    const own = load(document(`[global]\nlog = "stdout"`, `log = "global"\nlog-format = "httplog"`));
    assert.equal(own.config.frontends[0]!.log.format, "tcplog");
    assert.deepEqual(own.warnings.map(format), [
      `7:14 frontends.web.log-format: "httplog" needs http mode: frontend "web" is in tcp mode and logs with "tcplog" instead`,
    ]);
    const inherited = load(document(`[global]\nlog = "stdout"\n[defaults]\nlog = "global"\nlog-format = "httplog"`));
    assert.equal(inherited.config.frontends[0]!.log.format, "tcplog");
    assert.deepEqual(inherited.warnings.map(format), [
      `6:2 frontends.web: Frontend "web" is in tcp mode and inherits log-format "httplog" from [defaults], which needs http mode: it logs with "tcplog" instead (give it its own log-format)`,
    ]);
    // An http frontend keeps it; a tcp frontend that logs nothing is not worth a warning.
    assert.equal(web(document(`[global]\nlog = "stdout"\n[defaults]\nlog = "global"\nlog-format = "httplog"`, `mode = "http"`)).log.format, "httplog");
    const silent = load(document(`[global]\nlog = "stdout"\n[defaults]\nlog = "global"\nlog-format = "httplog"`, `log = false`));
    assert.equal(silent.config.frontends[0]!.log.format, "tcplog");
    assert.deepEqual(silent.warnings.map((issue) => issue.path), ["defaults.log-format"]);
  });

  test("a log-format that no frontend logs with: a warning", () => {
    assert.deepEqual(warningsOf(document("", `log-format = "tcplog"`)), [
      `5:14 frontends.web.log-format: "log-format" has no effect: frontend "web" has no log targets (add log = "global" or targets of its own)`,
    ]);
    assert.deepEqual(warningsOf(document(`[defaults]\nlog-format = "json"`)), [
      `2:14 defaults.log-format: "log-format" has no effect: no frontend that inherits it has log targets (add a "log" to [defaults] or to the frontends)`,
    ]);
    // One frontend that inherits it and logs is enough; a frontend with its own format does not count.
    assert.deepEqual(warningsOf(document(`[defaults]\nlog-format = "json"`, `log = "stdout"`)), []);
    assert.deepEqual(warningsOf(document(`[defaults]\nlog-format = "json"`, `log = "stdout"\nlog-format = "tcplog"`)), []);
  });
});

describe("the quick start", () => {
  test("no [global] targets and a frontend that logs nothing, with httplog", () => {
    const quick = buildQuickStartConfig({ bind: [":8080"], backend: ["10.0.0.1:80"] });
    assert.deepEqual(quick.global.log, []);
    assert.deepEqual(quick.frontends[0]!.log, { targets: [], format: "httplog", dontLogNull: false, separateErrors: false });
    const tcp = buildQuickStartConfig({ bind: [":8080"], backend: ["10.0.0.1:80"], mode: "tcp" });
    assert.equal(tcp.frontends[0]!.log.format, "tcplog");
  });
});
