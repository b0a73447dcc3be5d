/**
 * Configuration files end to end: the real CLI started with -f, `proxy check` and `-c`.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, exchange, ROOT, startOrigin } from "./_cli_helpers.ts";

const tlsFixture = (name: string): string => join(ROOT, "tests", "fixtures", "tls", name);
/** Root lists any directory: the unreadable one is left out then. */
const ROOT_USER = process.getuid?.() === 0;
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A TLS frontend serving `crts`, one per line from line 4 on (crt[i] is on line 4 + i, column 3). */
function tlsConfig(crts: readonly string[]): string {
  return `[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:0", crt = [
${crts.map((crt) => `  "${crt}",`).join("\n")}
] }
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;
}

function tempDirectory(): { path: string; file: (name: string, text: string) => string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "proxy-config-"));
  return {
    path,
    file(name, text) {
      const file = join(path, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

describe("configuration files, end to end", () => {
  test("two frontends and two backends from one file serve both", async () => {
    const origins = await Promise.all(["web-1", "web-2", "mail-1", "mail-2"].map((name) =>
      startOrigin((socket) => socket.end(name))
    ));
    const directory = tempDirectory();
    const [web1, web2, mail1, mail2] = origins;
    const file = directory.file("proxy.toml", `
[global]
pidfile = "${join(directory.path, "proxy.pid")}"

[defaults.timeout]
connect = "2s"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "web"

[frontends.mail]
bind = ["127.0.0.1:0"]
default-backend = "mail"

[backends.web]
servers = [
  { name = "w1", address = "${web1!.address}" },
  { name = "w2", address = "${web2!.address}" },
]

[backends.mail]
balance = "first"
servers = [
  { name = "m1", address = "${mail1!.address}", maxconn = 10 },
  { name = "m2", address = "${mail2!.address}" },
]
`);
    const proxy = new CliProcess(["-f", file]);
    try {
      const web = Number((await proxy.waitFor(/Frontend "web" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
      const mail = Number((await proxy.waitFor(/Frontend "mail" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
      const webAnswers = [];
      for (let i = 0; i < 4; i++) webAnswers.push((await exchange(web, "", false)).toString());
      assert.deepEqual(webAnswers, ["web-1", "web-2", "web-1", "web-2"]);
      const mailAnswers = [];
      for (let i = 0; i < 3; i++) mailAnswers.push((await exchange(mail, "", false)).toString());
      assert.deepEqual(mailAnswers, ["mail-1", "mail-1", "mail-1"]);
      assert.equal(readFileSync(join(directory.path, "proxy.pid"), "utf8"), `${proxy.pid}\n`);
    } finally {
      await proxy.stop();
      await Promise.all(origins.map((origin) => origin.close()));
      directory.remove();
    }
  });

  test("proxy check on a broken file exits 1 and lists every error with its position", async () => {
    const directory = tempDirectory();
    try {
      const file = directory.file("broken.toml", `[frontends.web]
bind = ":8080"
default-backend = "ap"

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80", wieght = 2 }]
`);
      const check = new CliProcess(["check", "-f", file]);
      assert.equal(await check.waitExit(), 1);
      assert.match(check.stderr, new RegExp(`${file.replace(/[.\\/]/g, "\\$&")}:3:19: frontends\\.web\\.default-backend: Backend "ap" does not exist: did you mean "app"\\?`));
      assert.match(check.stderr, /broken\.toml:6:51: backends\.app\.servers\[0\]\.wieght: Unknown key "wieght": did you mean "weight"\?/);
      assert.match(check.stderr, /Configuration has 2 errors/);
      assert.equal(check.stdout, "");

      const dashC = new CliProcess(["-c", "-f", file]);
      assert.equal(await dashC.waitExit(), 1);
      assert.match(dashC.stderr, /Configuration has 2 errors/);
    } finally {
      directory.remove();
    }
  });

  test("proxy check on a valid file exits 0 with a one-line summary, binding nothing", async () => {
    const directory = tempDirectory();
    const busy = await startOrigin(() => {});
    try {
      // The bind address is in use: a check must not try to bind it.
      const file = directory.file("valid.toml", `[frontends.web]\nbind = "${busy.address}"\ndefault-backend = "app"\n[backends.app]\nservers = [{ name = "a", address = "10.0.0.1:80" }]\n`);
      const check = new CliProcess(["check", "-f", file]);
      assert.equal(await check.waitExit(), 0);
      assert.equal(check.stdout, `Configuration is valid: 1 frontend, 1 backend, 1 server (${file})\n`);
    } finally {
      await busy.close();
      directory.remove();
    }
  });

  test("proxy check reads errorfiles and reports a bad one at its key", async () => {
    const directory = tempDirectory();
    try {
      const page = directory.file("503.http", "HTTP/1.1 503 Service Unavailable\nContent-Type: text/plain\n\nBack soon\n");
      const wrong = directory.file("502.http", "HTTP/1.1 500 Internal Server Error\n\n");
      const text = (errorfiles: string) =>
        `[defaults]\nmode = "http"\n[frontends.web]\nbind = ":8080"\ndefault-backend = "app"\n${errorfiles}\n[backends.app]\nservers = [{ name = "a", address = "10.0.0.1:80" }]\n`;
      const valid = directory.file("valid.toml", text(`errorfiles = { 503 = "${page}" }`));
      const check = new CliProcess(["check", "-f", valid]);
      assert.equal(await check.waitExit(), 0, check.stderr);
      assert.match(check.stdout, /^Configuration is valid: 1 frontend, 1 backend, 1 server/);

      const broken = directory.file("broken.toml", text(`[frontends.web.errorfiles]\n502 = "${wrong}"\n503 = "errors/none.http"`));
      const failed = new CliProcess(["check", "-f", broken]);
      assert.equal(await failed.waitExit(), 1);
      assert.match(failed.stderr, /Configuration has 2 errors/);
      assert.match(failed.stderr, /broken\.toml:7:7: frontends\.web\.errorfiles\.502: Errorfile ".*502\.http" answers 500, not 502/);
      assert.match(
        failed.stderr,
        /broken\.toml:8:7: frontends\.web\.errorfiles\.503: Cannot read errorfile "errors\/none\.http": no such file \(a relative path is relative to the current directory\)/,
      );
    } finally {
      directory.remove();
    }
  });

  test("proxy check reads every certificate: each broken one is an error at its crt entry naming its file, exit 1", async () => {
    const directory = tempDirectory();
    try {
      const broken = directory.file(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + readFileSync(tlsFixture("client.key"), "utf8"),
      );
      const notPem = directory.file("not.pem", "hello\n");
      // A certificate without a key in it and no "<file>.key" beside it.
      const noKey = directory.file("no-key.pem", readFileSync(tlsFixture("cn-only.pem"), "utf8"));
      const missingDirectory = join(directory.path, "nowhere") + "/";
      // Unreadable: a directory only its owner may list, when the check does not run as root.
      const locked = join(directory.path, "locked");
      mkdirSync(locked, 0o000);
      const crts = [broken, notPem, tlsFixture("mismatch.pem"), noKey, missingDirectory, ...(ROOT_USER ? [] : [locked])];
      const file = directory.file("tls.toml", tlsConfig(crts));
      const check = new CliProcess(["check", "-f", file]);
      assert.equal(await check.waitExit(), 1);
      const at = (index: number) => `${escapeRegExp(file)}:${4 + index}:3: frontends\\.web\\.bind\\.crt\\[${index}\\]: `;
      assert.match(check.stderr, new RegExp(`Configuration has ${crts.length} errors`));
      assert.match(check.stderr, new RegExp(`${at(0)}Certificate "${escapeRegExp(broken)}": Cannot read the certificate: `));
      assert.match(check.stderr, new RegExp(`${at(1)}Certificate file "${escapeRegExp(notPem)}" holds no certificate`));
      assert.match(check.stderr, new RegExp(`${at(2)}Certificate "${escapeRegExp(tlsFixture("mismatch.pem"))}": The private key does not belong to the certificate "CN=not-in-san\\.test"`));
      assert.match(check.stderr, new RegExp(`${at(3)}No private key for "${escapeRegExp(noKey)}": put it in the same file or in "${escapeRegExp(noKey)}\\.key"`));
      assert.match(check.stderr, new RegExp(`${at(4)}Cannot read certificate "${escapeRegExp(missingDirectory)}": no such file or directory`));
      if (!ROOT_USER) assert.match(check.stderr, new RegExp(`${at(5)}Certificate directory "${escapeRegExp(locked)}": cannot list the directory|${at(5)}Cannot read certificate "${escapeRegExp(locked)}": cannot list the directory`));
      assert.equal(check.stdout, "");
    } finally {
      chmodSync(join(directory.path, "locked"), 0o700);
      directory.remove();
    }
  });

  test("proxy check warns about an expired certificate, naming it and its date, and exits 0", async () => {
    const directory = tempDirectory();
    try {
      const file = directory.file("expired.toml", tlsConfig([tlsFixture("default.pem"), tlsFixture("expired.pem")]));
      const check = new CliProcess(["check", "-f", file]);
      assert.equal(await check.waitExit(), 0, check.stderr);
      assert.match(
        check.stderr,
        new RegExp(`${escapeRegExp(file)}:5:3: warning: frontends\\.web\\.bind\\.crt\\[1\\]: Certificate "${escapeRegExp(tlsFixture("expired.pem"))}" \\(/CN=expired\\.test\\) expired on 2021-01-01`),
      );
      assert.equal(check.stdout, `Configuration is valid: 1 frontend, 1 backend, 1 server (${file})\n`);
    } finally {
      directory.remove();
    }
  });

  test("every example in examples/ passes proxy check", async () => {
    const files = readdirSync(join(ROOT, "examples")).filter((name) => name.endsWith(".toml"));
    assert.ok(files.length >= 3);
    const directory = tempDirectory();
    try {
      for (const name of files) {
        // Certificates the examples name in /etc/proxy/certs/ are the test certificates (a copy of
        // the example says so: paths of errorfiles stay relative to the repository's root).
        const text = readFileSync(join(ROOT, "examples", name), "utf8");
        const file = text.includes("/etc/proxy/certs/")
          ? directory.file(name, text.replaceAll("/etc/proxy/certs/", `${join(ROOT, "tests", "fixtures", "tls", "dir")}/`))
          : join("examples", name);
        const check = new CliProcess(["check", "-f", file]);
        assert.equal(await check.waitExit(), 0, check.stderr);
        assert.match(check.stdout, /^Configuration is valid: /);
      }
    } finally {
      directory.remove();
    }
  });

  test("quick-start flags together with -f are an error, not a merge", async () => {
    const proxy = new CliProcess(["-f", "examples/quick_start.toml", "--backend", "127.0.0.1:9"]);
    assert.equal(await proxy.waitExit(), 2);
    assert.match(proxy.stderr, /Options --backend cannot be combined with -f/);
  });

  test("a missing file is named", async () => {
    const proxy = new CliProcess(["-f", "does/not/exist.toml"]);
    assert.equal(await proxy.waitExit(), 1);
    assert.match(proxy.stderr, /Cannot read configuration file "does\/not\/exist\.toml": no such file/);
  });
});
