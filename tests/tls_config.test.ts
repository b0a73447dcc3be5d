/**
 * TLS settings in the configuration: bind tables, certificates read and checked (files,
 * directories, keys beside them), what `proxy check` refuses and warns about, settings a runtime
 * cannot honour, the quick start's --cert, the hand-over to workers, and SNI selection.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "./_cli_helpers.ts";
import { currentRuntime } from "../src/runtime/detect.ts";
import { ConfigFileError, formatConfigIssue, loadConfigFiles, loadConfigSources, readTlsFiles, tlsValidation } from "../src/config/load.ts";
import type { TlsIo } from "../src/config/load.ts";
import { configFromSetup, readConfig } from "../src/lifecycle/config_handover.ts";
import type { WorkerSetup } from "../src/lifecycle/config_handover.ts";
import { ConfigError } from "../src/config/errors.ts";
import { quickStartDocument } from "../src/config/quick_start.ts";
import { NO_CERTIFICATE, SniSelector } from "../src/tls/sni_selector.ts";
import { readPem } from "../src/config/pem.ts";
import type { TlsSupport } from "../src/runtime/types.ts";

const runtime = currentRuntime();
const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
const ALL_SUPPORTED: TlsSupport = {
  ciphers: true,
  ciphersuites: true,
  versions: ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
  readBeforeHandshake: true,
  writeBeforeHandshake: true,
};
/** 2026-12-07: the fixtures' far expiry is in 2126, expired.pem's was in 2021. */
const NOW = Date.parse("2026-12-07T12:00:00Z");

function tlsIo(support: TlsSupport = runtime.info.tls, now = NOW): TlsIo {
  return {
    listDirectory: (path) => runtime.listDirectory(path),
    inspectCertificate: (chain, key) => runtime.inspectCertificate(chain, key),
    support,
    now: () => now,
  };
}

