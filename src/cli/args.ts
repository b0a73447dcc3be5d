/**
 * Strict argument parsing over citty: citty ignores unknown flags, a proxy must not (a typo in
 * `--balance` silently ignored would run the wrong algorithm).
 *
 * @module
 */

import { parseArgs } from "citty";
import type { ArgsDef } from "citty";
import { UsageError } from "./exit_codes.ts";

/** Flags shared by every command. */
export const COMMON_ARGS = {
  quiet: { type: "boolean", alias: ["q"], description: "Print warnings and errors only" },
  verbose: { type: "boolean", alias: ["V"], description: "Print debug messages too" },
  help: { type: "boolean", alias: ["h"], description: "Show this help" },
} as const satisfies ArgsDef;

/** Parses `rawArgs` against `definition`; throws UsageError on an unknown flag or a stray argument. */
export function parseStrict(rawArgs: string[], definition: ArgsDef): Record<string, unknown> {
  const known = new Set<string>();
  const takesValue = new Set<string>();
  for (const [name, arg] of Object.entries(definition)) {
    const names = [name, ...toArray((arg as { alias?: string | string[] }).alias)];
    for (const each of names) {
      known.add(each);
      if (arg.type === "string" || arg.type === "enum") takesValue.add(each);
    }
  }
  const hasPositional = Object.values(definition).some((arg) => arg.type === "positional");
  // citty keeps only the last value of a repeated option; `-f a.toml -f b.toml` needs them all.
  const repeated = new Map<string, string[]>();
  const canonical = new Map<string, string>();
  for (const [name, arg] of Object.entries(definition)) {
    for (const each of [name, ...toArray((arg as { alias?: string | string[] }).alias)]) canonical.set(each, name);
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") {
      if (!hasPositional) throw new UsageError(`Unexpected argument "${arg}"`);
      continue;
    }
    const name = arg.replace(/^--?/, "").split("=")[0]!.replace(/^no-/, "");
    // Short flags may be grouped (-qV).
    const names = arg.startsWith("--") || name.length === 1 ? [name] : [...name];
    for (const each of names) {
      if (!known.has(each)) throw new UsageError(`Unknown option "${arg}"`);
    }
    if (takesValue.has(name)) {
      let value: string;
      if (arg.includes("=")) {
        value = arg.slice(arg.indexOf("=") + 1);
      } else {
        if (i + 1 >= rawArgs.length || rawArgs[i + 1]!.startsWith("-") && rawArgs[i + 1] !== "-") {
          throw new UsageError(`Option "${arg}" needs a value`);
        }
        value = rawArgs[++i]!;
      }
      const key = canonical.get(name)!;
      repeated.set(key, [...(repeated.get(key) ?? []), value]);
    }
  }
  const parsed = parseArgs(rawArgs, definition) as Record<string, unknown>;
  for (const [name, values] of repeated) {
    if (values.length > 1) parsed[name] = values;
  }
  return parsed;
}

/** A flag that may be repeated, as a list of its values. */
export function listOf(value: unknown): string[] {
  if (value === undefined || value === null || value === false) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function toArray(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
