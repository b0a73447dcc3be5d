/**
 * The address forms of the command line and the configuration file, as HAProxy writes them.
 *
 * Listening addresses: `:80`, `*:80`, `80`, `127.0.0.1:80`, `[::1]:80`, `[::]:80`, `localhost:80`.
 * Server addresses: `10.0.0.1:8080`, `10.0.0.1` (no port: the port the client connected to),
 * `[::1]:8080`, `::1`, `web1.internal:8080`. Pure functions: nothing is resolved here.
 *
 * @module
 */

/** Where to listen. `host` is an IP literal or a host name, without brackets. */
export interface BindAddress {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** Where a server is. `host` is an IP literal or a host name, without brackets. */
export interface ServerAddress {
  readonly host: string;
  /** null: use the port the client connected to, as HAProxy does for a server without a port. */
  readonly port: number | null;
}

/** A malformed address, with the stable code "ADDRESS_INVALID". */
export class AddressError extends Error {
  readonly code: "ADDRESS_INVALID";
  /** The text that failed to parse. */
  readonly input: string;
  constructor(input: string, message: string) {
    super(message);
    this.name = "AddressError";
    this.code = "ADDRESS_INVALID";
    this.input = input;
  }
}

/** Host of `:80`, `*:80` and `80`: HAProxy binds IPv4 "any" for these, not "::". */
const ANY_IPV4 = "0.0.0.0";

const HIGHEST_PORT = 65535;

/** RFC 1035 limit on a whole name, without the trailing dot. */
const MAX_HOST_NAME_LENGTH = 253;

/** RFC 1035 limit on one label. */
const MAX_LABEL_LENGTH = 63;

const DECIMAL_OCTET = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** Zone of a link-local IPv6 address: an interface name or index (`fe80::1%eth0`). */
const IPV6_ZONE = /^[0-9A-Za-z_.-]+$/;
/**
 * One label of a host name: letters, digits and inner hyphens (RFC 1123), plus underscores, which
 * RFC 2181 allows in DNS and which container service names use (`my_service`).
 */
const HOST_LABEL = /^[0-9A-Za-z_](?:[0-9A-Za-z_-]*[0-9A-Za-z_])?$/;
const DIGITS = /^[0-9]+$/;
const DIGITS_AND_DOTS = /^[0-9.]+$/;

/**
 * Parses a listening address: `[HOST]:PORT`, `*:PORT`, bare `PORT`, or `[IPv6]:PORT`. The port is
 * required; 0 means any free port.
 */
export function parseBindAddress(text: string): BindAddress {
  const input = text.trim();
  checkNotEmptyOrUrl(text, input);
  if (DIGITS.test(input)) return { host: ANY_IPV4, port: parsePort(input, input, 0) };
  if (input.startsWith("[")) {
    const { host, rest } = splitBracketed(input);
    if (rest === "") throw new AddressError(input, `Invalid address "${input}": missing port`);
    return { host, port: parsePort(input, rest.slice(1), 0) };
  }
  const colon = input.indexOf(":");
  if (colon === -1) {
    throw new AddressError(input, `Invalid address "${input}": missing port, as in "${input}:80"`);
  }
  if (input.indexOf(":", colon + 1) !== -1) throw unbracketedIpv6(input);
  const hostText = input.slice(0, colon);
  const port = parsePort(input, input.slice(colon + 1), 0);
  if (hostText === "" || hostText === "*") return { host: ANY_IPV4, port };
  return { host: checkHost(input, hostText), port };
}

/**
 * Parses a server address: `HOST[:PORT]`, `[IPv6][:PORT]`, or a bare IPv6 literal such as `::1`
 * (two or more colons and no brackets: the whole text is the address, with no port). A missing port
 * is null: the server gets the port the client connected to.
 */
export function parseServerAddress(text: string): ServerAddress {
  const input = text.trim();
  checkNotEmptyOrUrl(text, input);
  if (input.startsWith("[")) {
    const { host, rest } = splitBracketed(input);
    return { host, port: rest === "" ? null : parsePort(input, rest.slice(1), 1) };
  }
  const colon = input.indexOf(":");
  if (colon === -1) return { host: checkHost(input, input), port: null };
  if (input.indexOf(":", colon + 1) !== -1) {
    // Two colons or more cannot be host:port, so the whole text must be an IPv6 literal.
    if (!isIpv6(input)) throw unbracketedIpv6(input);
    return { host: input, port: null };
  }
  const hostText = input.slice(0, colon);
  if (hostText === "" || hostText === "*") {
    throw new AddressError(input, `Invalid address "${input}": missing host`);
  }
  return { host: checkHost(input, hostText), port: parsePort(input, input.slice(colon + 1), 1) };
}

/** Splits a comma-separated list (`a:80, b:80`), trimming items and dropping empty ones. */
export function splitList(text: string): string[] {
  const items: string[] = [];
  for (const item of text.split(",")) {
    const trimmed = item.trim();
    if (trimmed !== "") items.push(trimmed);
  }
  return items;
}

/** True for an IPv4 or IPv6 literal (without brackets), false for a host name. */
export function isIpLiteral(host: string): boolean {
  return ipFamily(host) !== 0;
}

/** 4 or 6 for an IP literal (IPv6 without brackets, zone allowed), 0 for anything else. */
export function ipFamily(host: string): 4 | 6 | 0 {
  if (isIpv4(host)) return 4;
  if (isIpv6(host)) return 6;
  return 0;
}

function isIpv4(text: string): boolean {
  // Leading zeros are refused: inet_aton would read "010" as octal 8, a URL parser as 10.
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => DECIMAL_OCTET.test(part));
}

