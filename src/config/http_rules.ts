/**
 * `http-request` and `http-response` rules: each action with its own arguments (set-header,
 * add-header, del-header, set-path, redirect, deny, return) and an optional `if` / `unless`
 * condition. A rule is refused when it would write something that is not valid HTTP.
 *
 * @module
 */

import { readGuard } from "./conditions.ts";
import { headerValueProblem, pathProblem, readHeaderName, readHeaderValue } from "./http_syntax.ts";
import { describe, isTable, quoteList, unknownKeyMessage } from "./reader.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { HttpRequestRuleConfig, HttpResponseRuleConfig, RedirectCode, RuleGuardConfig } from "./types.ts";

const REQUEST_ACTIONS = ["set-header", "add-header", "del-header", "set-path", "redirect", "deny", "return"] as const;
const RESPONSE_ACTIONS = ["set-header", "add-header", "del-header"] as const;
/** The arguments of each action; every rule may also have `if` or `unless`. */
const ACTION_KEYS: Record<(typeof REQUEST_ACTIONS)[number], readonly string[]> = {
  "set-header": ["name", "value"],
  "add-header": ["name", "value"],
  "del-header": ["name"],
  "set-path": ["path"],
  redirect: ["location", "prefix", "scheme", "code", "drop-query"],
  deny: ["status"],
  return: ["status", "content-type", "body"],
};
const ALL_ACTION_KEYS = new Set(Object.values(ACTION_KEYS).flat());
const REDIRECT_CODES: readonly RedirectCode[] = [301, 302, 303, 307, 308];

/** One `http-request` or `http-response` rule. */
function readRule(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  actions: readonly string[],
  key: "http-request" | "http-response",
): HttpRequestRuleConfig | undefined {
  if (!isTable(value)) {
    reader.error(path, `Expected a rule such as { action = "set-header", name = "X-Env", value = "prod" }, found ${describe(value)}`);
    return undefined;
  }
  if (value.action === undefined) {
    reader.error(path, `Missing "action": expected one of ${quoteList(actions)}`);
    return undefined;
  }
  if (typeof value.action === "string" && !actions.includes(value.action) && (REQUEST_ACTIONS as readonly string[]).includes(value.action)) {
    reader.error([...path, "action"], `Action "${value.action}" is not available in ${key}: expected one of ${quoteList(actions)}`);
    return undefined;
  }
  const action = reader.oneOf([...path, "action"], value.action, actions as readonly (typeof REQUEST_ACTIONS)[number][]);
  if (action === undefined) return undefined;
  const allowed = ["action", ...ACTION_KEYS[action], "if", "unless"];
  for (const name of Object.keys(value)) {
    if (allowed.includes(name)) continue;
    reader.error(
      [...path, name],
      ALL_ACTION_KEYS.has(name) ? `Key "${name}" does not apply to action "${action}": expected one of ${allowed.join(", ")}` : unknownKeyMessage(name, allowed),
      "key",
    );
  }
  const when = readGuard(reader, path, value);
  const missing = (...names: string[]): boolean => {
    const absent = names.filter((name) => value[name] === undefined);
    if (absent.length > 0) {
      reader.error(path, `Missing ${absent.map((name) => `"${name}"`).join(" and ")}: action "${action}" needs ${names.join(" and ")}`);
    }
    return absent.length > 0;
  };
  switch (action) {
    case "set-header":
    case "add-header": {
      const absent = missing("name", "value");
      const name = readHeaderName(reader, [...path, "name"], value.name, true);
      const text = readHeaderValue(reader, [...path, "value"], value.value);
      if (absent || name === undefined || text === undefined) return undefined;
      return Object.freeze({ action, name, value: text, when });
    }
    case "del-header": {
      const absent = missing("name");
      const name = readHeaderName(reader, [...path, "name"], value.name, true);
      if (absent || name === undefined) return undefined;
      return Object.freeze({ action, name, when });
    }
    case "set-path": {
      const absent = missing("path");
      const target = reader.string([...path, "path"], value.path);
      if (absent || target === undefined) return undefined;
      const problem = pathProblem(target);
      if (problem !== undefined) {
        reader.error([...path, "path"], `Invalid path "${target}": ${problem}` + (target.includes("?") ? "; set-path keeps the request's query string" : ""));
        return undefined;
      }
      return Object.freeze({ action, path: target, when });
    }
    case "redirect":
      return readRedirect(reader, path, value, when);
    case "deny": {
      const status = reader.integer([...path, "status"], value.status, 200, 599) ?? 403;
      return Object.freeze({ action, status, when });
    }
    case "return": {
      const status = reader.integer([...path, "status"], value.status, 200, 599) ?? 200;
      const contentType = reader.string([...path, "content-type"], value["content-type"]);
      if (contentType !== undefined) {
        const problem = headerValueProblem(contentType);
        if (problem !== undefined) reader.error([...path, "content-type"], `Invalid header value ${JSON.stringify(contentType)}: ${problem}`);
      }
      const body = reader.text([...path, "body"], value.body) ?? "";
      if ((status === 204 || status === 304) && body !== "") {
        reader.error([...path, "body"], `A ${status} response has no body: remove "body" or use another status`);
      }
      return Object.freeze({ action, status, contentType: contentType ?? "text/plain", body, when });
    }
  }
}

