/**
 * An incremental reader of a TLS ClientHello's server name (SNI, RFC 6066 section 3), for tcp-mode
 * routing without terminating TLS: HAProxy's `req.ssl_sni`.
 *
 * It is fed the client's first chunks as they arrive, split anywhere, and says as soon as it can
 * whether more bytes are needed, the stream is not TLS, the hello has no usable server name, or
 * which name it carries. The handshake message may be fragmented over several TLS records
 * (RFC 8446 5.1) and the records over several reads.
 *
 * Copies: a hello that sits whole in one record of one chunk (what every common client sends) is
 * parsed in place. Otherwise only the handshake bytes are gathered, in one buffer allocated once
 * its length is known, bounded by the cap. The chunks themselves stay the caller's, untouched, to
 * forward as they are.
 *
 * The cap (HAProxy keeps the hello in one buffer of `tune.bufsize`, 16 KiB): a hello whose
 * handshake message, or whose bytes on the wire, would exceed it is given up as "no server name"
 * without reading further, so a client cannot make the proxy hold more than the cap plus one read.
 *
 * Garbage never throws: every length is checked against what encloses it.
 *
 * @module
 */

/** More bytes are needed. */
export const HELLO_INCOMPLETE = 0;
/** The stream does not start with a TLS handshake record (plain text, SSLv2, anything else). */
export const HELLO_NOT_TLS = 1;
/** A TLS handshake without a usable server name: none sent, malformed, not a ClientHello, or over the cap. */
export const HELLO_NO_SNI = 2;
/** The hello's server name is in `serverName`. */
export const HELLO_SNI = 3;

/** What {@link ClientHelloReader.feed} found so far. */
export type HelloStatus = typeof HELLO_INCOMPLETE | typeof HELLO_NOT_TLS | typeof HELLO_NO_SNI | typeof HELLO_SNI;

/** HAProxy's tune.bufsize: its hello must fit in one buffer. */
export const DEFAULT_HELLO_LIMIT = 16_384;

const RECORD_HEADER_LENGTH = 5;
const CONTENT_TYPE_HANDSHAKE = 0x16;
/** RFC 8446 5.1: a record's plaintext is at most 2^14 bytes. */
const MAX_RECORD_LENGTH = 16_384;
const HANDSHAKE_HEADER_LENGTH = 4;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** RFC 1035: a host name is at most 255 bytes (253 characters written out). */
const MAX_HOST_NAME_LENGTH = 255;

/** Why a hello gave no name, for debug logs. */
export const NO_SNI_NONE = "the ClientHello has no server_name extension";
export const NO_SNI_TOO_BIG = "the ClientHello exceeds the inspection buffer";
export const NO_SNI_MALFORMED = "the ClientHello is malformed";
export const NO_SNI_NOT_HELLO = "the first handshake message is not a ClientHello";
export const NO_SNI_BAD_NAME = "the server name is not a host name";

/** Reads one connection's first bytes; `reset` makes it ready for the next connection. */
export class ClientHelloReader {
  /** Raw bytes (record headers included) it may look at before giving up. */
  readonly limit: number;
  /** The outcome so far; sticky once not incomplete. */
  status: HelloStatus = HELLO_INCOMPLETE;
  /** With HELLO_SNI: the host name, lower case, without a trailing dot. */
  serverName = "";
  /** With HELLO_NO_SNI: why (one of the NO_SNI_* texts). */
  problem = "";
  /** Raw bytes fed so far. */
  private seen = 0;
  /** The record header being read, and how much of it. */
  private readonly header = new Uint8Array(RECORD_HEADER_LENGTH);
  private headerFilled = 0;
  /** Payload bytes left in the current record (0: a header comes next). */
  private recordLeft = 0;
  /** The handshake message gathered across records and chunks: its 4-byte header first, then the whole message. */
  private readonly messageHeader = new Uint8Array(HANDSHAKE_HEADER_LENGTH);
  private message: Uint8Array | null = null;
  private messageFilled = 0;
  /** Length of the whole handshake message, header included; 0 while unknown. */
  private messageLength = 0;

