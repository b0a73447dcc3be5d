/**
 * The stats service of an http frontend (HAProxy's `stats uri`, and its Prometheus exporter's
 * `/metrics`): recognises the stats and metrics paths, checks who asks (source networks, basic
 * auth), and answers with the page, the CSV (`;csv`), the JSON (`;json`) or the metrics text.
 *
 * Answered after the request rules, as HAProxy answers `stats uri` after its `http-request`
 * rules, so those rules can deny or redirect stats requests too; answered by the proxy itself:
 * never forwarded, counted as intercepted and logged with "LR" like a rule's `return`. Taking a
 * snapshot and rendering it runs only for these requests: nothing here is on the path of others
 * but a prefix comparison.
 *
 * @module
 */

import type { StatsConfig } from "../config/types.ts";
import { cidrContains } from "../core/cidr.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";
import type { RuleAnswer } from "./rules.ts";
import { targetParts } from "./conditions.ts";

/** Where the service gets the counters: the proxy's (the engine's StatsCollector), taken per request. */
export interface StatsSource {
  snapshot(): StatsSnapshot;
}

/** How a snapshot becomes text (src/stats/). */
export interface StatsRenderers {
  /** The HTML page; `pageUri` is where it is served (its `;csv` and `;json` links), `refreshSeconds` 0 for none. */
  html(snapshot: StatsSnapshot, pageUri: string, refreshSeconds: number): string;
  csv(snapshot: StatsSnapshot): string;
  json(snapshot: StatsSnapshot): string;
  prometheus(snapshot: StatsSnapshot): string;
}

/** What the service reads of a request. */
export interface StatsRequest {
  readonly method: string;
  readonly target: string;
  headerValue(lowerName: string): string | undefined;
}

const ENCODER = new TextEncoder();

/** Content types of the answers. */
const HTML_TYPE = "text/html; charset=utf-8";
const CSV_TYPE = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json";
/** The Prometheus text format, version 0.0.4. */
const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function answer(status: number, headers: string[], body: string): RuleAnswer {
  // Stats change from one request to the next: no cache may keep them (HAProxy sends the same).
  headers.push("Cache-Control", "no-cache");
  return { kind: "answer", status, headers, body: ENCODER.encode(body) };
}

/** One frontend's stats service. */
export class StatsService {
  readonly #config: StatsConfig;
  readonly #source: StatsSource;
  readonly #renderers: StatsRenderers;
  /** Every configured path: a target that contains none of them is none of ours. */
  readonly #paths: readonly string[];

  constructor(config: StatsConfig, source: StatsSource, renderers: StatsRenderers) {
    this.#config = config;
    this.#source = source;
    this.#renderers = renderers;
    this.#paths = config.metricsUri === null ? [...config.uris] : [...config.uris, config.metricsUri];
  }

  /**
   * The answer to a stats or metrics request from `clientAddress`, or null when the request is
   * for neither (it goes on as any other).
   */
  answer(request: StatsRequest, clientAddress: string): RuleAnswer | null {
    const target = request.target;
    // Most targets are not ours: skip the parse for them (a loop: no closure per request).
    const paths = this.#paths;
    let mentioned = false;
    for (let i = 0; i < paths.length && !mentioned; i++) mentioned = target.includes(paths[i]!);
    if (!mentioned) return null;
    const config = this.#config;
    const path = targetParts(target).path;
    if (path === null) return null;
    let kind: "html" | "csv" | "json" | "metrics";
    let pageUri = "";
    if (path === config.metricsUri) {
      kind = "metrics";
    } else {
      const semicolon = path.indexOf(";");
      const base = semicolon < 0 ? path : path.slice(0, semicolon);
      if (!config.uris.includes(base)) return null;
      pageUri = base;
      // HAProxy's suffixes: ";csv" and ";json" choose the format; others (";norefresh", ";up") are accepted.
      const options = semicolon < 0 ? [] : path.slice(semicolon + 1).split(";");
      kind = options.includes("csv") ? "csv" : options.includes("json") ? "json" : "html";
    }
    const refused = this.refusal(request, clientAddress);
    if (refused !== null) return refused;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return answer(405, ["Allow", "GET, HEAD", "Content-Type", CSV_TYPE], "Only GET and HEAD read the stats.\n");
    }
    const snapshot = this.#source.snapshot();
    const renderers = this.#renderers;
    switch (kind) {
      case "metrics":
        return answer(200, ["Content-Type", PROMETHEUS_TYPE], renderers.prometheus(snapshot));
      case "csv":
        return answer(200, ["Content-Type", CSV_TYPE], renderers.csv(snapshot));
      case "json":
        return answer(200, ["Content-Type", JSON_TYPE], renderers.json(snapshot));
      default: {
        const norefresh = path.includes(";norefresh");
        const refreshSeconds = norefresh ? 0 : Math.ceil(config.refresh / 1_000);
        return answer(200, ["Content-Type", HTML_TYPE], renderers.html(snapshot, pageUri, refreshSeconds));
      }
    }
  }

  /** 403 for a source outside `stats-allow`, 401 without valid credentials; null when the request may read. */
  private refusal(request: StatsRequest, clientAddress: string): RuleAnswer | null {
    const config = this.#config;
    if (config.allow !== null && !config.allow.some((network) => cidrContains(network, clientAddress))) {
      return answer(403, ["Content-Type", CSV_TYPE], "Your address may not read the stats.\n");
    }
    if (config.credentials.length === 0) return null;
    if (validCredentials(request.headerValue("authorization"), config.credentials)) return null;
    return answer(
      401,
      ["WWW-Authenticate", `Basic realm="${config.realm}"`, "Content-Type", CSV_TYPE],
      "The stats ask for a user and a password.\n",
    );
  }
}

/** Whether an Authorization header carries one of the "user:password" pairs (RFC 7617). */
export function validCredentials(header: string | undefined, credentials: readonly string[]): boolean {
  if (header === undefined) return false;
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return false;
  let decoded: string;
  try {
    const binary = atob(match[1]!);
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return false;
  }
  return credentials.some((pair) => sameText(pair, decoded));
}

/** Compares without stopping at the first difference, so the time taken does not tell how much matched. */
function sameText(expected: string, given: string): boolean {
  let difference = expected.length ^ given.length;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ (given.charCodeAt(i % (given.length || 1)) || 0);
  return difference === 0;
}
