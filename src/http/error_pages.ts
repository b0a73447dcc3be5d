/**
 * The responses the proxy generates itself, as HAProxy's built-in error pages (src/http_htx.c,
 * `http_err_msgs`): a short HTML body with Content-Length, `Cache-Control: no-cache` and
 * `Connection: close`. The proxy closes the client connection after sending one, since the state
 * of the message it answers is unknown (a request body may still be coming).
 *
 * Each page is built once and shared: connections never modify the chunks they are given.
 *
 * @module
 */

/** Status lines and explanations, with HAProxy's wording. */
const PAGES: Record<number, readonly [reason: string, text: string]> = {
  400: ["Bad Request", "Your browser sent an invalid request."],
  403: ["Forbidden", "Request forbidden by administrative rules."],
  408: ["Request Timeout", "Your browser didn't send a complete request in time."],
  422: ["Unprocessable Content", "The server cannot process the request."],
  500: ["Internal Server Error", "An internal server error occurred."],
  502: ["Bad Gateway", "The server returned an invalid or incomplete response."],
  503: ["Service Unavailable", "No server is available to handle this request."],
  504: ["Gateway Timeout", "The server didn't respond in time."],
  505: ["HTTP Version Not Supported", "The HTTP version of the request is not supported."],
};

const cache = new Map<number, Uint8Array>();

function build(status: number): Uint8Array {
  const [reason, text] = PAGES[status] ?? PAGES[status >= 500 ? 500 : 400]!;
  const body = `<html><body><h1>${status} ${reason}</h1>\n${text}\n</body></html>\n`;
  const head = `HTTP/1.1 ${status} ${reason}\r\n` +
    `Content-Length: ${body.length}\r\n` +
    `Cache-Control: no-cache\r\n` +
    `Content-Type: text/html\r\n` +
    `Connection: close\r\n\r\n`;
  return new TextEncoder().encode(head + body);
}

/** The complete response (head and body) the proxy sends for `status`. Do not modify it. */
export function errorResponse(status: number): Uint8Array {
  let page = cache.get(status);
  if (page === undefined) {
    page = build(status);
    cache.set(status, page);
  }
  return page;
}
