/**
 * The smoke test's output: one line per check (`ok`, `FAIL` or `skip`, the subject, what), the
 * details of a failure indented under it, and a summary line.
 *
 * @module
 */

export type Outcome = "ok" | "FAIL" | "skip";

/** Counts outcomes as it prints them. */
export class Report {
  readonly counts: Record<Outcome, number> = { ok: 0, FAIL: 0, skip: 0 };
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void = (line) => console.log(line)) {
    this.#write = write;
  }

  line(outcome: Outcome, subject: string, text: string): void {
    this.counts[outcome]++;
    const [first, ...rest] = text.split("\n");
    this.#write(`${outcome.padEnd(4)}  ${subject}: ${first}`);
    for (const more of rest) this.#write(`        ${more}`);
  }

  ok(subject: string, text: string): void {
    this.line("ok", subject, text);
  }

  fail(subject: string, text: string): void {
    this.line("FAIL", subject, text);
  }

  skip(subject: string, text: string): void {
    this.line("skip", subject, text);
  }

  /**
   * Runs one check: `ok` with the text it returns (prefixed by `what`), `FAIL` with its error.
   * Returns whether it passed, for checks that later ones depend on.
   */
  async check(
    subject: string,
    what: string,
    run: () => Promise<string | void> | string | void,
  ): Promise<boolean> {
    try {
      const detail = await run();
      this.ok(subject, detail === undefined || detail === "" ? what : `${what}: ${detail}`);
      return true;
    } catch (error) {
      this.fail(subject, `${what}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /** `smoke: 21 ok, 0 failed, 1 skipped (14.2 s)`. */
  summary(elapsedMs: number): string {
    const { ok, FAIL, skip } = this.counts;
    return `smoke: ${ok} ok, ${FAIL} failed, ${skip} skipped (${(elapsedMs / 1000).toFixed(1)} s)`;
  }

  get failed(): boolean {
    return this.counts.FAIL > 0;
  }
}
