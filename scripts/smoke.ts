/**
 * Smoke tests of the standalone executables (`npm run smoke`; CI: `node scripts/smoke.ts
 * --host-only`). dist/proxy, built for this machine, runs an end-to-end subset: the quick start in
 * tcp and http mode, a configuration file, `check`, a graceful stop by SIGUSR1. Every
 * dist/proxy-<target> is checked for its format, architecture and size, and those this machine can
 * run (a musl build under the musl loader, linux-arm64 under qemu-user) run the quick start.
 * One line per check, a summary, exit 0 only when nothing failed. `--help` for the options.
 *
 * Run with Node 24 (it strips the types): `node_modules/.bin/node scripts/smoke.ts`.
 *
 * @module
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { executableName, findTarget, hostTarget, TARGETS } from "./build/targets.ts";
import type { Target } from "./build/targets.ts";
import { checkBroken, checkValid, servesFromConfigFile } from "./smoke/config_file.ts";
import { chrootSkipReason, servesChrooted } from "./smoke/chroot.ts";
import { checkExecutableFile } from "./smoke/file_check.ts";
import { gracefulStop } from "./smoke/graceful_stop.ts";
import { quickStartHttps } from "./smoke/https.ts";
import { NATIVE, planLaunch } from "./smoke/launchers.ts";
import type { Launcher, LaunchPlan } from "./smoke/launchers.ts";
import { parseSmokeOptions, USAGE } from "./smoke/options.ts";
import type { SmokeOptions } from "./smoke/options.ts";
import { stopAll } from "./smoke/proxy_process.ts";
import { quickStartHttp, quickStartTcp, version } from "./smoke/quick_start.ts";
import { Report } from "./smoke/report.ts";
import { startToListening } from "./smoke/start_time.ts";
import type { Subject } from "./smoke/subject.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Starts timed per executable with --measure; the median is reported. */
const MEASURED_STARTS = 5;

/** What `proxy version` prints as the platform: the runtime's os/arch names. */
function platformOf(target: Target): string {
  return `${target.os === "windows" ? "win32" : target.os}/${target.arch}`;
}

/** This machine's target, or undefined on one the builds do not cover (dist/proxy still runs). */
function thisMachine(): Target | undefined {
  try {
    return hostTarget();
  } catch {
    return undefined;
  }
}

class Smoke {
  readonly report = new Report();
  readonly options: SmokeOptions;
  readonly host: Target | undefined;
  readonly work: string;
  #directories = 0;

  constructor(options: SmokeOptions, work: string) {
    this.options = options;
    this.host = thisMachine();
    this.work = work;
  }

  /** A fresh directory under the run's temporary one. */
  directory(name: string): string {
    const path = join(this.work, `${++this.#directories}-${name}`);
    mkdirSync(path);
    return path;
  }

  subject(label: string, binary: string, launcher: Launcher, target: Target | undefined): Subject {
    const platform = target === undefined ? `${process.platform}/${process.arch}` : platformOf(target);
    return { label, binary, launcher, platform, target: target?.name, workDirectory: this.directory(label) };
  }

  /** Whether the file exists; a missing one is a failure. */
  present(label: string, binary: string): boolean {
    if (existsSync(binary)) return true;
    const shown = relative(process.cwd(), binary);
    this.report.fail(label, `${shown.startsWith("..") ? binary : shown} is missing (npm run build makes it)`);
    return false;
  }

  /** dist/proxy: the full end-to-end subset. */
  async hostBinary(): Promise<void> {
    const host = this.host;
    const label = host?.os === "windows" ? "proxy.exe" : "proxy";
    const binary = join(this.options.dist, label);
    if (!this.present(label, binary)) return;
    if (host !== undefined) {
      const formatOk = await this.report.check(
        label,
        `format (${host.name})`,
        () => checkExecutableFile(binary, host),
      );
      if (!formatOk) return;
    }
    const subject = this.subject(label, binary, NATIVE, this.host);
    const checks: Array<[string, (subject: Subject) => Promise<string>]> = [
      ["version", version],
      ["quick start, tcp mode", quickStartTcp],
      ["quick start, http mode", quickStartHttp],
      ["quick start, HTTPS (--cert)", quickStartHttps],
      ["configuration file, http mode", servesFromConfigFile],
      ["check -f good.toml", checkValid],
      ["check -f bad.toml", checkBroken],
    ];
    for (const [what, run] of checks) await this.report.check(label, what, () => run(subject));
    if (process.platform === "win32") {
      this.report.skip(label, "graceful stop by SIGUSR1: Windows has no SIGUSR1");
    } else await this.report.check(label, "graceful stop by SIGUSR1", () => gracefulStop(subject));
    const jailSkip = chrootSkipReason();
    if (jailSkip !== null) this.report.skip(label, `chroot: ${jailSkip}`);
    else await this.report.check(label, "chroot to an empty directory", () => servesChrooted(subject));
    await this.startTime(subject);
  }

  /** dist/proxy-<target>: headers and size; the quick start when it can run here. */
  async target(target: Target): Promise<void> {
    const label = executableName(target);
    const binary = join(this.options.dist, label);
    if (!this.present(label, binary)) return;
    const formatOk = await this.report.check(label, "format", () => checkExecutableFile(binary, target));
    if (!formatOk) return;
    let plan: LaunchPlan;
    try {
      plan = planLaunch(target, this.host, this.directory(`${target.name}-launcher`));
    } catch (error) {
      this.report.fail(
        label,
        `cannot prepare to run it: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    if (plan.kind === "skip") this.report.skip(label, `not run: ${plan.reason}`);
    if (plan.kind !== "run") return;
    const subject = this.subject(label, binary, plan.launcher, target);
    await this.report.check(label, `version (${plan.launcher.how})`, () => version(subject));
    await this.report.check(label, "quick start, tcp mode", () => quickStartTcp(subject));
    await this.report.check(label, "quick start, http mode", () => quickStartHttp(subject));
    await this.startTime(subject);
  }

  async startTime(subject: Subject): Promise<void> {
    const starts = this.options.measure ? MEASURED_STARTS : 1;
    await this.report.check(subject.label, "start to listening", () => startToListening(subject, starts));
  }

  async run(): Promise<void> {
    const { target, hostOnly } = this.options;
    if (hostOnly || target === undefined || target === "host") await this.hostBinary();
    if (hostOnly || target === "host") return;
    for (const one of target === undefined ? TARGETS : [findTarget(target)]) await this.target(one);
  }
}

async function main(): Promise<number> {
  let options: SmokeOptions;
  try {
    options = parseSmokeOptions(process.argv.slice(2), join(ROOT, "dist"));
    if (options.target !== undefined && options.target !== "host") findTarget(options.target);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), "proxy-smoke-"));
  const smoke = new Smoke(options, work);
  try {
    await smoke.run();
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(smoke.report.summary(performance.now() - started));
  return smoke.report.failed ? 1 : 0;
}

process.exitCode = await main();
