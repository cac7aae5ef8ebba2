/**
 * The sql.js engine's export in steps (SQLite's online backup into memory the engine owns): the
 * image holds every commit made between the steps, the bookkeeping statements land in the copy
 * only, and it refuses to step inside a transaction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSqlJsEngine, TransactionError, type SqlJsEngine } from '../../src/index.js';

const engines: SqlJsEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

async function engineWithRows(rows: number): Promise<SqlJsEngine> {
  const engine = await createSqlJsEngine();
  engines.push(engine);
  engine.runSync('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  engine.runSync('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  engine.batchSync(Array.from({ length: rows }, (_, i) => ({ sql: 'INSERT INTO t (v) VALUES (?)', params: [`${'x'.repeat(1000)}${i}`] })));
  return engine;
}

const CONTENT = 'SELECT count(*) AS n, sum(length(v)) AS bytes, sum(id) AS ids, group_concat(substr(v, 1001), \',\') AS tails FROM t';

describe('export in steps (sql.js)', () => {
  it('holds every commit made between its steps; the statements it completes with go into the copy only', async () => {
    const engine = await engineWithRows(3000);
    const exported = engine.beginImageExport();
    expect(exported).toBeDefined();
    let image: Uint8Array | undefined;
    let steps = 0;
    let completions = 0;
    while (!(image = exported?.step(50, () => (completions++, [{ sql: "INSERT INTO meta (key, value) VALUES ('k', 'v')" }])))) {
      steps++;
      // Pages already copied and pages not yet: updates, inserts and deletes through the engine.
      engine.runSync('UPDATE t SET v = ? WHERE id = ?', [`changed ${steps}`, (steps * 37) % 3000 + 1]);
      engine.runSync('INSERT INTO t (v) VALUES (?)', [`new ${steps}`]);
      engine.runSync('DELETE FROM t WHERE id = ?', [(steps * 53) % 3000 + 1]);
    }
    expect(steps).toBeGreaterThan(10);
    expect(completions).toBe(1);
    const copy = await createSqlJsEngine({ image });
    engines.push(copy);
    expect(copy.allSync(CONTENT)).toEqual(engine.allSync(CONTENT));
    expect(copy.allSync('SELECT key, value FROM meta')).toEqual([{ key: 'k', value: 'v' }]);
    expect(engine.allSync('SELECT key, value FROM meta')).toEqual([]);
    expect(copy.allSync('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    // The image is a plain SQLite file, as long as its header says.
    expect(new TextDecoder().decode(image.subarray(0, 15))).toBe('SQLite format 3');
    expect(new DataView(image.buffer, image.byteOffset).getUint32(28) * 4096).toBe(image.length);
  });

  it('refuses a step inside an open transaction, and goes on after it ends', async () => {
    const engine = await engineWithRows(200);
    const exported = engine.beginImageExport();
    let stepped: unknown;
    await engine.transaction(async (port) => {
      await port.run('INSERT INTO t (v) VALUES (?)', ['in the transaction']);
      try {
        exported?.step(10, () => []);
      } catch (e) {
        stepped = e;
      }
    });
    expect(stepped).toBeInstanceOf(TransactionError);
    // The export goes on once the transaction ended, and holds what it committed.
    let image: Uint8Array | undefined;
    while (!(image = exported?.step(10, () => [])));
    const copy = await createSqlJsEngine({ image });
    engines.push(copy);
    expect(copy.allSync('SELECT count(*) AS n FROM t')).toEqual([{ n: 201 }]);
  });

  it('several at once, each complete; abort and close free them', async () => {
    const engine = await engineWithRows(300);
    const first = engine.beginImageExport();
    first?.step(5, () => []);
    const second = engine.beginImageExport();
    engine.runSync('INSERT INTO t (v) VALUES (?)', ['between']);
    let a: Uint8Array | undefined;
    let b: Uint8Array | undefined;
    while (!a || !b) {
      a ??= first?.step(7, () => []);
      b ??= second?.step(11, () => []);
    }
    for (const image of [a, b]) {
      const copy = await createSqlJsEngine({ image });
      engines.push(copy);
      expect(copy.allSync('SELECT count(*) AS n FROM t')).toEqual([{ n: 301 }]);
    }
    const third = engine.beginImageExport();
    third?.abort();
    expect(() => third?.step(1, () => [])).toThrow();
    engine.beginImageExport()?.step(1, () => []);
    await engine.close();
    engines.splice(engines.indexOf(engine), 1);
  });
});
