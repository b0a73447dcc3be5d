/**
 * The host executable with a configuration file: serving from one, and `proxy check` on a valid
 * and on a broken one.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertRoundRobin } from "./quick_start.ts";
import { closeAll, httpGet, httpOrigin, responseBody, startOrigins } from "./origins.ts";
import { runToExit, startListening } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

/** An http frontend on a free loopback port in front of two servers, with a pidfile. */
function configText(servers: readonly string[], pidfile: string): string {
  return `[global]
pidfile = "${pidfile}"

[defaults]
mode = "http"

[defaults.timeout]
connect = "2s"
client = "30s"
server = "30s"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
balance = "roundrobin"
servers = [
${servers.map((address, index) => `  { name = "s${index + 1}", address = "${address}" },`).join("\n")}
]
`;
}

/** `proxy -f smoke.toml` serves requests round robin and writes its pidfile. */
export async function servesFromConfigFile(subject: Subject): Promise<string> {
  const origins = await startOrigins(["A", "B"], httpOrigin);
  try {
    const pidfile = join(subject.workDirectory, "proxy.pid");
    const file = join(subject.workDirectory, "smoke.toml");
    writeFileSync(file, configText(origins.map((origin) => origin.address), pidfile));
    const { proxy } = await startListening(
      subject.launcher,
      subject.binary,
      ["-f", file],
      timeouts(subject).start,
    );
    try {
      const port = Number(
        (await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/, 1_000))[1],
      );
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) {
        answers.push(responseBody(await httpGet(port, "/", timeouts(subject).request)));
      }
      const result = assertRoundRobin(answers);
      const written = readFileSync(pidfile, "utf8");
      if (written !== `${proxy.pid}\n`) {
        throw new Error(`The pidfile holds ${JSON.stringify(written)}, expected "${proxy.pid}"`);
      }
      return `${result}, pidfile written`;
    } finally {
      await proxy.stop();
    }
  } finally {
    await closeAll(origins);
  }
}

/** `proxy check -f good.toml` exits 0 with its one-line summary. */
export async function checkValid(subject: Subject): Promise<string> {
  const file = join(subject.workDirectory, "good.toml");
  writeFileSync(
    file,
    configText(["127.0.0.1:8081", "127.0.0.1:8082"], join(subject.workDirectory, "unused.pid")),
  );
  const run = await runToExit(
    subject.launcher,
    subject.binary,
    ["check", "-f", file],
    timeouts(subject).exit,
  );
  if (run.code !== 0) {
    throw new Error(`${run.process.ending}, expected exit code 0:\n${run.process.outputTail()}`);
  }
  const summary = run.stdout.trim();
  if (!summary.startsWith("Configuration is valid")) {
    throw new Error(`Unexpected output:\n${run.process.outputTail()}`);
  }
  return `exit 0, "${summary.replace(` (${file})`, "")}"`;
}

/** The error of BROKEN: line 3, column 19 is where the value "ap" starts. */
const BROKEN = `[frontends.web]
bind = "127.0.0.1:0"
default-backend = "ap"

[backends.app]
servers = [{ name = "a", address = "127.0.0.1:8081" }]
`;

/** `proxy check -f bad.toml` exits non-zero and names the file, line and column of the error. */
export async function checkBroken(subject: Subject): Promise<string> {
  const file = join(subject.workDirectory, "bad.toml");
  writeFileSync(file, BROKEN);
  const run = await runToExit(
    subject.launcher,
    subject.binary,
    ["check", "-f", file],
    timeouts(subject).exit,
  );
  if (run.code === 0 || run.code === null) throw new Error(`${run.process.ending}, expected a failure`);
  const position = `${file}:3:19:`;
  const line = run.stderr.split("\n").find((text) => text.includes(position));
  if (line === undefined) {
    throw new Error(`Expected "${position}" in the output:\n${run.process.outputTail()}`);
  }
  return `exit ${run.code}, "${line.slice(line.indexOf("bad.toml")).trim()}"`;
}
