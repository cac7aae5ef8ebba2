/**
 * The store's durability over the memory adapter (a shared volume stands in for the disk; dropping
 * a store without close() and clearing the volume's owner is a crash): write modes, group commit,
 * the journal, checkpoints, replay, faults, read-only opens and locking.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryAdapter, createMemoryVolume, type MemoryVolume } from '../../adapters/memory.js';
import {
  CorruptDatabaseError,
  crc32,
  createSqlJsEngine,
  encodeRecord,
  IMAGE_ID_KEY,
  IMAGE_PARENT_KEY,
  LockError,
  MAX_RECORD_PAYLOAD,
  openStore,
  parseJournal,
  PersistenceError,
  ReadOnlyError,
  readImageMeta,
  SEQUENCE_KEY,
  StoreError,
  type PersistenceAdapter,
  type StoreOptions,
  type StoreWarning,
} from '../../src/index.js';
import { faultyAdapter, ioError, withoutSegments } from '../helpers/faulty-adapter.js';
import { snapshot } from '../api/suite.js';
import { crash, settledSoon, storesClosedAfterEach } from '../helpers/stores.js';
import Database from 'better-sqlite3';

const open = storesClosedAfterEach();

const task = (id: string, extra: Record<string, unknown> = {}) => ({ id, command: 'deploy', params: { id }, ...extra });

/** An engine over a copy of `image`, closed after the test. */
async function inSqlJs(image: Uint8Array) {
  const engine = await createSqlJsEngine({ image });
  engines.push(engine);
  return engine;
}
const engines: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

function journalRecords(volume: MemoryVolume) {
  return parseJournal(volume.journal.slice(0, volume.journalLength)).records;
}

