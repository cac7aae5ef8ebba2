import type { LoadedState, PersistenceAdapter } from '../../src/index.js';

/** Which adapter method a fault hits. */
export type FaultPoint = 'append' | 'checkpoint' | 'load' | 'lock';

/** An error like the ones Node's fs gives (`code` such as ENOSPC, EIO, EACCES, EDQUOT). */
export function ioError(code: string, message = 'injected'): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * Wraps a real adapter so tests can make its methods fail, count calls, and hold them at a gate.
 * Everything not failed or held goes to the real adapter unchanged.
 */
export interface FaultyAdapter extends PersistenceAdapter {
  /** Calls per method that reached the real adapter (or failed here). */
  readonly calls: Record<FaultPoint, number>;
  /** The next calls of `point` reject with `error` (`times` of them; default: until `heal`). */
  fail(point: FaultPoint, error: Error, times?: number): void;
  /** Stops every injected failure. */
  heal(): void;
  /** Holds calls of `point` before they reach the real adapter until `release()`. */
  hold(point: FaultPoint): void;
  /** Lets held calls (and later ones) through. */
  release(): void;
  /** How many calls are waiting at the gate. */
  readonly waiting: number;
}

/** Wraps `inner` (see {@link FaultyAdapter}). `append` is present only if `inner` has it. */
export function faultyAdapter(inner: PersistenceAdapter): FaultyAdapter {
  const calls: Record<FaultPoint, number> = { append: 0, checkpoint: 0, load: 0, lock: 0 };
  const faults = new Map<FaultPoint, { error: Error; times: number }>();
  let held: FaultPoint | undefined;
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  let waiting = 0;

  async function through<T>(point: FaultPoint, call: () => Promise<T>): Promise<T> {
    calls[point]++;
    if (held === point && gate) {
      waiting++;
      await gate.promise;
      waiting--;
    }
    const fault = faults.get(point);
    if (fault) {
      if (--fault.times <= 0) faults.delete(point);
      throw fault.error;
    }
    return call();
  }

  const adapter: FaultyAdapter = {
    name: `faulty ${inner.name}`,
    persistent: inner.persistent,
    calls,
    get waiting() {
      return waiting;
    },
    fail(point, error, times = Number.POSITIVE_INFINITY) {
      faults.set(point, { error, times });
    },
    heal() {
      faults.clear();
    },
    hold(point) {
      held = point;
      let open = (): void => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      held = undefined;
      gate?.open();
      gate = undefined;
    },
    lock: () => through('lock', () => inner.lock()),
    load: (): Promise<LoadedState> => through('load', () => inner.load()),
    checkpoint: (image) => through('checkpoint', () => inner.checkpoint(image)),
    unlock: () => inner.unlock(),
    close: () => inner.close(),
  };
  if (inner.append) {
    const append = inner.append.bind(inner);
    adapter.append = (bytes, at) => through('append', () => append(bytes, at));
  }
  return adapter;
}
