/**
 * A new generation starts from the server states of the one it replaces: HAProxy's
 * `load-server-state-from-file` (server_state.c, srv_state_srv_update), applied to a proxy that is
 * built and not serving yet (between `Proxy.prepare` and `Proxy.listen`: no session, no check has
 * run). The text is `show servers state`'s (`src/control/server_state.ts` reads it), whether it
 * came from the old process's runtime API, from a -W worker of the previous generation, or from a
 * `server-state-file`.
 *
 * A saved line applies to the server of the same backend name and server name (HAProxy's key for
 * a global state file), with HAProxy's rule that a change in the configuration beats the saved
 * state:
 * - maintenance: the saved forced maintenance (FMAINT) applies while the configuration's
 *   `disabled` is what it was (the CMAINT flag of the line says what it was); so a server taken
 *   out through the API stays out, one the API brought back from a configured `disabled` stays
 *   in, and adding or removing `disabled` in the file wins;
 * - drain set through the API, unless the server is in maintenance;
 * - the weight asked for (uweight) when the configuration's weight (iweight) is unchanged, and
 *   likewise maxconn (our two fields after HAProxy's);
 * - health checks paused through the API (`disable health`) stay paused;
 * - the operational state, for a server checked before and now: one the old generation had DOWN
 *   starts DOWN and needs `rise` good checks; one it had UP starts steadily UP (`fall` failed
 *   checks take it down, not the first one, as after a fresh start).
 *
 * Departures, on purpose: a server whose address or port changed is skipped with a notice (its
 * saved state was about another machine; HAProxy applies it and keeps the address for `init-addr
 * last`); the time since the last change and the last check's result start over (the next check
 * tells); a malformed line costs its server alone.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import type { Logger } from "../core/logger.ts";
import type { Server } from "../core/server.ts";
import type { ServerCheck } from "../core/health/server_check.ts";
import type { BackendConfig, ServerConfig } from "../config/types.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import {
  CHECK_STATE_CONFIGURED,
  CHECK_STATE_ENABLED,
  parseServerState,
  SERVER_ADMIN_CONFIG_MAINT,
  SERVER_ADMIN_FORCED_DRAIN,
  SERVER_ADMIN_FORCED_MAINT,
  SERVER_OP_STOPPED,
} from "../control/server_state.ts";
import type { SavedServerState } from "../control/server_state.ts";
import { isIpLiteral } from "./runtime_api_target.ts";

/** What applying a server state needs of a proxy: built (`Proxy.prepare`), not serving yet. */
export interface StatefulProxy {
  readonly backends: readonly Backend[];
  readonly checks: readonly ServerCheck[];
  readonly config: { readonly backends: readonly BackendConfig[] };
  readonly logger: Logger;
}

/** What {@link applyServerState} did, in numbers (each skipped line was also logged). */
export interface ServerStateOutcome {
  /** Servers whose saved line applied (whether or not it changed anything). */
  readonly applied: number;
  /** Lines skipped: backend or server gone, address changed. */
  readonly skipped: number;
  /** Lines left out as malformed (and the whole text when its version line is wrong). */
  readonly malformed: number;
}

/**
 * Applies a server-state text to `proxy` (see the module notes); `source` says where it came from
 * in messages ("the old process's runtime API at \"/run/proxy.sock\""). Never throws for what the
 * text holds: each line it cannot use is a notice or a warning, and the proxy starts anyway.
 */
