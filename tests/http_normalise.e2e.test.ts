/**
 * What servers receive, end to end: requests and responses that arrive valid but unusual are
 * normalised before they are forwarded (absolute-form targets, duplicate Host and Content-Length
 * lines, HTTP/1.x minor versions above 1, Transfer-Encoding lists), the ones the proxy must refuse
 * are refused, and a head with an invalid byte is answered the moment that byte arrives, not when
 * the head ends or `timeout http-request` fires. The origin is a raw node:net server that records
 * the exact head bytes it receives.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { startOrigin } from "./_cli_helpers.ts";
import { RawClient, startWithConfig } from "./_http_helpers.ts";

/** A raw origin that records each request head as received and answers it with `answer`. */
async function recordingOrigin(answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
  const heads: string[] = [];
  const origin = await startOrigin((socket: net.Socket) => {
    let pending = "";
    socket.on("data", (chunk: Buffer) => {
      pending += chunk.toString("latin1");
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.slice(0, end + 4);
        // Just enough framing to find the end of the test requests' bodies.
        let bodyEnd = end + 4;
        if (/\r\ntransfer-encoding:/i.test(head)) {
          const last = pending.indexOf("0\r\n\r\n", end + 4);
          if (last < 0) return;
          bodyEnd = last + 5;
        } else {
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (length !== null) bodyEnd += Number(length[1]);
          if (pending.length < bodyEnd) return;
        }
        heads.push(head);
        pending = pending.slice(bodyEnd);
        socket.write(answer);
      }
    });
  });
  return { ...origin, heads };
}

/** A configuration with one http frontend "web" in front of one server, with the timeouts given (TOML lines). */
function singleBackend(address: string, timeouts = ""): string {
  return `
[defaults]
mode = "http"
[defaults.timeout]
${timeouts}

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
servers = [{ name = "s1", address = "${address}" }]
`;
}

/** Sends one request on its own connection and resolves with what came back once the answer is whole. */
async function ask(port: number, request: string, done: (text: string) => boolean = (text) => text.endsWith("ok")): Promise<string> {
  const client = new RawClient(port);
  try {
    await client.opened;
    client.send(request);
    return await client.until((text) => done(text) || client.closed);
  } finally {
    client.close();
  }
}

test("requests reach the server normalised: absolute-form authority as Host, one Host, one Content-Length, HTTP/1.1, the applied Transfer-Encoding", async () => {
  const origin = await recordingOrigin();
  const { proxy, port, remove } = await startWithConfig(singleBackend(origin.address));
  try {
    const cases: [sent: string, received: string][] = [
      // RFC 9112 3.2.2: the received Host is ignored, the target's authority replaces it; the
      // request line keeps the absolute form, as HAProxy 2.6 forwards it.
      [
        "GET http://other.test/p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: 1\r\n\r\n",
        "GET http://other.test/p?q=1 HTTP/1.1\r\nHost: other.test\r\nX-A: 1\r\n\r\n",
      ],
      // The scheme's default port and an empty port are dropped from the authority (HAProxy too).
      [
        "GET HTTP://Other.Test:80/p HTTP/1.1\r\nHost: other.test:80\r\n\r\n",
        "GET HTTP://Other.Test/p HTTP/1.1\r\nHost: Other.Test\r\n\r\n",
      ],
      [
        "GET https://other.test: HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET https://other.test HTTP/1.1\r\nHost: other.test\r\n\r\n",
      ],
      [
        "GET http://[::1]:8080/x HTTP/1.1\r\nX-B: 2\r\nHost: elsewhere\r\n\r\n",
        "GET http://[::1]:8080/x HTTP/1.1\r\nX-B: 2\r\nHost: [::1]:8080\r\n\r\n",
      ],
      // Several Host lines with one value (any case) reach the server as one, the first.
      ["GET / HTTP/1.1\r\nHost: a.test\r\nX: 1\r\nhost: A.TEST\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test\r\nX: 1\r\n\r\n"],
      // Identical Content-Length lines, or a list of one value, become one line.
      [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
      ],
      ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"],
      // RFC 9110 2.5: a higher minor version is processed, and forwarded, as HTTP/1.1.
      ["GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["GET / HTTP/1.9\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
      // The coding list the proxy applied, not the client's text.
      [
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      ],
      [
        "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\r\nX: 1\r\nTransfer-Encoding: CHUNKED ,\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\nX: 1\r\n\r\n",
      ],
    ];
    for (const [sent, received] of cases) {
      const answer = await ask(port, sent);
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/, JSON.stringify(sent));
      assert.equal(origin.heads.at(-1), received, JSON.stringify(sent));
    }
    assert.equal(origin.heads.length, cases.length);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
  }
});

