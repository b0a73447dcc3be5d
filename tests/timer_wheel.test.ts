import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_RESOLUTION_MS, TimerWheel, WHEEL_SLOTS } from "../src/core/timer_wheel.ts";
import type { TimerClock } from "../src/core/timer_wheel.ts";
import { ManualClock } from "./_runtime_helpers.ts";

/** The shared manual clock, counting what the wheel asks of the runtime. */
class FakeClock extends ManualClock {
  /** Highest number of runtime timers outstanding at once. */
  maxPending = 0;
  setTimerCalls = 0;
  unrefFlags: boolean[] = [];

  override setTimer(ms: number, callback: () => void, unref: boolean): unknown {
    assert.ok(ms >= 1, `timer delay ${ms} should be at least 1 ms`);
    const id = super.setTimer(ms, callback);
    this.setTimerCalls++;
    this.unrefFlags.push(unref);
    this.maxPending = Math.max(this.maxPending, this.pending.size);
    return id;
  }
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

test("timer wheel: a timer fires after its delay, not before, at most one resolution late", () => {
  for (const start of [0, 37, 100, 12_345.5]) {
    for (const delay of [0, 1, 99, 100, 101, 250, 1000, 5000]) {
      const clock = new FakeClock(start);
      const wheel = new TimerWheel(clock, 100);
      let firedAt = -1;
      const timer = wheel.create(() => {
        firedAt = clock.now();
      });
      timer.arm(delay);
      assert.equal(timer.armed, true);
      assert.equal(timer.deadline, start + delay);
      for (let step = 0; step < delay + 300 && firedAt === -1; step++) clock.advance(1);
      assert.notEqual(firedAt, -1, `delay ${delay} from ${start} never fired`);
      assert.ok(firedAt >= start + delay, `delay ${delay} from ${start} fired early at ${firedAt}`);
      assert.ok(firedAt <= start + delay + 100, `delay ${delay} from ${start} fired late at ${firedAt}`);
      assert.equal(timer.armed, false);
      assert.equal(wheel.size, 0);
    }
  }
});

test("timer wheel: the default resolution is a named constant", () => {
  const clock = new FakeClock();
  assert.equal(new TimerWheel(clock).resolutionMs, DEFAULT_RESOLUTION_MS);
  assert.equal(DEFAULT_RESOLUTION_MS, 100);
});

test("timer wheel: arm reads the clock and refreshes the coarse now", () => {
  const clock = new FakeClock(1000);
  const wheel = new TimerWheel(clock, 100);
  const timer = wheel.create(() => {});
  clock.time = 5000; // no tick ran in between: the wheel was idle
  timer.arm(10);
  assert.equal(wheel.now, 5000);
  assert.equal(timer.deadline, 5010);
  // The ticks missed while idle are skipped, not replayed: the runtime timer aims at the next tick.
  assert.deepEqual([...clock.pending.values()].map((pending) => pending.at), [5100]);
});

test("timer wheel: touch postpones the deadline without reading the clock", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let firedAt = -1;
  const timer = wheel.create(() => {
    firedAt = clock.now();
  });
  timer.arm(1000);
  clock.advanceTo(500); // a tick ran at 500: the coarse now is 500
  assert.equal(wheel.now, 500);
  let clockReads = 0;
  const realNow = clock.now;
  clock.now = () => {
    clockReads++;
    return realNow.call(clock);
  };
  timer.touch(1000);
  assert.equal(clockReads, 0);
  clock.now = realNow;
  assert.equal(timer.deadline, 1500);
  clock.advanceTo(1499);
  assert.equal(firedAt, -1, "fired before the touched deadline");
  clock.advanceTo(1700);
  assert.ok(firedAt >= 1500 && firedAt <= 1600, `fired at ${firedAt}`);
});

test("timer wheel: many touches between ticks keep postponing, error bounded by one tick", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let firedAt = -1;
  const timer = wheel.create(() => {
    firedAt = clock.now();
  });
  timer.arm(300);
  // Data every 7 ms for 2 s: the timer must never fire while touched.
  for (let at = 7; at <= 2000; at += 7) {
    clock.advanceTo(at);
    timer.touch(300);
    assert.equal(firedAt, -1, `fired at ${at} while being touched`);
    assert.ok(timer.deadline >= at + 300 - 100, "touch measured from a now older than one tick");
  }
  const lastTouch = 2000 - (2000 % 7);
  clock.advance(1000);
  assert.ok(firedAt >= lastTouch + 300 - 100 && firedAt <= lastTouch + 300 + 100, `fired at ${firedAt}`);
});

