/**
 * The persistence adapter conformance suite: what `src/persistence.ts` promises, checked through
 * the contract alone, so every adapter (memory, fs, and later IndexedDB, key-value) runs the same
 * body with one line in its test file:
 *
 * ```ts
 * defineAdapterConformance('memory', async () => { const volume = createMemoryVolume(); return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} }; });
 * ```
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PersistenceAdapter, LoadedState } from '../../src/persistence.js';
import type { SqlStatement } from '../../src/sql-port.js';
import { encodeRecord, parseJournal } from '../../src/journal.js';
import { createSqlJsEngine } from '../../src/sqljs-engine.js';
import { expectSameBytes } from '../helpers/bytes.js';

/** One place an adapter keeps a database (a memory volume, a file path, an IndexedDB name…). */
export interface AdapterLocation {
  /** A new adapter instance on this same location (as a new process or a new store would make). */
  open(): PersistenceAdapter;
  /** Removes the location and everything in it; the suite closes every adapter it opened first. */
  cleanup(): Promise<void>;
}

/** A real way to make an adapter's next checkpoint fail, for the atomicity tests. */
export interface CheckpointFailure<L extends AdapterLocation> {
  /** How, for the test's name, e.g. `its directory was replaced by a file (ENOTDIR)`. */
  readonly how: string;
  /** Makes the next checkpoint on `location` fail; resolves with a function that undoes that. */
  arrange(location: L): Promise<() => Promise<void>>;
}

/** What an adapter's test file adds to the suite. */
export interface ConformanceOptions<L extends AdapterLocation> {
  /** The adapter's own ways to make a checkpoint fail (beyond the detached image every adapter gets). */
  checkpointFailures?: readonly CheckpointFailure<L>[];
  /** Why there are none, when `checkpointFailures` is empty (recorded beside the call, for readers). */
  noCheckpointFailure?: string;
  /**
   * Why the adapter has no `writeImage`/`trimJournal` (checkpoints then hold writes up), when it
   * has not: the suite checks the pair when present, and that this reason is given when not.
   */
  noSegments?: string;
}

/** Runs `promise` and returns what it rejected with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: unknown; holder?: unknown }> {
  const outcome = await promise.then(
    () => ({ ok: true as const }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (outcome.ok) expect.fail('expected a rejection');
  expect(outcome.e).toBeInstanceOf(Error);
  return outcome.e as Error & { code?: unknown; holder?: unknown };
}

const EMPTY = new Uint8Array(0);

function journalOf(state: LoadedState): Uint8Array {
  return state.journal ?? EMPTY;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Journal records as the store writes them: sequence `n` inserts row `n`. */
