/**
 * What a store is handed that it must refuse, on every adapter: bad images and journals placed
 * through the adapter contract itself (checkpoint, append), so the same body runs on memory, fs,
 * key-value and IndexedDB (in Node and in Chromium). Each case opens the state writable and
 * read-only, expects the typed error, and compares a SHA-256 of everything the adapter loads
 * before and after: a refusal changes no byte.
 *
 * ```ts
 * defineBadStateSuite('memory', async () => { const volume = createMemoryVolume(); return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} }; });
 * ```
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryAdapter, createMemoryVolume, type MemoryVolume } from '../../adapters/memory.js';
import { CorruptDatabaseError, openStore, parseJournal, RECORD_HEADER_BYTES, StoreError, type CorruptReason, type PersistenceAdapter } from '../../src/index.js';
import type { AdapterLocation } from './conformance.js';

/** What one state must be refused with. */
interface Expected {
  readonly code: string;
  readonly reason?: CorruptReason;
}

/** A database state: an image (or none) and journal bytes (or none). */
interface State {
  readonly image?: Uint8Array;
  readonly journal?: Uint8Array;
}

/** A store's state after three durable writes and a crash: its image (with an id) and its journal (a header and records 1-3). */
async function crashedStore(label: string): Promise<{ image: Uint8Array; journal: Uint8Array; exported: Uint8Array }> {
  const volume: MemoryVolume = createMemoryVolume();
  const store = await openStore({ adapter: createMemoryAdapter({ volume }), durability: 'write', onWarning: () => undefined });
  for (let i = 1; i <= 3; i++) await store.saveTask({ id: `${label}-${i}`, command: 'deploy', params: { label, i, pad: 'x'.repeat(40 * i) } });
  const exported = await store.exportImage(); // a backup of everything, taken just before
  // A crash: the store is dropped without close().
  volume.owner = undefined;
  return { image: volume.image as Uint8Array, journal: volume.journal.slice(0, volume.journalLength), exported };
}

