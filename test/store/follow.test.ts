/**
 * The follow mode (`whenLocked: 'follow' | 'wait'`) on adapters driven by hand over a memory volume,
 * so the timing the IndexedDB adapter never produces on its own (a message and the lock in one
 * task, loads that fail, a slow first checkpoint) can be arranged. The IndexedDB adapter runs the
 * same mode in test/adapters/indexeddb.test.ts and in Chromium.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryAdapter, createMemoryVolume, type MemoryVolume } from '../../adapters/memory.js';
import { openStore, type PersistenceAdapter, type Store, type StoreWarning } from '../../src/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A channel between the adapters of one volume: what one publishes, the others hear. */
function createBus() {
  const listeners = new Set<(message: unknown) => void>();
  return {
    listeners,
    publish(from: (message: unknown) => void, message: unknown) {
      for (const listener of listeners) if (listener !== from) listener(message);
    },
  };
}

interface HandAdapter extends PersistenceAdapter {
  /** How many more load() calls fail. */
  failLoads: number;
  /** While true, append() fails (a full disk). */
  failAppends: boolean;
  loads: number;
  /** Set to hold checkpoint() until it is resolved. */
  holdCheckpoint: Promise<void> | undefined;
  /** Hands ownership over by hand (waitForLock waits for this instead of polling). */
  grant?: () => void;
}

/**
 * The memory adapter plus the follow capabilities: `waitForLock` polls the volume's owner (or, with
 * `manualGrant`, waits for `grant()`), `publish`/`subscribe` go through `bus`.
 */
