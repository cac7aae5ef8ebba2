import { describe, expect, it } from 'vitest';
import { createMemoryAdapter } from '../adapters/memory.js';
import { expectSameBytes } from './helpers/bytes.js';
import {
  createSqlJsEngine,
  loadSqlJs,
  SqlJsEngine,
  imageCapacity,
  migrate,
  MIGRATIONS,
  newImageBuffer,
  SCHEMA_VERSION,
  openStore,
  readSchemaVersion,
  SchemaVersionError,
  ValidationError,
  type Migration,
} from '../src/index.js';

describe('the sql.js engine', () => {
  it('vacuum() shrinks the database and opens it again in a buffer with room to grow, its pragmas and rows as before', async () => {
    // An image in a resizable buffer, as the adapters hand it over: the engine grows in place.
    const seed = await createSqlJsEngine();
    seed.execSync('CREATE TABLE big (id INTEGER PRIMARY KEY, pad TEXT); CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id))');
    for (let i = 0; i < 500; i++) seed.runSync('INSERT INTO big (pad) VALUES (?)', ['x'.repeat(4000)]);
    const bytes = seed.exportImageSync();
    await seed.close();
    const image = new Uint8Array(newImageBuffer(imageCapacity(bytes.length)), 0, bytes.length);
    image.set(bytes);
    const engine = await createSqlJsEngine({ image, imageOwned: true, cacheSizeKiB: 4096 });
    expect(engine.growsInPlace).toBe(true);
    engine.runSync('DELETE FROM big WHERE id > 20');
    const pages = (): number => Number(engine.allSync('PRAGMA page_count')[0]?.page_count);
    const before = pages();
    await engine.vacuum();
    expect(pages()).toBeLessThan(before / 4);
    expect(Number(engine.allSync('PRAGMA freelist_count')[0]?.freelist_count)).toBe(0);
    expect(engine.growsInPlace).toBe(true);
    expect(engine.allSync('SELECT count(*) AS n FROM big')).toEqual([{ n: 20 }]);
    expect(engine.allSync('PRAGMA cache_size')).toEqual([{ cache_size: -4096 }]);
    expect(engine.allSync('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    expect(engine.allSync('PRAGMA locking_mode')).toEqual([{ locking_mode: 'exclusive' }]);
    expect(() => engine.runSync('INSERT INTO child (parent) VALUES (42)')).toThrow(/FOREIGN KEY/);
    // Growing again: still in place (without the reopen, sql.js's file system would have copied the
    // file into a larger array, and the buffer would no longer be the file).
    for (let i = 0; i < 700; i++) engine.runSync('INSERT INTO big (pad) VALUES (?)', ['y'.repeat(4000)]);
    expect(pages()).toBeGreaterThan(before);
    expect(engine.growsInPlace).toBe(true);
    expect(engine.allSync('SELECT count(*) AS n FROM big')).toEqual([{ n: 720 }]);
    await engine.close();
  });

  it('exportImage is a complete database: a new store opened on it reads everything back', async () => {
    const store = await openStore({ clock: () => 1_000 });
    await store.saveTask({ id: 't', command: 'c', params: { a: 1 }, result: 'r' });
    await store.saveThreadSession({ channel: 'C', threadTs: '1' });
    const id = await store.appendAudit({ userId: 'U', action: 'a', result: 'ok' });
    const image = await store.exportImage();
    expect(new TextDecoder().decode(image.subarray(0, 15))).toBe('SQLite format 3');
    const copy = await openStore({ adapter: createMemoryAdapter({ image }), clock: () => 2_000 });
    expect(await copy.getTask('t')).toEqual(await store.getTask('t'));
    expect(await copy.getThreadSession('C', '1')).toEqual(await store.getThreadSession('C', '1'));
    // AUTOINCREMENT state travels with the file: new ids never reuse old ones
    expect(await copy.appendAudit({ userId: 'U', action: 'b', result: 'ok' })).toBe(id + 1);
    await copy.close();
    await store.close();
  });

  it('exportImage waits for an open transaction and contains only committed data', async () => {
    const store = await openStore();
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    const tx = store.transaction(async (t) => {
      await t.saveTask({ id: 'in-tx', command: 'c', params: 1 });
      await gate;
      throw new Error('abort');
    });
    await new Promise((r) => setTimeout(r, 5));
    const exported = store.exportImage();
    release();
    await expect(tx).rejects.toThrow('abort');
    const copy = await openStore({ adapter: createMemoryAdapter({ image: await exported }) });
    expect(await copy.listTasks()).toEqual([]);
    await copy.close();
    await store.close();
  });

  it('keeps prepared statements warm and bounded, and frees them on close', async () => {
    const engine = await createSqlJsEngine();
    await migrate(engine);
    engine.runSync('CREATE TABLE t (x)');
    for (let i = 0; i < 1000; i++) engine.runSync('INSERT INTO t VALUES (?)', [i]);
    const warm = engine.cachedStatements;
    for (let i = 0; i < 1000; i++) engine.allSync('SELECT x FROM t WHERE x = ?', [i]);
    expect(engine.cachedStatements).toBe(warm + 1);
    for (let i = 0; i < 600; i++) engine.allSync(`SELECT ${i} AS n`);
    expect(engine.cachedStatements).toBeLessThanOrEqual(256);
    expect(engine.allSync('SELECT count(*) AS n FROM t')[0]?.n).toBe(1000);
    await engine.close();
    expect(engine.cachedStatements).toBe(0);
    expect(() => engine.allSync('SELECT 1')).toThrow(/closed/);
    await engine.close();
  });

  it('reads text stored as a BLOB (as a Go []byte binds) as text', async () => {
    const engine = await createSqlJsEngine();
    await migrate(engine);
    await engine.run(
      "INSERT INTO tasks (id, status, command, params, result, created_at, updated_at) VALUES ('b', 'completed', 'c', CAST(? AS BLOB), CAST(? AS BLOB), 1, 2)",
      ['{"a":[1,"\u00e9"]}', 'plain \uFEFFtext'],
    );
    const image = await engine.exportImage();
    await engine.close();
    const store = await openStore({ adapter: createMemoryAdapter({ image }) });
    expect(await store.getTask('b')).toMatchObject({ params: { a: [1, '\u00e9'] }, result: 'plain \uFEFFtext' });
    await store.close();
  });

  it('SELECT * sees a column added after the statement was first cached', async () => {
    const engine = await createSqlJsEngine();
    engine.runSync('CREATE TABLE t (x)');
    engine.runSync('INSERT INTO t VALUES (1)');
    expect(engine.allSync('SELECT * FROM t')).toEqual([{ x: 1 }]);
    engine.runSync('ALTER TABLE t ADD COLUMN y DEFAULT 2');
    expect(engine.allSync('SELECT * FROM t')).toEqual([{ x: 1, y: 2 }]);
    engine.runSync('ALTER TABLE t RENAME COLUMN x TO z');
    expect(engine.allSync('SELECT * FROM t')).toEqual([{ z: 1, y: 2 }]);
    await engine.close();
  });

  it('a failed statement ends its transaction: nothing more runs in it and nothing commits, even if the error is caught', async () => {
    const engine = await createSqlJsEngine();
    engine.runSync('CREATE TABLE t (x)');
    const error = await engine
      .transaction(async (port) => {
        await port.run('INSERT INTO t VALUES (1)');
        await port.run('INSERT INTO no_such_table VALUES (1)').catch(() => undefined);
        await expect(port.run('INSERT INTO t VALUES (2)')).rejects.toMatchObject({ code: 'TRANSACTION' });
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TRANSACTION', message: expect.stringContaining('nothing was committed') });
    expect(engine.allSync('SELECT count(*) AS n FROM t')).toEqual([{ n: 0 }]);
    await engine.close();
  });

  it('a rollback that fails does not hide the error that caused it', async () => {
    const engine = await createSqlJsEngine();
    engine.runSync('CREATE TABLE t (x)');
    const cause = new Error('the real error');
    await expect(
      engine.transaction(async (port) => {
        await port.run('COMMIT'); // leaves no transaction for the rollback to undo
        throw cause;
      }),
    ).rejects.toBe(cause);
    await expect(engine.run('INSERT INTO t VALUES (1)')).resolves.toEqual({ changes: 1 });
    await engine.close();
  });

  it('a rollback that fails while the transaction is still open closes the engine, discarding it', async () => {
    class StuckRollback extends SqlJsEngine {
      protected rollbackSync(): void {
        throw new Error('rollback failed');
      }
    }
    const SQL = await loadSqlJs();
    const engine = new StuckRollback(new SQL.Database());
    engine.runSync('CREATE TABLE t (x)');
    const cause = new Error('the real error');
    await expect(
      engine.transaction(async (port) => {
        await port.run('INSERT INTO t VALUES (1)');
        throw cause;
      }),
    ).rejects.toBe(cause);
    expect(engine.cachedStatements).toBe(0);
    await expect(engine.run('INSERT INTO t VALUES (2)')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('maps SQLite errors to typed errors', async () => {
    const engine = await createSqlJsEngine();
    await expect(engine.run('INSERT INTO nowhere VALUES (1)')).rejects.toMatchObject({ code: 'SQL', name: 'SqlError' });
    await expect(engine.transaction(async (tx) => engine.transaction(async () => tx))).rejects.toMatchObject({ code: 'TRANSACTION' });
    await engine.close();
  });
});

describe('migrations', () => {
  // A step after the ones this code ships.
  const next = SCHEMA_VERSION + 1;
  const step: Migration = {
    version: next,
    description: 'test: a table and an index',
    statements: ['CREATE TABLE test_extra (id INTEGER PRIMARY KEY, priority INTEGER)', 'CREATE INDEX idx_test_extra_priority ON test_extra(priority)'],
  };

  it('runs each migration once, in order, gated on meta.schema_version', async () => {
    const engine = await createSqlJsEngine();
    expect(await migrate(engine, [...MIGRATIONS, step])).toEqual({ from: 0, to: next });
    expect(await readSchemaVersion(engine)).toBe(next);
    expect(await migrate(engine, [...MIGRATIONS, step])).toEqual({ from: next, to: next });
    const cols = await engine.all("SELECT name FROM pragma_table_info('test_extra') WHERE name = 'priority'");
    expect(cols).toHaveLength(1);
    // Every step ran: v1's tables and v2's.
    for (const table of ['tasks', 'meta', 'task_queue', 'task_history', 'task_idempotency']) {
      expect(await engine.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [table]), table).toHaveLength(1);
    }
    await engine.close();
  });

  it('a failing migration leaves the database at the previous version, with nothing of it applied', async () => {
    const engine = await createSqlJsEngine();
    await migrate(engine);
    const broken: Migration = { version: next, description: 'broken', statements: ['CREATE TABLE test_extra (id INTEGER PRIMARY KEY)', 'CREATE TABLE'] };
    await expect(migrate(engine, [...MIGRATIONS, broken])).rejects.toMatchObject({ code: 'SQL' });
    expect(await readSchemaVersion(engine)).toBe(SCHEMA_VERSION);
    expect(await engine.all("SELECT name FROM sqlite_master WHERE name = 'test_extra'")).toEqual([]);
    await engine.close();
  });

  it('refuses a database newer than the code, and a version that is not a number', async () => {
    for (const version of [String(next), 'v1', '']) {
      const engine = await createSqlJsEngine();
      await migrate(engine);
      await engine.run("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version]);
      const image = await engine.exportImage();
      await engine.close();
      const before = image.slice();
      const error = await openStore({ adapter: createMemoryAdapter({ image }) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect((error as SchemaVersionError).found).toBe(version);
      expect(image).toEqual(before);
    }
  });
});

describe('opening with an adapter', () => {
  it('a failed open closes the adapter and reports the error that stopped it, not a cleanup failure', async () => {
    let closed = 0;
    const adapter = (load: () => Promise<{ image?: Uint8Array }>) => ({
      name: 'test',
      persistent: false,
      load,
      async lock() {},
      async unlock() {},
      async checkpoint() {},
      async close() {
        closed++;
        throw new Error('close failed too');
      },
    });
    await expect(openStore({ adapter: adapter(async () => ({ image: 'bytes' as never })) })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('not a Uint8Array'),
    });
    const loadError = new Error('disk on fire');
    await expect(openStore({ adapter: adapter(() => Promise.reject(loadError)) })).rejects.toMatchObject({ code: 'PERSISTENCE', cause: loadError });
    await expect(openStore({ adapter: adapter(async () => ({ image: new Uint8Array(200) })) })).rejects.toMatchObject({ code: 'CORRUPT' });
    expect(closed).toBe(3);
  });

  it('rejects bad options with a clear error', async () => {
    const clockError = await openStore({ clock: 5 as never }).catch((e: unknown) => e);
    expect(clockError).toBeInstanceOf(ValidationError);
    expect((clockError as ValidationError).issues[0]?.message).toMatch(/clock/);
    const store = await openStore();
    await expect(store.transaction(5 as never)).rejects.toBeInstanceOf(ValidationError);
    await store.close();
    await expect(openStore({ wasm: 42 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(openStore({ cacheSizeKiB: -1 })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('cacheSizeKiB') });
    await expect(openStore(null as never)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('the image the engine opens', () => {
  async function someImage(): Promise<Uint8Array> {
    const store = await openStore();
    for (let i = 0; i < 200; i++) await store.saveTask({ id: `t${i}`, command: 'c', params: { pad: 'x'.repeat(500) } });
    const image = await store.exportImage();
    await store.close();
    return image;
  }

  it("copies the caller's bytes by default: they never change, whatever the engine writes", async () => {
    const image = await someImage();
    const before = image.slice();
    const engine = await createSqlJsEngine({ image });
    engine.runSync("INSERT INTO tasks (id, command, params, status, created_at, updated_at) VALUES ('new', 'c', '{}', 'pending', 1, 1)");
    engine.runSync("UPDATE tasks SET status = 'running'");
    expect(image).toEqual(before);
    await engine.close();
  });

  it('with imageOwned, writes into the given memory (no copy) and grows into its spare capacity', async () => {
    const exported = await someImage();
    const buffer = new ArrayBuffer(exported.byteLength * 2);
    const image = new Uint8Array(buffer, 0, exported.byteLength);
    image.set(exported);
    const engine = await createSqlJsEngine({ image, imageOwned: true });
    engine.runSync("UPDATE tasks SET status = 'running'");
    for (let i = 0; i < 50; i++) {
      engine.runSync("INSERT INTO tasks (id, command, params, status, created_at, updated_at) VALUES (?, 'c', ?, 'pending', 1, 1)", [`n${i}`, 'y'.repeat(400)]);
    }
    // The file grew past the given view, inside the same buffer: the engine's file is that memory.
    const now = engine.exportImageSync();
    expect(now.byteLength).toBeGreaterThan(exported.byteLength);
    const sameMemory = new Uint8Array(buffer, 0, now.byteLength);
    // Page 1's header differs only where SQLite bumps counters; the pages themselves are the file's.
    expect(sameMemory.subarray(100)).toEqual(now.subarray(100));
    expect(engine.allSync("SELECT count(*) AS n FROM tasks WHERE status = 'running'")).toEqual([{ n: 200 }]);
    expect(engine.allSync('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    await engine.close();
  });

  it('in a resizable buffer (newImageBuffer), grows it in place ahead of the database: the file stays in that memory', async () => {
    const exported = await someImage();
    const buffer = newImageBuffer(imageCapacity(exported.byteLength));
    expect(buffer.resizable).toBe(true);
    const capacity = buffer.byteLength;
    const image = new Uint8Array(buffer, 0, exported.byteLength);
    image.set(exported);
    const engine = await createSqlJsEngine({ image, imageOwned: true });
    // Well past the buffer's first capacity (~16 MiB): sql.js's file system would otherwise copy
    // the file into arrays of its own, 1.125x larger each time.
    const pad = 'z'.repeat(3000);
    for (let i = 0; i < 12_000; i++) engine.runSync("INSERT INTO tasks (id, command, params, status, created_at, updated_at) VALUES (?, 'c', ?, 'pending', 1, 1)", [`g${i}`, pad]);
    const pages = Number(engine.allSync('PRAGMA page_count')[0]?.page_count);
    const pageSize = Number(engine.allSync('PRAGMA page_size')[0]?.page_size);
    expect(pages * pageSize).toBeGreaterThan(capacity);
    // Grown in place, with room kept ahead; the header in this memory is the live file's.
    expect(buffer.byteLength).toBeGreaterThanOrEqual(pages * pageSize + 16 * 1024 * 1024);
    expect(new DataView(buffer).getUint32(28)).toBe(pages);
    const now = engine.exportImageSync();
    // Page 1 aside (SQLite bumps counters in it on export), the pages in that memory are the file's.
    expectSameBytes(new Uint8Array(buffer, 4096, now.byteLength - 4096), now.subarray(4096), 'pages after the first');
    expect(engine.allSync('SELECT count(*) AS n FROM tasks')).toEqual([{ n: 12_200 }]);
    expect(engine.allSync('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    await engine.close();
  });

  it('never adopts memory it may share: a Node Buffer (pooled) or a view inside a larger buffer is copied', async () => {
    const exported = await someImage();
    const pooled = Buffer.from(exported);
    const inside = new Uint8Array(new ArrayBuffer(exported.byteLength + 4096), 2048, exported.byteLength);
    inside.set(exported);
    for (const image of [pooled, inside]) {
      const before = Uint8Array.from(new Uint8Array(image.buffer));
      const engine = await createSqlJsEngine({ image, imageOwned: true });
      engine.runSync("UPDATE tasks SET status = 'running'");
      for (let i = 0; i < 20; i++) engine.runSync("INSERT INTO tasks (id, command, params, status, created_at, updated_at) VALUES (?, 'c', '{}', 'pending', 1, 1)", [`m${i}`]);
      expect(new Uint8Array(image.buffer)).toEqual(before);
      await engine.close();
    }
  });
});
