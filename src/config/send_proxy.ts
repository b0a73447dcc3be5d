/**
 * The PROXY protocol towards servers, on a server or on a backend for its servers (HAProxy's
 * server keywords of the same names):
 *
 *   send-proxy = true              # the v1 text line
 *   send-proxy-v2 = true           # the v2 binary header (ALPN and AUTHORITY TLVs when known)
 *   send-proxy-v2-ssl = true       # v2 with the SSL TLV (implies send-proxy-v2)
 *   send-proxy-v2-ssl-cn = true    # v2 with the SSL TLV and the client certificate's CN (implies both)
 *   check-send-proxy = true        # health checks send it too
 *
 * The four header keys are one choice: a server that gives any of them replaces its backend's
 * choice as a whole (so `send-proxy = false` on a server turns its backend's default off), and v1
 * together with a v2 key is refused. `check-send-proxy` is inherited on its own.
 *
 * @module
 */

import type { ConfigPath, Reader } from "./reader.ts";
import type { SendProxyConfig } from "./types.ts";

export const SEND_PROXY_KEYS = ["send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "check-send-proxy"] as const;

const HEADER_KEYS = ["send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn"] as const;

/** No header to servers, none to checks beyond HAProxy's default (see `checkSendsProxy`). */
export const NO_SEND_PROXY: SendProxyConfig = Object.freeze({ version: 0, ssl: false, sslCn: false, check: undefined });

/**
 * The send-proxy keys of a backend (`inherited` {@link NO_SEND_PROXY}) or a server (`inherited`:
 * its backend's), read from `table` (the section's own table).
 */
export function readSendProxy(reader: Reader, path: ConfigPath, table: Record<string, unknown>, inherited: SendProxyConfig): SendProxyConfig {
  const check = reader.boolean([...path, "check-send-proxy"], table["check-send-proxy"]) ?? inherited.check;
  const given = HEADER_KEYS.filter((key) => table[key] !== undefined);
  if (given.length === 0) return inherited.check === check ? inherited : Object.freeze({ ...inherited, check });
  const v1 = reader.boolean([...path, "send-proxy"], table["send-proxy"]) ?? false;
  const v2 = reader.boolean([...path, "send-proxy-v2"], table["send-proxy-v2"]) ?? false;
  const ssl = reader.boolean([...path, "send-proxy-v2-ssl"], table["send-proxy-v2-ssl"]) ?? false;
  const sslCn = reader.boolean([...path, "send-proxy-v2-ssl-cn"], table["send-proxy-v2-ssl-cn"]) ?? false;
  const anyV2 = v2 || ssl || sslCn;
  if (v1 && anyV2) {
    const v2Key = v2 ? "send-proxy-v2" : ssl ? "send-proxy-v2-ssl" : "send-proxy-v2-ssl-cn";
    reader.error([...path, "send-proxy"], `"send-proxy" (PROXY protocol v1) and "${v2Key}" (v2) cannot both be on: a connection starts with one header; keep one`);
  }
  return Object.freeze({
    version: anyV2 ? 2 : v1 ? 1 : 0,
    ssl: ssl || sslCn,
    sslCn,
    check,
  });
}

/**
 * Whether a server's health checks send a PROXY header: `check-send-proxy` when given, else, as
 * HAProxy does, when the server's traffic gets one and the check goes to the server's own address
 * and port (a check aimed elsewhere talks to something else).
 */
export function checkSendsProxy(sendProxy: SendProxyConfig, checkGoesToServer: boolean): boolean {
  if (sendProxy.check !== undefined) return sendProxy.check;
  return sendProxy.version !== 0 && checkGoesToServer;
}
