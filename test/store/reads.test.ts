/**
 * What a read can see while a write is not yet durable (`reads: 'committed'`, the default, and
 * `reads: 'durable'`), and what a write rejected by a failed flush means (`PersistenceError.applied`).
 * The memory adapter's volume stands in for the disk; dropping a store without close() is a crash.
 */
import { describe, expect, it, vi } from 'vitest';
import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { openStore, PersistenceError, ValidationError } from '../../src/index.js';
import { faultyAdapter, ioError } from '../helpers/faulty-adapter.js';
import { crash, settledSoon, storesClosedAfterEach } from '../helpers/stores.js';

const open = storesClosedAfterEach();

const task = (id: string) => ({ id, command: 'deploy', params: { id } });

describe("reads: 'committed' (the default)", () => {
  it('a read sees a write whose flush is still running, which a crash at that moment loses', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write' });
    adapter.hold('append');
    const write = store.saveTask(task('pending'));
    write.catch(() => undefined);
    // The read resolves at once, with a write that is not durable (and not acknowledged) yet.
    expect((await store.getTask('pending'))?.id).toBe('pending');
    expect(await settledSoon(write)).toBe(false);
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect(await again.getTask('pending')).toBeUndefined();
    // The crashed store's flush never reaches the volume the next store owns now.
    adapter.fail('append', ioError('EIO', 'the process is gone'));
    adapter.release();
  });
});

describe("reads: 'durable'", () => {
  it('a read that saw a write not yet durable resolves only once it is; after a crash before that, it never resolved', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write', reads: 'durable' });
    await store.saveTask(task('before'));
    adapter.hold('append');
    const write = store.saveTask(task('pending'));
    const read = store.getTask('pending');
    const listing = store.listTasks();
    expect(await settledSoon(read)).toBe(false);
    expect(await settledSoon(listing)).toBe(false);
    // A read of something durable waits too: it may have seen the pending write (the rule is per read, not per row).
    expect(await settledSoon(store.getTask('before'))).toBe(false);
    adapter.release();
    await write;
    expect((await read)?.id).toBe('pending');
    expect((await listing).map((t) => t.id).sort()).toEqual(['before', 'pending']);
  });

  it('with nothing pending, reads resolve at once', async () => {
    const store = await open(createMemoryAdapter({ volume: createMemoryVolume() }), { durability: 'write', reads: 'durable' });
    await store.saveTask(task('a'));
    expect((await store.getTask('a'))?.id).toBe('a');
    expect(store.health().pendingWrites).toBe(0);
  });

  it("with durability 'none', a read that saw a write makes it durable (starts a flush) before it resolves", async () => {
    const volume = createMemoryVolume();
    const store = await open(createMemoryAdapter({ volume }), { durability: 'none', reads: 'durable' });
    await store.saveTask(task('a'));
    expect(store.health().pendingWrites).toBe(1);
    const journalBefore = volume.journalLength;
    expect((await store.getTask('a'))?.id).toBe('a');
    expect(store.health().pendingWrites).toBe(0);
    expect(volume.journalLength).toBeGreaterThan(journalBefore);
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.getTask('a'))?.id).toBe('a');
  });

  it('while persistence fails, a read that saw an undurable write rejects with a PersistenceError; once a retry succeeds it resolves', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write', reads: 'durable', retry: { minMs: 10, maxMs: 20 } });
    adapter.fail('append', ioError('ENOSPC'));
    await expect(store.saveTask(task('f'))).rejects.toBeInstanceOf(PersistenceError);
    const refused = await store.getTask('f').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PersistenceError);
    expect((refused as Error).message).toMatch(/not durable.*reads: 'durable'/);
    adapter.heal();
    await vi.waitFor(() => expect(store.health().state).toBe('ok'), { timeout: 3000 });
    expect((await store.getTask('f'))?.id).toBe('f');
  });

  it('a transaction starts once every write before it is durable, so its reads see only those and its own', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write', reads: 'durable' });
    adapter.hold('append');
    const write = store.saveTask(task('pending'));
    let ran = false;
    const tx = store.transaction(async (t) => {
      ran = true;
      return (await t.getTask('pending'))?.id;
    });
    expect(await settledSoon(tx)).toBe(false);
    expect(ran).toBe(false);
    adapter.release();
    await write;
    expect(await tx).toBe('pending');
  });

  it('is validated', async () => {
    await expect(openStore({ reads: 'fast' as never })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('a write rejected by a failed flush (PersistenceError.applied)', () => {
  it('says it was applied and will be persisted: the caller waits with flush() instead of repeating it, and gets one audit row', async () => {
    const volume = createMemoryVolume();
    const adapter = faultyAdapter(createMemoryAdapter({ volume }));
    const store = await open(adapter, { durability: 'write', retry: { minMs: 10, maxMs: 20 } });
    adapter.fail('append', ioError('EIO'));
    const error = await store.appendAudit({ userId: 'U1', action: 'approval_denied', result: 'denied' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ applied: true, reason: 'EIO' });
    expect((error as Error).message).toMatch(/do not repeat the write: store\.flush\(\) resolves once it is durable/);
    // Refused up front while degraded: nothing was applied, so this one is safe to repeat.
    const refused = await store.appendAudit({ userId: 'U1', action: 'refused', result: 'x' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ applied: false });
    await expect(store.flush()).rejects.toBeInstanceOf(PersistenceError);
    adapter.heal();
    await vi.waitFor(() => store.flush(), { timeout: 3000 });
    crash(volume);
    const again = await open(createMemoryAdapter({ volume }));
    expect((await again.listAudit()).map((e) => e.action)).toEqual(['approval_denied']);
  });
});
