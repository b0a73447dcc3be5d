/**
 * The frontend's router: routes tried in order, the first whose condition matches picks its
 * target (a backend), else the fallback (the default backend). Conditions are compiled once.
 *
 * @module
 */

import { compileCondition } from "./conditions.ts";
import type { ConditionClient } from "./conditions.ts";
import type { RequestCondition } from "./conditions.ts";
import type { ConditionConfig } from "../config/types.ts";
import type { HttpHead } from "./head_parser.ts";

/** One route as the router is built from it. */
export interface RouterRoute<T> {
  readonly condition: ConditionConfig;
  readonly target: T;
}

/** Picks a target for each request. */
export class Router<T> {
  /** The target when no route matches; null: none (the session answers 503). */
  readonly fallback: T | null;
  readonly #conditions: readonly RequestCondition[];
  readonly #targets: readonly T[];

  constructor(routes: readonly RouterRoute<T>[], fallback: T | null) {
    this.fallback = fallback;
    this.#conditions = routes.map((route) => compileCondition(route.condition));
    this.#targets = routes.map((route) => route.target);
  }

  /** Number of routes (0: every request goes to the fallback). */
  get size(): number {
    return this.#conditions.length;
  }

  /** The first matching route's target, else the fallback. */
  pick(head: HttpHead, clientAddress: string, client: ConditionClient | undefined = undefined): T | null {
    const conditions = this.#conditions;
    for (let i = 0; i < conditions.length; i++) {
      if (conditions[i]!.matches(head, clientAddress, client)) return this.#targets[i]!;
    }
    return this.fallback;
  }
}
