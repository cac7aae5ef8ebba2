/**
 * `store.query()`'s two guards, each on its own (the API suite checks them together on every
 * engine): the check of the compiled program (`EXPLAIN`), which must catch every write even where
 * the text's check would not, and SQLite's own refusal while the query runs (`allReadOnly`, with
 * `PRAGMA query_only`), which must hold and be undone after each query. And a query is never a
 * write unit: the journal does not grow.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileAdapter } from '../../adapters/fs.js';
import { createSqlJsEngine, openStore } from '../../src/index.js';
import { programWrites, scanSql } from '../../src/query.js';
import { tempDir } from '../helpers/go-schema.js';

const dir = tempDir('pa-query-');
afterAll(() => dir.remove());

async function engineWithTasks() {
  const engine = await createSqlJsEngine();
  await engine.run('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT)');
  await engine.run("INSERT INTO tasks VALUES ('a', 'pending'), ('b', 'failed')");
  return engine;
}

describe('the compiled-program check (EXPLAIN)', () => {
  const writes = [
    "INSERT INTO tasks VALUES ('c', 'x')",
    "UPDATE tasks SET status = 'x'",
    'DELETE FROM tasks',
    "REPLACE INTO tasks VALUES ('a', 'x')",
    "WITH x AS (SELECT 'c' AS id) INSERT INTO tasks (id) SELECT id FROM x",
    'WITH x AS (SELECT 1) DELETE FROM tasks',
    "INSERT INTO tasks VALUES ('c', 'x') RETURNING id",
    'CREATE TABLE evil (a)',
    'CREATE TEMP TABLE evil (a)',
    'CREATE INDEX evil ON tasks(status)',
    'CREATE VIEW evil AS SELECT 1',
    'DROP TABLE tasks',
    'ALTER TABLE tasks ADD COLUMN evil TEXT',
    "ATTACH DATABASE ':memory:' AS other",
    'PRAGMA user_version = 5',
    'VACUUM',
    'ANALYZE',
    'REINDEX',
  ];
  for (const sql of writes) {
    it(`finds that ${sql} writes`, async () => {
      const engine = await engineWithTasks();
      expect(programWrites(engine.allSync(`EXPLAIN ${sql}`))).toEqual(expect.any(String));
      await engine.close();
    });
  }

  it('passes reads, also those whose programs fill temporary b-trees (UNION, IN, ORDER BY, DISTINCT, GROUP BY)', async () => {
    const engine = await engineWithTasks();
    for (const sql of [
      'SELECT * FROM tasks',
      'SELECT id FROM tasks UNION SELECT status FROM tasks',
      "SELECT * FROM tasks WHERE id IN (SELECT id FROM tasks WHERE status = 'failed')",
      'SELECT DISTINCT status FROM tasks ORDER BY status',
      'SELECT status, count(*) FROM tasks GROUP BY status',
      'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n',
      "SELECT json_extract('{\"a\":1}', '$.a')",
    ]) {
      expect(programWrites(engine.allSync(`EXPLAIN ${sql}`)), sql).toBeUndefined();
    }
    await engine.close();
  });
});

describe('the text check', () => {
  it('counts positional parameters as SQLite numbers them, and ignores ; ? and names inside strings and comments', () => {
    expect(scanSql('SELECT ?, ?, ?')).toEqual({ keyword: 'SELECT', parameters: 3 });
    expect(scanSql('SELECT ?3, ?')).toEqual({ keyword: 'SELECT', parameters: 4 });
    expect(scanSql("select '?;' AS \"a;?\" /* ?; */ -- ?;\n")).toEqual({ keyword: 'SELECT', parameters: 0 });
    expect(scanSql("SELECT 'it''s; DELETE' ;;")).toEqual({ keyword: 'SELECT', parameters: 0 });
    expect(() => scanSql("SELECT 'it''s'; DELETE FROM tasks")).toThrow(/more than one statement/);
    expect(() => scanSql('SELECT [load_extension] (1)')).toThrow(/load_extension/);
  });
});

describe("SQLite's own refusal while a query runs (allReadOnly)", () => {
  it('the sql.js engine: a write fails inside SQLite and changes nothing, every time; afterwards writes work again', async () => {
    const engine = await engineWithTasks();
    for (let i = 0; i < 3; i++) {
      await expect(engine.allReadOnly("INSERT INTO tasks VALUES ('c', 'x') RETURNING id")).rejects.toThrow(/readonly/i);
      await expect(engine.allReadOnly('DELETE FROM tasks RETURNING id')).rejects.toThrow(/readonly/i);
      expect(await engine.allReadOnly('SELECT count(*) AS n FROM tasks')).toEqual([{ n: 2 }]);
      expect(engine.allSync('PRAGMA query_only')).toEqual([{ query_only: 0 }]);
    }
    await engine.run("INSERT INTO tasks VALUES ('c', 'x')");
    expect(engine.allSync('SELECT count(*) AS n FROM tasks')).toEqual([{ n: 3 }]);
    await engine.close();
  });

  it('a query on a file store is no write: the journal does not grow, whatever the statement starts with', async () => {
    const path = dir.file('query.db');
    const store = await openStore({ adapter: createFileAdapter({ path }) });
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    const journal = `${path}.pa-journal`;
    const before = statSync(journal).size;
    expect(await store.query('WITH x AS (SELECT id FROM tasks) SELECT id FROM x')).toEqual([{ id: 't1' }]);
    expect(await store.query('VALUES (1)')).toEqual([{ column1: 1 }]);
    await store.flush();
    expect(statSync(journal).size).toBe(before);
    await store.close();
  });
});
