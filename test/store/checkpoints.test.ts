/**
 * Checkpoints that never stall the writes: the image exported in steps (the event loop runs between
 * them), written while writes go on into the journal behind a marker, the journal before the
 * marker dropped once the image is durable. A crash at every moment of that, on the memory volume
 * and on real files, and a journal with a marker cut at every byte, lose nothing acknowledged.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createFileAdapter, fileAdapterPaths } from '../../adapters/fs.js';
import { createMemoryAdapter, createMemoryVolume, type MemoryVolume } from '../../adapters/memory.js';
import {
  CHECKPOINT_IMAGE_FRACTION,
  checkpointThreshold,
  MIN_CHECKPOINT_BYTES,
  openStore,
  parseJournal,
  readImageMeta,
  createSqlJsEngine,
  type PersistenceAdapter,
  type Store,
  type StoreOptions,
} from '../../src/index.js';
import { faultyAdapter, type FaultPoint, type FaultyAdapter } from '../helpers/faulty-adapter.js';
import { tempDir } from '../helpers/go-db.js';
import { crash, crashedCopy, storesClosedAfterEach } from '../helpers/stores.js';

const open = storesClosedAfterEach();
const dir = tempDir('pa-checkpoints-');
afterAll(() => dir.remove());
let n = 0;

const task = (id: string, pad = 0) => ({ id, command: 'deploy', params: { id, pad: 'x'.repeat(pad) } });

/** Every task id and audit entry a store holds: what a crash must keep, and nothing twice. */
async function contents(store: Store): Promise<{ tasks: string[]; audit: string[] }> {
  return {
    tasks: (await store.listTasks()).map((t) => t.id).sort(),
    audit: (await store.listAudit()).map((a) => a.action).sort(),
  };
}

/** The meta an image records about itself. */
async function imageMeta(image: Uint8Array) {
  const engine = await createSqlJsEngine({ image });
  try {
    return readImageMeta(engine);
  } finally {
    await engine.close();
  }
}

/** Waits until a call of `point` is held at the gate. */
async function heldAt(adapter: FaultyAdapter, point: FaultPoint): Promise<void> {
  await vi.waitFor(() => expect(adapter.waiting, `a call of ${point} held`).toBe(1), { timeout: 5000, interval: 2 });
}

/** Where the database lives, and how a crash's leftovers open again. */
interface Place {
  readonly name: string;
  adapter(): PersistenceAdapter;
  /** What a crash right now leaves behind, opened by a new owner. */
  reopenCrashed(options?: StoreOptions): Promise<Store>;
}

function memoryPlace(): Place {
  const volume = createMemoryVolume();
  return {
    name: 'memory',
    adapter: () => createMemoryAdapter({ volume }),
    async reopenCrashed(options) {
      // The "process" dies: its bytes stay as they are; a copy is what the next one finds.
      const copy = crashedCopy(volume);
      return open(createMemoryAdapter({ volume: copy }), { durability: 'write', ...options });
    },
  };
}

function filePlace(): Place {
  const folder = dir.file(`place-${n++}`);
  mkdirSync(folder);
  const path = join(folder, 'agent.db');
  return {
    name: 'fs',
    adapter: () => createFileAdapter({ path }),
    async reopenCrashed(options) {
      // The files as they are now (the image, the journal), copied where the next process opens them.
      const copyDir = dir.file(`crashed-${n++}`);
      mkdirSync(copyDir);
      const copy = join(copyDir, 'agent.db');
      if (existsSync(path)) copyFileSync(path, copy);
      const journal = fileAdapterPaths(path).journal;
      if (existsSync(journal)) copyFileSync(journal, fileAdapterPaths(copy).journal);
      return open(createFileAdapter({ path: copy }), { durability: 'write', ...options });
    },
  };
}

