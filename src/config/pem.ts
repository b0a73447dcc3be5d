/**
 * PEM files as HAProxy's `crt` takes them: certificates (the leaf first, then its chain) and a
 * private key, in any order, in one file; or the key in a file beside it (`<crt>.key`).
 *
 * @module
 */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** What a PEM text holds. */
export interface PemContents {
  /** CERTIFICATE blocks, in file order, joined. */
  readonly certificates: string;
  readonly certificateCount: number;
  /** The first PRIVATE KEY block (PKCS#8, "EC PRIVATE KEY", "RSA PRIVATE KEY"), "" without. */
  readonly key: string;
  /** Encrypted keys cannot be used: nobody types a pass phrase at a load balancer's start. */
  readonly encryptedKey: boolean;
}

export function readPem(text: string): PemContents {
  const certificates: string[] = [];
  let key = "";
  let encryptedKey = false;
  for (const match of text.matchAll(BLOCK)) {
    const label = match[1]!;
    if (label === "CERTIFICATE" || label === "TRUSTED CERTIFICATE") certificates.push(match[0]);
    else if (label === "ENCRYPTED PRIVATE KEY" || (label.endsWith("PRIVATE KEY") && /Proc-Type:\s*4,ENCRYPTED/.test(match[0]))) {
      encryptedKey = true;
    } else if (label.endsWith("PRIVATE KEY") && key === "") key = match[0];
  }
  return { certificates: certificates.join("\n") + (certificates.length > 0 ? "\n" : ""), certificateCount: certificates.length, key, encryptedKey };
}

/** True when the text holds a private key block: without one, the loader reads `<crt>.key` too. */
export function hasPrivateKey(text: string): boolean {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
}

/**
 * Files of a `crt` directory that are not certificates to load: HAProxy skips its companion files
 * (`.key`, `.ocsp`, `.issuer`, `.sctl`) and hidden files.
 */
export function isCertificateFileName(name: string): boolean {
  return !name.startsWith(".") && !/\.(key|ocsp|issuer|sctl)$/.test(name);
}
