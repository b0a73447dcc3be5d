/**
 * The stats formats as the http stats service renders them (src/http/stats_service.ts): the page,
 * HAProxy's CSV, the JSON snapshot and the Prometheus text, gathered in one object so the service
 * depends on the formats' shape, not on their modules.
 *
 * @module
 */

import type { StatsRenderers } from "../http/stats_service.ts";
import { formatStatsCsv } from "./csv.ts";
import { renderStatsPage } from "./html_page.ts";
import { formatStatsJson } from "./json.ts";
import { formatPrometheus } from "./prometheus.ts";

/** The renderers of every stats frontend. */
export const STATS_RENDERERS: StatsRenderers = {
  html: (snapshot, uri, refreshSeconds) => renderStatsPage(snapshot, { uri, refreshSeconds }),
  csv: (snapshot) => formatStatsCsv(snapshot),
  json: (snapshot) => formatStatsJson(snapshot),
  prometheus: (snapshot) => formatPrometheus(snapshot),
};
Object.freeze(STATS_RENDERERS);