describe('writes go on during a checkpoint', () => {
  for (const make of [memoryPlace, filePlace]) {
    it(`${make().name}: writes resolve while the image is written; a crash at each moment keeps every acknowledged write, once`, async () => {
      const place = make();
      const adapter = faultyAdapter(place.adapter());
      const store = await open(adapter, { durability: 'write' });
      const acknowledged: string[] = [];
      const write = async (id: string) => {
        await store.transaction(async (tx) => {
          await tx.saveTask(task(id, 300));
          await tx.appendAudit({ userId: 'u', action: id, result: 'ok' });
        });
        acknowledged.push(id);
      };
      for (let i = 0; i < 40; i++) await write(`before-${i}`);
      const expectCrashKeeps = async (moment: string) => {
        // What was acknowledged before the crash (the leftovers are copied at once, first thing).
        const expected = [...acknowledged].sort();
        const reopened = await place.reopenCrashed();
        expect(await contents(reopened), moment).toEqual({ tasks: expected, audit: expected });
        await reopened.close();
      };

      // 1. The image is being written: writes go on and resolve (durable in the journal).
      adapter.hold('writeImage');
      const checkpointed = store.checkpoint();
      await heldAt(adapter, 'writeImage');
      expect(store.health().checkpointing).toBe(true);
      for (let i = 0; i < 10; i++) await write(`during-image-${i}`);
      await expectCrashKeeps('the image not written yet');

      // 2. The image is durable; the journal before the marker is not dropped yet.
      adapter.hold('trimJournal');
      adapter.release('writeImage');
      await heldAt(adapter, 'trimJournal');
      for (let i = 0; i < 5; i++) {
        // Appends queue behind the held trim: they commit in memory, and resolve once it is through.
        void write(`during-trim-${i}`);
      }
      await expectCrashKeeps('the image durable, the journal not trimmed');

      // 3. Through: the journal holds only what came after the marker.
      adapter.release();
      await checkpointed;
      await vi.waitFor(() => expect(acknowledged.filter((id) => id.startsWith('during-trim'))).toHaveLength(5));
      expect(store.health().checkpointing).toBe(false);
      await expectCrashKeeps('after the checkpoint');
      for (let i = 0; i < 5; i++) await write(`after-${i}`);
      await expectCrashKeeps('after more writes');
      await store.close();
      const closed = await open(place.adapter(), { durability: 'write' });
      const expected = [...acknowledged].sort();
      expect(await contents(closed)).toEqual({ tasks: expected, audit: expected });
    });
  }

  it('a write unit too large for one record waits for a whole image even then (nothing follows it in the journal)', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    await store.saveTask(task('small'));
    const checkpoints = adapter.calls.checkpoint;
    await store.saveTask({ id: 'huge', command: 'c', params: { blob: 'y'.repeat(17 * 2 ** 20) } });
    expect(adapter.calls.checkpoint).toBe(checkpoints + 1);
    await store.saveTask(task('next'));
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['huge', 'next', 'small']);
  });
});