describe("durability: 'write'", () => {
  it('a write resolves only after its journal record is appended, and reads never wait', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    adapter.hold('append');
    const write = store.saveTask(task('t1'));
    expect(await settledSoon(write)).toBe(false);
    expect(adapter.waiting).toBe(1);
    // The write is committed in memory: a read sees it at once, without waiting for the flush.
    expect((await store.getTask('t1'))?.id).toBe('t1');
    expect(store.health().pendingWrites).toBe(1);
    adapter.release();
    await write;
    expect(journalRecords(volume).map((r) => r.sequence)).toEqual([1]);
    expect(store.health()).toMatchObject({ state: 'ok', pendingWrites: 0, durableSequence: 1, journal: true });
  });

  it('writes that arrive during a flush share the next one (group commit)', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    adapter.hold('append');
    const first = store.saveTask(task('first'));
    await vi.waitFor(() => expect(adapter.waiting).toBe(1));
    const more = Array.from({ length: 20 }, (_, i) => store.saveTask(task(`t${i}`)));
    expect(await settledSoon(Promise.all(more))).toBe(false);
    adapter.release();
    await Promise.all([first, ...more]);
    // One append for the first write, one for the twenty that queued behind it.
    expect(adapter.calls.append).toBe(2);
    expect(journalRecords(volume)).toHaveLength(21);
  });

  it('a transaction is one journal record, durable when transaction() resolves', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await store.saveTask(task('t1'));
    await store.transaction(async (tx) => {
      await tx.saveTask(task('t2'));
      await tx.updateTaskStatus('t1', 'running');
      await tx.appendAudit({ userId: 'u', action: 'start', resource: 't1', result: 'ok' });
    });
    const records = journalRecords(volume);
    expect(records).toHaveLength(2);
    expect(records[1]?.decodeStatements()).toHaveLength(3);
    // A rolled-back transaction leaves no record.
    await expect(
      store.transaction(async (tx) => {
        await tx.saveTask(task('t3'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(journalRecords(volume)).toHaveLength(2);
  });

  it('writes that change nothing (a NOT_FOUND update) are not journaled', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await expect(store.updateTaskStatus('missing', 'running')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.deleteApproval('missing');
    expect(volume.journalLength).toBe(0);
    expect(store.health().lastSequence).toBe(0);
  });
});

describe('replay after a crash', () => {
  it('reopening replays every acknowledged write, in order, atomically per record', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.saveTask(task(`t${i}`))));
    await store.completeTask('t3', { result: { ok: true } });
    await store.transaction(async (tx) => {
      await tx.saveApproval({ requestId: 'r1', taskId: 't1', callerId: 'c', permission: 'deploy', action: 'run', resource: 'prod' });
      await tx.updateTaskStatus('t1', 'awaiting_approval');
    });
    await store.appendAudit({ userId: 'u', action: 'x', resource: 'y', result: 'ok' });
    await store.runRetention();
    const before = await snapshot(store);
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect(await snapshot(again)).toEqual(before);
    expect(again.health().lastSequence).toBe(store.health().lastSequence);
  });

  it("the image records the last sequence it holds; records it covers are skipped, a gap is refused", async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await store.saveTask(task('a'));
    await store.saveTask(task('b'));
    const journalBefore = volume.journal.slice(0, volume.journalLength);
    const imageBefore = readImageMeta(await inSqlJs(volume.image as Uint8Array));
    await store.checkpoint();
    expect(volume.journalLength).toBe(0);
    const db = new Database(Buffer.from(volume.image as Uint8Array));
    expect(db.prepare('SELECT value FROM meta WHERE key = ?').all(SEQUENCE_KEY)).toEqual([{ value: '2' }]);
    // The new image has an id of its own and names the one it replaced.
    const ids = Object.fromEntries((db.prepare('SELECT key, value FROM meta WHERE key IN (?, ?)').all(IMAGE_ID_KEY, IMAGE_PARENT_KEY) as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    expect(ids[IMAGE_PARENT_KEY]).toBe(imageBefore.id);
    expect(ids[IMAGE_ID_KEY]).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[IMAGE_ID_KEY]).not.toBe(imageBefore.id);
    db.close();
    crash(volume);

    // A crash between replacing the image and emptying the journal: the old journal, whose header
    // names the image before, lies beside the new image. Its records are covered and skipped, and
    // the next append starts the journal over, with a header naming the new image.
    expect(parseJournal(journalBefore).header?.imageId).toBe(imageBefore.id);
    const withStale: MemoryVolume = { image: volume.image, journal: journalBefore.slice(), journalLength: journalBefore.length, owner: undefined };
    const again = await open(createMemoryAdapter({ volume: withStale }), { durability: 'write' });
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b']);
    await again.saveTask(task('c'));
    const restarted = parseJournal(withStale.journal.slice(0, withStale.journalLength));
    expect(restarted.header).toMatchObject({ imageId: ids[IMAGE_ID_KEY], sequence: 2 });
    expect(restarted.records.map((r) => r.sequence)).toEqual([3]);
    const journalOfNewImage = withStale.journal.slice(0, withStale.journalLength);
    await again.close();
    crash(volume);

    // An image older than the journal expects (records 1-2 missing): refused, nothing changed.
    const emptyStore = await open(createMemoryAdapter({ volume: createMemoryVolume() }));
    const oldImage = await emptyStore.exportImage();
    const gap: MemoryVolume = { image: oldImage, journal: journalOfNewImage, journalLength: journalOfNewImage.length, owner: undefined };
    const journalCopy = gap.journal.slice();
    const error = await openStore({ adapter: createMemoryAdapter({ volume: gap }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDatabaseError);
    expect(error).toMatchObject({ reason: 'JOURNAL_MISMATCH' });
    expect((error as Error).message).toMatch(/the journal continues image [0-9a-f]{32}, not this one \([0-9a-f]{32}\)/);
    expect(gap.journal).toEqual(journalCopy);
    expect(gap.image).toBe(oldImage);
  });

  it('a torn tail (the last record cut at any byte) loses only that record, with a warning', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    for (let i = 0; i < 5; i++) await store.saveTask(task(`t${i}`));
    crash(volume);
    const records = journalRecords(volume);
    const last = records[records.length - 1];
    if (!last) throw new Error('no records');
    const full = volume.journal.slice(0, volume.journalLength);
    for (let cut = last.offset; cut < full.length; cut++) {
      const warnings: StoreWarning[] = [];
      const torn: MemoryVolume = { image: volume.image, journal: full.slice(0, cut), journalLength: cut, owner: undefined };
      const again = await openStore({ adapter: createMemoryAdapter({ volume: torn }), durability: 'write', onWarning: (w) => warnings.push(w) });
      expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['t0', 't1', 't2', 't3']);
      expect(warnings.map((w) => w.code)).toEqual(cut === last.offset ? [] : ['TORN_TAIL']);
      // The next write overwrites the torn bytes: the journal reads back whole.
      await again.saveTask(task('after'));
      expect(parseJournal(torn.journal.slice(0, torn.journalLength))).toMatchObject({ tornBytes: 0 });
      await again.close();
    }
  });

  it('a damaged byte in an earlier record is a CORRUPT error and changes nothing', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    for (let i = 0; i < 3; i++) await store.saveTask(task(`t${i}`));
    crash(volume);
    const full = volume.journal.slice(0, volume.journalLength);
    const first = journalRecords(volume)[0];
    if (!first) throw new Error('no records');
    for (let at = first.offset; at < first.offset + first.size; at++) {
      const damaged = full.slice();
      damaged[at] = (damaged[at] as number) ^ 0x5a;
      const copy = damaged.slice();
      const broken: MemoryVolume = { image: volume.image, journal: damaged, journalLength: damaged.length, owner: undefined };
      const error = await openStore({ adapter: createMemoryAdapter({ volume: broken }) }).catch((e: unknown) => e);
      expect(error, `byte ${at}`).toBeInstanceOf(CorruptDatabaseError);
      expect((error as Error).message).toMatch(/journal/);
      expect(broken.journal).toEqual(copy);
      expect(broken.owner).toBeUndefined();
    }
  });

  it('records the image already covers are overwritten, not continued (a checkpoint that held pending records, then a crash before the journal was emptied)', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'none' });
    await store.saveTask(task('a'));
    await store.saveTask(task('b'));
    await store.flush(); // records 1-2 in the journal
    const staleJournal = volume.journal.slice(0, volume.journalLength);
    await store.saveTask(task('c'));
    await store.saveTask(task('d'));
    await store.checkpoint(); // the image holds 1-4; records 3-4 were never appended
    crash(volume);
    // The crash hit between the new image and emptying the journal: records 1-2 are back.
    volume.journal = staleJournal;
    volume.journalLength = staleJournal.length;
    const again = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await again.saveTask(task('e')); // record 5 must follow the image, not record 2
    expect(journalRecords(volume).map((r) => r.sequence)).toEqual([5]);
    crash(volume);
    const third = await open(createMemoryAdapter({ volume }));
    expect((await third.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it(`a write unit too large for one record (over ${MAX_RECORD_PAYLOAD / 2 ** 20} MiB) is written as a checkpoint, and survives a crash`, async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    await store.saveTask(task('small'));
    const checkpoints = adapter.calls.checkpoint;
    const big = 'b'.repeat(MAX_RECORD_PAYLOAD + 1);
    await store.saveTask({ id: 'big', command: 'upload', params: { big } });
    expect(adapter.calls.checkpoint).toBe(checkpoints + 1);
    expect(store.health()).toMatchObject({ journalBytes: 0, pendingWrites: 0 });
    await store.saveTask(task('after'));
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.getTask('big'))?.params).toEqual({ big });
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'big', 'small']);
    expect(() => encodeRecord(1, [{ sql: 'SELECT ?', params: [big] }])).toThrow(RangeError);
  });

  it('a record whose payload is not statements, behind a valid checksum, is a CORRUPT error at open', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await store.saveTask(task('t1'));
    crash(volume);
    // A checksummed record whose JSON is not a list of [sql, params] (a string; or an object, which
    // only a header may be, and this one names no image): rewrite the payload, then the CRC.
    for (const [json, message] of [
      [JSON.stringify('not statements'), /journal record 2 .* (not a list of statements|malformed statement|unreadable payload)/],
      [JSON.stringify({ not: 'statements' }), /header at byte \d+ names no image id/],
    ] as const) {
      const forged = encodeRecord(2, [{ sql: 'x'.repeat(40), params: [] }]);
      forged.set(new TextEncoder().encode(json.padEnd(forged.length - 20, ' ')), 20);
      new DataView(forged.buffer).setUint32(8, crc32(forged, 12), true);
      const journal = new Uint8Array(volume.journalLength + forged.length);
      journal.set(volume.journal.subarray(0, volume.journalLength));
      journal.set(forged, volume.journalLength);
      const broken: MemoryVolume = { image: volume.image, journal, journalLength: journal.length, owner: undefined };
      const copy = journal.slice();
      const error = await openStore({ adapter: createMemoryAdapter({ volume: broken }) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptDatabaseError);
      expect((error as CorruptDatabaseError).reason).toBe('JOURNAL_DAMAGED');
      expect((error as Error).message).toMatch(message);
      expect(broken.journal).toEqual(copy);
    }
  });

  it('journal records without an image are refused', async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await store.saveTask(task('t'));
    crash(volume);
    const orphan: MemoryVolume = { image: undefined, journal: volume.journal, journalLength: volume.journalLength, owner: undefined };
    await expect(openStore({ adapter: createMemoryAdapter({ volume: orphan }) })).rejects.toBeInstanceOf(CorruptDatabaseError);
  });
});

