/**
 * One connection to the runtime API: HAProxy's text protocol (cli.c), on the runtime contract's
 * `Connection` (a UNIX or TCP socket).
 *
 * - A line holds commands separated by `;`. Each command's answer ends with an empty line, which
 *   no answer contains otherwise, so a reader can tell answers apart.
 * - Non-interactive mode (the default): the line is answered and the connection closed (lines the
 *   client already pipelined behind it are answered first, as HAProxy does).
 * - `prompt` toggles the interactive prompt mode ("> " after each line's answers), `prompt i`
 *   interactive without prompt, `prompt n` back to non-interactive; `quit` closes.
 * - `help [words]` lists the commands of the connection's level; `set severity-output
 *   none|number|string` prefixes messages with their severity ("[3]: No such server."), which
 *   `proxy ctl` uses to tell an error from an answer.
 * - Every other command goes to the {@link CommandExecutor}: the interpreter in a process that
 *   serves, or a -W master that asks its workers. While a line runs, the connection is paused.
 * - A line longer than the limit is answered with an error and the connection closed; a
 *   connection silent for the idle timeout (HAProxy's `stats timeout`, 10 s) is closed.
 *
 * Unknown commands and bad arguments always get an answer: the connection is never closed
 * without one.
 *
 * @module
 */

import type { Connection, ConnectionHandler, Runtime, TimerHandle } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import { splitCommands, splitWords } from "./command_line.ts";
import { helpText } from "./commands.ts";
import { errorAnswer, SEVERITY_INFO, SEVERITY_NAMES } from "./types.ts";
import type { AccessLevel, Answer, SeverityOutput } from "./types.ts";

/** HAProxy's default `stats timeout`: an idle connection is closed after it. */
export const DEFAULT_CLI_IDLE_TIMEOUT_MS = 10_000;
/** Longest command line: HAProxy's is tune.bufsize. */
export const MAX_CLI_LINE_BYTES = 16_384;

/** Runs the commands the session does not handle itself. */
export interface CommandExecutor {
  /** One command's words (never empty), at the connection's level. */
  execute(words: readonly string[], level: AccessLevel): Answer | Promise<Answer>;
}

/** How the session behaves between lines: HAProxy's three modes. */
export type CliMode = "non-interactive" | "interactive" | "prompt";

/** What a session needs. */
export interface CliSessionOptions {
  readonly level: AccessLevel;
  readonly executor: CommandExecutor;
  readonly timers: Pick<Runtime, "setTimer" | "clearTimer">;
  readonly idleTimeoutMs: number;
  readonly maxLineBytes: number;
  /** Called once, when the connection is gone. */
  readonly onClosed: (session: CliSession) => void;
}

const PROMPT_USAGE = "Usage: prompt [n|i|p]: n single command, i interactive, p interactive with a prompt; " +
  "without an argument, toggles between n/i and p.";

/** Formats an answer for the wire, with the severity prefix `output` asks for; no trailing empty line. */
export function formatAnswer(answer: Answer, output: SeverityOutput): string {
  if (answer.kind === "processes") return answer.parts.map((part) => `${part.label}\n${formatAnswer(part.answer, output)}`).join("");
  if (answer.kind === "text") return answer.text === "" || answer.text.endsWith("\n") ? answer.text : `${answer.text}\n`;
  const prefix = output === "number"
    ? `[${answer.severity}]: `
    : output === "string"
    ? `[${SEVERITY_NAMES[answer.severity] ?? answer.severity}]: `
    : "";
  return `${prefix}${answer.text.replace(/\n+$/, "")}\n`;
}

/** One connection's protocol state; the connection's handler. */
export class CliSession implements ConnectionHandler {
  readonly level: AccessLevel;
  mode: CliMode = "non-interactive";
  severityOutput: SeverityOutput = "none";
  private readonly options: CliSessionOptions;
  private readonly connection: Connection;
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();
  /** Text of the line being received. */
  private partial = "";
  private partialBytes = 0;
  /** Complete lines waiting for their turn. */
  private readonly lines: string[] = [];
  private busy = false;
  private peerEnded = false;
  private closing = false;
  private closed = false;
  private idleTimer: TimerHandle | null = null;

  constructor(connection: Connection, options: CliSessionOptions) {
    this.connection = connection;
    this.options = options;
    this.level = options.level;
    connection.setHandler(this);
    this.armIdle();
  }

  /** Closes the connection now (the proxy is stopping). */
  destroy(): void {
    this.connection.destroy();
  }

  onOpen(_conn: Connection): void {}

