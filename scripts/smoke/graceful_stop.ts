/**
 * Graceful stop by SIGUSR1 (HAProxy's soft stop): the proxy stops listening, closes an idle
 * keep-alive connection, finishes the request in flight with `Connection: close`, and exits 0.
 *
 * @module
 */

import { accepts, closeAll, httpOrigin, KeepAliveClient, startOrigins } from "./origins.ts";
import { sleep, startListening } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

export async function gracefulStop(subject: Subject): Promise<string> {
  const limits = timeouts(subject);
  const origins = await startOrigins(["A"], httpOrigin);
  const origin = origins[0]!;
  try {
    const args = ["--bind", "127.0.0.1:0", "--backend", origin.address, "--mode", "http"];
    const { proxy, port } = await startListening(subject.launcher, subject.binary, args, limits.start);
    const idle = new KeepAliveClient(port);
    const busy = new KeepAliveClient(port);
    try {
      await Promise.all([idle.opened, busy.opened]);
      idle.send("/");
      await idle.until((text) => text.endsWith("\r\n\r\nA"), "response to the idle client", limits.request);
      busy.send("/hold");
      const deadline = Date.now() + limits.request;
      while (origin.requests() < 2 && Date.now() < deadline) await sleep(5);
      if (origin.requests() < 2) throw new Error("The held request did not reach the origin");

      proxy.sendSignal("SIGUSR1");
      await proxy.waitFor(/SIGUSR1 received: stopped listening/, limits.request);
      if (await accepts(port)) throw new Error("The proxy still accepts connections after SIGUSR1");
      await idle.until(() => idle.closed, "close of the idle keep-alive connection", limits.request);
      if (!proxy.running) throw new Error(`The proxy ended with a request in flight (${proxy.ending})`);

      origin.release();
      const answer = await busy.until(
        (text) => text.endsWith("A held"),
        "response to the request in flight",
        limits.request,
      );
      if (!/^HTTP\/1\.1 200 /.test(answer) || !/\r\nConnection: close\r\n/i.test(answer)) {
        throw new Error(`Expected a 200 with "Connection: close", got ${JSON.stringify(answer)}`);
      }
      const code = await proxy.waitExit(limits.exit);
      if (code !== 0) throw new Error(`${proxy.ending}, expected exit code 0:\n${proxy.outputTail()}`);
      return "stopped listening, closed the idle keep-alive connection, finished the request in flight, exit 0";
    } finally {
      idle.close();
      busy.close();
      await proxy.stop();
    }
  } finally {
    await closeAll(origins);
  }
}
