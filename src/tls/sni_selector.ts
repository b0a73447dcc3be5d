/**
 * Picks a listener's certificate for the name a client sends in its SNI extension, as HAProxy does
 * with `crt` lists: a certificate's exact names first, then its wildcards (`*.example.com` covers
 * one label: `www.example.com`, not `example.com` nor `a.b.example.com`, RFC 6125 6.4.3), then the
 * default (the first certificate loaded), unless `strict-sni` asks to refuse the handshake. When
 * two certificates claim a name, the first loaded keeps it.
 *
 * @module
 */

/** Answer of `select` when the handshake must be refused. */
export const NO_CERTIFICATE = -1;

export class SniSelector {
  private readonly exact = new Map<string, number>();
  private readonly wildcard = new Map<string, number>();
  private readonly strict: boolean;

  /** `names[i]` are certificate i's names (lower case; `*.` for a wildcard). */
  constructor(names: readonly (readonly string[])[], strict: boolean) {
    this.strict = strict;
    names.forEach((list, index) => {
      for (const name of list) {
        if (name.startsWith("*.")) {
          const suffix = name.slice(1);
          if (!this.wildcard.has(suffix)) this.wildcard.set(suffix, index);
        } else if (!this.exact.has(name)) {
          this.exact.set(name, index);
        }
      }
    });
  }

  /** The index of the certificate for `serverName` ("" when the client sent none), or NO_CERTIFICATE. */
  select(serverName: string): number {
    if (serverName !== "") {
      const exact = this.exact.get(serverName);
      if (exact !== undefined) return exact;
      const dot = serverName.indexOf(".");
      if (dot > 0) {
        const wildcard = this.wildcard.get(serverName.slice(dot));
        if (wildcard !== undefined) return wildcard;
      }
    }
    return this.strict ? NO_CERTIFICATE : 0;
  }
}
