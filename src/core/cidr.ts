/**
 * IPv4 and IPv6 networks in CIDR notation ("10.0.0.0/8", "2001:db8::/32"): parsing, and matching
 * an address against them. An IPv4-mapped IPv6 address ("::ffff:10.1.2.3") matches as the IPv4
 * address it carries. A network without a prefix length is a single address (/32 or /128).
 * Pure functions, no dependency.
 *
 * @module
 */

/** A parsed network. */
export interface Cidr {
  /** As written by the user, for messages. */
  readonly text: string;
  readonly family: 4 | 6;
  /** The network's address, 4 or 16 bytes, host bits cleared. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Writes the 4 bytes of an IPv4 address at `at`; false if invalid. */
export function parseIpv4(text: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || index > 3) return false;
      out[at + index++] = part;
      part = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      // No leading zeros: "010" is octal to some parsers.
      if (digits > 0 && part === 0) return false;
      part = part * 10 + (code - 0x30);
      if (part > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return index === 4;
}

/** Writes the 16 bytes of an IPv6 address (embedded IPv4 allowed at the end); false if invalid. */
export function parseIpv6(text: string, out: Uint8Array): boolean {
  if (text.length < 2) return false;
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (text.startsWith("::")) {
    gap = 0;
    i = 2;
    if (i === text.length) {
      out.fill(0);
      return true;
    }
  } else if (text.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < text.length) {
    let end = text.indexOf(":", i);
    if (end === -1) end = text.length;
    const piece = text.slice(i, end);
    if (piece.includes(".")) {
      if (end !== text.length) return false;
      const v4 = new Uint8Array(4);
      if (!parseIpv4(piece, v4, 0)) return false;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      i = end;
      break;
    }
    if (piece.length === 0 || piece.length > 4) return false;
    let value = 0;
    for (let c = 0; c < piece.length; c++) {
      const digit = parseInt(piece[c]!, 16);
      if (Number.isNaN(digit)) return false;
      value = value * 16 + digit;
    }
    groups.push(value);
    if (end === text.length) {
      i = end;
      break;
    }
    // end points at ":"
    if (text.charCodeAt(end + 1) === 0x3a) {
      if (gap !== -1) return false;
      gap = groups.length;
      i = end + 2;
      if (i === text.length) break;
    } else {
      i = end + 1;
      if (i === text.length) return false;
    }
  }
  if (gap === -1 ? groups.length !== 8 : groups.length > 7) return false;
  out.fill(0);
  const tail = groups.length - (gap === -1 ? groups.length : gap);
  for (let g = 0; g < groups.length; g++) {
    const slot = gap === -1 || g < gap ? g : 8 - tail + (g - gap);
    out[slot * 2] = groups[g]! >> 8;
    out[slot * 2 + 1] = groups[g]! & 0xff;
  }
  return true;
}

/** Whether the 16 bytes are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parses "ADDRESS[/PREFIX]"; returns a message (without the value) when it is not a network. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const v4 = new Uint8Array(4);
  const v6 = new Uint8Array(16);
  let family: 4 | 6;
  let bytes: Uint8Array;
  if (parseIpv4(address, v4, 0)) {
    family = 4;
    bytes = v4;
  } else if (parseIpv6(address, v6)) {
    family = 6;
    bytes = v6;
  } else {
    return "expected an IPv4 or IPv6 network such as \"10.0.0.0/8\" or \"2001:db8::/32\"";
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) {
      return `the prefix length must be an integer from 0 to ${max}`;
    }
    prefix = Number(prefixText);
  }
  // Clear the host bits, as HAProxy does with the mask.
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return Object.freeze({ text, family, bytes, prefix });
}

const scratch4 = new Uint8Array(4);
const scratch16 = new Uint8Array(16);

function prefixMatches(network: Uint8Array, address: Uint8Array, offset: number, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (network[i] !== address[offset + i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (network[whole]! & mask) === (address[offset + whole]! & mask);
}

/** Whether `address` (an IP literal; IPv4-mapped IPv6 counts as IPv4) is inside `cidr`. False for anything else. */
export function cidrContains(cidr: Cidr, address: string): boolean {
  if (parseIpv4(address, scratch4, 0)) return cidr.family === 4 && prefixMatches(cidr.bytes, scratch4, 0, cidr.prefix);
  // A zone index ("fe80::1%eth0") does not change the address.
  const percent = address.indexOf("%");
  if (!parseIpv6(percent === -1 ? address : address.slice(0, percent), scratch16)) return false;
  if (cidr.family === 6) return prefixMatches(cidr.bytes, scratch16, 0, cidr.prefix);
  return isMapped(scratch16) && prefixMatches(cidr.bytes, scratch16, 12, cidr.prefix);
}

/** The address as shown in X-Forwarded-For: an IPv4-mapped IPv6 address becomes plain IPv4. */
export function unmapAddress(address: string): string {
  if (address.length > 7 && address.includes(".") && address.slice(0, 7).toLowerCase() === "::ffff:") {
    const v4 = address.slice(7);
    if (parseIpv4(v4, scratch4, 0)) return v4;
  }
  return address;
}