describe('a journal with a marker, cut at every byte', () => {
  it('opens on the image before the checkpoint and on the image after it, losing at most the record cut short (every byte of the torn segment)', async () => {
    // The journal a checkpoint leaves while its image is written: records, the marker, records.
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    // The image the checkpoint writes, as it hands it over (held before it lands).
    let newImage = new Uint8Array(0);
    const writeImage = adapter.writeImage?.bind(adapter) as NonNullable<PersistenceAdapter['writeImage']>;
    adapter.writeImage = (image) => {
      newImage = image.slice();
      return writeImage(image);
    };
    const store = await open(adapter, { durability: 'write' });
    for (let i = 1; i <= 3; i++) await store.saveTask(task(`a${i}`));
    const oldImage = (volume.image as Uint8Array).slice();
    adapter.hold('writeImage');
    const checkpointed = store.checkpoint();
    await heldAt(adapter, 'writeImage');
    for (let i = 1; i <= 3; i++) await store.saveTask(task(`b${i}`));
    const journal = volume.journal.slice(0, volume.journalLength);
    const parsed = parseJournal(journal);
    expect(parsed.headers).toHaveLength(2);
    const [oldMeta, newMeta] = [await imageMeta(oldImage), await imageMeta(newImage)];
    expect(parsed.headers[1]).toMatchObject({ imageId: newMeta.id, sequence: 3, parent: oldMeta.id });
    expect(newMeta).toMatchObject({ sequence: 3, parent: oldMeta.id });
    adapter.release();
    await checkpointed;

    // Which tasks a prefix of the journal holds whole.
    const ids = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'];
    const whole = (cut: number) => parsed.records.filter((r) => r.offset + r.size <= cut).map((r) => ids[r.sequence - 1] as string);
    // Every byte of the torn segment (the marker, and the records after it); before it, where a
    // cut lands in the first segment only decides which of its records are whole: each record's
    // edges and middle.
    const segment = (parsed.headers[1] as NonNullable<(typeof parsed.headers)[1]>).offset;
    const cuts = new Set<number>();
    for (let cut = segment; cut <= journal.length; cut++) cuts.add(cut);
    for (const r of [...parsed.headers.slice(0, 1), ...parsed.records.filter((rec) => rec.offset < segment)]) {
      for (const cut of [r.offset, r.offset + 1, r.offset + Math.floor(r.size / 2), r.offset + r.size - 1]) cuts.add(cut);
    }
    let opened = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      for (const [label, image] of [['old', oldImage], ['new', newImage]] as const) {
        const piece: MemoryVolume = { image: image.slice(), journal: journal.slice(0, cut), journalLength: cut, owner: undefined };
        const reader = await openStore({ adapter: createMemoryAdapter({ volume: piece }), readOnly: true, onWarning: () => undefined });
        const got = (await reader.listTasks()).map((t) => t.id).sort();
        // The old image holds nothing of the journal; the new one holds a1-a3 whatever the cut.
        const expected = label === 'old' ? whole(cut) : [...new Set(['a1', 'a2', 'a3', ...whole(cut)])];
        expect(got, `${label} image, journal cut at ${cut} of ${journal.length}`).toEqual(expected.sort());
        await reader.close();
        opened++;
      }
    }
    expect(opened).toBe(2 * cuts.size);
    expect(cuts.size).toBeGreaterThan(journal.length - segment);
  });

  it('segments of checkpoints whose journal was never dropped (crashes after their image) open on the newest image', async () => {
    // Three owners in a row, each killed after its checkpoint's image and before its trim.
    let volume = createMemoryVolume();
    const ids: string[] = [];
    for (let generation = 0; generation < 3; generation++) {
      const adapter = faultyAdapter(createMemoryAdapter({ volume }));
      const store = await open(adapter, { durability: 'write' });
      for (let i = 0; i < 3; i++) {
        ids.push(`g${generation}-${i}`);
        await store.saveTask(task(`g${generation}-${i}`));
      }
      adapter.hold('trimJournal');
      const checkpointed = store.checkpoint().catch(() => undefined);
      await heldAt(adapter, 'trimJournal');
      const crashed = crashedCopy(volume);
      adapter.release();
      await checkpointed;
      volume = crashed;
    }
    const parsed = parseJournal(volume.journal.slice(0, volume.journalLength));
    expect(parsed.headers.length).toBe(4); // the first image's, then three markers
    const again = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(ids.sort());
    // Its next checkpoint drops every old segment.
    await again.saveTask(task('last'));
    await again.checkpoint();
    await again.close();
    expect(volume.journalLength).toBe(0);
  });
});

describe('the event loop during a checkpoint', () => {
  it('runs between the steps of a large export: timers fire while checkpoint() is pending', async () => {
    const store = await open(createMemoryAdapter(), { durability: 'write' });
    // About 24 MiB of tasks.
    for (let batch = 0; batch < 12; batch++) {
      await store.transaction(async (tx) => {
        for (let i = 0; i < 1000; i++) await tx.saveTask(task(`t${batch}-${i}`, 2000));
      });
    }
    expect(await store.dbSizeBytes()).toBeGreaterThan(20 * 2 ** 20);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let settled = false;
    const checkpointed = store.checkpoint().finally(() => (settled = true));
    // Writes during the export reach the image or the journal after its marker.
    const during = store.saveTask(task('during'));
    await checkpointed;
    clearInterval(timer);
    await during;
    expect(settled).toBe(true);
    expect(ticks).toBeGreaterThan(2);
    expect((await store.getTask('during'))?.id).toBe('during');
  });
});