/** Loads `toml` (written to a temporary file) as `proxy check` does; returns the result or the ConfigFileError. */
async function check(toml: string, io: TlsIo = tlsIo()) {
  const directory = mkdtempSync(join(tmpdir(), "proxy-tls-"));
  const path = join(directory, "proxy.toml");
  writeFileSync(path, toml);
  try {
    return await loadConfigFiles([path], (file) => runtime.readTextFile(file), (file) => runtime.pathKind(file), io);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function errorsOf(toml: string, io?: TlsIo): Promise<string[]> {
  try {
    await check(toml, io);
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    return error.issues.filter((issue) => issue.severity === "error").map((issue) => `${issue.line}:${issue.column}: ${issue.path}: ${issue.message}`);
  }
  assert.fail("the configuration was accepted");
}

function frontendWith(bind: string): string {
  return `[frontends.web]\nmode = "http"\nbind = ${bind}\ndefault-backend = "app"\n\n[backends.app]\nmode = "http"\nservers = [{ name = "a", address = "127.0.0.1:8080" }]\n`;
}

describe("TLS binds in the configuration", () => {
  test("a plain string stays a plain bind; a table with crt is TLS, with HAProxy's defaults", async () => {
    const loaded = await check(frontendWith(`[":80", { address = ":443", crt = "${fixture("default.pem")}" }]`));
    const [plain, secure] = loaded.config.frontends[0]!.binds;
    assert.equal(plain!.tls, null);
    const tls = secure!.tls!;
    assert.equal(secure!.port, 443);
    assert.deepEqual(tls.certificates.map((c) => c.names), [["default.test", "localhost"]]);
    assert.equal(tls.minVersion, "TLSv1.2");
    assert.equal(tls.maxVersion, null);
    assert.deepEqual(tls.alpn, ["http/1.1"]);
    assert.equal(tls.verify, "none");
    assert.equal(tls.strictSni, false);
    assert.deepEqual(loaded.warnings, []);
  });

  test("a directory's certificate files load in name order; a key beside its certificate is found; CN when no SAN", async () => {
    const loaded = await check(frontendWith(`{ address = ":443", crt = ["${fixture("dir")}", "${fixture("cn-only.pem")}"] }`));
    const tls = loaded.config.frontends[0]!.binds[0]!.tls!;
    assert.deepEqual(tls.certificates.map((c) => c.path.slice(FIXTURES.length + 1)), ["dir/10-default.pem", "dir/20-exact.pem", "dir/30-wildcard.pem", "cn-only.pem"]);
    assert.deepEqual(tls.certificates.map((c) => c.names), [
      ["default.test", "localhost"],
      ["www.example.test", "api.example.test"],
      ["*.example.test"],
      ["cn-only.test"],
    ]);
    assert.match(tls.certificates[3]!.key, /BEGIN PRIVATE KEY/);
  });

  test("proxy check: every broken certificate is an error naming its file, at its crt entry", async () => {
    const directory = mkdtempSync(join(tmpdir(), "proxy-tls-bad-"));
    try {
      const noKey = join(directory, "no-key.pem");
      writeFileSync(noKey, readFileSync(fixture("cn-only.pem")));
      const notPem = join(directory, "not.pem");
      writeFileSync(notPem, "hello\n");
      const broken = join(directory, "broken.pem");
      writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + readFileSync(fixture("client.key"), "utf8"));
      const emptyDir = join(directory, "empty");
      mkdirSync(emptyDir);
      const crts = [fixture("mismatch.pem"), noKey, notPem, broken, join(directory, "missing.pem"), emptyDir];
      const errors = await errorsOf(frontendWith(`{ address = ":443", crt = [${crts.map((c) => `"${c}"`).join(", ")}] }`));
      assert.equal(errors.length, 6, errors.join("\n"));
      assert.match(errors[0]!, /^3:\d+: frontends\.web\.bind\.crt\[0\]: Certificate ".*mismatch\.pem": The private key does not belong to the certificate/);
      assert.match(errors[1]!, /crt\[1\]: No private key for ".*no-key\.pem": put it in the same file or in ".*no-key\.pem\.key"/);
      assert.match(errors[2]!, /crt\[2\]: Certificate file ".*not\.pem" holds no certificate/);
      assert.match(errors[3]!, /crt\[3\]: Certificate ".*broken\.pem": Cannot read the certificate/);
      assert.match(errors[4]!, /crt\[4\]: Cannot read certificate ".*missing\.pem": no such file or directory/);
      assert.match(errors[5]!, /crt\[5\]: Certificate directory ".*empty" holds no certificate file/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("proxy check: an unreadable directory is an error with its path", { skip: runtime.userId() === 0 ? "root reads any directory" : false }, async () => {
    const directory = mkdtempSync(join(tmpdir(), "proxy-tls-locked-"));
    try {
      chmodSync(directory, 0);
      const errors = await errorsOf(frontendWith(`{ address = ":443", crt = "${directory}" }`));
      assert.match(errors[0]!, /Certificate directory|cannot list the directory/);
    } finally {
      chmodSync(directory, 0o700);
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("proxy check: an expired certificate, or one expiring within 30 days, is a warning naming it and its date", async () => {
    const expired = await check(frontendWith(`{ address = ":443", crt = ["${fixture("default.pem")}", "${fixture("expired.pem")}"] }`));
    assert.equal(expired.warnings.length, 1);
    assert.match(formatConfigIssue(expired.warnings[0]!), /:3:\d+: warning: frontends\.web\.bind\.crt\[1\]: Certificate ".*expired\.pem" \(\/CN=expired\.test\) expired on 2021-01-01/);
    const notAfter = expired.config.frontends[0]!.binds[0]!.tls!.certificates[0]!.notAfter;
    const soon = await check(frontendWith(`{ address = ":443", crt = "${fixture("default.pem")}" }`), tlsIo(runtime.info.tls, notAfter - 10 * 24 * 3600 * 1000));
    assert.match(soon.warnings[0]!.message, /Certificate ".*default\.pem" \(\/CN=default\.test\) expires on 21\d\d-\d\d-\d\d/);
    const later = await check(frontendWith(`{ address = ":443", crt = "${fixture("default.pem")}" }`), tlsIo(runtime.info.tls, notAfter - 31 * 24 * 3600 * 1000));
    assert.deepEqual(later.warnings, []);
  });

  test("settings: verify needs a CA file, versions in order, TLS settings need crt, unknown keys", async () => {
    const errors = await errorsOf(frontendWith(`[
  { address = ":443", crt = "${fixture("default.pem")}", verify = "required", min-version = "TLSv1.3", max-version = "TLSv1.2" },
  { address = ":444", alpn = ["h2"] },
  { address = ":445", crt = "${fixture("default.pem")}", verify = "sometimes", ca-file = "${fixture("default.pem.key")}", bogus = 1 },
  { crt = "${fixture("default.pem")}" },
]`), tlsIo(ALL_SUPPORTED));
    assert.deepEqual(errors.map((e) => e.replace(/^\d+:\d+: /, "").replace(FIXTURES, "F")).sort(), [
      `frontends.web.bind[0].max-version: "max-version" "TLSv1.2" is below "min-version" (TLSv1.3)`,
      `frontends.web.bind[0].verify: verify = "required" needs "ca-file": the CA certificates client certificates are checked against`,
      `frontends.web.bind[1]: TLS settings ("alpn") need "crt": the certificate file(s) or directory to serve`,
      `frontends.web.bind[2].bogus: Unknown key "bogus": expected one of address, accept-proxy, crt, strict-sni, alpn, min-version, max-version, ciphers, ciphersuites, verify, ca-file`,
      `frontends.web.bind[2].verify: Expected one of "none", "optional", "required", found "sometimes"`,
      `frontends.web.bind[2].ca-file: Cannot read CA file "F/default.pem.key": no such file or directory`,
      `frontends.web.bind[3]: Missing "address" in the bind table: where to listen, e.g. address = ":443"`,
    ].sort());
  });

  test("a setting the runtime would ignore is refused at check time, never silently dropped", async () => {
    const none: TlsSupport = { ciphers: false, ciphersuites: false, versions: ["TLSv1.2", "TLSv1.3"], readBeforeHandshake: true, writeBeforeHandshake: true };
    const errors = await errorsOf(
      frontendWith(`{ address = ":443", crt = "${fixture("default.pem")}", ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", ciphersuites = "TLS_AES_128_GCM_SHA256", min-version = "TLSv1.1" }`),
      tlsIo(none),
    );
    assert.equal(errors.length, 3, errors.join("\n"));
    assert.match(errors.join("\n"), /min-version: TLSv1\.1 cannot be used on this runtime: it speaks "TLSv1\.2", "TLSv1\.3"/);
    assert.match(errors.join("\n"), /ciphers: "ciphers" cannot be honoured on this runtime/);
    assert.match(errors.join("\n"), /ciphersuites: "ciphersuites" cannot be honoured on this runtime/);
    const accepted = await check(
      frontendWith(`{ address = ":443", crt = "${fixture("default.pem")}", ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", ciphersuites = "TLS_AES_128_GCM_SHA256" }`),
      tlsIo(ALL_SUPPORTED),
    );
    assert.equal(accepted.config.frontends[0]!.binds[0]!.tls!.ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  });

  test("the PROXY protocol before a handshake: accepted where the runtime reads and writes it, refused at check time where it cannot", async () => {
    const document = `[frontends.web]
mode = "http"
bind = [{ address = ":443", crt = "${fixture("default.pem")}", accept-proxy = true }, { address = ":80", accept-proxy = true }]
default-backend = "app"

[backends.app]
mode = "http"
check = { interval = "2s" }
servers = [
  { name = "a", address = "127.0.0.1:8443", tls = { verify = "none" }, send-proxy-v2 = true },
  { name = "b", address = "127.0.0.1:8444", tls = { verify = "none" }, check-send-proxy = true },
]
`;
    const accepted = await check(document, tlsIo(ALL_SUPPORTED));
    assert.deepEqual(accepted.config.frontends[0]!.binds.map((bind) => [bind.tls !== null, bind.acceptProxy]), [[true, true], [false, true]]);
    const neither: TlsSupport = { ...ALL_SUPPORTED, readBeforeHandshake: false, writeBeforeHandshake: false };
    const errors = (await errorsOf(document, tlsIo(neither))).map((error) => error.replace(/^\d+:\d+: /, ""));
    assert.deepEqual(errors, [
      `frontends.web.bind[0].accept-proxy: "accept-proxy" cannot be honoured on a TLS bind (with "crt") on this runtime (its TLS listener cannot read the PROXY header before the handshake): put it on a plain bind, terminate TLS in front, or run the proxy on a runtime that honours it (docs/config.md)`,
      `backends.app.servers[0]: Server "a" has both "send-proxy-v2" and "tls", which cannot be honoured together on this runtime (this runtime's TLS client cannot send the PROXY header before its handshake): use one or the other, or run the proxy on a runtime that honours it (docs/config.md)`,
      `backends.app.servers[1]: Server "b" has both "check-send-proxy" and "tls", which cannot be honoured together on this runtime (this runtime's TLS client cannot send the PROXY header before its handshake): use one or the other, or run the proxy on a runtime that honours it (docs/config.md)`,
    ]);
    // The runtime running this test: what it says it honours is what `proxy check` accepts.
    const here = runtime.info.tls;
    if (here.readBeforeHandshake && here.writeBeforeHandshake) await check(document);
    else assert.ok((await errorsOf(document)).length > 0);
  });

  test("without certificate access (a document checked without the runtime), a TLS bind is refused", () => {
    assert.throws(
      () => loadConfigSources([{ name: "p.toml", text: frontendWith(`{ address = ":443", crt = "site.pem" }`) }]),
      /Certificates cannot be read here/,
    );
  });

  test("the quick start's --cert makes every --bind address TLS, and names --cert in its errors", async () => {
    const options = { bind: ["127.0.0.1:0,127.0.0.1:0"], backend: ["127.0.0.1:8080"], cert: [fixture("default.pem")] };
    const read = await readConfig([], options, false, { readTextFile: (path) => runtime.readTextFile(path), pathKind: (path) => runtime.pathKind(path), tls: tlsIo() });
    assert.deepEqual(read.config.frontends[0]!.binds.map((bind) => bind.tls?.certificates.length), [1, 1]);
    await assert.rejects(
      readConfig([], { ...options, cert: [fixture("mismatch.pem")] }, false, { readTextFile: (path) => runtime.readTextFile(path), tls: tlsIo() }),
      (error: unknown) => error instanceof ConfigError && error.path === "--cert" && /does not belong/.test(error.message),
    );
    const document = quickStartDocument(options) as { frontends: { main: { bind: unknown } } };
    assert.deepEqual(document.frontends.main.bind, [
      { address: "127.0.0.1:0", crt: [fixture("default.pem")] },
      { address: "127.0.0.1:0", crt: [fixture("default.pem")] },
    ]);
  });

  test("a worker rebuilds the same certificates from what the master read, without a file", async () => {
    const directory = mkdtempSync(join(tmpdir(), "proxy-tls-handover-"));
    try {
      const path = join(directory, "proxy.toml");
      writeFileSync(path, frontendWith(`{ address = ":443", crt = ["${fixture("dir")}", "${fixture("cn-only.pem")}"], verify = "optional", ca-file = "${fixture("ca.pem")}" }`));
      const read = await readConfig([path], null, false, { readTextFile: (file) => runtime.readTextFile(file), pathKind: (file) => runtime.pathKind(file), tls: tlsIo() });
      assert.equal(read.handover.kind, "files");
      // Through JSON, as the control channel carries it.
      const setup = JSON.parse(JSON.stringify({ config: read.handover, noReusePort: false })) as WorkerSetup;
      const config = configFromSetup(setup, { inspectCertificate: (chain, key) => runtime.inspectCertificate(chain, key), support: runtime.info.tls, now: () => NOW });
      assert.deepEqual(config, read.config);
      if (read.handover.kind === "files") {
        assert.deepEqual(read.handover.errorFiles, [], "certificates are not errorfiles");
        assert.ok(read.handover.tlsFiles.some(([file]) => file === `${fixture("cn-only.pem")}.key`));
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("readTlsFiles reads what tlsFilePaths names and nothing else", async () => {
    const reads: string[] = [];
    const files = await readTlsFiles(
      { frontends: { web: { bind: [":80", { address: ":443", crt: fixture("default.pem"), "ca-file": fixture("ca.pem") }] } } },
      (path) => {
        reads.push(path);
        return runtime.readTextFile(path);
      },
      (path) => runtime.pathKind(path),
      (path) => runtime.listDirectory(path),
    );
    assert.deepEqual(reads.sort(), [fixture("ca.pem"), `${fixture("ca.pem")}.key`, fixture("default.pem")].sort());
    const validation = tlsValidation(files, tlsIo());
    assert.ok("text" in validation.file(fixture("default.pem")));
    assert.deepEqual(validation.file("other.pem"), { error: "it was not read" });
  });
});

describe("PEM and SNI", () => {
  test("readPem takes the certificates in order and the first key; encrypted keys are told", () => {
    const text = readFileSync(fixture("default.pem"), "utf8") + readFileSync(fixture("ca.pem"), "utf8");
    const pem = readPem(text);
    assert.equal(pem.certificateCount, 2);
    assert.match(pem.key, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(readPem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA\n-----END ENCRYPTED PRIVATE KEY-----\n").encryptedKey, true);
  });

  test("exact names first, then a wildcard for one label, then the default; strict refuses the rest", () => {
    const names = [["default.test"], ["www.example.test", "api.example.test"], ["*.example.test"], ["www.example.test"]];
    const loose = new SniSelector(names, false);
    assert.equal(loose.select("www.example.test"), 1, "the first certificate loaded keeps a name claimed twice");
    assert.equal(loose.select("shop.example.test"), 2);
    assert.equal(loose.select("example.test"), 0);
    assert.equal(loose.select("a.b.example.test"), 0);
    assert.equal(loose.select(""), 0);
    const strict = new SniSelector(names, true);
    assert.equal(strict.select("api.example.test"), 1);
    assert.equal(strict.select("nope.test"), NO_CERTIFICATE);
    assert.equal(strict.select(""), NO_CERTIFICATE);
  });

  test("inspectCertificate reads names, subject and expiry, and refuses a key that is not the certificate's", () => {
    const pem = readPem(readFileSync(fixture("exact.pem"), "utf8"));
    const info = runtime.inspectCertificate(pem.certificates, pem.key);
    assert.deepEqual(info.names, ["www.example.test", "api.example.test"]);
    assert.equal(info.subject, "/CN=not-in-san.test");
    assert.ok(info.notAfter > Date.parse("2100-01-01"));
    const stray = readPem(readFileSync(fixture("mismatch.pem"), "utf8"));
    assert.throws(() => runtime.inspectCertificate(stray.certificates, stray.key), { name: "TlsError", code: "TLS_KEY_MISMATCH" });
    assert.throws(() => runtime.inspectCertificate("-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n", stray.key), { code: "TLS_CERTIFICATE_INVALID" });
    assert.throws(() => runtime.inspectCertificate(pem.certificates, "nope"), { code: "TLS_KEY_INVALID" });
  });
});

describe("TLS towards servers in the configuration", () => {
  function backendWith(backend: string): string {
    return `[frontends.web]\nmode = "http"\nbind = ":80"\ndefault-backend = "app"\n\n[backends.app]\nmode = "http"\n${backend}\n`;
  }

  test("tls = true: verification on, the bundled roots, ALPN http/1.1, TLS 1.2; a backend's tls is its servers' default", async () => {
    const loaded = await check(backendWith(`tls = { ca-file = "${fixture("ca.pem")}", sni = "api.internal" }
servers = [
  { name = "a", address = "10.0.0.1:443" },
  { name = "b", address = "10.0.0.2:443", tls = false },
  { name = "c", address = "10.0.0.3:443", tls = { sni = "req.hdr(host)", verify = "none" } },
  { name = "d", address = "10.0.0.4:443", tls = true },
]`));
    const [a, b, c, d] = loaded.config.backends[0]!.servers;
    assert.equal(a!.tls!.verify, true);
    assert.equal(a!.tls!.sni, "api.internal");
    assert.match(a!.tls!.ca!, /BEGIN CERTIFICATE/);
    assert.deepEqual(a!.tls!.alpn, ["http/1.1"]);
    assert.equal(a!.tls!.minVersion, "TLSv1.2");
    assert.equal(b!.tls, null);
    assert.equal(c!.tls!.sniFromHost, true);
    assert.equal(c!.tls!.verify, false);
    assert.equal(c!.tls!.caFile, fixture("ca.pem"), "what the server does not set comes from its backend");
    assert.deepEqual(d!.tls, a!.tls);
    const bare = await check(backendWith(`servers = [{ name = "a", address = "api.example.com:443", tls = true }]`));
    assert.equal(bare.config.backends[0]!.servers[0]!.tls!.ca, null, "no ca-file: the runtime's bundled roots");
  });

  test("a client certificate, an IP address as sni, unreadable files: errors at their keys", async () => {
    const errors = await errorsOf(backendWith(`servers = [
  { name = "a", address = "10.0.0.1:443", tls = { sni = "10.0.0.1" } },
  { name = "b", address = "10.0.0.2:443", tls = { crt = "${fixture("mismatch.pem")}" } },
  { name = "c", address = "10.0.0.3:443", tls = { ca-file = "${fixture("nothing.pem")}" } },
  { name = "d", address = "10.0.0.4:443", tls = { verify = "optional" } },
  { name = "e", address = "10.0.0.5:443", tls = "yes" },
]`));
    const text = errors.join("\n");
    assert.equal(errors.length, 5, text);
    assert.match(text, /servers\[0\]\.tls\.sni: Invalid sni "10\.0\.0\.1": .*an IP address is never sent as SNI/);
    assert.match(text, /servers\[1\]\.tls\.crt: Certificate ".*mismatch\.pem": The private key does not belong/);
    assert.match(text, /servers\[2\]\.tls\.ca-file: Cannot read CA file ".*nothing\.pem": no such file or directory/);
    assert.match(text, /servers\[3\]\.tls\.verify: Expected one of "required", "none", found "optional"/);
    assert.match(text, /servers\[4\]\.tls: Expected true, false or a table of TLS settings/);
    const withCert = await check(backendWith(`servers = [{ name = "a", address = "10.0.0.1:443", tls = { crt = "${fixture("default.pem")}" } }]`));
    assert.match(withCert.config.backends[0]!.servers[0]!.tls!.certificate!.key, /PRIVATE KEY/);
  });

  test('ca-file = "@system-ca" reads the system\'s CA bundle through the loader', async () => {
    const reads: string[] = [];
    const files = await readTlsFiles(
      { backends: { app: { tls: { "ca-file": "@system-ca" } } } },
      (path) => {
        reads.push(path);
        return path === "/etc/pki/tls/certs/ca-bundle.crt" ? Promise.resolve(readFileSync(fixture("ca.pem"), "utf8")) : Promise.reject(new Error("ENOENT"));
      },
      undefined,
      () => Promise.resolve([]),
    );
    assert.deepEqual(reads, ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]);
    assert.ok("text" in files.get("@system-ca")!);
  });
});
