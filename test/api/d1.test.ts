/**
 * The whole API suite on Cloudflare D1: real D1 (workerd's SQLite) in miniflare, reached from Node
 * through miniflare's D1 binding proxy, the same suite that runs on sql.js. D1 has no interactive
 * transactions, so the suite checks that `transaction()` is refused instead.
 */
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createD1Engine, type D1DatabaseLike } from '../../engines/d1.js';
import { openStore, SCHEMA_VERSION, SqlError } from '../../src/index.js';
import { COMPATIBILITY_DATE } from '../edge/workers.js';
import { defineApiSuite } from './suite.js';

let mf: Miniflare;
let db: D1DatabaseLike;

beforeAll(async () => {
  mf = new Miniflare({ modules: true, script: 'export default { fetch() { return new Response(null, { status: 404 }); } };', d1Databases: ['DB'], compatibilityDate: COMPATIBILITY_DATE });
  db = (await mf.getD1Database('DB')) as unknown as D1DatabaseLike;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

/** Every test starts from an empty database: the store's tables are dropped (D1's own stay). */
async function emptied(): Promise<D1DatabaseLike> {
  const { results } = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all();
  const tables = (results ?? []).map((row) => String((row as { name: unknown }).name));
  if (tables.length > 0) await db.batch(tables.map((name) => db.prepare(`DROP TABLE "${name.replaceAll('"', '""')}"`)));
  return db;
}

defineApiSuite('Cloudflare D1 (miniflare)', async (clock) => openStore({ engine: createD1Engine(await emptied()), clock }), { transactions: false, vacuum: false });

describe('the D1 engine', () => {
  it('runs the migrations on D1: the schema version is recorded, and a second open changes nothing', async () => {
    const store = await openStore({ engine: createD1Engine(await emptied()) });
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    await store.close();
    const { results } = await db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").all();
    expect(results).toEqual([{ value: String(SCHEMA_VERSION) }]);
    const again = await openStore({ engine: createD1Engine(db) });
    expect((await again.getTask('t1'))?.id).toBe('t1');
    expect(again.health()).toMatchObject({ state: 'ok', durability: 'write', journal: false });
    await expect(again.exportImage()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(again.checkpoint()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await again.close();
  });

  it("a D1 database with the application's own tables (and wrangler's d1_migrations): the store adds its tables beside them and leaves theirs alone", async () => {
    const d1 = await emptied();
    await d1.batch([d1.prepare('CREATE TABLE recipes (name TEXT NOT NULL)'), d1.prepare("INSERT INTO recipes VALUES ('soup')"), d1.prepare('CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY, name TEXT)')]);
    const store = await openStore({ engine: createD1Engine(d1) });
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    await store.close();
    const { results } = await d1.prepare('SELECT name FROM recipes').all();
    expect(results).toEqual([{ name: 'soup' }]);
    expect((await d1.prepare('SELECT id FROM tasks').all()).results).toEqual([{ id: 't1' }]);
  });

  it("D1's own errors reach the caller as the store's SqlError (a value over D1's size limit), and change nothing", async () => {
    const store = await openStore({ engine: createD1Engine(await emptied()) });
    await store.saveTask({ id: 'small', command: 'deploy', params: {} });
    const error = await store.saveTask({ id: 'huge', command: 'deploy', params: { blob: 'x'.repeat(3 * 1024 * 1024) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqlError);
    expect((error as SqlError).code).toBe('SQL');
    expect((error as SqlError).message).toMatch(/D1 statement failed/);
    expect((await store.listTasks()).map((t) => t.id)).toEqual(['small']);
    await store.close();
  });

  it('refuses options that belong to sql.js and adapters, and a binding that is not one', async () => {
    const engine = createD1Engine(db);
    await expect(openStore({ engine, wasm: new Uint8Array(8) })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(openStore({ engine, durability: 'deferred' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(openStore({ engine, flushIntervalMs: 10 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(openStore({ engine, whenLocked: 'follow' })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/engine option/) });
    await expect(openStore({ engine, onWarning: 'x' as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    // The defaults themselves are fine.
    const store = await openStore({ engine, readOnly: false, whenLocked: 'fail' });
    await store.close();
    expect(() => createD1Engine({} as D1DatabaseLike)).toThrow(TypeError);
  });
});
