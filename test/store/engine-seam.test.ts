/**
 * The engine seam: `openStore({ adapter, engine })` runs the store on the embedded engine it is
 * given (sql.js by default), opening it on what the adapter loaded; an engine with its own storage
 * takes no adapter.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { createSqlJsEmbeddedEngine, isEmbeddedEngine, openStore, UnsupportedError, ValidationError, type EmbeddedEngine, type EmbeddedOpenOptions } from '../../src/index.js';
import { crash } from '../helpers/stores.js';

/** sql.js behind a wrapper that records what the store asked it to open. */
function recording(): EmbeddedEngine & { opens: EmbeddedOpenOptions[] } {
  const inner = createSqlJsEmbeddedEngine();
  const opens: EmbeddedOpenOptions[] = [];
  return {
    embedded: true,
    name: 'recording sql.js',
    opens,
    open(options) {
      opens.push(options);
      return inner.open(options);
    },
  };
}

describe('an embedded engine given to openStore', () => {
  it('is opened on the adapter state (none for a new database, the image and its memory after a checkpoint) and journals as sql.js does', async () => {
    const volume = createMemoryVolume();
    const engine = recording();
    const store = await openStore({ adapter: createMemoryAdapter({ volume }), engine, durability: 'write', onWarning: () => undefined });
    expect(engine.opens).toEqual([{}]);
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    expect(volume.journalLength).toBeGreaterThan(0);
    crash(volume);
    const again = await openStore({ adapter: createMemoryAdapter({ volume }), engine, onWarning: () => undefined });
    expect(engine.opens).toHaveLength(2);
    expect(engine.opens[1]?.image?.byteLength).toBe(volume.image?.byteLength);
    expect((await again.getTask('t1'))?.id).toBe('t1');
    await again.close();
  });

  it('is told apart from an engine with its own storage', () => {
    expect(isEmbeddedEngine(createSqlJsEmbeddedEngine())).toBe(true);
    expect(isEmbeddedEngine({ name: 'D1', run: async () => ({ changes: 0 }), all: async () => [], batch: async () => [], close: async () => {} })).toBe(false);
  });

  it("refuses the default engine's options beside it, and anything that is neither kind", async () => {
    const wasm = await openStore({ engine: createSqlJsEmbeddedEngine(), wasm: new Uint8Array(8) }).catch((e: unknown) => e);
    expect(wasm).toBeInstanceOf(ValidationError);
    expect((wasm as Error).message).toContain('createSqlJsEmbeddedEngine({ wasm, cacheSizeKiB })');
    await expect(openStore({ engine: { name: 'nothing' } as never })).rejects.toBeInstanceOf(ValidationError);
  });

  it('an engine that fails to open fails the open, and leaves the adapter free for the next one', async () => {
    const volume = createMemoryVolume();
    const failing: EmbeddedEngine = {
      embedded: true,
      name: 'failing',
      open: async () => {
        throw new UnsupportedError('this engine cannot open here');
      },
    };
    await expect(openStore({ adapter: createMemoryAdapter({ volume }), engine: failing })).rejects.toBeInstanceOf(UnsupportedError);
    expect(volume.owner).toBeUndefined();
    const store = await openStore({ adapter: createMemoryAdapter({ volume }) });
    await store.close();
  });
});
