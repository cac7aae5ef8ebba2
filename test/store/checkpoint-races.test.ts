/**
 * Races around checkpoints, found by a review and kept as regressions: a write that commits the
 * moment an export completes, checkpoints started together, an append retried at offset 0 with an
 * older marker pending, an image whose parent is not where the journal starts, close() during a
 * checkpoint, a trim that fails or fails after it trimmed. In each, every acknowledged write
 * survives a crash, nothing is applied twice, and the files open.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createFileAdapter, fileAdapterPaths } from '../../adapters/fs.js';
import { createMemoryAdapter, createMemoryVolume, type MemoryVolume } from '../../adapters/memory.js';
import { openStore, parseJournal, type PersistenceAdapter, type Store } from '../../src/index.js';
import { faultyAdapter, ioError, withoutSegments } from '../helpers/faulty-adapter.js';
import { crashedCopy, storesClosedAfterEach } from '../helpers/stores.js';

const open = storesClosedAfterEach();
const task = (id: string) => ({ id, command: 'deploy', params: { id } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'pa-checkpoint-races-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The task ids a new owner finds in `volume` (a copy of what a crash left). */
async function idsOf(volume: MemoryVolume): Promise<string[]> {
  const reopened = await open(createMemoryAdapter({ volume }), { durability: 'write' });
  return (await reopened.listTasks()).map((t) => t.id).sort();
}

/** Expects every acknowledged id, and nothing but those and the ones still in flight. */
function expectKept(got: string[], acknowledged: string[], inFlight: string[] = []): void {
  for (const id of acknowledged) expect(got, `acknowledged ${id}`).toContain(id);
  for (const id of got) expect([...acknowledged, ...inFlight], `unexpected ${id}`).toContain(id);
}

for (const shape of ['an adapter that writes an image apart', 'an adapter whose checkpoints hold writes up'] as const) {
  const adapterOn = (volume: MemoryVolume): PersistenceAdapter => (shape === 'an adapter that writes an image apart' ? createMemoryAdapter({ volume }) : withoutSegments(createMemoryAdapter({ volume })));

  describe(`a write that commits as an export completes (${shape})`, () => {
    it('an automatic checkpoint that waited for a transaction, and a write queued behind the same transaction: all kept', async () => {
      const volume = createMemoryVolume();
      const store = await open(adapterOn(volume), { durability: 'write', checkpointBytes: 16 * 1024 });
      // A write whose append crosses the threshold completes while a transaction is open.
      const big = store.saveTask({ id: 'big', command: 'c', params: { pad: 'x'.repeat(20 * 1024) } });
      let queued: Promise<unknown> | undefined;
      await store.transaction(async (tx) => {
        await sleep(20); // the append of 'big' completes; the checkpoint starts and waits for this transaction
        await tx.saveTask(task('in-tx'));
        queued = store.saveTask(task('queued')); // runs once the transaction ends
      });
      await Promise.all([big, queued]);
      await sleep(20);
      expect(store.health().lastCheckpointAt).toBeDefined();
      expect(await idsOf(crashedCopy(volume))).toEqual(['big', 'in-tx', 'queued']);
    });

    for (let delay = 0; delay < 4; delay++) {
      it(`a write started ${delay} microtask(s) after checkpoint(): kept, before and after the checkpoint resolves`, async () => {
        const volume = createMemoryVolume();
        const store = await open(adapterOn(volume), { durability: 'write' });
        for (let i = 0; i < 3; i++) await store.saveTask(task(`before-${i}`));
        const checkpointed = store.checkpoint();
        for (let j = 0; j < delay; j++) await null;
        await store.saveTask(task('racer'));
        expect(await idsOf(crashedCopy(volume))).toEqual(['before-0', 'before-1', 'before-2', 'racer']);
        await checkpointed;
        await store.flush();
        expect(store.health()).toMatchObject({ pendingWrites: 0, lastSequence: 4, durableSequence: 4 });
        expect(await idsOf(crashedCopy(volume))).toEqual(['before-0', 'before-1', 'before-2', 'racer']);
        await store.saveTask(task('after'));
        expect(await idsOf(crashedCopy(volume))).toEqual(['after', 'before-0', 'before-1', 'before-2', 'racer']);
      });
    }
  });
}