test("timer wheel: touch with a shorter delay than armed still fires on time", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let firedAt = -1;
  const timer = wheel.create(() => {
    firedAt = clock.now();
  });
  timer.arm(60_000);
  clock.advanceTo(200);
  timer.touch(1000);
  clock.advanceTo(5000);
  assert.ok(firedAt >= 1200 && firedAt <= 1300, `fired at ${firedAt}`);
});

test("timer wheel: touch on a disarmed timer does nothing", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let fired = 0;
  const timer = wheel.create(() => {
    fired++;
  });
  timer.touch(100);
  assert.equal(timer.armed, false);
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending.size, 0);
  clock.advance(1000);
  assert.equal(fired, 0);
});

test("timer wheel: disarm cancels, and is safe to repeat", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let fired = 0;
  const timer = wheel.create(() => {
    fired++;
  });
  const other = wheel.create(() => {});
  timer.arm(500);
  other.arm(500);
  assert.equal(wheel.size, 2);
  clock.advanceTo(200);
  timer.disarm();
  timer.disarm();
  assert.equal(timer.armed, false);
  assert.equal(wheel.size, 1);
  clock.advance(2000);
  assert.equal(fired, 0);
  assert.equal(other.armed, false);
  assert.equal(wheel.size, 0);
});

test("timer wheel: re-arming replaces the deadline", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const firedAt: number[] = [];
  const timer = wheel.create(() => firedAt.push(clock.now()));
  timer.arm(1000);
  timer.arm(300);
  assert.equal(wheel.size, 1);
  clock.advance(3000);
  assert.deepEqual(firedAt, [300]);
});

test("timer wheel: createFor calls its owner's onTimer, as a method, once per expiry", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  class Owner {
    fired: number[] = [];
    readonly timer = wheel.createFor(this);
    onTimer(): void {
      assert.equal(this.timer.armed, false, "a timer is disarmed before its owner is called");
      this.fired.push(clock.now());
    }
  }
  const owners = [new Owner(), new Owner()];
  owners[0]!.timer.arm(200);
  owners[1]!.timer.arm(500);
  clock.advance(350);
  assert.equal(owners[0]!.fired.length, 1);
  assert.equal(owners[1]!.fired.length, 0);
  clock.advance(1_000);
  assert.equal(owners[0]!.fired.length, 1, "not again without a new arm");
  assert.equal(owners[1]!.fired.length, 1);
  assert.ok(owners[1]!.fired[0]! >= 500);
});

test("timer wheel: a callback may re-arm its own timer", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const firedAt: number[] = [];
  const timer = wheel.create(() => {
    assert.equal(timer.armed, false, "a timer is disarmed before its callback runs");
    firedAt.push(clock.now());
    if (firedAt.length < 5) timer.arm(250);
  });
  timer.arm(250);
  clock.advance(10_000);
  assert.equal(firedAt.length, 5);
  let previous = 0;
  for (const at of firedAt) {
    assert.ok(at - previous >= 250 && at - previous <= 350, `interval ${at - previous}`);
    previous = at;
  }
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending.size, 0);
});

test("timer wheel: a callback may disarm a timer due in the same tick", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const fired: string[] = [];
  const second = wheel.create(() => fired.push("second"));
  const first = wheel.create(() => {
    fired.push("first");
    second.disarm();
  });
  first.arm(100);
  second.arm(100);
  clock.advance(1000);
  assert.deepEqual(fired, ["first"]);
  assert.equal(wheel.size, 0);
});

test("timer wheel: a callback may arm a zero delay timer, which fires on the next tick", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const firedAt: Array<[string, number]> = [];
  const later = wheel.create(() => firedAt.push(["later", clock.now()]));
  const first = wheel.create(() => {
    firedAt.push(["first", clock.now()]);
    later.arm(0);
  });
  first.arm(100);
  clock.advance(1000);
  assert.deepEqual(firedAt, [["first", 100], ["later", 200]]);
});