function readRedirect(reader: Reader, path: ConfigPath, table: Table, when: RuleGuardConfig | null): HttpRequestRuleConfig | undefined {
  const given = (["location", "prefix", "scheme"] as const).filter((key) => table[key] !== undefined);
  if (given.length === 0) {
    reader.error(path, `Missing the target: action "redirect" needs one of "location", "prefix" or "scheme"`);
  } else if (given.length > 1) {
    reader.error([...path, given[1]!], `Give only one of "location", "prefix" and "scheme": this redirect has ${given.map((key) => `"${key}"`).join(" and ")}`, "key");
  }
  const target = (key: "location" | "prefix"): string | null => {
    const text = reader.string([...path, key], table[key]);
    if (text === undefined) return null;
    const problem = headerValueProblem(text);
    if (problem !== undefined) {
      reader.error([...path, key], `Invalid ${key} ${JSON.stringify(text)}: ${problem}`);
      return null;
    }
    return text;
  };
  const location = target("location");
  const prefix = target("prefix");
  const scheme = reader.oneOf([...path, "scheme"], table.scheme, ["http", "https"]) ?? null;
  let code: RedirectCode = 302;
  if (table.code !== undefined) {
    if (REDIRECT_CODES.includes(table.code as RedirectCode)) code = table.code as RedirectCode;
    else reader.error([...path, "code"], `Expected one of ${quoteList(REDIRECT_CODES)}, found ${describe(table.code)}`);
  }
  const dropQuery = reader.boolean([...path, "drop-query"], table["drop-query"]) ?? false;
  if (dropQuery && table.location !== undefined) {
    reader.warn([...path, "drop-query"], `"drop-query" has no effect with "location": the location is sent as written`);
  }
  if (given.length !== 1 || (location ?? prefix ?? scheme) === null) return undefined;
  return Object.freeze({ action: "redirect", code, location, prefix, scheme, dropQuery, when });
}

/** `http-request` / `http-response`: an array of rules. undefined: not set. */
export function readRules(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  key: "http-request" | "http-response",
): HttpRequestRuleConfig[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    reader.error(path, `Expected an array of rules such as [{ action = "del-header", name = "X-Debug" }], found ${describe(value)}`);
    return undefined;
  }
  const actions = key === "http-request" ? REQUEST_ACTIONS : RESPONSE_ACTIONS;
  const rules: HttpRequestRuleConfig[] = [];
  value.forEach((item: unknown, index) => {
    const rule = readRule(reader, [...path, index], item, actions, key);
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

export function isResponseRule(rule: HttpRequestRuleConfig): rule is HttpResponseRuleConfig {
  return rule.action === "set-header" || rule.action === "add-header" || rule.action === "del-header";
}