describe('a write that commits as an export completes, on files', () => {
  it('is kept by a crash after checkpoint() resolved', async () => {
    const path = join(dir, 'agent.db');
    const store = await open(createFileAdapter({ path }), { durability: 'write' });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`before-${i}`));
    const checkpointed = store.checkpoint();
    await null;
    await store.saveTask(task('racer'));
    await checkpointed;
    await store.saveTask(task('after'));
    const copy = join(dir, 'crashed.db');
    copyFileSync(path, copy);
    if (existsSync(fileAdapterPaths(path).journal)) copyFileSync(fileAdapterPaths(path).journal, fileAdapterPaths(copy).journal);
    const reopened = await open(createFileAdapter({ path: copy }), { durability: 'write' });
    expect((await reopened.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'before-0', 'before-1', 'before-2', 'racer']);
  });

  it('while the trim is held, what is on disk opens with every write acknowledged by then', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      await store.saveTask(task(`before-${i}`));
      acknowledged.push(`before-${i}`);
    }
    adapter.hold('trimJournal');
    const checkpointed = store.checkpoint();
    await null;
    const racer = store.saveTask(task('racer')).then(() => acknowledged.push('racer'));
    await vi.waitFor(() => expect(adapter.waiting).toBe(1));
    const atHold = [...acknowledged];
    const crashed = crashedCopy(volume);
    adapter.release();
    await checkpointed;
    await racer;
    expectKept(await idsOf(crashed), atHold, ['racer']);
    expect(await idsOf(crashedCopy(volume))).toEqual(['before-0', 'before-1', 'before-2', 'racer']);
  });
});

/** The memory adapter, its writeImage calls parked until the test lets each one go. */
function parkedWriteImage(volume: MemoryVolume) {
  const inner = createMemoryAdapter({ volume });
  const parked: { go: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const adapter: PersistenceAdapter = {
    ...inner,
    async writeImage(image) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const copy = image.slice();
      await new Promise<void>((go) => parked.push({ go }));
      try {
        await (inner.writeImage as NonNullable<PersistenceAdapter['writeImage']>)(copy);
      } finally {
        inFlight--;
      }
    },
  };
  return { adapter, parked, max: () => maxInFlight };
}

describe('checkpoints started together', () => {
  it('run one at a time: one image write at a time, and the journal chains from the last', async () => {
    const volume = createMemoryVolume();
    const { adapter, parked, max } = parkedWriteImage(volume);
    const store = await open(adapter, { durability: 'write' });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`a${i}`));
    const one = store.checkpoint();
    const two = store.checkpoint();
    await vi.waitFor(() => expect(parked.length).toBe(1));
    await store.saveTask(task('during'));
    await sleep(10);
    expect(parked.length).toBe(1); // the second waits for the first
    parked[0]?.go();
    await vi.waitFor(() => expect(parked.length).toBe(2));
    parked[1]?.go();
    await Promise.all([one, two]);
    await store.saveTask(task('after'));
    expect(max()).toBe(1);
    expect(await idsOf(crashedCopy(volume))).toEqual(['a0', 'a1', 'a2', 'after', 'during']);
  });

  it('on an image exported in several steps, both resolve', async () => {
    const store = await open(createMemoryAdapter(), { durability: 'write' });
    await store.transaction(async (tx) => {
      for (let i = 0; i < 1500; i++) await tx.saveTask({ id: `t${i}`, command: 'c', params: { pad: 'x'.repeat(2000) } });
    });
    const results = await Promise.allSettled([store.checkpoint(), store.checkpoint()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  });
});

describe('an append at offset 0 with an older marker pending', () => {
  it('a failed first append, retried after a second checkpoint started, leaves a journal that opens', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'deferred', flushIntervalMs: 3_600_000 });
    expect(volume.journalLength).toBe(0); // a new database: image written, journal empty
    await store.saveTask(task('w1'));
    adapter.hold('writeImage');
    adapter.hold('append');
    const a = store.checkpoint().catch((e: unknown) => e); // marker A after w1; the append of [w1, A] is held
    await vi.waitFor(() => expect(adapter.waiting).toBe(2));
    await store.saveTask(task('w2'));
    adapter.release('writeImage'); // image A durable (its marker not appended yet)
    await vi.waitFor(() => expect(adapter.calls.writeImage).toBe(1));
    await sleep(5);
    adapter.hold('writeImage');
    const b = store.checkpoint().catch((e: unknown) => e); // marker B after w2; image B held
    await vi.waitFor(() => expect(adapter.waiting).toBe(2));
    adapter.fail('append', ioError('EIO'), 1);
    adapter.release('append'); // [w1, A] fails once; the retry starts the journal again at 0
    await store.flush();
    const parsed = parseJournal(volume.journal.slice(0, volume.journalLength));
    expect(parsed.records.map((r) => r.sequence)).toEqual([2]); // w1 is in image A, not in the journal
    const crashed = crashedCopy(volume); // image A durable, image B not yet
    adapter.release();
    await b;
    await a;
    expect(await idsOf(crashed)).toEqual(['w1', 'w2']);
  });
});

