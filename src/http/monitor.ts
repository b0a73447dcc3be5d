/**
 * The answer of an http frontend's `monitor-uri` (HAProxy's `monitor-uri` and `monitor fail`):
 * 200 while the proxy wants traffic, 503 while a `monitor-fail` condition holds (a backend under
 * its minimum of usable servers) or while the proxy is in the grace of a graceful stop, so that
 * the balancer in front moves away before anything is refused.
 *
 * Evaluated on each monitor request from counters the backends already keep (no timer, nothing on
 * the path of other requests but one string comparison).
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import type { MonitorConfig } from "../config/types.ts";
import { targetParts } from "./conditions.ts";

/** One `monitor-fail` condition with its running backend. */
interface FailCondition {
  readonly backend: Backend;
  readonly minServers: number;
}

/**
 * HAProxy's `nbsrv`: the usable active servers, or when none is left the usable backups (those
 * are what then takes the traffic).
 */
export function usableServers(backend: Backend): number {
  return backend.usableActive > 0 ? backend.usableActive : backend.usableBackup;
}

/** A frontend's health endpoint. */
export class Monitor {
  readonly uri: string;
  readonly #conditions: readonly FailCondition[];
  /** Set for good once a graceful stop begins: every answer is 503 from then on. */
  #stopping = false;

  constructor(config: MonitorConfig, backend: (name: string) => Backend) {
    this.uri = config.uri;
    this.#conditions = config.fail.map((condition) => ({ backend: backend(condition.backend), minServers: condition.minServers }));
  }

  /** Whether a request for `target` is a monitor request: its path (absolute form included, query left out) is the URI. */
  matches(target: string): boolean {
    // Most targets do not contain it: skip the parse for them.
    if (!target.includes(this.uri)) return false;
    return targetParts(target).path === this.uri;
  }

  /** 200, or 503 while stopping or while a condition holds. */
  status(): 200 | 503 {
    if (this.#stopping) return 503;
    for (const condition of this.#conditions) {
      if (usableServers(condition.backend) < condition.minServers) return 503;
    }
    return 200;
  }

  /** The graceful stop began: fail from now on (HAProxy's soft-stop during `grace`). */
  beginStop(): void {
    this.#stopping = true;
  }
}