describe("durability: 'deferred' and 'none'", () => {
  it("'deferred' resolves writes at once and flushes within flushIntervalMs", async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'deferred', flushIntervalMs: 30 });
    adapter.hold('append');
    await store.saveTask(task('t1')); // resolves although the append is held
    await store.saveTask(task('t2'));
    await vi.waitFor(() => expect(adapter.waiting).toBe(1), { timeout: 2000 });
    adapter.release();
    await vi.waitFor(() => expect(store.health().pendingWrites).toBe(0), { timeout: 2000 });
    expect(journalRecords(volume)).toHaveLength(2);
  });

  it("'none' writes nothing until flush(), checkpoint() or close()", async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'none' });
    await store.saveTask(task('t1'));
    await new Promise((r) => setTimeout(r, 50));
    expect(adapter.calls.append).toBe(0);
    expect(store.health().pendingWrites).toBe(1);
    await store.flush();
    expect(journalRecords(volume)).toHaveLength(1);
    await store.saveTask(task('t2'));
    await store.close();
    expect(volume.journalLength).toBe(0); // close() checkpoints
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['t1', 't2']);
  });

  it("the memory adapter defaults to 'none', a persistent adapter to 'write'", async () => {
    const memory = await open(createMemoryAdapter());
    expect(memory.health().durability).toBe('none');
    const persistent: PersistenceAdapter = { ...createMemoryAdapter(), persistent: true };
    expect((await open(persistent)).health().durability).toBe('write');
  });
});