describe("an image whose parent is not where the journal starts", () => {
  it('reopened after a crash before the trim, the next owner checkpoints: its image lands before its marker, then a crash', async () => {
    // 1. A crash after a checkpoint's image is durable, before its journal is trimmed.
    const volume = createMemoryVolume();
    const first = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(first, { durability: 'write' });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`a${i}`));
    first.hold('trimJournal');
    const abandoned = store.checkpoint().catch(() => undefined);
    await vi.waitFor(() => expect(first.waiting).toBe(1));
    const crashed = crashedCopy(volume);
    expect(parseJournal(crashed.journal).headers).toHaveLength(2);
    first.release(); // (the abandoned "process" goes on with its own volume, not the copy)
    await abandoned;

    // 2. The next owner writes and checkpoints; its image lands while its marker's append waits.
    const adapter = faultyAdapter(createMemoryAdapter({ volume: crashed }));
    const next = await open(adapter, { durability: 'write' });
    await next.saveTask(task('b0'));
    adapter.hold('append');
    const b1 = next.saveTask(task('b1'));
    await vi.waitFor(() => expect(adapter.waiting).toBe(1));
    const checkpointed = next.checkpoint();
    await vi.waitFor(() => expect(adapter.calls.writeImage).toBe(1));
    await sleep(5);
    const crashed2 = crashedCopy(crashed);
    adapter.release();
    await Promise.all([b1, checkpointed]);
    expectKept(await idsOf(crashed2), ['a0', 'a1', 'a2', 'b0'], ['b1']);
  });

  it('without a crash: a trim that failed, then checkpoint() again, then a crash before the marker is appended', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`a${i}`));
    adapter.fail('trimJournal', ioError('EIO'), 1);
    await store.checkpoint(); // image A durable; dropping the journal before its marker failed (a warning)
    await store.saveTask(task('b0'));
    adapter.hold('append');
    const b1 = store.saveTask(task('b1'));
    await vi.waitFor(() => expect(adapter.waiting).toBe(1));
    const checkpointed = store.checkpoint();
    await vi.waitFor(() => expect(adapter.calls.writeImage + adapter.calls.checkpoint).toBeGreaterThanOrEqual(2));
    await sleep(5);
    const crashed = crashedCopy(volume);
    adapter.release();
    await Promise.all([b1, checkpointed]);
    expectKept(await idsOf(crashed), ['a0', 'a1', 'a2', 'b0'], ['b1']);
    expect(await idsOf(crashedCopy(volume))).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
  });
});

/** An adapter that logs each call and its end, in order. */
function logged(inner: PersistenceAdapter, log: string[]): PersistenceAdapter {
  const wrap = <K extends keyof PersistenceAdapter>(name: K) => {
    const fn = inner[name] as unknown as ((...a: unknown[]) => Promise<unknown>) | undefined;
    return fn
      ? {
          [name]: async (...a: unknown[]) => {
            log.push(`${String(name)}`);
            try {
              return await fn.apply(inner, a);
            } finally {
              log.push(`${String(name)} done`);
            }
          },
        }
      : {};
  };
  return { ...inner, ...wrap('append'), ...wrap('checkpoint'), ...wrap('writeImage'), ...wrap('trimJournal'), ...wrap('unlock'), ...wrap('close') } as PersistenceAdapter;
}

describe('close() during a checkpoint', () => {
  it('waits for the one running, starts none after it, and nothing reaches the adapter after it gave up ownership', async () => {
    const log: string[] = [];
    const volume = createMemoryVolume();
    const faulty = faultyAdapter(createMemoryAdapter({ volume }));
    const store: Store = await openStore({ adapter: logged(faulty, log), durability: 'write', onWarning: () => undefined });
    await store.saveTask(task('a'));
    faulty.hold('writeImage');
    const first = store.checkpoint();
    await vi.waitFor(() => expect(faulty.waiting).toBe(1));
    const second = store.checkpoint().then(
      () => 'ok',
      (e: unknown) => (e as { code?: string }).code,
    );
    log.length = 0;
    const closed = store.close();
    await sleep(5);
    faulty.release();
    await first;
    await closed;
    expect(await second).toBe('CLOSED');
    await sleep(20);
    const unlock = log.indexOf('unlock');
    expect(unlock).toBeGreaterThanOrEqual(0);
    expect(log.slice(unlock + 1).filter((e) => !e.startsWith('close') && !e.startsWith('unlock'))).toEqual([]);
    expect(await idsOf(crashedCopy(volume))).toEqual(['a']);
  });
});

