/**
 * The error type of the http domain: every parsing or framing failure has a stable `code` and the
 * HTTP status the proxy answers with (400, 422 or 505 for a client's request, 502 for a server's
 * response, as HAProxy maps them).
 *
 * @module
 */

/** Stable codes of http errors. */
export type HttpErrorCode =
  | "HTTP_HEAD_TOO_LARGE"
  | "HTTP_TOO_MANY_HEADERS"
  | "HTTP_BARE_LF"
  | "HTTP_BARE_CR"
  | "HTTP_INVALID_REQUEST_LINE"
  | "HTTP_INVALID_METHOD"
  | "HTTP_INVALID_TARGET"
  | "HTTP_INVALID_AUTHORITY"
  | "HTTP_UNSUPPORTED_SCHEME"
  | "HTTP_INVALID_VERSION"
  | "HTTP_UNSUPPORTED_VERSION"
  | "HTTP_INVALID_STATUS_LINE"
  | "HTTP_INVALID_STATUS"
  | "HTTP_INVALID_HEADER_LINE"
  | "HTTP_INVALID_HEADER_NAME"
  | "HTTP_WHITESPACE_BEFORE_COLON"
  | "HTTP_OBSOLETE_LINE_FOLDING"
  | "HTTP_INVALID_HEADER_VALUE"
  | "HTTP_INVALID_CONTENT_LENGTH"
  | "HTTP_CONFLICTING_CONTENT_LENGTH"
  | "HTTP_INVALID_TRANSFER_ENCODING"
  | "HTTP_CHUNKED_NOT_LAST"
  | "HTTP_CHUNKED_TWICE"
  | "HTTP_UNSUPPORTED_TRANSFER_CODING"
  | "HTTP_MISSING_HOST"
  | "HTTP_CONFLICTING_HOST"
  | "HTTP_INVALID_CHUNK_SIZE"
  | "HTTP_CHUNK_SIZE_OVERFLOW"
  | "HTTP_CHUNK_EXTENSION_TOO_LONG"
  | "HTTP_INVALID_CHUNK_EXTENSION"
  | "HTTP_MISSING_CHUNK_CRLF"
  | "HTTP_TRAILERS_TOO_LARGE"
  | "HTTP_INVALID_TRAILER";

/** A message that breaks HTTP/1.1's syntax or framing rules; `status` is the answer to send. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly status: number;
  constructor(code: HttpErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HttpError";
    this.code = code;
    this.status = status;
  }
}
