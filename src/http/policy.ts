/**
 * What an http session applies to each request, compiled once from the configuration when the
 * proxy starts: the frontend's rules, router and pages, and for each backend a route to it that
 * combines the frontend's and the backend's settings.
 *
 * Combination rules follow HAProxy: the frontend's http-request rules run first, then the router
 * picks the backend, then the backend's http-request rules; http-response rules run backend first,
 * then frontend. Connection modes take the most restrictive of the two sections (httpclose over
 * http-server-close over http-keep-alive); `http-no-delay` holds if either section sets it; error
 * pages are status by status, the backend's errorfile, else the frontend's, else the built-in page.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import type {
  BackendConfig,
  ErrorFileConfig,
  FrontendConfig,
  HttpConnectionMode,
  HttpReuseMode,
  TuneConfig,
} from "../config/types.ts";
import { combineForwardedHeaders } from "./forwarded_headers.ts";
import type { ForwardedHeaderRules } from "./forwarded_headers.ts";
import { RequestRules, ResponseRules } from "./rules.ts";
import { Router } from "./router.ts";
import { ErrorPages } from "./error_pages.ts";
import { Monitor } from "./monitor.ts";
import { HeadParserPool } from "./head_parser_pool.ts";
import { StatsService } from "./stats_service.ts";
import type { StatsRenderers, StatsSource } from "./stats_service.ts";

/** A backend as one frontend's requests reach it. */
export interface HttpBackendRoute {
  readonly backend: Backend;
  readonly forwarded: ForwardedHeaderRules;
  readonly requestRules: RequestRules;
  readonly responseRules: ResponseRules;
  readonly errorPages: ErrorPages;
  /** Close the server connection after each response (http-server-close or httpclose). */
  readonly serverClose: boolean;
  /** Close the client connection after each response (httpclose). */
  readonly clientClose: boolean;
  /** Keep TCP_NODELAY on while a body is forwarded in pieces (http-no-delay on either section). */
  readonly noDelay: boolean;
  readonly reuse: HttpReuseMode;
}

/** Everything an http frontend's sessions apply. */
export interface HttpFrontendPolicy {
  readonly router: Router<HttpBackendRoute>;
  readonly requestRules: RequestRules;
  readonly responseRules: ResponseRules;
  /** Pages for answers given before a backend is chosen. */
  readonly errorPages: ErrorPages;
  readonly clientClose: boolean;
  /** Client bytes held while a request waits, before the client is paused (tune.bufsize). */
  readonly bufferBytes: number;
  /**
   * Parsers taken per exchange (head_parser_pool.ts), with the limits of a head: its largest size
   * and most header lines (tune.bufsize - tune.maxrewrite, tune.http.maxhdr).
   */
  readonly requestParsers: HeadParserPool;
  readonly responseParsers: HeadParserPool;
  /** The `monitor-uri` answer, or null (none configured). */
  readonly monitor: Monitor | null;
  /** The stats page and metrics (`stats-uri`, `metrics-uri`), or null (none configured). */
  readonly stats: StatsService | null;
}

/** What a frontend's stats service reads and how it renders it (null: the proxy shows no stats). */
export interface StatsServices {
  readonly source: StatsSource;
  readonly renderers: StatsRenderers;
}

const MODE_RANK: Record<HttpConnectionMode, number> = { "http-keep-alive": 0, "http-server-close": 1, httpclose: 2 };

function strictest(a: HttpConnectionMode, b: HttpConnectionMode): number {
  return Math.max(MODE_RANK[a], MODE_RANK[b]);
}

/** Error pages are built once per distinct errorfiles list; a status without a page falls back to `fallback`'s. */
function pagesFor(
  files: readonly ErrorFileConfig[],
  fallback: ErrorPages | null,
  cache: Map<readonly ErrorFileConfig[], ErrorPages>,
): ErrorPages {
  let pages = cache.get(files);
  if (pages === undefined) {
    pages = new ErrorPages(files, fallback);
    cache.set(files, pages);
  }
  return pages;
}

/**
 * Builds a frontend's policy. `backends` maps backend names to the running backends and their
 * configuration; an empty `defaultBackend` means none (a request no route takes gets a 503).
 */
export function buildHttpFrontendPolicy(
  frontend: FrontendConfig,
  backends: ReadonlyMap<string, { readonly backend: Backend; readonly config: BackendConfig }>,
  tune: TuneConfig,
  stats: StatsServices | null = null,
): HttpFrontendPolicy {
  const pageCache = new Map<readonly ErrorFileConfig[], ErrorPages>();
  const parserLimits = { maxHeadBytes: tune.bufsize - tune.maxrewrite, maxHeaderLines: tune.httpMaxhdr };
  const frontendPages = new ErrorPages(frontend.http.errorFiles);
  const routes = new Map<string, HttpBackendRoute>();
  const routeTo = (name: string): HttpBackendRoute => {
    let route = routes.get(name);
    if (route !== undefined) return route;
    const entry = backends.get(name);
    if (entry === undefined) throw new Error(`Frontend "${frontend.name}" uses unknown backend "${name}"`);
    const mode = strictest(frontend.http.connectionMode, entry.config.http.connectionMode);
    route = Object.freeze({
      backend: entry.backend,
      forwarded: combineForwardedHeaders(frontend.forwarded, entry.config.forwarded),
      requestRules: new RequestRules(entry.config.http.httpRequestRules),
      responseRules: new ResponseRules(entry.config.http.httpResponseRules),
      errorPages: entry.config.http.errorFiles.length > 0 ? pagesFor(entry.config.http.errorFiles, frontendPages, pageCache) : frontendPages,
      serverClose: mode >= MODE_RANK["http-server-close"],
      clientClose: mode >= MODE_RANK.httpclose,
      noDelay: frontend.http.httpNoDelay || entry.config.http.httpNoDelay,
      reuse: entry.config.httpReuse,
    });
    routes.set(name, route);
    return route;
  };
  const router = new Router<HttpBackendRoute>(
    frontend.routes.map((route) => ({ condition: route.condition, target: routeTo(route.backend) })),
    frontend.defaultBackend === "" ? null : routeTo(frontend.defaultBackend),
  );
  return Object.freeze({
    router,
    requestRules: new RequestRules(frontend.http.httpRequestRules),
    responseRules: new ResponseRules(frontend.http.httpResponseRules),
    errorPages: frontendPages,
    clientClose: frontend.http.connectionMode === "httpclose",
    bufferBytes: tune.bufsize,
    requestParsers: new HeadParserPool("request", parserLimits),
    responseParsers: new HeadParserPool("response", parserLimits),
    monitor: frontend.monitor === null ? null : new Monitor(frontend.monitor, (name) => {
      const entry = backends.get(name);
      if (entry === undefined) throw new Error(`Frontend "${frontend.name}" counts the servers of unknown backend "${name}"`);
      return entry.backend;
    }),
    stats: frontend.stats === null || stats === null ? null : new StatsService(frontend.stats, stats.source, stats.renderers),
  });
}