describe('a trim that fails', () => {
  it('again and again: checkpoints still keep the journal bounded (the whole image, then the journal empty)', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    adapter.fail('trimJournal', ioError('EACCES'));
    const store = await open(adapter, { durability: 'write', checkpointBytes: 64 * 1024, retry: { minMs: 1, maxMs: 5 } });
    for (let i = 0; i < 400; i++) {
      await store.saveTask({ id: `t${i}`, command: 'c', params: { pad: 'x'.repeat(1000) } });
      if (i % 50 === 0) await sleep(10);
    }
    expect(store.health().journalBytes).toBeLessThan(4 * 64 * 1024);
    expect(adapter.calls.checkpoint).toBeGreaterThan(1);
    expect(await idsOf(crashedCopy(volume))).toHaveLength(400);
  });

  it('after it trimmed (fs: the rename done, the directory fsync failed): writes go on', async () => {
    const volume = createMemoryVolume();
    const inner = createMemoryAdapter({ volume });
    let failOnce = true;
    const adapter: PersistenceAdapter = {
      ...inner,
      async trimJournal(from) {
        await (inner.trimJournal as NonNullable<PersistenceAdapter['trimJournal']>)(from);
        if (failOnce) {
          failOnce = false;
          throw ioError('EIO', 'fsync of the directory');
        }
      },
    };
    const warnings: string[] = [];
    const store = await open(adapter, { durability: 'write', onWarning: (w) => warnings.push(w.code), retry: { minMs: 5, maxMs: 20 } });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`a${i}`));
    await store.checkpoint(); // image durable; the trim drops the journal, then rejects
    expect(warnings).toContain('CHECKPOINT');
    await store.saveTask(task('b0'));
    await sleep(50);
    expect(store.health().state).toBe('ok');
    expect(await idsOf(crashedCopy(volume))).toEqual(['a0', 'a1', 'a2', 'b0']);
  });
});

describe('reclaimSpace among checkpoints and writes', () => {
  for (const shape of ['an adapter that writes an image apart', 'an adapter whose checkpoints hold writes up'] as const) {
    it(`runs while no checkpoint runs; writes started just before it and a checkpoint alongside are kept, and a crash after it loses nothing (${shape})`, async () => {
      const volume = createMemoryVolume();
      const adapter = shape === 'an adapter that writes an image apart' ? createMemoryAdapter({ volume }) : withoutSegments(createMemoryAdapter({ volume }));
      let now = 1_700_000_000_000;
      // A small threshold: automatic checkpoints run all along.
      const store = await open(adapter, { durability: 'write', checkpointBytes: 64 * 1024, clock: () => now });
      const pad = 'p'.repeat(3000);
      for (let i = 0; i < 400; i++) await store.saveTask({ id: `old${i}`, command: 'c', params: { pad } });
      for (let i = 0; i < 400; i++) await store.completeTask(`old${i}`);
      now += 8 * 86_400_000;
      expect((await store.runRetention()).tasks).toBe(400);
      const acknowledged: string[] = [];
      // Writes and an explicit checkpoint started alongside the reclaim.
      const writes = Array.from({ length: 40 }, (_, i) => store.saveTask({ id: `new${i}`, command: 'c', params: { pad } }).then(() => acknowledged.push(`new${i}`)));
      const checkpoint = store.checkpoint();
      const report = await store.reclaimSpace();
      await Promise.all([...writes, checkpoint]);
      expect(report.vacuumed).toBe(true);
      expect(report.after?.freeBytes).toBe(0);
      expect(report.after?.fileBytes).toBeLessThan((report.before?.fileBytes ?? 0) / 2);
      // The image on the volume is the rebuilt one (or smaller still): the space is given back there too.
      expect(volume.image?.length).toBeLessThanOrEqual(report.after?.fileBytes ?? 0);
      expect(acknowledged).toHaveLength(40);
      expect(await idsOf(crashedCopy(volume))).toEqual(Array.from({ length: 40 }, (_, i) => `new${i}`).sort());
    });
  }
});

