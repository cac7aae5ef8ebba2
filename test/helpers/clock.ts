/** A clock tests set and advance by hand; `openStore({ clock: clock.now })`. */
export interface TestClock {
  /** Reads the current time (pass this as the store's clock). */
  readonly now: () => number;
  /** Sets the time. */
  set(ms: number): void;
  /** Moves the time forward. */
  advance(ms: number): void;
}

/** A manual clock starting at `start` (default 2026-01-01T00:00:00Z). */
export function testClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