  constructor(limit: number = DEFAULT_HELLO_LIMIT) {
    this.limit = limit;
  }

  /** Forgets the connection it was reading. */
  reset(): void {
    this.status = HELLO_INCOMPLETE;
    this.serverName = "";
    this.problem = "";
    this.seen = 0;
    this.headerFilled = 0;
    this.recordLeft = 0;
    this.message = null;
    this.messageFilled = 0;
    this.messageLength = 0;
  }

  /** Reads the next chunk of the stream; returns the status (also kept in `status`). */
  feed(chunk: Uint8Array): HelloStatus {
    if (this.status !== HELLO_INCOMPLETE) return this.status;
    this.seen += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.recordLeft === 0) {
        at = this.readHeader(chunk, at);
        if (this.status !== HELLO_INCOMPLETE) return this.status;
        continue;
      }
      const take = Math.min(this.recordLeft, chunk.length - at);
      this.recordLeft -= take;
      this.readMessage(chunk, at, take);
      if (this.status !== HELLO_INCOMPLETE) return this.status;
      at += take;
    }
    // Still incomplete past the cap: the rest would not fit in the buffer the hello must fit in.
    if (this.seen >= this.limit) this.give(HELLO_NO_SNI, NO_SNI_TOO_BIG);
    return this.status;
  }

  /** Reads record header bytes from `chunk` at `at`; returns where the header ends in it. */
  private readHeader(chunk: Uint8Array, at: number): number {
    const header = this.header;
    while (this.headerFilled < RECORD_HEADER_LENGTH && at < chunk.length) header[this.headerFilled++] = chunk[at++]!;
    // The first byte alone tells a non-TLS stream, so plain text is answered at once.
    if (header[0] !== CONTENT_TYPE_HANDSHAKE) {
      this.give(this.isFirstRecord() ? HELLO_NOT_TLS : HELLO_NO_SNI, NO_SNI_MALFORMED);
      return at;
    }
    if (this.headerFilled >= 2 && header[1] !== 3) {
      this.give(this.isFirstRecord() ? HELLO_NOT_TLS : HELLO_NO_SNI, NO_SNI_MALFORMED);
      return at;
    }
    if (this.headerFilled < RECORD_HEADER_LENGTH) return at;
    this.headerFilled = 0;
    const length = (header[3]! << 8) | header[4]!;
    // RFC 8446 5.1: handshake records are never empty; none exceeds 2^14 bytes.
    if (length === 0 || length > MAX_RECORD_LENGTH) {
      this.give(this.isFirstRecord() ? HELLO_NOT_TLS : HELLO_NO_SNI, NO_SNI_MALFORMED);
      return at;
    }
    this.recordLeft = length;
    return at;
  }

  /** No handshake byte read yet: the record being looked at is the stream's first. */
  private isFirstRecord(): boolean {
    return this.messageFilled === 0 && this.messageLength === 0;
  }

  /** Takes `take` handshake bytes of `chunk` from `at`. */
  private readMessage(chunk: Uint8Array, at: number, take: number): void {
    if (this.messageLength === 0) {
      // The common case: the whole message in this record and chunk, parsed where it lies.
      if (this.messageFilled === 0 && take >= HANDSHAKE_HEADER_LENGTH) {
        if (!this.startMessage(chunk, at)) return;
        if (take >= this.messageLength) {
          this.parse(chunk.subarray(at + HANDSHAKE_HEADER_LENGTH, at + this.messageLength));
          return;
        }
      }
      while (this.messageLength === 0 && take > 0) {
        this.messageHeader[this.messageFilled++] = chunk[at++]!;
        take--;
        if (this.messageFilled === HANDSHAKE_HEADER_LENGTH && !this.startMessage(this.messageHeader, 0)) return;
      }
      if (this.messageLength === 0) return;
      if (this.message === null) {
        this.message = new Uint8Array(this.messageLength);
        this.message.set(this.messageHeader.subarray(0, this.messageFilled));
      }
    }
    const message = this.message!;
    const copy = Math.min(take, this.messageLength - this.messageFilled);
    message.set(chunk.subarray(at, at + copy), this.messageFilled);
    this.messageFilled += copy;
    if (this.messageFilled === this.messageLength) this.parse(message.subarray(HANDSHAKE_HEADER_LENGTH));
  }

  /** Reads the handshake header at `bytes[at]`; false when it ends the reading. */
  private startMessage(bytes: Uint8Array, at: number): boolean {
    if (bytes[at] !== HANDSHAKE_CLIENT_HELLO) {
      this.give(HELLO_NO_SNI, NO_SNI_NOT_HELLO);
      return false;
    }
    const length = HANDSHAKE_HEADER_LENGTH + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    if (length > this.limit) {
      this.give(HELLO_NO_SNI, NO_SNI_TOO_BIG);
      return false;
    }
    this.messageLength = length;
    return true;
  }

  /** Parses a whole ClientHello body (RFC 8446 4.1.2; TLS 1.0 to 1.2 have the same layout). */
  private parse(body: Uint8Array): void {
    const end = body.length;
    // legacy_version (2) and random (32), then legacy_session_id <0..32>.
    let at = 34;
    if (at + 1 > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    at += 1 + body[at]!;
    // cipher_suites <2..2^16-2>.
    if (at + 2 > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    at += 2 + ((body[at]! << 8) | body[at + 1]!);
    // legacy_compression_methods <1..2^8-1>.
    if (at + 1 > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    at += 1 + body[at]!;
    if (at > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    // Before TLS 1.3 the extensions block may be left out altogether.
    if (at === end) return this.give(HELLO_NO_SNI, NO_SNI_NONE);
    if (at + 2 > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    const extensionsEnd = at + 2 + ((body[at]! << 8) | body[at + 1]!);
    if (extensionsEnd > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    at += 2;
    while (at + 4 <= extensionsEnd) {
      const type = (body[at]! << 8) | body[at + 1]!;
      const length = (body[at + 2]! << 8) | body[at + 3]!;
      at += 4;
      if (at + length > extensionsEnd) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
      if (type === EXTENSION_SERVER_NAME) return this.readServerName(body, at, at + length);
      at += length;
    }
    this.give(HELLO_NO_SNI, at === extensionsEnd ? NO_SNI_NONE : NO_SNI_MALFORMED);
  }

  /** The first host_name of a ServerNameList in `body[at..end)`. */
  private readServerName(body: Uint8Array, at: number, end: number): void {
    if (at + 2 > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    const listEnd = at + 2 + ((body[at]! << 8) | body[at + 1]!);
    if (listEnd > end) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
    at += 2;
    while (at + 3 <= listEnd) {
      const type = body[at]!;
      const length = (body[at + 1]! << 8) | body[at + 2]!;
      at += 3;
      if (at + length > listEnd) return this.give(HELLO_NO_SNI, NO_SNI_MALFORMED);
      if (type === NAME_TYPE_HOST_NAME) return this.readHostName(body, at, at + length);
      at += length;
    }
    this.give(HELLO_NO_SNI, NO_SNI_NONE);
  }

  /**
   * Decodes a host name: ASCII letters, digits, "-", "_" and "." only (RFC 6066 sends IDNs as
   * A-labels), lower-cased and without its trailing dot, so routes compare it as written.
   */
  private readHostName(body: Uint8Array, start: number, end: number): void {
    if (end > start && body[end - 1] === 0x2e) end--;
    if (end <= start || end - start > MAX_HOST_NAME_LENGTH) return this.give(HELLO_NO_SNI, NO_SNI_BAD_NAME);
    let name = "";
    for (let i = start; i < end; i++) {
      let byte = body[i]!;
      if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
      else if (!((byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x5f || byte === 0x2e)) {
        return this.give(HELLO_NO_SNI, NO_SNI_BAD_NAME);
      }
      name += String.fromCharCode(byte);
    }
    this.serverName = name;
    this.status = HELLO_SNI;
  }

  private give(status: typeof HELLO_NOT_TLS | typeof HELLO_NO_SNI, problem: string): void {
    this.status = status;
    this.problem = status === HELLO_NOT_TLS ? "the first bytes are not a TLS handshake record" : problem;
  }
}