test("timer wheel: 10,000 timers run on one runtime timer at most", () => {
  const clock = new FakeClock(3);
  const wheel = new TimerWheel(clock, 100);
  const random = seededRandom(42);
  const count = 10_000;
  const deadlines = new Float64Array(count);
  const firedAt = new Float64Array(count).fill(-1);
  const timers = [];
  for (let index = 0; index < count; index++) {
    timers.push(wheel.create(() => {
      firedAt[index] = clock.now();
    }));
  }
  for (let index = 0; index < count; index++) {
    // Up to twice a revolution, so some entries pass over their slot once before firing.
    const delay = Math.floor(random() * 2 * WHEEL_SLOTS * 100);
    clock.advance(Math.floor(random() * 3));
    timers[index]!.arm(delay);
    deadlines[index] = clock.now() + delay;
  }
  const firedWhileArming = firedAt.filter((at) => at !== -1).length;
  assert.equal(wheel.size, count - firedWhileArming);
  assert.equal(clock.pending.size, 1);
  // Touch a tenth of them by a second once, between ticks.
  clock.advance(50);
  for (let index = 0; index < count; index += 10) {
    if (timers[index]!.armed) {
      timers[index]!.touch(deadlines[index]! - wheel.now + 1000);
      deadlines[index] = timers[index]!.deadline;
    }
  }
  clock.advance(3 * WHEEL_SLOTS * 100);
  assert.equal(clock.maxPending, 1);
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending.size, 0);
  for (let index = 0; index < count; index++) {
    const late = firedAt[index]! - deadlines[index]!;
    assert.ok(late >= 0 && late <= 100, `timer ${index} late by ${late}`);
  }
});

test("timer wheel: delays beyond one revolution fire on time", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const revolution = WHEEL_SLOTS * 100;
  let hourFiredAt = -1;
  let revolutionFiredAt = -1;
  const hour = wheel.create(() => {
    hourFiredAt = clock.now();
  });
  const oneRevolution = wheel.create(() => {
    revolutionFiredAt = clock.now();
  });
  hour.arm(3_600_000);
  oneRevolution.arm(revolution);
  clock.advanceTo(revolution - 1);
  assert.equal(revolutionFiredAt, -1);
  clock.advanceTo(revolution + 100);
  assert.equal(revolutionFiredAt, revolution);
  clock.advanceTo(3_599_999);
  assert.equal(hourFiredAt, -1, "an hour-long timer fired when its slot first came round");
  clock.advanceTo(3_600_100);
  assert.ok(hourFiredAt >= 3_600_000 && hourFiredAt <= 3_600_100, `fired at ${hourFiredAt}`);
  assert.equal(clock.maxPending, 1);
});

test("timer wheel: an idle wheel holds no runtime timer, and the one it holds is unref'd", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  assert.equal(clock.pending.size, 0);
  const timer = wheel.create(() => {});
  assert.equal(clock.pending.size, 0, "create must not start the runtime timer");
  timer.arm(250);
  assert.equal(clock.pending.size, 1);
  clock.advance(300);
  assert.equal(timer.armed, false);
  assert.equal(clock.pending.size, 0, "the tick that fires the last timer stops the wheel");

  timer.arm(5000);
  timer.disarm();
  clock.advance(100);
  assert.equal(clock.pending.size, 0, "the wheel stops at the first tick after it empties");

  timer.arm(5000);
  wheel.close();
  assert.equal(clock.pending.size, 0, "close stops the runtime timer at once");
  assert.ok(clock.unrefFlags.length > 0);
  assert.ok(clock.unrefFlags.every((unref) => unref), "every runtime timer must be unref'd");
});

test("timer wheel: an exception in one callback does not stop the others or the wheel", () => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const wheel = new TimerWheel(clock, 100, (error) => errors.push(error));
  const fired: string[] = [];
  const boom = new Error("boom");
  wheel.create(() => fired.push("a")).arm(100);
  wheel.create(() => {
    fired.push("b");
    throw boom;
  }).arm(100);
  wheel.create(() => fired.push("c")).arm(100);
  wheel.create(() => fired.push("d")).arm(500);
  clock.advance(1000);
  assert.deepEqual(fired, ["a", "b", "c", "d"]);
  assert.deepEqual(errors, [boom]);
  assert.equal(wheel.size, 0);
});

