import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { countOutcome, createSessionOutcome, EventRate, SlidingAverage, TIME_SAMPLES, TrafficCounters } from "../src/core/counters.ts";
import type { SessionOutcome } from "../src/core/counters.ts";

describe("EventRate (HAProxy's freq_ctr)", () => {
  test("counts the events of the current second, plus the previous second's share not yet elapsed", () => {
    const rate = new EventRate();
    for (let i = 0; i < 10; i++) rate.add(5_000 + i);
    assert.equal(rate.read(5_500), 10);
    // A quarter into the next second: 0 so far + 10 * 0.75.
    assert.equal(rate.read(6_250), 8);
    rate.add(6_250);
    assert.equal(rate.read(6_250), 9);
    // Two seconds later nothing is left of either.
    assert.equal(rate.read(8_100), 0);
    assert.equal(rate.max, 10);
  });

  test("a gap of more than one second forgets the older period", () => {
    const rate = new EventRate();
    for (let i = 0; i < 4; i++) rate.add(1_000);
    rate.add(3_000);
    assert.equal(rate.read(3_000), 1);
  });
});

describe("SlidingAverage (HAProxy's swrate over 1024 samples)", () => {
  test("is the plain mean of its first value and follows later ones", () => {
    const average = new SlidingAverage();
    assert.equal(average.value, 0);
    average.add(10);
    assert.equal(average.value, 10);
    // An exponential window, as swrate: the old value fades by (1 - 1/1024) per sample.
    for (let i = 0; i < TIME_SAMPLES * 10; i++) average.add(100);
    assert.equal(average.value, 100);
    assert.equal(average.max, 100);
  });

  test("ignores the -1 of a phase that did not happen", () => {
    const average = new SlidingAverage();
    average.add(-1);
    assert.equal(average.value, 0);
    average.add(4);
    assert.equal(average.value, 4);
  });
});

function outcome(fields: Partial<SessionOutcome>): SessionOutcome {
  return Object.assign(createSessionOutcome(), fields);
}

describe("countOutcome", () => {
  test("a normal http request counts bytes, status class and times everywhere it went", () => {
    const frontend = new TrafficCounters();
    const backend = new TrafficCounters();
    const server = new TrafficCounters();
    countOutcome(frontend, backend, server, outcome({ status: 200, statusFromServer: true, bytesIn: 100, bytesOut: 900, connectTime: 2, responseTime: 5, totalTime: 9, queueTime: 0 }), true);
    countOutcome(frontend, backend, server, outcome({ status: 404, statusFromServer: true, bytesIn: 50, bytesOut: 60 }), true);
    for (const counters of [frontend, backend, server]) {
      assert.equal(counters.bytesIn, 150);
      assert.equal(counters.bytesOut, 960);
      assert.equal(counters.responses2xx, 1);
      assert.equal(counters.responses4xx, 1);
      assert.equal(counters.responses5xx, 0);
    }
    assert.equal(backend.connectTime.value, 2);
    assert.equal(server.responseTime.value, 5);
    assert.equal(server.totalTime.value, 9);
    assert.equal(frontend.requestErrors, 0);
  });

  test("a status made by the proxy counts on the frontend only", () => {
    const frontend = new TrafficCounters();
    const backend = new TrafficCounters();
    countOutcome(frontend, backend, null, outcome({ status: 503, termination: "SC", retries: 3, redispatched: true }), true);
    assert.equal(frontend.responses5xx, 1);
    assert.equal(backend.responses5xx, 0);
    assert.equal(backend.connectionErrors, 1);
    assert.equal(backend.retries, 3);
    assert.equal(backend.redispatches, 1);
  });

  test("termination states map to HAProxy's error and abort counters", () => {
    const cases: Array<[string, keyof TrafficCounters, "frontend" | "backend"]> = [
      ["CR", "requestErrors", "frontend"],
      ["cR", "requestErrors", "frontend"],
      ["PR", "requestErrors", "frontend"],
      ["sC", "connectionErrors", "backend"],
      ["SH", "responseErrors", "backend"],
      ["PH", "responseErrors", "backend"],
      ["SD", "serverAborts", "backend"],
      ["CD", "clientAborts", "frontend"],
      ["CD", "clientAborts", "backend"],
    ];
    for (const [termination, field, where] of cases) {
      const frontend = new TrafficCounters();
      const backend = new TrafficCounters();
      countOutcome(frontend, backend, null, outcome({ termination, bytesIn: 10 }), true);
      assert.equal((where === "frontend" ? frontend : backend)[field], 1, `${termination} counts ${field} on the ${where}`);
    }
  });

  test("a denied request is not a request error; an intercepted one is counted apart", () => {
    const frontend = new TrafficCounters();
    countOutcome(frontend, null, null, outcome({ status: 403, termination: "PR", denied: true }), true);
    countOutcome(frontend, null, null, outcome({ status: 200, termination: "LR", intercepted: true }), true);
    assert.equal(frontend.deniedRequests, 1);
    assert.equal(frontend.requestErrors, 0);
    assert.equal(frontend.intercepted, 1);
    assert.equal(frontend.responses4xx, 1);
    assert.equal(frontend.responses2xx, 1);
  });

  test("tcp sessions count no status", () => {
    const frontend = new TrafficCounters();
    countOutcome(frontend, null, null, outcome({ bytesIn: 3, bytesOut: 4 }), false);
    assert.equal(frontend.responsesOther, 0);
    assert.equal(frontend.bytesOut, 4);
  });
});