test("absolute-form targets the proxy cannot forward are refused with 400; HTTP/2 and above on an h1 connection get 505", async () => {
  const origin = await recordingOrigin();
  const { proxy, port, remove } = await startWithConfig(singleBackend(origin.address));
  try {
    for (const target of [
      "http://other.test:65536/",
      "http://other.test:99999999999999999999/",
      "http://other.test:8x/",
      "http://user:pw@other.test/",
      "http://@other.test/",
      "ftp://other.test/",
      "mailto:someone",
      "http:/other.test/",
      "http:///path",
      "http://other.test<>/",
      "other.test",
    ]) {
      const answer = await ask(port, `GET ${target} HTTP/1.1\r\nHost: other.test\r\n\r\n`, () => false);
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, target);
    }
    for (const version of ["HTTP/2.0", "HTTP/3.1"]) {
      const answer = await ask(port, `GET / ${version}\r\nHost: a\r\n\r\n`, () => false);
      assert.match(answer, /^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/, version);
    }
    assert.equal(origin.connections(), 0);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
  }
});

test("routes, header conditions and X-Forwarded-Host see an absolute-form target's authority, not the received Host", async () => {
  const site = await recordingOrigin("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsite");
  const other = await recordingOrigin("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother");
  const { proxy, port, remove } = await startWithConfig(`
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "site"
forwarded-host = true
routes = [{ backend = "other", header = { name = "Host", equals = "other.test" } }]

[backends.site]
servers = [{ name = "s", address = "${site.address}" }]

[backends.other]
servers = [{ name = "o", address = "${other.address}" }]
`);
  try {
    const done = (text: string) => /(site|other)$/.test(text);
    assert.match(await ask(port, "GET http://other.test/x HTTP/1.1\r\nHost: www.test\r\n\r\n", done), /other$/);
    assert.equal(other.heads.at(-1), "GET http://other.test/x HTTP/1.1\r\nHost: other.test\r\nX-Forwarded-Host: other.test\r\n\r\n");
    assert.match(await ask(port, "GET http://www.test/x HTTP/1.1\r\nHost: other.test\r\n\r\n", done), /site$/);
    assert.equal(site.heads.at(-1), "GET http://www.test/x HTTP/1.1\r\nHost: www.test\r\nX-Forwarded-Host: www.test\r\n\r\n");
  } finally {
    await proxy.stop();
    remove();
    await site.close();
    await other.close();
  }
});

test("responses reach the client normalised: HTTP/1.x as HTTP/1.1, the applied Transfer-Encoding, one Content-Length", async () => {
  const answers = [
    "HTTP/1.2 200 OK\r\nTransfer-Encoding: , Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,  Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  ];
  const expected = [
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  ];
  let next = 0;
  const origin = await startOrigin((socket: net.Socket) => {
    socket.on("data", () => socket.write(answers[next++]!));
  });
  const { proxy, port, remove } = await startWithConfig(singleBackend(origin.address));
  try {
    for (let i = 0; i < answers.length; i++) {
      const received = await ask(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", (text) => text.endsWith(expected[i]!.slice(-6)));
      assert.equal(received, expected[i], JSON.stringify(answers[i]));
    }
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
  }
});

test("an invalid byte in a request head is answered with 400 as soon as it arrives, before the head ends", async () => {
  const origin = await recordingOrigin();
  // A long http-request timeout: an answer that waits for it fails the bounded waits below.
  const { proxy, port, remove } = await startWithConfig(singleBackend(origin.address, `http-request = "60s"\nclient = "60s"`));
  try {
    for (const partial of [
      "G\u0000",
      "GET /\u0001",
      "GET / HTTP/1.1\u0000",
      "GET / HTTP/1.1\r\nHo\u0001",
      "GET / HTTP/1.1\r\nHost: a\u0000",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + "v".repeat(3000) + "\u0000",
    ]) {
      const client = new RawClient(port);
      try {
        await client.opened;
        // The head in two writes, so that the invalid byte is not in the first piece.
        client.send(partial.slice(0, 3));
        await new Promise((resolve) => setTimeout(resolve, 20));
        client.send(partial.slice(3));
        const text = await client.untilClosed(15_000);
        assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(partial));
      } finally {
        client.close();
      }
    }
    assert.equal(origin.connections(), 0);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
  }
});

test("an invalid byte in a response head is answered with 502 as soon as it arrives", async () => {
  const origin = await startOrigin((socket: net.Socket) => {
    // The head never ends: only the invalid byte can end the wait before timeout server.
    socket.once("data", () => socket.write("HTTP/1.1 200 OK\r\nX-Bad: a\u0000b"));
  });
  const { proxy, port, remove } = await startWithConfig(singleBackend(origin.address, `server = "60s"\nclient = "60s"`));
  try {
    const client = new RawClient(port);
    try {
      await client.opened;
      client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      const text = await client.untilClosed(15_000);
      assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    } finally {
      client.close();
    }
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
  }
});
