/**
 * The runtime API's protocol (src/control/cli_session.ts) on a fake connection: modes, prompt,
 * quit, several commands on a line, severities, limits; `proxy ctl`'s reading of answers and its
 * arguments; the -W master's executor and its requests to workers.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CliSession, formatAnswer } from "../src/control/cli_session.ts";
import type { CliSessionOptions, CommandExecutor } from "../src/control/cli_session.ts";
import { parseControlAnswer } from "../src/control/client.ts";
import { errorAnswer, NO_ANSWER } from "../src/control/types.ts";
import type { AccessLevel, Answer } from "../src/control/types.ts";
import { MasterCommandExecutor, WorkerRequests } from "../src/lifecycle/master_runtime_api.ts";
import type { ApiWorker } from "../src/lifecycle/master_runtime_api.ts";
import type { ControlChannel } from "../src/lifecycle/control_channel.ts";
import { parseAnswer, parseCommandFrame, parseWorkerFrame } from "../src/lifecycle/control_channel.ts";
import { DEFAULT_CTL_SOCKET, parseCtlArgs } from "../src/cli/ctl_command.ts";
import { UsageError } from "../src/cli/exit_codes.ts";
import type { Connection, ConnectionHandler, NetAddr, TimerHandle } from "../src/runtime/types.ts";
import { ManualClock } from "./_runtime_helpers.ts";

const EMPTY: NetAddr = { address: "", port: 0, family: 4 };

/** A connection that records writes, pauses and closes. */
class FakeConnection implements Connection {
  handler: ConnectionHandler | null = null;
  written = "";
  paused = false;
  ended = false;
  destroyed = false;
  open = true;
  owner: unknown = undefined;
  readonly remote = EMPTY;
  readonly local = EMPTY;
  readonly tls = undefined;
  readonly bufferedAmount = 0;
  private readonly decoder = new TextDecoder();

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }
  write(chunk: Uint8Array): boolean {
    this.written += this.decoder.decode(chunk);
    return true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.close();
  }
  setNoDelay(): void {}

  /** Everything written so far (a method: assertions must not narrow a field that keeps changing). */
  output(): string {
    return this.written;
  }

  /** The client sends text. */
  send(text: string): void {
    this.handler!.onData(this, new TextEncoder().encode(text));
  }
  /** The client half-closes. */
  fin(): void {
    this.handler!.onEnd(this);
  }
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.handler!.onClose(this, undefined);
  }
}

/** An executor answering with the words it got, asynchronously when asked; "fail" answers an error. */
class EchoExecutor implements CommandExecutor {
  readonly seen: string[] = [];
  async = false;
  execute(words: readonly string[], level: AccessLevel): Answer | Promise<Answer> {
    this.seen.push(`${level}: ${words.join(" ")}`);
    const answer: Answer = words[0] === "fail"
      ? errorAnswer("No such server.")
      : words[0] === "nothing"
      ? NO_ANSWER
      : { kind: "text", text: `did ${words.join(" ")}\n` };
    return this.async ? Promise.resolve(answer) : answer;
  }
}

