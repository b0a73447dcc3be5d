/**
 * Durations as HAProxy writes them: `100ms`, `5s`, `2m`, `1h`, `1d`, and bare integers meaning
 * milliseconds (HAProxy's default unit for timeouts).
 *
 * @module
 */

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Longest duration accepted: about 24.8 days, the most a JavaScript timer can wait (2^31-1 ms). */
export const MAX_DURATION_MS = 2_147_483_647;

const DURATION = /^(\d+)(us|ms|s|m|h|d)?$/;

/** Parses a duration into whole milliseconds; returns an error message instead when invalid. */
export function parseDuration(value: unknown): number | string {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) return `expected a whole number of milliseconds >= 0, found ${value}`;
    if (value > MAX_DURATION_MS) return `expected at most ${MAX_DURATION_MS} ms (about 24 days), found ${value}`;
    return value;
  }
  if (typeof value !== "string") return `expected a duration such as "5s" or a number of milliseconds`;
  const match = DURATION.exec(value.trim());
  if (match === null) return `expected a duration such as "100ms", "5s", "2m", "1h" or "1d", found "${value}"`;
  const ms = Math.ceil(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!);
  if (ms > MAX_DURATION_MS) return `expected at most 24 days, found "${value}"`;
  return ms;
}

/** Formats milliseconds the way a person would write them back: 30000 → "30s". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms !== 0 && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  }
  return `${ms}ms`;
}
