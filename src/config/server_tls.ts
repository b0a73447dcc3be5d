/**
 * `tls` on a server, or on a backend for its servers: HAProxy's `server ... ssl verify required
 * ca-file ca.pem sni req.hdr(host) crt client.pem alpn http/1.1`.
 *
 *   servers = [{ name = "a", address = "api.internal:443", tls = true }]
 *   tls = { ca-file = "/etc/proxy/internal-ca.pem", sni = "req.hdr(host)", crt = "/etc/proxy/client.pem" }
 *
 * Verification is on unless `verify = "none"` (HAProxy's advice, and our default): the chain against
 * `ca-file` (or the runtime's bundled roots; `"@system-ca"` reads the system's bundle), the name
 * against `verifyhost`, else the SNI name, else the address's host (an IP address is checked against
 * the certificate's IP entries).
 *
 * @module
 */

import type { TlsVersion } from "../runtime/types.ts";
import { isIpLiteral } from "./address.ts";
import { readPem } from "./pem.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader } from "./reader.ts";
import { DEFAULT_MIN_VERSION, readCertificateFile } from "./tls_bind.ts";
import type { ServerTlsConfig } from "./types.ts";

export const SERVER_TLS_KEYS = ["verify", "ca-file", "sni", "verifyhost", "crt", "alpn", "min-version"] as const;

/** HAProxy's sample expression for the request's Host, as `sni` takes it. */
export const SNI_FROM_HOST = "req.hdr(host)";

/** `ca-file` naming the system's CA bundle (HAProxy's `@system-ca`). */
export const SYSTEM_CA = "@system-ca";

const DEFAULT_SERVER_TLS: ServerTlsConfig = Object.freeze({
  verify: true,
  ca: null,
  caFile: null,
  sni: null,
  sniFromHost: false,
  verifyHost: null,
  certificate: null,
  crt: null,
  alpn: Object.freeze(["http/1.1"]),
  minVersion: DEFAULT_MIN_VERSION,
});

const VERSIONS: Readonly<Record<string, TlsVersion>> = { "TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3" };
const SERVER_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * `tls` of a backend (`inherited` null) or of a server (`inherited`: its backend's): false or absent
 * (without an inherited one) is plain TCP; true takes the inherited settings or the defaults; a
 * table overrides them key by key.
 */
export function readServerTls(reader: Reader, path: ConfigPath, value: unknown, inherited: ServerTlsConfig | null): ServerTlsConfig | null {
  if (value === undefined) return inherited;
  if (value === false) return null;
  const base = inherited ?? DEFAULT_SERVER_TLS;
  if (value === true) return base;
  if (!isTable(value)) {
    reader.error(path, `Expected true, false or a table of TLS settings such as { ca-file = "ca.pem" }, found ${describe(value)}`);
    return null;
  }
  const table = reader.table(path, value, SERVER_TLS_KEYS)!;
  const verify = reader.oneOf([...path, "verify"], table.verify, ["required", "none"]);
  let sni = base.sni;
  let sniFromHost = base.sniFromHost;
  const sniText = reader.string([...path, "sni"], table.sni);
  if (sniText !== undefined) {
    if (sniText.toLowerCase() === SNI_FROM_HOST) {
      sni = null;
      sniFromHost = true;
    } else if (SERVER_NAME.test(sniText.toLowerCase()) && !isIpLiteral(sniText)) {
      sni = sniText.toLowerCase();
      sniFromHost = false;
    } else {
      reader.error([...path, "sni"], `Invalid sni "${sniText}": a host name such as "api.internal", or "${SNI_FROM_HOST}" for the request's Host (an IP address is never sent as SNI, RFC 6066)`);
    }
  }
  const verifyHostText = reader.string([...path, "verifyhost"], table.verifyhost);
  let verifyHost = base.verifyHost;
  if (verifyHostText !== undefined) {
    if (SERVER_NAME.test(verifyHostText.toLowerCase()) || isIpLiteral(verifyHostText)) verifyHost = verifyHostText.toLowerCase();
    else reader.error([...path, "verifyhost"], `Invalid verifyhost "${verifyHostText}": a host name or an IP address`);
  }
  let ca = base.ca;
  let caFile = base.caFile;
  const caText = reader.string([...path, "ca-file"], table["ca-file"]);
  if (caText !== undefined) {
    caFile = caText;
    ca = readCa(reader, [...path, "ca-file"], caText);
  }
  let certificate = base.certificate;
  let crt = base.crt;
  const crtText = reader.string([...path, "crt"], table.crt);
  if (crtText !== undefined) {
    crt = crtText;
    certificate = null;
    const tls = reader.tls;
    if (tls === undefined) {
      reader.error([...path, "crt"], "Certificates cannot be read here: TLS settings need the configuration loaded from files by the proxy");
    } else {
      const read = tls.file(crtText);
      if ("text" in read) {
        const loaded = readCertificateFile(reader, tls, [...path, "crt"], crtText, read.text);
        if (loaded !== undefined) certificate = Object.freeze({ chain: loaded.chain, key: loaded.key });
      } else {
        reader.error([...path, "crt"], `Cannot read certificate "${crtText}": ${"error" in read ? read.error : "it is a directory"}`);
      }
    }
  }
  let alpn = base.alpn;
  if (Array.isArray(table.alpn) && table.alpn.length === 0) {
    alpn = Object.freeze([]);
  } else if (table.alpn !== undefined) {
    const list = reader.stringList([...path, "alpn"], table.alpn, `["http/1.1"]`);
    if (list !== undefined) alpn = Object.freeze(list.map(({ text }) => text));
  }
  const minText = reader.oneOf([...path, "min-version"], table["min-version"], Object.keys(VERSIONS));
  return Object.freeze({
    verify: verify === undefined ? base.verify : verify === "required",
    ca,
    caFile,
    sni,
    sniFromHost,
    verifyHost,
    certificate,
    crt,
    alpn,
    minVersion: minText === undefined ? base.minVersion : VERSIONS[minText]!,
  });
}

function readCa(reader: Reader, path: ConfigPath, file: string): string | null {
  const tls = reader.tls;
  if (tls === undefined) {
    reader.error(path, "CA files cannot be read here: TLS settings need the configuration loaded from files by the proxy");
    return null;
  }
  const read = tls.file(file);
  if (!("text" in read)) {
    reader.error(path, `Cannot read CA file "${file}": ${"error" in read ? read.error : "it is a directory"}`);
    return null;
  }
  const pem = readPem(read.text);
  if (pem.certificateCount === 0) {
    reader.error(path, `CA file "${file}" holds no certificate`);
    return null;
  }
  return pem.certificates;
}

/**
 * The SNI name sent to a server by default: its host name, or none for an IP address; and the name
 * its certificate must be for: `verifyhost`, else the SNI name, else the address's host.
 */
export function serverTlsNames(tls: ServerTlsConfig, addressHost: string): { serverName: string; verifyName: string } {
  const serverName = tls.sni ?? (isIpLiteral(addressHost) ? "" : addressHost.toLowerCase());
  return { serverName, verifyName: tls.verifyHost ?? (serverName !== "" ? serverName : addressHost) };
}