test("timer wheel: without onError, and with a throwing onError, callbacks' errors are contained", () => {
  for (
    const onError of [undefined, () => {
      throw new Error("handler failed");
    }]
  ) {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock, 100, onError);
    const fired: string[] = [];
    wheel.create(() => {
      throw new Error("boom");
    }).arm(100);
    wheel.create(() => fired.push("after")).arm(100);
    wheel.create(() => fired.push("later")).arm(400);
    clock.advance(1000);
    assert.deepEqual(fired, ["after", "later"]);
    assert.equal(clock.pending.size, 0);
  }
});

test("timer wheel: size counts armed timers and close disarms them all", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  let fired = 0;
  const timers = Array.from({ length: 50 }, () => wheel.create(() => fired++));
  timers.forEach((timer, index) => timer.arm(index * 1000));
  assert.equal(wheel.size, 50);
  wheel.close();
  assert.equal(wheel.size, 0);
  assert.ok(timers.every((timer) => !timer.armed));
  clock.advance(100_000);
  assert.equal(fired, 0);
  // The wheel is usable after close.
  timers[3]!.arm(100);
  clock.advance(200);
  assert.equal(fired, 1);
});

test("timer wheel: close from inside a callback stops the rest", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const fired: string[] = [];
  wheel.create(() => {
    fired.push("closer");
    wheel.close();
  }).arm(100);
  wheel.create(() => fired.push("same tick")).arm(100);
  wheel.create(() => fired.push("later")).arm(300);
  clock.advance(1000);
  assert.deepEqual(fired, ["closer"]);
  assert.equal(clock.pending.size, 0);
});

test("timer wheel: after a stall longer than a revolution, due timers fire at once and others wait", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const revolution = WHEEL_SLOTS * 100;
  const firedAt = new Map<string, number>();
  const add = (name: string, delay: number) => wheel.create(() => firedAt.set(name, clock.now())).arm(delay);
  add("soon", 500);
  add("mid", 50_000);
  add("after stall", 2 * revolution + 5000);
  // The event loop is blocked: time passes without the runtime timer running.
  clock.time = 2 * revolution;
  clock.advance(0);
  assert.equal(firedAt.get("soon"), 2 * revolution);
  assert.equal(firedAt.get("mid"), 2 * revolution);
  assert.equal(firedAt.has("after stall"), false);
  clock.advance(5100);
  const late = firedAt.get("after stall")! - (2 * revolution + 5000);
  assert.ok(late >= 0 && late <= 100, `late by ${late}`);
});

test("timer wheel: invalid delays and resolutions are rejected", () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock, 100);
  const timer = wheel.create(() => {});
  for (const delay of [-1, Number.NaN, Infinity]) {
    assert.throws(() => timer.arm(delay), RangeError);
  }
  timer.arm(100);
  assert.throws(() => timer.touch(Number.NaN), RangeError);
  assert.throws(() => timer.touch(-5), /Invalid timer delay "-5"/);
  for (const resolution of [0, -10, 1.5, Number.NaN]) {
    assert.throws(() => new TimerWheel(clock, resolution), RangeError);
  }
  wheel.close();
});

test("timer wheel: with the runtime's own timers, a 50 ms timer fires, not early", async () => {
  const resolution = 10;
  const realClock: TimerClock = {
    now: () => performance.now(),
    setTimer(ms, callback, unref) {
      const handle = setTimeout(callback, ms);
      // Node's and Bun's timers have unref(); Deno's setTimeout returns a plain number.
      if (unref) (handle as { unref?: () => void }).unref?.();
      return handle;
    },
    clearTimer(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
  const wheel = new TimerWheel(realClock, resolution);
  const armedAt = performance.now();
  const elapsed = await new Promise<number>((resolve, reject) => {
    // A ref'd guard keeps the test process alive (the wheel's timer is unref'd) and bounds the wait.
    const guard = setTimeout(() => {
      wheel.close();
      reject(new Error("the 50 ms timer did not fire within 5 s"));
    }, 5000);
    wheel.create(() => {
      clearTimeout(guard);
      resolve(performance.now() - armedAt);
    }).arm(50);
  });
  assert.ok(elapsed >= 50 - resolution, `fired after ${elapsed} ms`);
  assert.equal(wheel.size, 0);
});