export function record(sequence: number, text = `row ${sequence}`): Uint8Array {
  const statements: SqlStatement[] = [{ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', params: [sequence, text] }];
  return encodeRecord(sequence, statements);
}

/** A real SQLite file (sql.js): table `t` with `rows` rows. */
export async function sqliteImage(rows: number, label = 'image'): Promise<Uint8Array> {
  const engine = await createSqlJsEngine();
  try {
    await engine.run('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const inserts: SqlStatement[] = [];
    for (let i = 1; i <= rows; i++) inserts.push({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', params: [i, `${label} ${i} ${'x'.repeat(i % 50)}`] });
    await engine.batch(inserts);
    return await engine.exportImage();
  } finally {
    await engine.close();
  }
}

/** `size` bytes of deterministic noise (xorshift32): no two pages alike, nothing compressible. */
export function noise(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function rowsOf(image: Uint8Array): Promise<unknown[]> {
  const engine = await createSqlJsEngine({ image });
  try {
    return await engine.all('SELECT id, v FROM t ORDER BY id');
  } finally {
    await engine.close();
  }
}

/**
 * Defines the conformance tests of one adapter. `factory` makes a new, empty location for each test;
 * its `open()` makes a new adapter instance on that location at every call.
 */
export function defineAdapterConformance<L extends AdapterLocation>(
  name: string,
  factory: () => Promise<L>,
  options: ConformanceOptions<L> = {},
): void {
  describe(`persistence adapter conformance: ${name}`, () => {
    let location: L;
    let opened: PersistenceAdapter[];
    /** A new adapter instance on this test's location, closed after the test. */
    const open = (): PersistenceAdapter => {
      const adapter = location.open();
      opened.push(adapter);
      return adapter;
    };

    beforeEach(async () => {
      location = await factory();
      opened = [];
    });
    afterEach(async () => {
      for (const adapter of opened) await adapter.close().catch(() => undefined);
      await location.cleanup();
    });

    async function expectLocked(adapter: PersistenceAdapter): Promise<void> {
      const error = await rejection(adapter.lock());
      expect(error.code).toBe('LOCKED');
      const holder = error.holder as { description?: unknown } | undefined;
      expect(typeof holder?.description).toBe('string');
      expect((holder?.description as string).length).toBeGreaterThan(0);
    }

    /** An owner with `image` checkpointed and `records` appended after it. */
    async function seeded(image: Uint8Array, records: Uint8Array[]): Promise<PersistenceAdapter> {
      const adapter = open();
      await adapter.lock();
      await adapter.load();
      await adapter.checkpoint(image);
      let at = 0;
      for (const r of records) {
        await adapter.append!(r, at);
        at += r.length;
      }
      return adapter;
    }

    it('names itself and says whether it is persistent', () => {
      const adapter = open();
      expect(typeof adapter.name).toBe('string');
      expect(adapter.name.length).toBeGreaterThan(0);
      expect(typeof adapter.persistent).toBe('boolean');
      expect(typeof adapter.append).toBe('function');
    });

    describe('image', () => {
      it('an empty location loads no image and an empty journal, with or without the lock', async () => {
        const reader = open();
        const before = await reader.load();
        expect(before.image).toBeUndefined();
        expect(journalOf(before).length).toBe(0);
        const owner = open();
        await owner.lock();
        const after = await owner.load();
        expect(after.image).toBeUndefined();
        expect(journalOf(after).length).toBe(0);
      });

      it('a checkpointed SQLite image loads byte-exact, from the same instance and from a new one', async () => {
        const image = await sqliteImage(200);
        const owner = await seeded(image, []);
        expectSameBytes((await owner.load()).image ?? EMPTY, image, 'same instance');
        await owner.close();
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, image, 'new instance');
        expect(journalOf(loaded).length).toBe(0);
        const rows = await rowsOf(loaded.image as Uint8Array);
        expect(rows).toHaveLength(200);
        expect(rows[199]).toMatchObject({ id: 200 });
      });

      it('a large image (12 MiB: a SQLite header, then noise) loads byte-exact from a new instance', async () => {
        // Shaped like a database (an adapter may check the header and the length it gives, as the
        // fs adapter does before reading a file whole), noise everywhere else.
        const image = noise(12 * 1024 * 1024);
        image.set((await sqliteImage(1)).subarray(0, 100));
        const header = new DataView(image.buffer);
        header.setUint16(16, 4096);
        header.setUint32(28, image.length / 4096);
        header.setUint32(92, header.getUint32(24));
        const owner = await seeded(image, []);
        await owner.close();
        expectSameBytes((await open().load()).image ?? EMPTY, image, 'large image');
      });

      it('a checkpoint replaces the whole image: a smaller one leaves nothing of the larger behind', async () => {
        const large = await sqliteImage(2000, 'large');
        const small = await sqliteImage(3, 'small');
        expect(small.length).toBeLessThan(large.length);
        const owner = await seeded(large, []);
        await owner.checkpoint(small);
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, small, 'replaced image');
        expect(await rowsOf(loaded.image as Uint8Array)).toHaveLength(3);
      });

      it('loaded bytes stay unchanged while the adapter goes on writing', async () => {
        const first = await sqliteImage(10, 'first');
        const owner = await seeded(first, [record(1), record(2)]);
        const loaded = await owner.load();
        const imageCopy = (loaded.image as Uint8Array).slice();
        const journalCopy = journalOf(loaded).slice();
        await owner.append!(record(3), journalCopy.length);
        await owner.append!(record(2, 'again'), record(1).length);
        await owner.checkpoint(await sqliteImage(40, 'second'));
        await owner.append!(record(1, 'after'), 0);
        expectSameBytes(loaded.image as Uint8Array, imageCopy, 'earlier image');
        expectSameBytes(journalOf(loaded), journalCopy, 'earlier journal');
      });

      it('the caller may reuse its buffer after checkpoint() resolves', async () => {
        const image = await sqliteImage(20);
        const expected = image.slice();
        const owner = await seeded(image, []);
        image.fill(0);
        expectSameBytes((await open().load()).image ?? EMPTY, expected, 'image after the caller overwrote its buffer');
        expect((await owner.load()).image?.[0]).toBe(0x53); // "SQLite format 3"
      });
    });

    describe('journal', () => {
      it('appends at 0 and at the end; load returns their concatenation, and parseJournal reads the records back', async () => {
        const records = [record(1), record(2, 'ü ✓ "quoted"'), record(3, 'x'.repeat(5000))];
        const owner = await seeded(await sqliteImage(1), records);
        const loaded = await open().load();
        expectSameBytes(journalOf(loaded), concat(...records), 'journal');
        const parsed = parseJournal(journalOf(loaded));
        expect(parsed.tornBytes).toBe(0);
        expect(parsed.records.map((r) => r.sequence)).toEqual([1, 2, 3]);
        expect(parsed.records[1]?.decodeStatements()).toEqual([{ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', params: [2, 'ü ✓ "quoted"'] }]);
        expectSameBytes(journalOf(await owner.load()), concat(...records), 'journal, same instance');
      });

      it('appends work before any checkpoint (no image yet)', async () => {
        const owner = open();
        await owner.lock();
        await owner.load();
        await owner.append!(record(1), 0);
        await owner.append!(record(2), record(1).length);
        const loaded = await open().load();
        expect(loaded.image).toBeUndefined();
        expectSameBytes(journalOf(loaded), concat(record(1), record(2)), 'journal without image');
      });

      it('an append at an offset before the end replaces the tail (a retry), longer or shorter', async () => {
        const r1 = record(1);
        const owner = await seeded(await sqliteImage(1), [r1, record(2, 'first attempt, rather long text'), record(3)]);
        const shorter = record(2, 'retry');
        await owner.append!(shorter, r1.length);
        expectSameBytes(journalOf(await open().load()), concat(r1, shorter), 'after a shorter retry');
        const longer = record(2, 'y'.repeat(3000));
        await owner.append!(longer, r1.length);
        expectSameBytes(journalOf(await open().load()), concat(r1, longer), 'after a longer retry');
        await owner.append!(record(1, 'all over'), 0);
        expectSameBytes(journalOf(await open().load()), record(1, 'all over'), 'after a retry at 0');
      });

      it('an append after a load whose journal ends in a torn record overwrites the torn bytes', async () => {
        const r1 = record(1);
        const r2 = record(2);
        const crashed = await seeded(await sqliteImage(1), [r1]);
        await crashed.append!(r2.subarray(0, 13), r1.length); // a record cut short, as by a crash
        await crashed.close();
        const owner = open();
        await owner.lock();
        const parsed = parseJournal(journalOf(await owner.load()));
        expect(parsed.validLength).toBe(r1.length);
        expect(parsed.tornBytes).toBe(13);
        const r2b = record(2, 'the next write');
        await owner.append!(r2b, parsed.validLength);
        const journal = journalOf(await open().load());
        expectSameBytes(journal, concat(r1, r2b), 'journal after the torn tail');
        expect(parseJournal(journal).records.map((r) => r.sequence)).toEqual([1, 2]);
      });

      it('an append past the end rejects and changes nothing', async () => {
        const empty = open();
        await empty.lock();
        await empty.load();
        await rejection(empty.append!(record(1), 1));
        expect(journalOf(await open().load()).length).toBe(0);
        await empty.close();

        const r1 = record(1);
        const owner = await seeded(await sqliteImage(1), [r1]);
        await rejection(owner.append!(record(2), r1.length + 1));
        await rejection(owner.append!(record(2), -1));
        expectSameBytes(journalOf(await open().load()), r1, 'journal after rejected appends');
        await owner.append!(record(2), r1.length); // and the adapter still works
        expectSameBytes(journalOf(await open().load()), concat(r1, record(2)), 'journal after a good append');
      });

      it('a checkpoint empties the journal; appends after it start at 0', async () => {
        const r1 = record(1);
        const r2 = record(2);
        const owner = await seeded(await sqliteImage(1), [r1, r2]);
        const image = await sqliteImage(2, 'checkpointed');
        await owner.checkpoint(image);
        const afterCheckpoint = await open().load();
        expectSameBytes(afterCheckpoint.image ?? EMPTY, image, 'image');
        expect(journalOf(afterCheckpoint).length).toBe(0);
        await rejection(owner.append!(record(3), r1.length + r2.length)); // the old end is past the new one
        const r3 = record(3);
        await owner.append!(r3, 0);
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, image, 'image after append');
        expectSameBytes(journalOf(loaded), r3, 'journal after checkpoint');
      });
    });

    describe('checkpoints that writes go on during (writeImage, trimJournal)', () => {
      it('has both or neither, and says why not when neither', () => {
        const adapter = open();
        const has = [typeof adapter.writeImage === 'function', typeof adapter.trimJournal === 'function'];
        expect(has[0]).toBe(has[1]);
        if (!has[0]) expect(options.noSegments ?? '').not.toBe('');
        else expect(options.noSegments).toBeUndefined();
      });

      it('writeImage replaces the image and keeps the journal; appends run while it does', async () => {
        const probe = open();
        if (!probe.writeImage) return expect(options.noSegments).toBeTruthy();
        const [r1, r2, r3] = [record(1), record(2), record(3)];
        const owner = await seeded(await sqliteImage(5, 'old'), [r1]);
        const image = await sqliteImage(3000, 'new');
        const writing = owner.writeImage!(image);
        await owner.append!(r2, r1.length);
        await writing;
        await owner.append!(r3, r1.length + r2.length);
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, image, 'image');
        expectSameBytes(journalOf(loaded), concat(r1, r2, r3), 'journal');
        // The caller's buffer is its own again.
        image.fill(0);
        expect((await open().load()).image?.[0]).toBe(0x53);
      });

      it('trimJournal drops the first bytes; appends go on at the new end; out of range is refused and changes nothing', async () => {
        const probe = open();
        if (!probe.trimJournal) return expect(options.noSegments).toBeTruthy();
        const [r1, r2, r3, r4] = [record(1), record(2, 'two'), record(3, 'x'.repeat(3000)), record(4)];
        const owner = await seeded(await sqliteImage(2), [r1, r2, r3]);
        const whole = concat(r1, r2, r3);
        await rejection(owner.trimJournal!(whole.length + 1));
        await rejection(owner.trimJournal!(-1));
        expectSameBytes(journalOf(await open().load()), whole, 'journal after refused trims');
        await owner.trimJournal!(0);
        expectSameBytes(journalOf(await open().load()), whole, 'journal after trimming nothing');
        await owner.trimJournal!(r1.length);
        expectSameBytes(journalOf(await open().load()), concat(r2, r3), 'journal after a trim');
        await owner.append!(r4, r2.length + r3.length);
        expectSameBytes(journalOf(await open().load()), concat(r2, r3, r4), 'journal after an append');
        await rejection(owner.append!(record(5), whole.length + r4.length)); // the old end is past the new one
        // A second trim of what the first one kept (it reads the journal the first one wrote).
        await owner.trimJournal!(r2.length);
        expectSameBytes(journalOf(await open().load()), concat(r3, r4), 'journal after a second trim');
        await owner.trimJournal!(r3.length + r4.length);
        expect(journalOf(await open().load()).length).toBe(0);
        await owner.append!(record(1, 'again'), 0);
        expectSameBytes(journalOf(await open().load()), record(1, 'again'), 'journal after emptying it');
        await owner.close();
        // A new owner trims what it loaded.
        const next = open();
        await next.lock();
        await next.load();
        await next.append!(r2, record(1, 'again').length);
        await next.trimJournal!(record(1, 'again').length);
        expectSameBytes(journalOf(await open().load()), r2, 'journal trimmed by a new owner');
      });

      it('a writeImage that rejects (its image buffer was detached) leaves the old image and journal', async () => {
        const probe = open();
        if (!probe.writeImage) return expect(options.noSegments).toBeTruthy();
        const old = await sqliteImage(30, 'old');
        const owner = await seeded(old, [record(1)]);
        const detached = (await sqliteImage(60, 'new')).slice();
        structuredClone(detached.buffer, { transfer: [detached.buffer] });
        await rejection(owner.writeImage!(detached));
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, old, 'image');
        expectSameBytes(journalOf(loaded), record(1), 'journal');
        const next = await sqliteImage(60, 'next');
        await owner.writeImage!(next);
        expectSameBytes((await open().load()).image ?? EMPTY, next, 'image after the next writeImage');
      });
    });

    describe('checkpoint atomicity', () => {
      async function expectFailedCheckpointKeepsState(arrange: (owner: PersistenceAdapter, next: Uint8Array) => Promise<Uint8Array>, undo: () => Promise<void>) {
        const old = await sqliteImage(30, 'old');
        const records = [record(1), record(2)];
        const owner = await seeded(old, records);
        const next = await sqliteImage(60, 'new');
        const failing = await arrange(owner, next);
        await rejection(owner.checkpoint(failing));
        await undo();
        const loaded = await open().load();
        expectSameBytes(loaded.image ?? EMPTY, old, 'image after a failed checkpoint');
        expectSameBytes(journalOf(loaded), concat(...records), 'journal after a failed checkpoint');
        // The store's next write after a failed checkpoint is another checkpoint: it must work.
        await owner.checkpoint(next);
        const recovered = await open().load();
        expectSameBytes(recovered.image ?? EMPTY, next, 'image after the next checkpoint');
        expect(journalOf(recovered).length).toBe(0);
      }

      it('a checkpoint that rejects (its image buffer was detached) leaves the old image and journal', async () => {
        await expectFailedCheckpointKeepsState(
          async (_owner, next) => {
            const detached = next.slice();
            structuredClone(detached.buffer, { transfer: [detached.buffer] });
            return detached;
          },
          async () => {},
        );
      });

      const failures = options.checkpointFailures ?? [];
      for (const failure of failures) {
        it(`a checkpoint that rejects (${failure.how}) leaves the old image and journal`, async () => {
          let undo: (() => Promise<void>) | undefined;
          try {
            await expectFailedCheckpointKeepsState(
              async (_owner, next) => {
                undo = await failure.arrange(location);
                return next;
              },
              async () => {
                const u = undo;
                undo = undefined;
                await u?.();
              },
            );
          } finally {
            await undo?.();
          }
        });
      }
    });

    describe('locking', () => {
      it('a second instance cannot lock while the first holds it; it can once the first unlocks', async () => {
        const first = open();
        const second = open();
        await first.lock();
        await expectLocked(second);
        await expectLocked(open());
        await first.unlock();
        await second.lock();
        await expectLocked(first);
        await second.close();
        await first.lock();
      });

      it('close releases the lock, and a second close does not throw', async () => {
        const first = open();
        await first.lock();
        await first.load();
        await first.append!(record(1), 0);
        await first.close();
        await first.close();
        const second = open();
        await second.lock();
        expectSameBytes(journalOf(await second.load()), record(1), 'journal after close');
        await second.close();
        await second.close();
      });

      it('locking again by the holder is a no-op, and one unlock releases it', async () => {
        const owner = open();
        await owner.lock();
        await owner.lock();
        await expectLocked(open());
        await owner.unlock();
        await owner.unlock(); // not held: nothing happens
        const next = open();
        await next.lock();
      });

      it("unlock() or close() of an instance that does not hold the lock leaves the holder's lock", async () => {
        const owner = open();
        await owner.lock();
        const other = open();
        await expectLocked(other);
        await other.unlock();
        await other.close();
        await expectLocked(open());
      });

      it('load works without the lock, while another instance holds it (read-only use)', async () => {
        const image = await sqliteImage(5);
        const owner = await seeded(image, [record(1)]);
        const reader = open();
        const loaded = await reader.load();
        expectSameBytes(loaded.image ?? EMPTY, image, 'image read without the lock');
        expectSameBytes(journalOf(loaded), record(1), 'journal read without the lock');
        await reader.close();
        await expectLocked(open());
        await owner.append!(record(2), record(1).length); // the owner is undisturbed
        expectSameBytes(journalOf(await open().load()), concat(record(1), record(2)), 'journal after the reader left');
      });
    });
  });
}
