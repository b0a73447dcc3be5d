/**
 * Helpers of the configuration tests: load one TOML text, and the issues it raises as
 * "path: message" lines.
 */

import assert from "node:assert/strict";
import { ConfigFileError, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";

/** Loads `text` as the file test.toml. */
export function loadText(text: string) {
  return loadConfigSources([{ name: "test.toml", text }]);
}

/** The issues of `severity` that `text` raises, as "path: message"; fails when an error-free text is asked for its errors. */
export function issuesOf(text: string, severity: "error" | "warning"): string[] {
  try {
    const { warnings } = loadText(text);
    if (severity === "warning") return warnings.map((w) => `${w.path}: ${w.message}`);
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues.filter((issue: ConfigIssue) => issue.severity === severity).map((issue: ConfigIssue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error("the configuration was accepted");
}
