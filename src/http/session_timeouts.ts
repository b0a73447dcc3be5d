/**
 * Which timeout an http session arms in each of its phases, from the frontend's timeouts and the
 * backend's (HAProxy's rules): `timeout http-request` for a request head, else `timeout client`;
 * `timeout http-keep-alive` between requests, else the head's; while bodies flow, the shorter of
 * `timeout client` and `timeout server` that is set. 0 means unset everywhere.
 *
 * @module
 */

/** The frontend timeouts an http session obeys, in ms (0: unset). */
export interface HttpClientTimeouts {
  readonly client: number;
  readonly httpRequest: number;
  readonly httpKeepAlive: number;
}

/** A request head must arrive within this. */
export function requestHeadTimeout(timeouts: HttpClientTimeouts): number {
  return timeouts.httpRequest > 0 ? timeouts.httpRequest : timeouts.client;
}

/** The next request must start within this after a response. */
export function keepAliveTimeout(timeouts: HttpClientTimeouts): number {
  return timeouts.httpKeepAlive > 0 ? timeouts.httpKeepAlive : requestHeadTimeout(timeouts);
}

/** While a body flows either way: the smaller of the client's and the server's, whichever are set. */
export function bodyTimeout(timeouts: HttpClientTimeouts, serverTimeout: number): number {
  const client = timeouts.client;
  if (client <= 0) return serverTimeout;
  if (serverTimeout <= 0) return client;
  return client < serverTimeout ? client : serverTimeout;
}

/** Which side's timeout {@link bodyTimeout} is, as the log's termination state says it: "c" or "s". */
export function bodyTimeoutSide(timeouts: HttpClientTimeouts, serverTimeout: number): string {
  return bodyTimeout(timeouts, serverTimeout) === timeouts.client ? "c" : "s";
}