async function sha256(bytes: Uint8Array | undefined): Promise<string> {
  if (bytes === undefined) return 'none';
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes.slice()));
  return `${bytes.byteLength}:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A location that can also show the raw bytes it keeps (files), beyond what the adapter loads. */
export interface BadStateLocation extends AdapterLocation {
  /** A digest of everything stored there (the fs adapter: every file of the directory), used instead of `load()`. */
  bytes?(): Promise<Record<string, string>>;
}

/** Everything the adapter hands a store (or, where the location can say, everything it stores), hashed. */
async function fingerprint(location: BadStateLocation): Promise<Record<string, string>> {
  if (location.bytes) return location.bytes();
  const adapter = location.open();
  try {
    const state = await adapter.load();
    return { image: await sha256(state.image), journal: await sha256(state.journal && state.journal.byteLength > 0 ? state.journal : undefined) };
  } finally {
    await adapter.close();
  }
}

/** Puts `state` in the location through the adapter contract (as a store would have written it). */
async function place(adapter: PersistenceAdapter, state: State): Promise<void> {
  await adapter.lock();
  try {
    if (state.image) await adapter.checkpoint(state.image);
    if (state.journal && state.journal.byteLength > 0) await (adapter.append as NonNullable<PersistenceAdapter['append']>)(state.journal, 0);
  } finally {
    await adapter.unlock();
    await adapter.close();
  }
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
}

/** The bad-state suite on one adapter. */
export function defineBadStateSuite(name: string, makeLocation: () => Promise<BadStateLocation>): void {
  describe(`bad states on the ${name} adapter: refused with a typed error, every byte untouched`, () => {
    let ours: Awaited<ReturnType<typeof crashedStore>>;
    let foreign: Awaited<ReturnType<typeof crashedStore>>;
    beforeAll(async () => {
      ours = await crashedStore('ours');
      foreign = await crashedStore('foreign');
    });

    async function expectRefused(state: State, expected: Expected): Promise<void> {
      const location = await makeLocation();
      try {
        await place(location.open(), state);
        const before = await fingerprint(location);
        for (const readOnly of [false, true]) {
          const outcome = await openStore({ adapter: location.open(), readOnly, onWarning: () => undefined }).then(
            async (store) => {
              await store.close();
              return undefined;
            },
            (e: unknown) => e,
          );
          expect(outcome, `readOnly ${readOnly}: the open must be refused`).toBeInstanceOf(StoreError);
          expect(outcome, `readOnly ${readOnly}`).toMatchObject(expected);
          expect((outcome as Error).message).toMatch(/^\[@platform-agent\/store\] /);
        }
        expect(await fingerprint(location)).toEqual(before);
      } finally {
        await location.cleanup();
      }
    }

    it('the state itself opens, with every write (the corpus below is built from it)', async () => {
      const location = await makeLocation();
      try {
        await place(location.open(), ours);
        const store = await openStore({ adapter: location.open(), onWarning: () => undefined });
        expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['ours-1', 'ours-2', 'ours-3']);
        await store.close();
      } finally {
        await location.cleanup();
      }
    });

    it('an image that is not SQLite: NOT_SQLITE', async () => {
      await expectRefused({ image: new TextEncoder().encode('id,command\nt1,deploy\n'.repeat(300)) }, { code: 'CORRUPT', reason: 'NOT_SQLITE' });
    });

    it('an image cut short (lengths from 1 byte to one byte short, sampled): TRUNCATED', async () => {
      const full = ours.image;
      const lengths = new Set([1, 15, 16, 99, 100, 101, 4095, 4096, 4097, full.length - 4096, full.length - 1]);
      for (let at = 200; at < full.length; at += 9973) lengths.add(at);
      for (const length of [...lengths].sort((a, b) => a - b)) {
        await expectRefused({ image: full.slice(0, length) }, { code: 'CORRUPT', reason: 'TRUNCATED' });
      }
    });

    it('an image one byte longer than its header says: TRAILING_BYTES', async () => {
      const longer = new Uint8Array(ours.image.length + 1);
      longer.set(ours.image);
      await expectRefused({ image: longer }, { code: 'CORRUPT', reason: 'TRAILING_BYTES' });
    });

    it('a zero-byte image: EMPTY', async () => {
      await expectRefused({ image: new Uint8Array(0) }, { code: 'CORRUPT', reason: 'EMPTY' });
    });

    it("another database's journal whose sequence numbers line up with the image's: JOURNAL_MISMATCH", async () => {
      const theirs = parseJournal(foreign.journal);
      expect(theirs.records.map((r) => r.sequence)).toEqual([1, 2, 3]);
      expect(parseJournal(ours.journal).header?.imageId).not.toBe(theirs.header?.imageId);
      await expectRefused({ image: ours.image, journal: foreign.journal }, { code: 'CORRUPT', reason: 'JOURNAL_MISMATCH' });
    });

    it('a journal without a header (an older writer, another database) on an image with an id: JOURNAL_MISMATCH', async () => {
      const headerSize = parseJournal(foreign.journal).header?.size ?? 0;
      expect(headerSize).toBeGreaterThan(0);
      await expectRefused({ image: ours.image, journal: foreign.journal.slice(headerSize) }, { code: 'CORRUPT', reason: 'JOURNAL_MISMATCH' });
    });

    it('a backup (exportImage) put over the image while the journal is still beside it: JOURNAL_MISMATCH, never replayed twice', async () => {
      await expectRefused({ image: ours.exported, journal: ours.journal }, { code: 'CORRUPT', reason: 'JOURNAL_MISMATCH' });
      // On its own the backup holds every write.
      const location = await makeLocation();
      try {
        await place(location.open(), { image: ours.exported });
        const store = await openStore({ adapter: location.open(), onWarning: () => undefined });
        expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['ours-1', 'ours-2', 'ours-3']);
        await store.close();
      } finally {
        await location.cleanup();
      }
    });

    it('journal records and no image: JOURNAL_MISMATCH', async () => {
      await expectRefused({ journal: ours.journal }, { code: 'CORRUPT', reason: 'JOURNAL_MISMATCH' });
    });

    it('the right journal with one flipped byte in its header or in any record (marker, length, checksum, sequence, payload): JOURNAL_DAMAGED', async () => {
      const parsed = parseJournal(ours.journal);
      const frames = [{ offset: 0, size: parsed.header?.size ?? 0 }, ...parsed.records.map((r) => ({ offset: r.offset, size: r.size }))];
      expect(frames).toHaveLength(4);
      for (const { offset, size } of frames) {
        for (const at of [0, 4, 8, 12, RECORD_HEADER_BYTES + 7, size - 1]) {
          await expectRefused({ image: ours.image, journal: flipped(ours.journal, offset + at) }, { code: 'CORRUPT', reason: 'JOURNAL_DAMAGED' });
        }
      }
    });

    it('after every refusal the untouched state still opens whole once it is put right (the journal moved away)', async () => {
      const location = await makeLocation();
      try {
        await place(location.open(), { image: ours.image, journal: foreign.journal });
        await expect(openStore({ adapter: location.open(), onWarning: () => undefined })).rejects.toBeInstanceOf(CorruptDatabaseError);
        await place(location.open(), { image: ours.image });
        const store = await openStore({ adapter: location.open(), onWarning: () => undefined });
        // The image alone holds none of the journal's writes (they were only in the journal).
        expect(await store.listTasks()).toEqual([]);
        await store.close();
      } finally {
        await location.cleanup();
      }
    });
  });
}