export function applyServerState(proxy: StatefulProxy, text: string, source: string): ServerStateOutcome {
  const logger = proxy.logger;
  const parsed = parseServerState(text);
  let malformed = 0;
  for (const issue of parsed.issues) {
    const message = `Server state from ${source}: ${issue.message}`;
    if (issue.severity === "warning") {
      malformed++;
      logger.warn(message);
    } else {
      logger.notice(message);
    }
  }
  const checks = new Map(proxy.checks.map((check) => [check.server, check]));
  const configs = new Map(proxy.config.backends.map((config) => [config.name, config]));
  const backends = new Map(proxy.backends.map((backend) => [backend.name, backend]));
  const goneBackends = new Map<string, number>();
  let applied = 0;
  let skipped = 0;
  for (const saved of parsed.servers) {
    const backend = backends.get(saved.backendName);
    const backendConfig = configs.get(saved.backendName);
    if (backend === undefined || backendConfig === undefined) {
      goneBackends.set(saved.backendName, (goneBackends.get(saved.backendName) ?? 0) + 1);
      skipped++;
      continue;
    }
    const label = `"${saved.backendName}/${saved.serverName}"`;
    const server = backend.server(saved.serverName);
    if (server === undefined) {
      logger.notice(`Server state from ${source}: server ${label} no longer exists: skipped`);
      skipped++;
      continue;
    }
    const config = backendConfig.servers[server.index]!;
    const moved = addressChange(saved, config, server);
    if (moved !== null) {
      logger.notice(`Server state from ${source}: server ${label} moved from ${moved}: its saved state is not applied`);
      skipped++;
      continue;
    }
    const restored = restoreServer(backend, server, config, checks.get(server) ?? null, saved, source);
    if (restored.length > 0) logger.notice(`Server ${label}: ${restored.join(", ")} carried over from ${source}`);
    applied++;
  }
  for (const [name, count] of goneBackends) {
    logger.notice(`Server state from ${source}: backend "${name}" no longer exists: its ${count} server line(s) skipped`);
  }
  logger.notice(
    `Server state from ${source}: ${applied} server(s) restored` +
      (skipped > 0 ? `, ${skipped} skipped` : "") + (malformed > 0 ? `, ${malformed} malformed line(s) left out` : ""),
  );
  return { applied, skipped, malformed };
}

/** "A" to "B" when the server's configured address or port is not the one saved; null when it is. */
function addressChange(saved: SavedServerState, config: ServerConfig, server: Server): string | null {
  const port = server.port ?? 0;
  // Two host names compare as names (the name may resolve elsewhere now); else the addresses.
  const sameHost = saved.fqdn !== "-" && !isIpLiteral(config.host)
    ? saved.fqdn.toLowerCase() === config.host.toLowerCase()
    : saved.address === server.host;
  if (sameHost && saved.port === port) return null;
  const before = where(saved.fqdn !== "-" ? saved.fqdn : saved.address, saved.port);
  return `"${before}" to "${where(config.host, port)}"`;
}

function where(host: string, port: number): string {
  return port === 0 ? host : formatHostPort(host, port);
}

/** Applies one saved line to its server; returns what it changed, for the notice. */
function restoreServer(
  backend: Backend,
  server: Server,
  config: ServerConfig,
  check: ServerCheck | null,
  saved: SavedServerState,
  source: string,
): string[] {
  const restored: string[] = [];
  // Maintenance: the saved FMAINT counts only while `disabled` (CMAINT) is what it was.
  const wasDisabled = (saved.adminState & SERVER_ADMIN_CONFIG_MAINT) !== 0;
  const forcedMaint = (saved.adminState & SERVER_ADMIN_FORCED_MAINT) !== 0;
  if (wasDisabled === config.disabled) {
    if (forcedMaint && !server.maintenance) {
      backend.setMaintenance(server, true);
      restored.push("maintenance");
    } else if (!forcedMaint && server.maintenance) {
      backend.setMaintenance(server, false);
      restored.push("ready (set through the runtime API over disabled = true)");
    }
  }
  if (!server.maintenance && (saved.adminState & SERVER_ADMIN_FORCED_DRAIN) !== 0) {
    backend.setDrain(server, true);
    restored.push("drain");
  }
  // A change of the configured weight (or maxconn) beats the one asked for through the API.
  if (saved.initialWeight === server.initialWeight && saved.userWeight !== server.configuredWeight) {
    backend.setWeight(server, saved.userWeight);
    restored.push(`weight ${saved.userWeight} (initial ${server.initialWeight})`);
  }
  if (saved.maxconn !== null && saved.initialMaxconn === config.maxconn && saved.maxconn !== server.maxconn) {
    backend.setMaxconn(server, saved.maxconn);
    restored.push(`maxconn ${saved.maxconn} (configured ${config.maxconn})`);
  }
  const savedChecked = (saved.checkState & CHECK_STATE_CONFIGURED) !== 0;
  if (check !== null && savedChecked) {
    if ((saved.checkState & CHECK_STATE_ENABLED) === 0) {
      check.disable();
      restored.push("health checks paused");
    }
    // Checked before and now: the state its checks had reached.
    if (saved.opState === SERVER_OP_STOPPED) {
      check.counter.health = 0;
      backend.markDown(server, `as in the server state from ${source}; ${check.counter.rise} good check(s) bring it up`, false);
      restored.push("DOWN");
    } else {
      check.counter.health = check.counter.top;
    }
  }
  return restored;
}
