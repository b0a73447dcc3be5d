/**
 * The checks every executable that runs here gets: `proxy version`, and the quick start in tcp and
 * http mode in front of two origins, whose answers must alternate (round robin).
 *
 * @module
 */

import { closeAll, exchange, httpGet, httpOrigin, responseBody, startOrigins, tcpOrigin } from "./origins.ts";
import type { Origin } from "./origins.ts";
import { runToExit, startListening } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

const ORIGINS = ["A", "B"];
const EXPECTED = ["A", "B", "A", "B"];

/**
 * `proxy version -vv` exits 0, names the platform the executable was built for and, when it was
 * built by scripts/build.ts (stamped), the target it was built as: a file copied under the wrong
 * name shows here.
 */
export async function version(subject: Subject): Promise<string> {
  const run = await runToExit(subject.launcher, subject.binary, ["version", "-vv"], timeouts(subject).exit);
  if (run.code !== 0) throw new Error(`${run.process.ending}:\n${run.process.outputTail()}`);
  const lines = run.stdout.trim().split("\n");
  if (!/^proxy \S+$/.test(lines[0] ?? "")) {
    throw new Error(`Unexpected first line ${JSON.stringify(lines[0])}`);
  }
  if (!lines.some((line) => line.includes(subject.platform))) {
    throw new Error(`Expected "${subject.platform}" in the output:\n${run.process.outputTail()}`);
  }
  const stamped = lines.find((line) => line.startsWith("target: ") && !line.endsWith("(run from source)"));
  const builtAs = stamped === undefined ? undefined : /^target: (\S+)/.exec(stamped)?.[1];
  if (builtAs !== undefined && subject.target !== undefined && builtAs !== subject.target) {
    throw new Error(`Built as "${builtAs}", expected "${subject.target}":\n${run.process.outputTail()}`);
  }
  const runtime = lines.find((line) => line.startsWith("runtime: "))?.slice("runtime: ".length);
  return [lines[0], runtime, subject.platform].filter((part) => part !== undefined).join(", ");
}

/** The answers must be A, B, A, B: one origin after the other, starting with the first. */
export function assertRoundRobin(answers: readonly string[]): string {
  if (answers.join(",") !== EXPECTED.join(",")) {
    throw new Error(`Expected answers ${EXPECTED.join(",")} (round robin), got ${answers.join(",")}`);
  }
  return `answers ${answers.join(",")}`;
}

/** Starts the quick start in front of `origins`, runs `exercise` on its port, stops it whatever happens. */
async function withQuickStart<T>(
  subject: Subject,
  mode: "tcp" | "http",
  origins: readonly Origin[],
  exercise: (port: number) => Promise<T>,
): Promise<T> {
  const backends = origins.map((origin) => origin.address).join(",");
  const args = ["--bind", "127.0.0.1:0", "--backend", backends, "--mode", mode];
  const { proxy, port } = await startListening(
    subject.launcher,
    subject.binary,
    args,
    timeouts(subject).start,
  );
  try {
    return await exercise(port);
  } finally {
    await proxy.stop();
  }
}

/** `proxy --bind 127.0.0.1:0 --backend A,B --mode tcp`: four connections, each answered by the next origin. */
export async function quickStartTcp(subject: Subject): Promise<string> {
  const origins = await startOrigins(ORIGINS, tcpOrigin);
  try {
    return await withQuickStart(subject, "tcp", origins, async (port) => {
      const answers: string[] = [];
      for (let i = 0; i < EXPECTED.length; i++) {
        answers.push(await exchange(port, "", timeouts(subject).request));
      }
      return assertRoundRobin(answers);
    });
  } finally {
    await closeAll(origins);
  }
}

/** The same in http mode: four requests, the bodies name the origins in turn. */
export async function quickStartHttp(subject: Subject): Promise<string> {
  const origins = await startOrigins(ORIGINS, httpOrigin);
  try {
    return await withQuickStart(subject, "http", origins, async (port) => {
      const answers: string[] = [];
      for (let i = 0; i < EXPECTED.length; i++) {
        answers.push(responseBody(await httpGet(port, "/", timeouts(subject).request)));
      }
      return assertRoundRobin(answers);
    });
  } finally {
    await closeAll(origins);
  }
}
