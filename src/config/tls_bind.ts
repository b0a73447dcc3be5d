/**
 * The TLS settings of a `bind` written as a table, HAProxy's `bind <addr> ssl crt <file> ...`:
 *
 *   bind = [":80", { address = ":443", crt = ["site.pem", "certs/"], alpn = ["http/1.1"] }]
 *
 * Certificates are read by the loader (the validator does no I/O: `tlsFilePaths` names what to
 * read) and checked here through the runtime (`TlsValidation`): a file without a certificate, a
 * missing or encrypted key, a key that is not the certificate's are errors at the `crt` entry; a
 * certificate expired or expiring within 30 days is a warning naming it and its date. A setting
 * the runtime would not honour (`ciphers` on Deno, `ciphersuites` on Bun and Deno, a version it
 * cannot speak) is an error, never silently ignored.
 *
 * @module
 */

import type { CertificateInfo, PeerVerify, TlsVersion } from "../runtime/types.ts";
import { TlsError } from "../runtime/tls_error.ts";
import { hasPrivateKey, readPem } from "./pem.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader, Table, TlsValidation } from "./reader.ts";
import type { BindTlsConfig, CertificateConfig } from "./types.ts";

/** Keys of a bind table; all but `address` and `accept-proxy` are TLS settings. */
export const BIND_KEYS = [
  "address", "accept-proxy", "crt", "strict-sni", "alpn", "min-version", "max-version", "ciphers", "ciphersuites", "verify", "ca-file",
] as const;

/** `min-version` and `max-version` as HAProxy writes them (`ssl-min-ver TLSv1.2`). */
const VERSIONS: Readonly<Record<string, TlsVersion>> = {
  "TLSv1.0": "TLSv1",
  "TLSv1.1": "TLSv1.1",
  "TLSv1.2": "TLSv1.2",
  "TLSv1.3": "TLSv1.3",
};
const VERSION_ORDER: readonly TlsVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/** HAProxy's default `ssl-min-ver`, and the issue's floor: TLS 1.0 and 1.1 are refused unless asked for. */
export const DEFAULT_MIN_VERSION: TlsVersion = "TLSv1.2";
export const DEFAULT_ALPN: readonly string[] = Object.freeze(["http/1.1"]);

/** A certificate expiring within this many milliseconds is warned about. */
const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;

/** ALPN protocol ids are 1 to 255 bytes (RFC 7301 3.1); these are the printable ones people write. */
const ALPN_ID = /^[\x21-\x7e]{1,255}$/;

function stringOrList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/**
 * Every `crt` and `ca-file` path of the document (binds, backends' and servers' `tls`), for the
 * loader to read first.
 */