function isIpv6(text: string): boolean {
  let address = text;
  const percent = text.indexOf("%");
  if (percent !== -1) {
    if (!IPV6_ZONE.test(text.slice(percent + 1))) return false;
    address = text.slice(0, percent);
  }
  const halves = address.split("::");
  if (halves.length > 2) return false;
  const groupCount = (half: string): number => {
    if (half === "") return 0;
    const groups = half.split(":");
    let count = 0;
    for (let index = 0; index < groups.length; index++) {
      const group = groups[index]!;
      // An embedded IPv4 address (::ffff:192.0.2.1) is only allowed last and counts as two groups.
      if (index === groups.length - 1 && group.includes(".")) {
        if (!isIpv4(group)) return -1;
        count += 2;
      } else if (HEX_GROUP.test(group)) {
        count += 1;
      } else {
        return -1;
      }
    }
    return count;
  };
  if (halves.length === 1) return groupCount(address) === 8;
  const head = groupCount(halves[0]!);
  const tail = groupCount(halves[1]!);
  // The embedded IPv4 form is only valid at the very end, so not before the "::".
  if (head < 0 || tail < 0 || halves[0]!.includes(".")) return false;
  return head + tail <= 7;
}

function isHostName(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name === "" || name.length > MAX_HOST_NAME_LENGTH) return false;
  return name.split(".").every((label) => label.length <= MAX_LABEL_LENGTH && HOST_LABEL.test(label));
}

/** Validates an unbracketed host: an IPv4 literal or a host name (IPv6 needs brackets here). */
function checkHost(input: string, host: string): string {
  if (DIGITS_AND_DOTS.test(host)) {
    // All digits and dots is meant as IPv4: never let a typo like 10.0.0.256 pass as a name.
    if (isIpv4(host)) return host;
    throw new AddressError(input, `Invalid IPv4 address in "${input}": "${host}"`);
  }
  if (isHostName(host)) return host;
  throw new AddressError(input, `Invalid host in "${input}": "${host}"`);
}

/** Splits `[IPv6]rest`; `rest` is "" or starts with ":". */
function splitBracketed(input: string): { host: string; rest: string } {
  const close = input.indexOf("]");
  if (close === -1) throw new AddressError(input, `Invalid address "${input}": missing "]"`);
  const host = input.slice(1, close);
  if (!isIpv6(host)) {
    throw new AddressError(input, `Invalid IPv6 address in "${input}": "${host}"`);
  }
  const rest = input.slice(close + 1);
  if (rest !== "" && !rest.startsWith(":")) {
    throw new AddressError(input, `Invalid address "${input}": expected ":" after "]"`);
  }
  return { host, rest };
}

function parsePort(input: string, text: string, lowest: 0 | 1): number {
  if (text === "") throw new AddressError(input, `Invalid address "${input}": missing port`);
  const port = DIGITS.test(text) ? Number(text) : Number.NaN;
  if (!(port >= lowest && port <= HIGHEST_PORT)) {
    throw new AddressError(input, `Invalid port in "${input}": expected ${lowest} to ${HIGHEST_PORT}`);
  }
  return port;
}

function checkNotEmptyOrUrl(text: string, input: string): void {
  if (input === "") throw new AddressError(text, `Invalid address "${text}": empty`);
  if (input.includes("://")) {
    throw new AddressError(input, `Invalid address "${input}": expected HOST:PORT, not a URL`);
  }
}

function unbracketedIpv6(input: string): AddressError {
  return new AddressError(
    input,
    `Invalid address "${input}": put an IPv6 address in brackets, as in "[::1]:80"`,
  );
}
