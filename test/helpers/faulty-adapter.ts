import type { LoadedState, PersistenceAdapter } from '../../src/index.js';

/** Which adapter method a fault hits. */
export type FaultPoint = 'append' | 'checkpoint' | 'load' | 'lock' | 'writeImage' | 'trimJournal';

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
  /** Lets held calls (and later ones) of `point` through; of every held point without one. */
  release(point?: FaultPoint): void;
  /** How many calls are waiting at the gate. */
  readonly waiting: number;
}

/** Wraps `inner` (see {@link FaultyAdapter}). `append`, `writeImage` and `trimJournal` are present only if `inner` has them. */
export function faultyAdapter(inner: PersistenceAdapter): FaultyAdapter {
  const calls: Record<FaultPoint, number> = { append: 0, checkpoint: 0, load: 0, lock: 0, writeImage: 0, trimJournal: 0 };
  const faults = new Map<FaultPoint, { error: Error; times: number }>();
  // One gate per held point: each is released on its own (or all at once).
  const gates = new Map<FaultPoint, { promise: Promise<void>; open: () => void }>();
  let waiting = 0;

  async function through<T>(point: FaultPoint, call: () => Promise<T>): Promise<T> {
    calls[point]++;
    const gate = gates.get(point);
    if (gate) {
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
      if (gates.has(point)) return;
      let open = (): void => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gates.set(point, { promise, open });
    },
    release(point) {
      for (const [at, gate] of [...gates]) {
        if (point !== undefined && at !== point) continue;
        gate.open();
        gates.delete(at);
      }
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
  if (inner.writeImage && inner.trimJournal) {
    const writeImage = inner.writeImage.bind(inner);
    const trimJournal = inner.trimJournal.bind(inner);
    adapter.writeImage = (image) => through('writeImage', () => writeImage(image));
    adapter.trimJournal = (from) => through('trimJournal', () => trimJournal(from));
  }
  return adapter;
}

/**
 * `adapter` without `writeImage` and `trimJournal`: the store then checkpoints the way every adapter
 * can, the image replaced and the journal emptied in one call while writes wait.
 */
export function withoutSegments(adapter: PersistenceAdapter): PersistenceAdapter {
  const { writeImage: _writeImage, trimJournal: _trimJournal, ...rest } = adapter;
  return rest;
}