describe('checkpoints', () => {
  it('run when the journal passes checkpointBytes, at close, and on demand (an adapter whose checkpoints hold writes up)', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(withoutSegments(createMemoryAdapter({ volume })));
    const store = await open(adapter, { durability: 'write', checkpointBytes: 4096 });
    const checkpointsAtOpen = adapter.calls.checkpoint;
    expect(checkpointsAtOpen).toBe(1); // a new database is written at once
    for (let i = 0; i < 60; i++) await store.saveTask(task(`t${i}`, { params: { pad: 'x'.repeat(100) } }));
    await vi.waitFor(() => expect(adapter.calls.checkpoint).toBeGreaterThan(checkpointsAtOpen));
    await store.flush();
    expect(volume.journalLength).toBeLessThan(4096 + 1024);
    const n = adapter.calls.checkpoint;
    await store.checkpoint();
    expect(adapter.calls.checkpoint).toBe(n + 1);
    expect(volume.journalLength).toBe(0);
    await store.saveTask(task('last'));
    await store.close();
    expect(adapter.calls.checkpoint).toBe(n + 2);
    expect(volume.journalLength).toBe(0);
    const again = await open(createMemoryAdapter({ volume }));
    expect(await again.listTasks()).toHaveLength(61);
  });

  it('run when the journal passes checkpointBytes, at close, and on demand (an adapter that writes an image apart)', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write', checkpointBytes: 4096 });
    expect(adapter.calls.checkpoint).toBe(1); // a new database is written at once, whole
    for (let i = 0; i < 60; i++) await store.saveTask(task(`t${i}`, { params: { pad: 'x'.repeat(100) } }));
    await vi.waitFor(() => expect(adapter.calls.trimJournal).toBeGreaterThan(0));
    expect(adapter.calls.writeImage).toBeGreaterThan(0);
    await store.flush();
    expect(volume.journalLength).toBeLessThan(4096 + 1024);
    const [images, trims] = [adapter.calls.writeImage, adapter.calls.trimJournal];
    await store.checkpoint();
    expect(adapter.calls.writeImage).toBe(images + 1);
    expect(adapter.calls.trimJournal).toBe(trims + 1);
    // Nothing came after the marker: the journal before it and the marker itself went.
    expect(volume.journalLength).toBe(0);
    expect(store.health()).toMatchObject({ checkpointing: false, journalBytes: 0, lastSequence: store.health().durableSequence });
    expect(store.health().lastCheckpointMs).toBeGreaterThanOrEqual(0);
    await store.saveTask(task('last'));
    await store.close();
    expect(adapter.calls.checkpoint).toBe(2); // at close, whole: nothing may follow it
    expect(volume.journalLength).toBe(0);
    const again = await open(createMemoryAdapter({ volume }));
    expect(await again.listTasks()).toHaveLength(61);
  });

  it("checkpoint() waits for an open transaction and exports between transactions", async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    let checkpointed: Promise<void> | undefined;
    await store.transaction(async (tx) => {
      await tx.saveTask(task('in-tx'));
      checkpointed = store.checkpoint();
      expect(await settledSoon(checkpointed)).toBe(false);
    });
    await checkpointed;
    const again = await open(createMemoryAdapter({ volume: { ...volume, owner: undefined } }), { readOnly: true });
    expect((await again.getTask('in-tx'))?.id).toBe('in-tx');
  });

  it('journal: false, or an adapter without append, writes the whole image per flush', async () => {
    for (const make of [
      (volume: MemoryVolume) => ({ adapter: faultyAdapter(createMemoryAdapter({ volume })), journal: false }),
      (volume: MemoryVolume) => {
        const { append: _append, ...noAppend } = createMemoryAdapter({ volume });
        return { adapter: faultyAdapter(noAppend), journal: true };
      },
    ]) {
      const volume = createMemoryVolume();
      const { adapter, journal } = make(volume);
      const store = await open(adapter, { durability: 'write', journal });
      expect(store.health().journal).toBe(false);
      await store.saveTask(task('t1'));
      await Promise.all([store.saveTask(task('t2')), store.saveTask(task('t3'))]);
      expect(adapter.calls.append).toBe(0);
      expect(adapter.calls.checkpoint).toBe(3); // open, t1, then t2+t3 together
      crash(volume);
      const again = await open(createMemoryAdapter({ volume }));
      expect(await again.listTasks()).toHaveLength(3);
    }
  });
});