/** Lets every queued promise callback run (a macrotask comes after all of them). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function session(overrides: Partial<CliSessionOptions> = {}) {
  const clock = new ManualClock(0);
  const connection = new FakeConnection();
  const executor = new EchoExecutor();
  let closed = 0;
  const cli = new CliSession(connection, {
    level: "admin",
    executor,
    timers: { setTimer: (ms: number, callback: () => void) => clock.setTimer(ms, callback) as TimerHandle, clearTimer: (handle: TimerHandle) => clock.clearTimer(handle) },
    idleTimeoutMs: 10_000,
    maxLineBytes: 64,
    onClosed: () => closed++,
    ...overrides,
  });
  return { clock, connection, executor, cli, closed: () => closed };
}

describe("runtime API sessions", () => {
  test("non-interactive: one line answered, each answer ends with an empty line, then the connection ends", async () => {
    const { connection, executor, closed } = session();
    connection.send("show info;show stat\n");
    await settle();
    assert.equal(connection.output(), "did show info\n\ndid show stat\n\n");
    assert.deepEqual(executor.seen, ["admin: show info", "admin: show stat"]);
    assert.equal(connection.ended, true);
    connection.close();
    assert.equal(closed(), 1);
  });

  test("a line may come in pieces; a last line without newline is answered at the client's FIN; CRLF is fine", async () => {
    const { connection, executor } = session();
    connection.send("show ");
    connection.send("info\r");
    await settle();
    assert.equal(connection.output(), "");
    connection.send("\n");
    await settle();
    assert.equal(connection.output(), "did show info\n\n");
    const other = session();
    other.connection.send("show backend");
    other.connection.fin();
    await settle();
    assert.equal(other.connection.output(), "did show backend\n\n");
    assert.equal(other.connection.ended, true);
    assert.deepEqual(executor.seen, ["admin: show info"]);
  });

  test("an empty answer is the empty line alone; an error is one line; severity-output prefixes messages only", async () => {
    const { connection } = session();
    connection.send("nothing;fail;set severity-output number;fail;show info;set severity-output string;fail;set severity-output bogus\n");
    await settle();
    assert.equal(
      connection.output(),
      "\n" + "No such server.\n\n" + "\n" + "[3]: No such server.\n\n" + "did show info\n\n" + "\n" + "[err]: No such server.\n\n" +
        "[err]: one of 'none', 'number', 'string' is a required argument\n\n",
    );
  });

  test("prompt: interactive with '> ' after each line, commands keep coming, quit closes", async () => {
    const { connection, cli } = session();
    connection.send("prompt\n");
    await settle();
    assert.equal(cli.mode, "prompt");
    assert.equal(connection.output(), "\n> ");
    assert.equal(connection.ended, false);
    connection.send("show info;nothing\n");
    await settle();
    assert.equal(connection.output(), "\n> did show info\n\n\n> ");
    connection.send("\n");
    await settle();
    assert.equal(connection.output().endsWith("\n> \n> "), true, "an empty line gets the prompt again");
    connection.send("quit\n");
    await settle();
    assert.equal(connection.ended, true);
    assert.equal(connection.output().endsWith("\n> \n> "), true, "quit answers nothing");
  });

  test("prompt i (interactive without prompt), prompt n, a toggling prompt, and bad arguments", async () => {
    const { connection, cli } = session();
    connection.send("prompt i\n");
    await settle();
    assert.equal(cli.mode, "interactive");
    connection.send("show info\n");
    await settle();
    assert.equal(connection.output(), "\ndid show info\n\n");
    assert.equal(connection.ended, false);
    connection.send("prompt\n");
    await settle();
    assert.equal(cli.mode, "prompt");
    connection.send("prompt\n");
    await settle();
    assert.equal(cli.mode, "non-interactive");
    assert.equal(connection.ended, true);
    const bad = session();
    bad.connection.send("prompt x\n");
    await settle();
    assert.match(bad.connection.output(), /^Usage: prompt \[n\|i\|p\]/);
    assert.equal(bad.cli.mode, "non-interactive");
  });

  test("help answers the session's own list for its level", async () => {
    const { connection } = session({ level: "user" });
    connection.send("help\n");
    await settle();
    assert.match(connection.output(), /^The following commands are valid at this level:\n/);
    assert.doesNotMatch(connection.output(), /set server/);
    assert.ok(connection.output().endsWith("quit                                    : disconnect\n\n"));
  });

  test("the executor's level is the session's; an asynchronous executor keeps the order and pauses reading", async () => {
    const { connection, executor } = session({ level: "operator" });
    executor.async = true;
    connection.send("prompt i\nshow info;show stat\nshow backend\n");
    assert.equal(connection.paused, true);
    await settle();
    await settle();
    assert.equal(connection.output(), "\ndid show info\n\ndid show stat\n\ndid show backend\n\n");
    assert.equal(connection.paused, false);
    assert.deepEqual(executor.seen, ["operator: show info", "operator: show stat", "operator: show backend"]);
  });

  test("a line over the limit is refused with an error and the connection ended", async () => {
    const { connection, executor } = session();
    connection.send("x".repeat(65));
    await settle();
    assert.equal(connection.output(), "Command line too long: at most 64 bytes.\n\n");
    assert.equal(connection.ended, true);
    assert.deepEqual(executor.seen, []);
  });

  test("an idle connection is closed after the timeout; a pipelined line in non-interactive mode is answered too", async () => {
    const { connection, clock, closed } = session();
    clock.advance(9_999);
    assert.equal(connection.destroyed, false);
    clock.advance(2);
    assert.equal(connection.destroyed, true);
    assert.equal(closed(), 1);
    const piped = session();
    piped.connection.send("show info\nshow stat\n");
    await settle();
    await settle();
    assert.equal(piped.connection.output(), "did show info\n\ndid show stat\n\n");
    assert.equal(piped.connection.ended, true);
  });

  test("formatAnswer: processes are labelled, text gets its newline, messages their prefix", () => {
    assert.equal(formatAnswer({ kind: "text", text: "a" }, "none"), "a\n");
    assert.equal(formatAnswer({ kind: "message", severity: 5, text: "done\n\n" }, "number"), "[5]: done\n");
    assert.equal(
      formatAnswer({ kind: "processes", parts: [{ label: "@1 (pid 7)", answer: NO_ANSWER }, { label: "@2 (pid 8)", answer: errorAnswer("No such server.") }] }, "number"),
      "@1 (pid 7)\n@2 (pid 8)\n[3]: No such server.\n",
    );
  });
});

describe("proxy ctl", () => {
  test("an answer: the first empty answer and the last empty line dropped, prefixes off, errors found", () => {
    assert.deepEqual(parseControlAnswer("\n# name\napp\n\n"), { text: "# name\napp\n", failed: false });
    assert.deepEqual(parseControlAnswer("\n\n"), { text: "", failed: false });
    assert.deepEqual(parseControlAnswer("\n[3]: No such server.\n\n"), { text: "No such server.\n", failed: true });
    assert.deepEqual(parseControlAnswer("\n\n1 (initial 1)\n\n\n"), { text: "\n1 (initial 1)\n\n", failed: false });
    assert.deepEqual(parseControlAnswer("\n[6]: The following commands are valid at this level:\n  quit\n\n"), {
      text: "The following commands are valid at this level:\n  quit\n",
      failed: false,
    });
    assert.deepEqual(parseControlAnswer("\n@1 (pid 7)\n@2 (pid 8)\n[3]: No such server.\n\n"), { text: "@1 (pid 7)\n@2 (pid 8)\nNo such server.\n", failed: true });
  });

  test("arguments: options first, then the command; numbers are command words", () => {
    assert.deepEqual(parseCtlArgs(["show", "info"]), { address: { kind: "unix", path: DEFAULT_CTL_SOCKET }, line: "show info", timeoutMs: 10_000 });
    assert.deepEqual(parseCtlArgs(["--socket", "/tmp/a.sock", "show stat -1 4 -1"]).line, "show stat -1 4 -1");
    assert.deepEqual(parseCtlArgs(["-s", "/tmp/a.sock", "show", "stat", "-1", "4", "-1"]), {
      address: { kind: "unix", path: "/tmp/a.sock" },
      line: "show stat -1 4 -1",
      timeoutMs: 10_000,
    });
    assert.deepEqual(parseCtlArgs(["--address=127.0.0.1:9999", "--timeout", "2s", "--", "-x"]), {
      address: { kind: "tcp", host: "127.0.0.1", port: 9999 },
      line: "-x",
      timeoutMs: 2_000,
    });
    assert.deepEqual(parseCtlArgs(["--address", ":9999", "help"]).address, { kind: "tcp", host: "127.0.0.1", port: 9999 });
    for (
      const [args, message] of [
        [[], /^Missing command/],
        [["--socket"], /^Option "--socket" needs a value/],
        [["--bogus", "show info"], /^Unknown option "--bogus"/],
        [["--socket", "/a", "--address", "127.0.0.1:1", "help"], /cannot be combined/],
        [["--timeout", "soon", "help"], /^Option "--timeout" expects a duration/],
        [["--address", "nowhere", "help"], /^Option "--address": /],
      ] as const
    ) {
      assert.throws(() => parseCtlArgs(args), (error: unknown) => error instanceof UsageError && message.test(error.message), String(args));
    }
  });
});

describe("-W master", () => {
  function worker(number: number, pid: number, reply: (words: readonly string[]) => Answer): ApiWorker & { asked: string[] } {
    const asked: string[] = [];
    return {
      number,
      pid,
      asked,
      ask(words: readonly string[], level: AccessLevel) {
        asked.push(`${level}: ${words.join(" ")}`);
        return Promise.resolve(reply(words));
      },
    };
  }

  test("a command goes to every worker; answers come labelled @N (pid P), in number order", async () => {
    const one = worker(1, 101, () => NO_ANSWER);
    const two = worker(2, 102, () => errorAnswer("No such server."));
    const master = new MasterCommandExecutor(() => [one, two]);
    const answer = await master.execute(["set", "server", "app/a", "state", "drain"], "admin");
    assert.deepEqual(answer, {
      kind: "processes",
      parts: [{ label: "@1 (pid 101)", answer: NO_ANSWER }, { label: "@2 (pid 102)", answer: errorAnswer("No such server.") }],
    });
    assert.deepEqual(one.asked, ["admin: set server app/a state drain"]);
    assert.deepEqual(two.asked, ["admin: set server app/a state drain"]);
  });

  test("unknown commands and commands above the level are refused once, by the master; @N and @!PID pick one worker", async () => {
    const one = worker(1, 101, (words) => ({ kind: "text", text: `one ${words.join(" ")}\n` }));
    const two = worker(2, 102, (words) => ({ kind: "text", text: `two ${words.join(" ")}\n` }));
    const master = new MasterCommandExecutor(() => [one, two]);
    assert.match((await master.execute(["frob"], "admin") as { text: string }).text, /^Unknown command: 'frob'/);
    assert.deepEqual(await master.execute(["disable", "server", "app/a"], "operator"), errorAnswer("Permission denied"));
    assert.deepEqual(await master.execute(["@2", "show", "backend"], "user"), { kind: "text", text: "two show backend\n" });
    assert.deepEqual(await master.execute(["@!101", "show", "backend"], "user"), { kind: "text", text: "one show backend\n" });
    assert.deepEqual(await master.execute(["@3", "show", "backend"], "user"), errorAnswer("Can't find the process '@3': no serving worker has that number."));
    assert.deepEqual(await master.execute(["@1"], "user"), errorAnswer("Missing command after '@1': e.g. '@1 show servers state'."));
    assert.deepEqual(one.asked, ["user: show backend"]);
    assert.deepEqual(await new MasterCommandExecutor(() => []).execute(["show", "info"], "user"), errorAnswer("No worker is serving: nothing can answer now."));
  });

  test("worker requests: answers matched by id, a silent worker times out, a closed channel answers every command in flight", async () => {
    const clock = new ManualClock(0);
    const sent: Array<Record<string, unknown>> = [];
    let open = true;
    const channel = { send: (frame: Record<string, unknown>) => (open ? (sent.push(frame), true) : false) } as unknown as ControlChannel;
    const timers = { setTimer: (ms: number, callback: () => void) => clock.setTimer(ms, callback) as TimerHandle, clearTimer: (handle: TimerHandle) => clock.clearTimer(handle) };
    const requests = new WorkerRequests(channel, timers, 1_000);
    const first = requests.ask(["show", "info"], "admin");
    const second = requests.ask(["show", "stat"], "user");
    assert.deepEqual(sent, [
      { type: "command", id: 1, words: ["show", "info"], level: "admin" },
      { type: "command", id: 2, words: ["show", "stat"], level: "user" },
    ]);
    requests.answered(2, { kind: "text", text: "stat\n" });
    assert.deepEqual(await second, { kind: "text", text: "stat\n" });
    clock.advance(1_001);
    assert.deepEqual(await first, errorAnswer("No answer from the worker within 1000 ms."));
    requests.answered(1, NO_ANSWER); // late: dropped
    const third = requests.ask(["show", "backend"], "admin");
    requests.closed();
    assert.deepEqual(await third, errorAnswer("The worker is gone."));
    open = false;
    assert.deepEqual(await requests.ask(["show", "backend"], "admin"), errorAnswer("The worker is gone."));
  });

  test("frames: commands and answers are checked field by field", () => {
    assert.deepEqual(parseCommandFrame({ type: "command", id: 3, words: ["show", "info"], level: "user" }), {
      type: "command", id: 3, words: ["show", "info"], level: "user",
    });
    for (const bad of [{ type: "command", id: 3, words: [], level: "user" }, { type: "command", id: 3, words: ["x"], level: "root" }, { type: "command", id: "3", words: ["x"], level: "user" }]) {
      assert.throws(() => parseCommandFrame(bad), /Invalid control frame "command" from the master/);
    }
    assert.deepEqual(parseWorkerFrame({ type: "answer", id: 4, answer: { kind: "message", severity: 3, text: "No such server." } }), {
      type: "answer", id: 4, answer: errorAnswer("No such server."),
    });
    assert.throws(() => parseWorkerFrame({ type: "answer", id: 4, answer: { kind: "processes", parts: [] } }), /Unexpected control frame "answer"/);
    assert.equal(parseAnswer({ kind: "message", severity: 9, text: "x" }), null);
    assert.equal(parseAnswer({ kind: "text" }), null);
  });
});