export function tlsFilePaths(document: unknown): string[] {
  const paths = new Set<string>();
  const addFiles = (table: unknown): void => {
    if (!isTable(table)) return;
    for (const path of stringOrList(table.crt)) if (path !== "") paths.add(path);
    if (typeof table["ca-file"] === "string" && table["ca-file"] !== "") paths.add(table["ca-file"]);
  };
  const sections = (key: string): unknown[] =>
    isTable(document) && isTable(document[key]) ? Object.values(document[key] as Record<string, unknown>) : [];
  for (const frontend of sections("frontends")) {
    if (!isTable(frontend)) continue;
    for (const bind of Array.isArray(frontend.bind) ? frontend.bind : [frontend.bind]) addFiles(bind);
  }
  for (const backend of sections("backends")) {
    if (!isTable(backend)) continue;
    addFiles(backend.tls);
    if (Array.isArray(backend.servers)) for (const server of backend.servers) if (isTable(server)) addFiles(server.tls);
  }
  return [...paths];
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Loads one PEM file's certificate and key, or reports why at `at`. */
export function readCertificateFile(reader: Reader, tls: TlsValidation, at: ConfigPath, path: string, text: string): CertificateConfig | undefined {
  const pem = readPem(text);
  if (pem.certificateCount === 0) {
    reader.error(at, `Certificate file "${path}" holds no certificate (expected PEM "BEGIN CERTIFICATE" blocks)`);
    return undefined;
  }
  let key = pem.key;
  if (pem.encryptedKey) {
    reader.error(at, `The private key in "${path}" is encrypted: give it unencrypted (readable by root only)`);
    return undefined;
  }
  if (key === "") {
    const beside = tls.file(`${path}.key`);
    if ("text" in beside && hasPrivateKey(beside.text)) {
      const besidePem = readPem(beside.text);
      if (besidePem.encryptedKey) {
        reader.error(at, `The private key in "${path}.key" is encrypted: give it unencrypted (readable by root only)`);
        return undefined;
      }
      key = besidePem.key;
    }
  }
  if (key === "") {
    reader.error(at, `No private key for "${path}": put it in the same file or in "${path}.key"`);
    return undefined;
  }
  let info: CertificateInfo;
  try {
    info = tls.inspectCertificate(pem.certificates, key);
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    reader.error(at, `Certificate "${path}": ${error.message}`);
    return undefined;
  }
  if (info.notAfter <= tls.now) {
    reader.warn(at, `Certificate "${path}" (${info.subject}) expired on ${formatDate(info.notAfter)}`);
  } else if (info.notAfter - tls.now <= EXPIRY_WARNING_MS) {
    reader.warn(at, `Certificate "${path}" (${info.subject}) expires on ${formatDate(info.notAfter)}`);
  }
  return Object.freeze({ path, chain: pem.certificates, key, names: Object.freeze([...info.names]), subject: info.subject, notAfter: info.notAfter });
}

function readCertificates(reader: Reader, tls: TlsValidation, path: ConfigPath, value: unknown): CertificateConfig[] {
  const list = reader.stringList(path, value, `"site.pem" or ["site.pem", "/etc/proxy/certs/"]`);
  if (list === undefined) return [];
  const certificates: CertificateConfig[] = [];
  for (const { text: file, path: at } of list) {
    const read = tls.file(file);
    if ("error" in read) {
      reader.error(at, `Cannot read certificate "${file}": ${read.error}`);
    } else if ("entries" in read) {
      if (read.entries.length === 0) reader.error(at, `Certificate directory "${file}" holds no certificate file`);
      for (const entry of read.entries) {
        const entryRead = tls.file(entry);
        if ("text" in entryRead) {
          const certificate = readCertificateFile(reader, tls, at, entry, entryRead.text);
          if (certificate !== undefined) certificates.push(certificate);
        } else {
          reader.error(at, `Cannot read certificate "${entry}": ${"error" in entryRead ? entryRead.error : "it is a directory"}`);
        }
      }
    } else {
      const certificate = readCertificateFile(reader, tls, at, file, read.text);
      if (certificate !== undefined) certificates.push(certificate);
    }
  }
  return certificates;
}

function readVersion(reader: Reader, tls: TlsValidation, path: ConfigPath, value: unknown): TlsVersion | undefined {
  const written = reader.oneOf(path, value, Object.keys(VERSIONS));
  if (written === undefined) return undefined;
  const version = VERSIONS[written]!;
  if (!tls.support.versions.includes(version)) {
    reader.error(path, `${written} cannot be used on this runtime: it speaks ${tls.support.versions.map((v) => `"${v === "TLSv1" ? "TLSv1.0" : v}"`).join(", ")}`);
    return undefined;
  }
  return version;
}

function readCipherList(reader: Reader, path: ConfigPath, value: unknown, honoured: boolean, what: string): string | null {
  const text = reader.string(path, value);
  if (text === undefined) return null;
  if (!honoured) {
    reader.error(path, `"${path[path.length - 1]}" cannot be honoured on this runtime (${what}): remove it, or run the proxy on a runtime that honours it (docs/config.md)`);
    return null;
  }
  if (!/^[A-Za-z0-9_:+!@=.,-]+$/.test(text)) reader.error(path, `Invalid cipher list "${text}": names separated by ":"`);
  return text;
}

/**
 * The TLS settings of a bind table (its keys already checked); null when it has none (a plain
 * bind written as a table).
 */
export function readBindTls(reader: Reader, path: ConfigPath, table: Table): BindTlsConfig | null {
  const tlsKeys = BIND_KEYS.filter((key) => key !== "address" && key !== "accept-proxy" && table[key] !== undefined);
  if (tlsKeys.length === 0) return null;
  if (table.crt === undefined) {
    reader.error(path, `TLS settings (${tlsKeys.map((key) => `"${key}"`).join(", ")}) need "crt": the certificate file(s) or directory to serve`);
    return null;
  }
  const tls = reader.tls;
  if (tls === undefined) {
    reader.error([...path, "crt"], "Certificates cannot be read here: TLS binds need the configuration loaded from files by the proxy");
    return null;
  }
  const certificates = readCertificates(reader, tls, [...path, "crt"], table.crt);
  // An empty list offers no ALPN at all.
  const noAlpn = Array.isArray(table.alpn) && table.alpn.length === 0;
  const alpnList = table.alpn === undefined || noAlpn ? undefined : reader.stringList([...path, "alpn"], table.alpn, `["h2", "http/1.1"]`);
  const alpn: string[] = [];
  for (const { text, path: at } of alpnList ?? []) {
    if (!ALPN_ID.test(text)) reader.error(at, `Invalid ALPN protocol "${text}": printable characters without spaces, such as "http/1.1"`);
    else alpn.push(text);
  }
  const minVersion = readVersion(reader, tls, [...path, "min-version"], table["min-version"]) ?? DEFAULT_MIN_VERSION;
  const maxVersion = readVersion(reader, tls, [...path, "max-version"], table["max-version"]) ?? null;
  if (maxVersion !== null && VERSION_ORDER.indexOf(maxVersion) < VERSION_ORDER.indexOf(minVersion)) {
    reader.error([...path, "max-version"], `"max-version" ${describe(table["max-version"])} is below "min-version" (${minVersion === "TLSv1" ? "TLSv1.0" : minVersion})`);
  }
  const verify = reader.oneOf<PeerVerify>([...path, "verify"], table.verify, ["none", "optional", "required"]) ?? "none";
  const caFile = reader.string([...path, "ca-file"], table["ca-file"]) ?? null;
  let ca: string | null = null;
  if (caFile !== null) {
    const read = tls.file(caFile);
    if ("text" in read) {
      const pem = readPem(read.text);
      if (pem.certificateCount === 0) reader.error([...path, "ca-file"], `CA file "${caFile}" holds no certificate`);
      else ca = pem.certificates;
    } else {
      reader.error([...path, "ca-file"], `Cannot read CA file "${caFile}": ${"error" in read ? read.error : "it is a directory"}`);
    }
  } else if (verify !== "none") {
    reader.error([...path, "verify"], `verify = "${verify}" needs "ca-file": the CA certificates client certificates are checked against`);
  }
  return Object.freeze({
    certificates: Object.freeze(certificates),
    strictSni: reader.boolean([...path, "strict-sni"], table["strict-sni"]) ?? false,
    alpn: Object.freeze(noAlpn ? [] : alpnList === undefined ? [...DEFAULT_ALPN] : alpn),
    minVersion,
    maxVersion,
    ciphers: readCipherList(reader, [...path, "ciphers"], table.ciphers, tls.support.ciphers, "its TLS library does not let TLS 1.2 ciphers be chosen"),
    ciphersuites: readCipherList(reader, [...path, "ciphersuites"], table.ciphersuites, tls.support.ciphersuites, "its TLS library does not let TLS 1.3 suites be chosen"),
    verify,
    ca,
    caFile,
  });
}