describe('faults', () => {
  it('a failed append rejects the writes of that flush, degrades the store, refuses new writes, and recovers', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const warnings: StoreWarning[] = [];
    const store = await open(adapter, { durability: 'write', retry: { minMs: 10, maxMs: 40 }, onWarning: (w) => warnings.push(w) });
    await store.saveTask(task('ok'));
    adapter.fail('append', ioError('ENOSPC', 'no space left on device'));
    const failed = await Promise.allSettled([store.saveTask(task('f1')), store.saveTask(task('f2'))]);
    for (const result of failed) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as PersistenceError;
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.code).toBe('PERSISTENCE');
      expect(error.message).toMatch(/ENOSPC/);
      expect((error.cause as { code?: string }).code).toBe('ENOSPC');
    }
    const health = store.health();
    expect(health).toMatchObject({ state: 'degraded', pendingWrites: 2 });
    expect(health.lastError?.code).toBe('PERSISTENCE');
    expect(health.nextRetryAt).toBeGreaterThan(0);
    expect(warnings.map((w) => w.code)).toContain('DEGRADED');
    // New writes are refused before they run: nothing changes.
    const refused = await store.saveTask(task('refused')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PersistenceError);
    expect(await store.getTask('refused')).toBeUndefined();
    await expect(store.transaction(async (tx) => tx.saveTask(task('refused-tx')))).rejects.toBeInstanceOf(PersistenceError);
    // Reads work, in a transaction too.
    expect((await store.getTask('ok'))?.id).toBe('ok');
    expect(await store.transaction(async (tx) => (await tx.getTask('ok'))?.id)).toBe('ok');
    // Retries keep failing while the disk is full, then succeed.
    await vi.waitFor(() => expect(adapter.calls.append).toBeGreaterThanOrEqual(4), { timeout: 3000 });
    expect(store.health().state).toBe('degraded');
    adapter.heal();
    await vi.waitFor(() => expect(store.health().state).toBe('ok'), { timeout: 3000 });
    expect(store.health().pendingWrites).toBe(0);
    await store.saveTask(task('after'));
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    // Nothing acknowledged is lost; the rejected writes were kept in memory and persisted by the retry.
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'f1', 'f2', 'ok']);
  });

  for (const code of ['EIO', 'EACCES', 'EDQUOT']) {
    it(`a failed checkpoint (${code}) that holds writes up degrades the store; the retry writes the image again`, async () => {
      const volume = createMemoryVolume();
      const adapter = faultyAdapter(withoutSegments(createMemoryAdapter({ volume })));
      const store = await open(adapter, { durability: 'write', retry: { minMs: 10, maxMs: 20 } });
      await store.saveTask(task('before'));
      adapter.fail('checkpoint', ioError(code), 3);
      await expect(store.checkpoint()).rejects.toMatchObject({ code: 'PERSISTENCE' });
      expect(store.health().state).toBe('degraded');
      await vi.waitFor(() => expect(store.health().state).toBe('ok'), { timeout: 3000 });
      expect(adapter.calls.checkpoint).toBeGreaterThanOrEqual(5); // open, the failed three, the one that worked
      expect(volume.journalLength).toBe(0);
      await store.saveTask(task('after'));
      crash(volume);
      const again = await open(createMemoryAdapter({ volume }));
      expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'before']);
    });
  }

  it('a failed checkpoint that writes go on during rejects, warns, and leaves the store writable; the next one works', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const warnings: string[] = [];
    const store = await open(adapter, { durability: 'write', retry: { minMs: 10, maxMs: 20 }, onWarning: (w) => warnings.push(w.code) });
    await store.saveTask(task('before'));
    adapter.fail('writeImage', ioError('EIO'), 1);
    const error = await store.checkpoint().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersistenceError);
    expect(((error as PersistenceError).cause as { code?: string }).code).toBe('EIO');
    expect(warnings).toEqual(['CHECKPOINT']);
    expect(store.health().state).toBe('ok');
    await store.saveTask(task('during'));
    // The journal holds the marker of the checkpoint that failed, and what came after it.
    const parsed = parseJournal(volume.journal.slice(0, volume.journalLength));
    expect(parsed.headers).toHaveLength(2);
    expect(parsed.records.map((r) => r.sequence)).toEqual([1, 2]);
    crash(volume);
    // The failed image's marker is a segment boundary a reopen goes through.
    const reopened = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    expect((await reopened.listTasks()).map((t) => t.id).sort()).toEqual(['before', 'during']);
    await reopened.checkpoint();
    await reopened.saveTask(task('after'));
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'before', 'during']);
  });

  it('a failed trim of the journal (after the image is durable) warns, keeps the store writable, and the next flush writes the whole image', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const warnings: string[] = [];
    const store = await open(adapter, { durability: 'write', retry: { minMs: 10, maxMs: 20 }, onWarning: (w) => warnings.push(w.code) });
    await store.saveTask(task('a'));
    adapter.fail('trimJournal', ioError('EIO'), 1);
    const checkpoints = adapter.calls.checkpoint;
    await store.checkpoint(); // the image is durable; dropping the journal before it failed
    expect(warnings).toEqual(['CHECKPOINT']);
    expect(store.health().state).toBe('ok');
    await store.saveTask(task('b'));
    // The journal's length was no longer certain: the whole image, and the journal emptied.
    await vi.waitFor(() => expect(adapter.calls.checkpoint).toBe(checkpoints + 1));
    await store.saveTask(task('c'));
    // The journal started again after that image: nothing of 'a' in it, 'c' at its end.
    const parsed = parseJournal(volume.journal.slice(0, volume.journalLength));
    expect(parsed.headers).toHaveLength(1);
    expect(parsed.records[0]?.sequence).toBeGreaterThan(1);
    expect(parsed.records[parsed.records.length - 1]?.sequence).toBe(3);
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('close() with a failing adapter rejects with a PersistenceError and still releases everything', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'none' });
    await store.saveTask(task('unsaved'));
    adapter.fail('append', ioError('EIO'));
    adapter.fail('checkpoint', ioError('EIO'));
    const error = await store.close().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as Error).message).toMatch(/could not persist 1 write/);
    expect(volume.owner).toBeUndefined();
    await expect(store.getTask('unsaved')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('a checkpoint that fails at close loses nothing: the journal stays and is replayed', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const warnings: StoreWarning[] = [];
    const store = await open(adapter, { durability: 'write', onWarning: (w) => warnings.push(w) });
    await store.saveTask(task('kept'));
    adapter.fail('checkpoint', ioError('ENOSPC'));
    await store.close();
    expect(warnings.map((w) => w.code)).toContain('CHECKPOINT');
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.getTask('kept'))?.id).toBe('kept');
  });

  it('a failed load or lock fails the open with a typed error and releases the adapter', async () => {
    const adapter = faultyAdapter(createMemoryAdapter());
    adapter.fail('load', ioError('EIO'), 1);
    await expect(openStore({ adapter })).rejects.toMatchObject({ code: 'PERSISTENCE', cause: { code: 'EIO' } });
    adapter.fail('lock', ioError('EACCES'), 1);
    await expect(openStore({ adapter })).rejects.toMatchObject({ code: 'PERSISTENCE', cause: { code: 'EACCES' } });
  });
});

