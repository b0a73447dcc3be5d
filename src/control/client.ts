/**
 * The client side of the runtime API, for `proxy ctl`: sends one command line, reads the answer
 * until the proxy closes the connection (non-interactive mode), and tells an error answer from
 * another by asking for HAProxy's numeric severities first (`set severity-output number`): a line
 * "[3]: No such server." is an error, and the prefix is taken off before printing, so the text is
 * what HAProxy prints.
 *
 * @module
 */

import type { Connection, ConnectionHandler, Runtime } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import { ControlError } from "./errors.ts";
import { SEVERITY_ERR } from "./types.ts";

/** Where the runtime API listens: a UNIX socket path, or a TCP address. */
export type ControlAddress =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number };

/** What the proxy answered, without the severity prefixes, and whether any line was an error. */
export interface ControlAnswer {
  readonly text: string;
  readonly failed: boolean;
}

/** What the client sends before the operator's line: numeric severities on every message. */
const SEVERITY_REQUEST = "set severity-output number";

const SEVERITY_PREFIX = /^\[(\d)\]: /;

/** How an address is written in messages. */
export function describeControlAddress(address: ControlAddress): string {
  return address.kind === "unix" ? address.path : formatHostPort(address.host, address.port);
}

/**
 * Reads a raw answer to `set severity-output number;LINE`: drops the empty answer of the first
 * command and the empty line that ends the last answer, takes the severity prefixes off, and says
 * whether a message was an error (severity 3 or worse).
 */
export function parseControlAnswer(raw: string): ControlAnswer {
  // The severity request answers nothing: its answer is the empty line that ends it.
  let text = raw.startsWith("\n") ? raw.slice(1) : raw;
  if (text.endsWith("\n\n")) text = text.slice(0, -1);
  else if (text === "\n") text = "";
  let failed = false;
  const lines = text.split("\n").map((line) => {
    const match = SEVERITY_PREFIX.exec(line);
    if (match === null) return line;
    if (Number(match[1]) <= SEVERITY_ERR) failed = true;
    return line.slice(match[0].length);
  });
  return { text: lines.join("\n"), failed };
}

/** Collects a connection's bytes until it closes. */
class AnswerReader implements ConnectionHandler {
  private readonly chunks: Uint8Array[] = [];
  private readonly line: Uint8Array;
  private readonly done: (outcome: { raw: string } | { error: NetError | undefined; opened: boolean }) => void;
  private opened = false;

  constructor(line: string, done: AnswerReader["done"]) {
    this.line = new TextEncoder().encode(`${SEVERITY_REQUEST};${line}\n`);
    this.done = done;
  }

  onOpen(connection: Connection): void {
    this.opened = true;
    connection.write(this.line);
  }

  onData(_connection: Connection, chunk: Uint8Array): void {
    this.chunks.push(chunk);
  }

  onDrain(): void {}

  onEnd(connection: Connection): void {
    connection.end();
  }

  onClose(_connection: Connection, error: NetError | undefined): void {
    if (!this.opened || (error !== undefined && this.chunks.length === 0)) {
      this.done({ error, opened: this.opened });
      return;
    }
    const bytes = new Uint8Array(this.chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let offset = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    this.done({ raw: new TextDecoder().decode(bytes) });
  }
}

/**
 * Sends `line` to the runtime API at `address` and resolves with its answer; rejects with a
 * ControlError when the socket cannot be reached ("CONTROL_UNREACHABLE") or closes without an
 * answer, or stays silent for `timeoutMs` ("CONTROL_NO_ANSWER").
 */
export async function askRuntimeApi(
  runtime: Pick<Runtime, "connect" | "connectUnix" | "lookup" | "setTimer" | "clearTimer">,
  address: ControlAddress,
  line: string,
  timeoutMs: number,
): Promise<ControlAnswer> {
  const where = describeControlAddress(address);
  let host = "";
  if (address.kind === "tcp") {
    try {
      host = (await runtime.lookup(address.host))[0]!;
    } catch (error) {
      throw new ControlError("CONTROL_UNREACHABLE", `Cannot reach the runtime API at "${where}": ${(error as Error).message}`, { cause: error });
    }
  }
  let connection: Connection | undefined;
  let timer: unknown = null;
  try {
    const outcome = await new Promise<{ raw: string } | { error: NetError | undefined; opened: boolean } | "timeout">((resolve) => {
      const reader = new AnswerReader(line, resolve);
      connection = address.kind === "unix"
        ? runtime.connectUnix(address.path, reader)
        : runtime.connect({ host, port: address.port, noDelay: true }, reader);
      timer = runtime.setTimer(timeoutMs, () => resolve("timeout"), true);
    });
    if (outcome === "timeout") {
      connection?.destroy();
      throw new ControlError("CONTROL_NO_ANSWER", `The runtime API at "${where}" did not answer within ${timeoutMs} ms`);
    }
    if ("raw" in outcome) {
      if (outcome.raw === "") {
        throw new ControlError("CONTROL_NO_ANSWER", `The runtime API at "${where}" closed the connection without an answer`);
      }
      return parseControlAnswer(outcome.raw);
    }
    if (!outcome.opened) {
      const reason = outcome.error === undefined ? "connection closed" : describeReason(outcome.error);
      throw new ControlError("CONTROL_UNREACHABLE", `Cannot connect to the runtime API at "${where}": ${reason}`, { cause: outcome.error });
    }
    throw new ControlError(
      "CONTROL_NO_ANSWER",
      `The runtime API at "${where}" closed the connection without an answer${outcome.error === undefined ? "" : `: ${describeReason(outcome.error)}`}`,
    );
  } finally {
    if (timer !== null) runtime.clearTimer(timer);
  }
}

/** The end of a NetError's message ("connection refused"), without the address it repeats. */
function describeReason(error: NetError): string {
  const colon = error.message.lastIndexOf(": ");
  return colon >= 0 ? error.message.slice(colon + 2) : error.message;
}