function handAdapter(volume: MemoryVolume, bus: ReturnType<typeof createBus>, options: { manualGrant?: boolean } = {}): HandAdapter {
  const base = createMemoryAdapter({ volume });
  let mine: ((message: unknown) => void) | undefined;
  const adapter: HandAdapter = {
    ...base,
    failLoads: 0,
    failAppends: false,
    loads: 0,
    async append(bytes, at) {
      if (adapter.failAppends) throw Object.assign(new Error('simulated full disk'), { code: 'ENOSPC' });
      return base.append?.(bytes, at);
    },
    holdCheckpoint: undefined,
    async load() {
      adapter.loads++;
      if (adapter.failLoads > 0) {
        adapter.failLoads--;
        throw Object.assign(new Error('simulated load failure'), { code: 'EIO' });
      }
      return base.load();
    },
    async checkpoint(image) {
      const copy = image.slice();
      await adapter.holdCheckpoint;
      return base.checkpoint(copy);
    },
    async waitForLock(signal) {
      if (options.manualGrant) {
        await new Promise<void>((resolve, reject) => {
          adapter.grant = resolve;
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      } else {
        while (volume.owner !== undefined) {
          if (signal.aborted) throw signal.reason;
          await sleep(2);
        }
      }
      await base.lock();
    },
    publish(message) {
      bus.publish(mine ?? (() => {}), message);
    },
    subscribe(listener) {
      mine = listener;
      bus.listeners.add(listener);
      return () => bus.listeners.delete(listener);
    },
  };
  return adapter;
}

const task = (id: string, v = id) => ({ id, command: 'deploy', params: { v } });

describe('following another owner (hand-driven adapters)', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  });
  const track = (store: Store): Store => {
    stores.push(store);
    return store;
  };

  it('a message and the lock arriving in one task: the follower still takes over and runs the queued write', async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    const owner = track(await openStore({ adapter: handAdapter(volume, bus), durability: 'write' }));
    await owner.saveTask(task('t1'));
    const adapter = handAdapter(volume, bus, { manualGrant: true });
    const follower = track(await openStore({ adapter, whenLocked: 'wait' }));
    let landed = false;
    void follower.saveTask(task('queued')).then(() => (landed = true));
    await owner.close();
    await until(() => adapter.grant !== undefined, 'the follower to wait for the lock');
    // One task: a last message, then the lock.
    for (const listener of bus.listeners) listener({ kind: 'pa-store/image', sequence: 0 });
    adapter.grant?.();
    await until(() => landed, 'the queued write');
    expect(follower.role).toBe('owner');
    expect((await follower.listTasks()).map((t) => t.id).sort()).toEqual(['queued', 't1']);
  });

  it("'wait': writes queued before the takeover land before writes made during it (a slow first checkpoint, a write from onChange)", async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    // The owner never checkpoints (it dies first): the follower's takeover writes the first image.
    const ownerAdapter = handAdapter(volume, bus);
    ownerAdapter.holdCheckpoint = new Promise(() => {});
    const ownerOpening = openStore({ adapter: ownerAdapter, durability: 'write' }).catch(() => undefined);
    await until(() => volume.owner !== undefined, 'the owner to lock');
    const adapter = handAdapter(volume, bus);
    let release!: () => void;
    adapter.holdCheckpoint = new Promise<void>((resolve) => (release = resolve));
    let fromOnChange: Promise<unknown> | undefined;
    const follower = track(
      await openStore({
        adapter,
        whenLocked: 'wait',
        onChange: () => {
          if (follower.role === 'owner') fromOnChange ??= follower.saveTask(task('x', 'from onChange'));
        },
      }),
    );
    const first = follower.saveTask(task('x', 'issued first'));
    volume.owner = undefined; // the owner's tab died (its open never finished)
    void ownerOpening;
    await until(() => follower.health().state === 'following' && adapter.loads >= 2, 'the takeover to load');
    const during = follower.saveTask(task('y', 'during the checkpoint'));
    release();
    await Promise.all([first, during]);
    await until(() => fromOnChange !== undefined, 'onChange after the takeover');
    await fromOnChange;
    expect((await follower.getTask('x'))?.params).toEqual({ v: 'from onChange' });
    expect((await follower.getTask('y'))?.params).toEqual({ v: 'during the checkpoint' });
  });

  it('loads that fail while following and while taking over are retried apart; the follower still takes over', async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    const owner = track(await openStore({ adapter: handAdapter(volume, bus), durability: 'write' }));
    await owner.saveTask(task('before'));
    const adapter = handAdapter(volume, bus);
    const warnings: StoreWarning[] = [];
    const follower = track(await openStore({ adapter, whenLocked: 'wait', onWarning: (w) => warnings.push(w), retry: { minMs: 5, maxMs: 40 } }));
    let landed = false;
    void follower.saveTask(task('queued')).then(() => (landed = true));
    adapter.failLoads = 4;
    // A message the follower cannot place: it reloads, and the reload fails.
    for (const listener of bus.listeners) listener({ kind: 'pa-store/image', sequence: 99 });
    await owner.close(); // ownership comes while loads still fail: the takeover fails and retries
    await until(() => landed, 'the queued write after the takeover');
    expect(follower.role).toBe('owner');
    expect(warnings.filter((w) => w.code === 'FOLLOW').length).toBeGreaterThanOrEqual(2);
    expect((await follower.listTasks()).map((t) => t.id).sort()).toEqual(['before', 'queued']);
  });

  it('a follower sees only what is durable: a write whose append failed reaches it once a retry persisted it', async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    const ownerAdapter = handAdapter(volume, bus);
    const owner = track(await openStore({ adapter: ownerAdapter, durability: 'write', onWarning: () => {}, retry: { minMs: 5, maxMs: 10 } }));
    const follower = track(await openStore({ adapter: handAdapter(volume, bus), whenLocked: 'follow' }));
    await owner.saveTask(task('durable'));
    await until(() => follower.health().lastSequence === 1, 'the durable write');
    ownerAdapter.failAppends = true;
    const failed = await owner.saveTask(task('not yet')).catch((e: { reason?: string }) => e.reason);
    expect(failed).toBe('ENOSPC');
    // The bus delivers synchronously: had the owner published before its append, the follower
    // would hold the write by now.
    await sleep(20);
    expect(await follower.getTask('not yet')).toBeUndefined();
    expect(follower.health().lastSequence).toBe(1);
    ownerAdapter.failAppends = false; // the owner's retry persists it; then it is published
    await until(() => follower.health().lastSequence === 2, 'the write once durable');
    expect((await follower.getTask('not yet'))?.id).toBe('not yet');
  });

  it('an onChange that throws breaks nothing: no reloads, no warnings, commits still followed', async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    const owner = track(await openStore({ adapter: handAdapter(volume, bus), durability: 'write' }));
    const adapter = handAdapter(volume, bus);
    const warnings: StoreWarning[] = [];
    let calls = 0;
    const follower = track(
      await openStore({
        adapter,
        whenLocked: 'follow',
        onWarning: (w) => warnings.push(w),
        onChange: () => {
          calls++;
          throw new Error('a listener bug');
        },
      }),
    );
    for (const id of ['a', 'b', 'c']) await owner.saveTask(task(id));
    await until(() => calls >= 3, 'onChange per commit');
    await sleep(50);
    expect(adapter.loads).toBe(1); // the open's, and no reload since
    expect(warnings).toEqual([]);
    expect((await follower.listTasks()).map((t) => t.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it("close() of a 'wait' follower rejects the writes still waiting for ownership with CLOSED, and releases everything", async () => {
    const volume = createMemoryVolume();
    const bus = createBus();
    const owner = track(await openStore({ adapter: handAdapter(volume, bus), durability: 'write' }));
    const follower = await openStore({ adapter: handAdapter(volume, bus), whenLocked: 'wait' });
    const waiting = follower.saveTask(task('never')).catch((e: { code?: string }) => e.code);
    await follower.close();
    expect(await waiting).toBe('CLOSED');
    expect(bus.listeners.size).toBe(0);
    await owner.saveTask(task('owner goes on'));
    expect(volume.owner).toBeDefined();
  });
});