describe('ownership and read-only opens', () => {
  it('a second writer is refused with a LockError; a read-only open works beside it', async () => {
    const volume = createMemoryVolume();
    const owner = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await owner.saveTask(task('t1'));
    const error = await openStore({ adapter: createMemoryAdapter({ volume }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as LockError).code).toBe('LOCKED');
    expect((error as LockError).holder.description).toMatch(/another store/);
    const reader = await open(createMemoryAdapter({ volume }), { readOnly: true });
    expect((await reader.getTask('t1'))?.id).toBe('t1');
    expect(reader.health().state).toBe('read-only');
    expect(reader.readOnly).toBe(true);
    await expect(reader.saveTask(task('t2'))).rejects.toBeInstanceOf(ReadOnlyError);
    await expect(reader.checkpoint()).rejects.toMatchObject({ code: 'READ_ONLY' });
    await expect(reader.transaction(async (tx) => tx.saveTask(task('t3')))).rejects.toMatchObject({ code: 'READ_ONLY' });
    expect(await reader.transaction(async (tx) => (await tx.getTask('t1'))?.id)).toBe('t1');
    await reader.close();
    expect(volume.owner).toBeDefined(); // the reader never held it
    await owner.close();
    expect(volume.owner).toBeUndefined();
    await open(createMemoryAdapter({ volume }));
  });

  it('a read-only open of nothing is NOT_FOUND; a read-only open never writes', async () => {
    await expect(openStore({ adapter: createMemoryAdapter(), readOnly: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'write' });
    await store.saveTask(task('t1'));
    crash(volume);
    const image = volume.image;
    const journal = volume.journal.slice(0, volume.journalLength);
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const reader = await open(adapter, { readOnly: true });
    expect((await reader.getTask('t1'))?.id).toBe('t1');
    await reader.close();
    expect(adapter.calls).toMatchObject({ lock: 0, append: 0, checkpoint: 0 });
    expect(volume.image).toBe(image);
    expect(volume.journal.slice(0, volume.journalLength)).toEqual(journal);
  });
});

describe('limits and options', () => {
  it('warns once when the image passes sizeWarningBytes, and reports sizes in health()', async () => {
    const warnings: StoreWarning[] = [];
    const store = await open(createMemoryAdapter(), { durability: 'write', sizeWarningBytes: 100_000, onWarning: (w) => warnings.push(w) });
    expect(store.health().imageBytes).toBeGreaterThan(0);
    for (let i = 0; i < 40; i++) await store.saveTask(task(`t${i}`, { params: { pad: 'x'.repeat(4000) } }));
    await store.checkpoint();
    await store.checkpoint();
    expect(warnings.filter((w) => w.code === 'SIZE')).toHaveLength(1);
    expect(warnings.find((w) => w.code === 'SIZE')?.message).toMatch(/lives in memory/);
    expect(store.health().imageBytes).toBeGreaterThan(100_000);
  });

  it('refuses bad durability options with a VALIDATION error before touching the adapter', async () => {
    const adapter = faultyAdapter(createMemoryAdapter());
    for (const options of [
      { durability: 'sometimes' },
      { flushIntervalMs: 0 },
      { checkpointBytes: -5 },
      { journal: 'yes' },
      { readOnly: 1 },
      { retry: { minMs: 1.5 } },
      { onWarning: 'loud' },
    ]) {
      const error = await openStore({ adapter, ...(options as StoreOptions) }).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('VALIDATION');
    }
    expect(adapter.calls).toMatchObject({ lock: 0, load: 0 });
  });

  it('close() waits for persistence steps still queued; nothing reaches the adapter after it gave up ownership', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const events: string[] = [];
    const observed: PersistenceAdapter = {
      ...adapter,
      append: async (bytes, at) => {
        events.push('append');
        return adapter.append?.(bytes, at);
      },
      checkpoint: async (image) => {
        events.push('checkpoint');
        await new Promise((r) => setTimeout(r, 20)); // a slow disk
        return adapter.checkpoint(image);
      },
      unlock: async () => {
        events.push('unlock');
        return adapter.unlock();
      },
      close: async () => {
        events.push('close');
        return adapter.close();
      },
    };
    const store = await openStore({ adapter: observed, durability: 'none', retry: { minMs: 5, maxMs: 10 }, onWarning: () => undefined });
    events.length = 0;
    await store.saveTask(task('a'));
    adapter.hold('append');
    adapter.fail('append', ioError('EIO'), 1);
    const flushed = store.flush();
    const checkpointed = store.checkpoint();
    const closing = store.close();
    setTimeout(() => adapter.release(), 10);
    await flushed.catch(() => undefined);
    await checkpointed.catch(() => undefined);
    await closing.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 60));
    const unlockAt = events.indexOf('unlock');
    expect(unlockAt).toBeGreaterThan(0);
    expect(events.slice(unlockAt)).toEqual(['unlock', 'close']);
    // Whatever close() reported, the writes it did not report as lost are in the volume.
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.getTask('a'))?.id).toBe('a');
  });

  it('close() waits for operations already started, then refuses new ones', async () => {
    const adapter = faultyAdapter(createMemoryAdapter());
    const store = await openStore({ adapter, durability: 'write' });
    adapter.hold('append');
    const write = store.saveTask(task('t1'));
    const closing = store.close();
    await expect(store.getTask('t1')).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await settledSoon(closing)).toBe(false);
    adapter.release();
    await write;
    await closing;
    expect(store.health().state).toBe('closed');
  });
});