/**
 * A store on a memory volume whose adapter holds the next image write once `hold()` was called,
 * until `release()`; `total` tasks of 4 KB saved, the first `completed` of them completed and then
 * deleted by retention (their pages free), the rest kept.
 */
async function storeWithHeldImageWrites(total: number, completed: number) {
  const volume = createMemoryVolume();
  const inner = createMemoryAdapter({ volume });
  let released: (() => void) | undefined;
  let held = false;
  const adapter: PersistenceAdapter = {
    ...inner,
    async writeImage(image) {
      if (held) await new Promise<void>((resolve) => (released = resolve));
      held = false;
      await (inner.writeImage as NonNullable<PersistenceAdapter['writeImage']>)(image);
    },
  };
  let now = 1_700_000_000_000;
  const store = await open(adapter, { durability: 'write', clock: () => now });
  for (let i = 0; i < total; i++) await store.saveTask({ id: `t${i}`, command: 'c', params: { pad: 'p'.repeat(4000) } });
  for (let i = 0; i < completed; i++) await store.completeTask(`t${i}`);
  await store.checkpoint();
  now += 8 * 86_400_000;
  await store.runRetention();
  return {
    store,
    volume,
    hold: (): void => {
      held = true;
    },
    /** Resolves once an image write is being held. */
    holding: async (): Promise<void> => {
      while (!released) await sleep(1);
    },
    release: (): void => (released as () => void)(),
  };
}

describe('reclaimSpace and crashes', () => {
  it('a crash after the rebuild, before its image is durable: the old image and the journal hold everything, writes acknowledged meanwhile included', async () => {
    const { store, volume, hold, holding, release } = await storeWithHeldImageWrites(300, 290);
    hold();
    const reclaim = store.reclaimSpace();
    // The rebuild is done and its image is being written: writes go on, into the journal.
    await holding();
    for (let i = 0; i < 5; i++) await store.saveTask({ id: `during${i}`, command: 'c', params: {} });
    const expected = [...Array.from({ length: 10 }, (_, i) => `t${290 + i}`), ...Array.from({ length: 5 }, (_, i) => `during${i}`)].sort();
    expect(await idsOf(crashedCopy(volume))).toEqual(expected);
    release();
    expect((await reclaim).vacuumed).toBe(true);
    expect(await idsOf(crashedCopy(volume))).toEqual(expected);
  });
});

describe('reclaimSpace and transactions', () => {
  it('a transaction that begins while reclaimSpace waits for a running checkpoint ends before the rebuild; both succeed', async () => {
    const { store, volume, hold, holding, release } = await storeWithHeldImageWrites(300, 300);
    // A checkpoint whose image write is held: reclaimSpace waits for it.
    hold();
    const checkpoint = store.checkpoint();
    await holding();
    const reclaim = store.reclaimSpace();
    await sleep(5);
    // A transaction begins meanwhile, and is still open when the checkpoint ends.
    let endTransaction: (() => void) | undefined;
    const transaction = store.transaction(async (tx) => {
      await tx.saveTask({ id: 'in-tx', command: 'c', params: {} });
      await new Promise<void>((resolve) => (endTransaction = resolve));
    });
    while (!endTransaction) await sleep(1);
    release();
    await checkpoint;
    await sleep(5);
    (endTransaction as () => void)();
    await transaction;
    const report = await reclaim;
    expect(report.vacuumed).toBe(true);
    expect(await store.getTask('in-tx')).toBeDefined();
    expect(await idsOf(crashedCopy(volume))).toContain('in-tx');
  });
});

describe('reclaimSpace refusals', () => {
  it('a read-only store refuses it (READ_ONLY), bad limits first (VALIDATION), a closed one (CLOSED); nothing changes', async () => {
    const volume = createMemoryVolume();
    const writer = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await writer.saveTask(task('t'));
    await writer.close();
    const image = volume.image?.slice();
    const reader = await open(createMemoryAdapter({ volume }), { readOnly: true });
    await expect(reader.reclaimSpace({ minFreeRatio: 2 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(reader.reclaimSpace()).rejects.toMatchObject({ code: 'READ_ONLY' });
    await reader.close();
    await expect(reader.reclaimSpace()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(volume.image).toEqual(image);
  });
});