  onData(_conn: Connection, chunk: Uint8Array): void {
    if (this.closing) return;
    this.armIdle();
    let text = this.decoder.decode(chunk, { stream: true });
    let newline = text.indexOf("\n");
    while (newline >= 0) {
      this.lines.push((this.partial + text.slice(0, newline)).replace(/\r$/, ""));
      this.partial = "";
      this.partialBytes = 0;
      text = text.slice(newline + 1);
      newline = text.indexOf("\n");
    }
    this.partial += text;
    this.partialBytes += this.encoder.encode(text).length;
    if (this.partialBytes > this.options.maxLineBytes) {
      this.lines.length = 0;
      this.write(formatAnswer(errorAnswer(`Command line too long: at most ${this.options.maxLineBytes} bytes.`), this.severityOutput) + "\n");
      this.finish();
      return;
    }
    this.pump();
  }

  onDrain(_conn: Connection): void {}

  onEnd(_conn: Connection): void {
    this.peerEnded = true;
    // A last line without its newline is still a line (`printf 'show info' | socat`).
    if (this.partial.trim() !== "") this.lines.push(this.partial.replace(/\r$/, ""));
    this.partial = "";
    this.partialBytes = 0;
    this.pump();
  }

  onClose(_conn: Connection, _error: NetError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.disarmIdle();
    this.options.onClosed(this);
  }

  /** Runs the queued lines one after the other; closes when the mode or the peer says so. */
  private pump(): void {
    if (this.busy || this.closing) return;
    const line = this.lines.shift();
    if (line === undefined) {
      if (this.peerEnded) this.finish();
      return;
    }
    this.busy = true;
    this.connection.pause();
    this.disarmIdle();
    this.runLine(line).then(
      () => this.lineDone(),
      (error: unknown) => {
        this.write(formatAnswer(errorAnswer(`Internal error: ${error instanceof Error ? error.message : String(error)}`), this.severityOutput) + "\n");
        this.finish();
      },
    );
  }

  private lineDone(): void {
    this.busy = false;
    if (this.closing) return;
    if (this.mode === "non-interactive" && this.lines.length === 0) {
      this.finish();
      return;
    }
    this.connection.resume();
    this.armIdle();
    this.pump();
  }

  /** Answers each command of `line` in order; after the last, the prompt in prompt mode. */
  private async runLine(line: string): Promise<void> {
    const commands = splitCommands(line);
    for (let index = 0; index < commands.length; index++) {
      const words = splitWords(commands[index]!);
      const answer = words.length === 0 ? null : await this.answer(words);
      if (this.closing) return;
      const last = index === commands.length - 1;
      const text = answer === null ? "" : formatAnswer(answer, this.severityOutput);
      this.write(text + (this.mode === "prompt" && last ? "\n> " : "\n"));
    }
  }

  /** A command's answer: the session's own commands here, the others from the executor. */
  private async answer(words: readonly string[]): Promise<Answer | null> {
    switch (words[0]) {
      case "help":
        return { kind: "message", severity: SEVERITY_INFO, text: helpText(this.level, words.slice(1)) };
      case "quit":
        this.finish();
        return null;
      case "prompt":
        return this.prompt(words.slice(1));
    }
    if (words[0] === "set" && words[1] === "severity-output") {
      const value = words[2];
      if (value !== "none" && value !== "number" && value !== "string") {
        return errorAnswer("one of 'none', 'number', 'string' is a required argument");
      }
      this.severityOutput = value;
      return null;
    }
    return await this.options.executor.execute(words, this.level);
  }

  /** HAProxy's `prompt [n|i|p]`: without an argument, n and i go to p, p goes to n. */
  private prompt(args: readonly string[]): Answer | null {
    if (args.length > 1) return errorAnswer(PROMPT_USAGE);
    const choice = args[0];
    if (choice === undefined) this.mode = this.mode === "prompt" ? "non-interactive" : "prompt";
    else if (choice === "n") this.mode = "non-interactive";
    else if (choice === "i") this.mode = "interactive";
    else if (choice === "p") this.mode = "prompt";
    else if (choice === "help") return { kind: "message", severity: SEVERITY_INFO, text: PROMPT_USAGE };
    else return errorAnswer(PROMPT_USAGE);
    return null;
  }

  private write(text: string): void {
    if (text !== "" && !this.closed) this.connection.write(this.encoder.encode(text));
  }

  /** Half-closes once everything written is sent; the peer's close ends the connection (or the idle timer does). */
  private finish(): void {
    if (this.closing) return;
    this.closing = true;
    this.connection.end();
    // A peer that never closes its side gets the idle timeout, then a reset.
    this.armIdle();
  }

  private armIdle(): void {
    this.disarmIdle();
    if (this.options.idleTimeoutMs <= 0 || this.closed) return;
    this.idleTimer = this.options.timers.setTimer(this.options.idleTimeoutMs, () => {
      this.idleTimer = null;
      this.connection.destroy();
    }, true);
  }

  private disarmIdle(): void {
    if (this.idleTimer !== null) this.options.timers.clearTimer(this.idleTimer);
    this.idleTimer = null;
  }
}
