/**
 * Faults on real files: a full disk (a small tmpfs), a rename that fails, and failures injected
 * through a wrapping adapter. The store degrades, refuses new writes, recovers, and loses nothing
 * that was acknowledged.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createFileAdapter } from '../../adapters/fs.js';
import { openStore, PersistenceError, type PersistenceAdapter, type Store } from '../../src/index.js';
import { faultyAdapter, ioError } from '../helpers/faulty-adapter.js';
import { tempDir } from '../helpers/go-db.js';
import { useSmallDisk } from '../helpers/small-disk.js';

const dir = tempDir('pa-fs-faults-');
afterAll(() => dir.remove());
let n = 0;
const task = (id: string, pad = 0) => ({ id, command: 'deploy', params: { id, pad: 'x'.repeat(pad) } });

/** "Crashes" the store: its adapter lets go of the files; nothing is checkpointed or flushed. */
async function crash(adapter: PersistenceAdapter): Promise<void> {
  await adapter.close();
}

async function idsAfterReopen(path: string): Promise<string[]> {
  const store = await openStore({ adapter: createFileAdapter({ path }), readOnly: true });
  const ids = (await store.listTasks()).map((t) => t.id).sort();
  await store.close();
  return ids;
}

describe('faults on files', () => {
  const smallDisk = useSmallDisk('pa-store-full');

  it('a full disk (ENOSPC, a 1 MiB tmpfs; needs root on Linux) degrades the store; freeing space recovers it; nothing acknowledged is lost', async () => {
    const root = smallDisk();
    const path = join(root, 'agent.db');
    writeFileSync(join(root, 'filler'), new Uint8Array(256 * 1024));
    const adapter = createFileAdapter({ path });
    const store = await openStore({ adapter, durability: 'write', retry: { minMs: 10, maxMs: 50 }, onWarning: () => undefined });
    const acknowledged: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 400 && failure === undefined; i++) {
      await store.saveTask(task(`t${i}`, 6000)).then(
        () => acknowledged.push(`t${i}`),
        (e: unknown) => (failure = e),
      );
    }
    expect(failure).toBeInstanceOf(PersistenceError);
    expect(((failure as PersistenceError).cause as { code?: string }).code).toBe('ENOSPC');
    expect(store.health().state).toBe('degraded');
    await expect(store.saveTask(task('refused'))).rejects.toBeInstanceOf(PersistenceError);
    expect(await store.getTask('refused')).toBeUndefined();
    rmSync(join(root, 'filler'));
    await vi.waitFor(() => expect(store.health().state).toBe('ok'), { timeout: 5000 });
    await store.saveTask(task('after'));
    await crash(adapter);
    const ids = await idsAfterReopen(path);
    for (const id of [...acknowledged, 'after']) expect(ids).toContain(id);
    expect(ids).not.toContain('refused');
    await store.close().catch(() => undefined);
  });

  it('a checkpoint whose rename fails (the image path became a directory) rejects, while writes go on into the journal', async () => {
    const folder = dir.file(`rename-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const adapter = createFileAdapter({ path });
    const warnings: string[] = [];
    const store: Store = await openStore({ adapter, durability: 'write', retry: { minMs: 10, maxMs: 40 }, onWarning: (w) => warnings.push(w.code) });
    await store.saveTask(task('before'));
    renameSync(path, `${path}.aside`);
    mkdirSync(path);
    writeFileSync(join(path, 'occupied'), 'x');
    const error = await store.checkpoint().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersistenceError);
    expect(['EISDIR', 'ENOTEMPTY', 'EEXIST']).toContain(((error as PersistenceError).cause as { code?: string }).code);
    expect(warnings).toContain('CHECKPOINT');
    // Nothing is at risk (the journal holds every write): the store stays writable.
    expect(store.health().state).toBe('ok');
    await store.saveTask(task('during'));
    // The failed checkpoint left no temp file behind.
    expect(readdirSync(folder).filter((f) => f.includes('.pa-tmp-'))).toEqual([]);
    rmSync(path, { recursive: true });
    renameSync(`${path}.aside`, path);
    await store.checkpoint();
    expect(store.health().journalBytes).toBe(0); // the image holds everything; the journal was dropped
    await store.saveTask(task('after'));
    await crash(adapter);
    expect(await idsAfterReopen(path)).toEqual(['after', 'before', 'during']);
    await store.close().catch(() => undefined);
  });

  it('a checkpoint whose rename fails at close keeps the journal, and the next open replays it', async () => {
    const folder = dir.file(`rename-close-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const warnings: string[] = [];
    const store: Store = await openStore({ adapter: createFileAdapter({ path }), durability: 'write', onWarning: (w) => warnings.push(w.code) });
    await store.saveTask(task('kept'));
    renameSync(path, `${path}.aside`);
    mkdirSync(path);
    writeFileSync(join(path, 'occupied'), 'x');
    await store.close();
    expect(warnings).toContain('CHECKPOINT');
    rmSync(path, { recursive: true });
    renameSync(`${path}.aside`, path);
    expect(await idsAfterReopen(path)).toEqual(['kept']);
  });

  it('failures injected into the fs adapter (append EIO, checkpoint EACCES) are survived without loss', async () => {
    const folder = dir.file(`inject-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const inner = createFileAdapter({ path });
    const adapter = faultyAdapter(inner);
    const store = await openStore({ adapter, durability: 'write', checkpointBytes: 2048, retry: { minMs: 5, maxMs: 20 }, onWarning: () => undefined });
    const acknowledged: string[] = [];
    const rejected: string[] = [];
    for (let round = 0; round < 6; round++) {
      if (round === 2) adapter.fail('append', ioError('EIO'), 2);
      if (round === 4) adapter.fail('checkpoint', ioError('EACCES'), 1);
      const ids = Array.from({ length: 8 }, (_, i) => `r${round}-${i}`);
      const results = await Promise.allSettled(ids.map((id) => store.saveTask(task(id, 200))));
      results.forEach((r, i) => (r.status === 'fulfilled' ? acknowledged : rejected).push(ids[i] as string));
      await vi.waitFor(() => expect(store.health().state).toBe('ok'), { timeout: 5000 });
    }
    expect(rejected.length).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(30);
    await crash(inner);
    const ids = await idsAfterReopen(path);
    for (const id of acknowledged) expect(ids).toContain(id);
    // The rejected writes were kept in memory and persisted by the retries.
    for (const id of rejected) expect(ids).toContain(id);
    await store.close().catch(() => undefined);
  });
});
