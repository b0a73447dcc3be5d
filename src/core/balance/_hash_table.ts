/**
 * Private helpers shared by the hashing balancers (`source`, `uri`, `hdr`): the string hash and
 * HAProxy's map-based table with deterministic rehashing.
 *
 * @module
 */

import type { Server } from "../server.ts";
import { buildWeightedSequence } from "./_weighted_sequence.ts";

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Odd constant (2^32 / golden ratio) that sends successive probe numbers far apart. */
const PROBE_STEP = 0x9e3779b9;

/**
 * Table slots tried at random, after the key's own slot, before scanning the table in order.
 * With half the table unavailable, all of them miss once in 256 picks; the scan then still finds
 * a server if there is one.
 */
export const REHASH_PROBES = 8;

/** Murmur3's finalizer: every input bit reaches every output bit. */
export function mix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * FNV-1a (32 bit) of `text`'s code units in [start, end), finalized so that it spreads well
 * modulo a small table; with `lowerCase`, ASCII letters are folded first.
 *
 * The finalizer matters: keys that differ only in their last character differ only in the low
 * bits of plain FNV-1a's last multiplication, which would crowd neighbouring keys together.
 * Reads the code units in place, so hashing part of a string costs no substring.
 */
export function hashRange(text: string, start: number, end: number, lowerCase = false): number {
  let hash = FNV_OFFSET_BASIS;
  for (let index = start; index < end; index++) {
    let unit = text.charCodeAt(index);
    if (lowerCase && unit >= 0x41 && unit <= 0x5a) unit += 0x20;
    hash ^= unit;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return mix32(hash);
}

/**
 * HAProxy's map-based hashing: a table in which each server holds `weight` slots, indexed by a
 * key's hash. The table is built from the weights only (down servers keep their slots), so a
 * server going down or up moves only its own keys: a key whose slot belongs to an unavailable
 * server (or to `avoid`) is sent, deterministically, to the slot chosen by rehashing, which
 * spreads a failed server's keys over the others by weight rather than piling them on one
 * neighbour. A full server is still the key's server: the request waits in its queue (HAProxy's
 * hashing sends a key to its server whatever its load). A change of weight rebuilds the table on the lookup after `update()`, which remaps
 * most keys, as in HAProxy; a weight set to 0 drains the server like a down one.
 */
export class WeightedHashTable {
  readonly #servers: readonly Server[];
  /** The weights the table was built from. */
  readonly #tableWeights: Float64Array;
  #table: Int32Array;
  #mayHaveChanged = false;

  constructor(servers: readonly Server[]) {
    this.#servers = servers;
    this.#tableWeights = new Float64Array(servers.length);
    for (let position = 0; position < servers.length; position++) {
      this.#tableWeights[position] = servers[position].weight;
    }
    this.#table = buildWeightedSequence(this.#tableWeights);
  }

  /**
   * The usable server for a key's `hash` (an unsigned 32-bit number), or null when there is
   * none. `avoid` is skipped unless it is the only usable server.
   */
  lookup(hash: number, avoid: Server | null): Server | null {
    if (this.#mayHaveChanged) this.#rebuildIfWeightsChanged();
    const table = this.#table;
    if (table.length === 0) return null;
    let slot = hash % table.length;
    let avoidSeen = false;
    for (let probe = 0; probe <= REHASH_PROBES; probe++) {
      if (probe > 0) slot = mix32(hash + Math.imul(probe, PROBE_STEP)) % table.length;
      const server = this.#servers[table[slot]];
      if (!server.isUsable()) continue;
      if (server !== avoid) return server;
      avoidSeen = true;
    }
    for (let step = 1; step < table.length; step++) {
      const server = this.#servers[table[(slot + step) % table.length]];
      if (!server.isUsable()) continue;
      if (server !== avoid) return server;
      avoidSeen = true;
    }
    return avoidSeen ? avoid : null;
  }

  /** Notes that weights may have changed; the next lookup compares and rebuilds only if needed. */
  update(): void {
    this.#mayHaveChanged = true;
  }

  #rebuildIfWeightsChanged(): void {
    this.#mayHaveChanged = false;
    let changed = false;
    for (let position = 0; position < this.#servers.length; position++) {
      const weight = this.#servers[position].weight;
      // Weight 0 drains a server: it keeps its slots, so its keys come back when it returns.
      if (weight > 0 && weight !== this.#tableWeights[position]) {
        this.#tableWeights[position] = weight;
        changed = true;
      }
    }
    if (changed) this.#table = buildWeightedSequence(this.#tableWeights);
  }
}
