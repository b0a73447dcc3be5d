/** Which timeout an http session arms in each phase (src/http/session_timeouts.ts); 0 is unset. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { bodyTimeout, bodyTimeoutSide, keepAliveTimeout, requestHeadTimeout } from "../src/http/session_timeouts.ts";

test("a head waits for http-request, else client; between requests http-keep-alive, else the head's", () => {
  assert.equal(requestHeadTimeout({ client: 30_000, httpRequest: 5_000, httpKeepAlive: 0 }), 5_000);
  assert.equal(requestHeadTimeout({ client: 30_000, httpRequest: 0, httpKeepAlive: 0 }), 30_000);
  assert.equal(keepAliveTimeout({ client: 30_000, httpRequest: 5_000, httpKeepAlive: 2_000 }), 2_000);
  assert.equal(keepAliveTimeout({ client: 30_000, httpRequest: 5_000, httpKeepAlive: 0 }), 5_000);
  assert.equal(keepAliveTimeout({ client: 30_000, httpRequest: 0, httpKeepAlive: 0 }), 30_000);
  assert.equal(keepAliveTimeout({ client: 0, httpRequest: 0, httpKeepAlive: 0 }), 0);
});

test("bodies flow under the shorter of client and server that is set, and the log names its side", () => {
  const timeouts = { client: 30_000, httpRequest: 0, httpKeepAlive: 0 };
  assert.equal(bodyTimeout(timeouts, 10_000), 10_000);
  assert.equal(bodyTimeoutSide(timeouts, 10_000), "s");
  assert.equal(bodyTimeout(timeouts, 60_000), 30_000);
  assert.equal(bodyTimeoutSide(timeouts, 60_000), "c");
  assert.equal(bodyTimeout(timeouts, 0), 30_000);
  assert.equal(bodyTimeoutSide(timeouts, 0), "c");
  const noClient = { client: 0, httpRequest: 0, httpKeepAlive: 0 };
  assert.equal(bodyTimeout(noClient, 10_000), 10_000);
  assert.equal(bodyTimeoutSide(noClient, 10_000), "s");
  assert.equal(bodyTimeout(noClient, 0), 0);
});