describe('how often checkpoints run, and close', () => {
  it('the threshold adapts to the image: the larger of 16 MiB and an eighth of it, unless checkpointBytes is set', async () => {
    expect(checkpointThreshold(undefined, 2 ** 20)).toBe(MIN_CHECKPOINT_BYTES);
    expect(checkpointThreshold(undefined, 256 * 2 ** 20)).toBe((256 * 2 ** 20) / CHECKPOINT_IMAGE_FRACTION);
    expect(checkpointThreshold(4096, 256 * 2 ** 20)).toBe(4096);
    const adaptive = await open(createMemoryAdapter());
    expect(adaptive.health().checkpointThresholdBytes).toBe(MIN_CHECKPOINT_BYTES);
    const fixed = await open(createMemoryAdapter(), { checkpointBytes: 8192 });
    expect(fixed.health().checkpointThresholdBytes).toBe(8192);
  });

  it('close() writes no image when the image holds everything, and empties a journal that holds only what the image has', async () => {
    const volume = createMemoryVolume();
    const first = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await first.saveTask(task('a'));
    await first.close();
    expect(volume.journalLength).toBe(0);
    const imageAfterClose = volume.image;

    // Open and close without writing: nothing is written.
    const idle = faultyAdapter(createMemoryAdapter({ volume }));
    const reopened = await open(idle, { durability: 'write' });
    await reopened.close();
    expect(idle.calls).toMatchObject({ checkpoint: 0, writeImage: 0, trimJournal: 0, append: 0 });
    expect(volume.image).toBe(imageAfterClose);

    // A crash after a checkpoint's image, before its trim, leaves journal bytes the image holds:
    // the next owner's close() only empties them.
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    await store.saveTask(task('b'));
    adapter.hold('trimJournal');
    const checkpointed = store.checkpoint().catch(() => undefined);
    await heldAt(adapter, 'trimJournal');
    const crashed = crashedCopy(volume);
    adapter.release();
    await checkpointed;
    expect(crashed.journalLength).toBeGreaterThan(0);
    const next = faultyAdapter(createMemoryAdapter({ volume: crashed }));
    const owner = await open(next, { durability: 'write' });
    const image = crashed.image;
    await owner.close();
    expect(crashed.image).toBe(image);
    expect(next.calls).toMatchObject({ checkpoint: 0, writeImage: 0, trimJournal: 1 });
    expect(crashed.journalLength).toBe(0);
    const last = await open(createMemoryAdapter({ volume: crashed }));
    expect((await last.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b']);
  });

  it('the fs adapter leaves the image file alone when close() has nothing to write', async () => {
    const folder = dir.file(`clean-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const store = await open(createFileAdapter({ path }), { durability: 'write' });
    await store.saveTask(task('a'));
    await store.close();
    const before = readFileSync(path);
    const { ino, mtimeMs } = statSync(path);
    const again = await open(createFileAdapter({ path }), { durability: 'write' });
    expect((await again.listTasks()).map((t) => t.id)).toEqual(['a']);
    await again.close();
    const after = statSync(path);
    expect(after.ino).toBe(ino);
    expect(after.mtimeMs).toBe(mtimeMs);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(fileAdapterPaths(path).journal) ? readFileSync(fileAdapterPaths(path).journal).length : 0).toBe(0);
  });

  it('fs: a journal cut inside its marker (a crash during that append) opens, and the next owner goes on', async () => {
    const folder = dir.file(`torn-marker-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const adapter = faultyAdapter(createFileAdapter({ path }));
    const store = await open(adapter, { durability: 'write' });
    await store.saveTask(task('a'));
    adapter.hold('writeImage');
    const checkpointed = store.checkpoint();
    await heldAt(adapter, 'writeImage');
    const journalPath = fileAdapterPaths(path).journal;
    await vi.waitFor(() => expect(parseJournal(readFileSync(journalPath)).headers).toHaveLength(2));
    // What a crash in the middle of the marker's append leaves: the old image, the journal cut.
    const journal = readFileSync(journalPath);
    const marker = parseJournal(journal).headers[1] as NonNullable<ReturnType<typeof parseJournal>['headers'][1]>;
    const copyDir = dir.file(`torn-marker-copy-${n++}`);
    mkdirSync(copyDir);
    const copy = join(copyDir, 'agent.db');
    copyFileSync(path, copy);
    writeFileSync(fileAdapterPaths(copy).journal, journal.subarray(0, marker.offset + Math.floor(marker.size / 2)));
    adapter.release();
    await checkpointed;
    const warnings: string[] = [];
    const again = await open(createFileAdapter({ path: copy }), { durability: 'write', onWarning: (w) => warnings.push(w.code) });
    expect((await again.listTasks()).map((t) => t.id)).toEqual(['a']);
    expect(warnings).toContain('TORN_TAIL');
    await again.saveTask(task('b'));
    await again.checkpoint();
    await again.saveTask(task('c'));
    await again.close();
    const last = await open(createFileAdapter({ path: copy }));
    expect((await last.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b', 'c']);
  });
});
