/**
 * The whole API suite on the node:sqlite engine, the same one that runs on sql.js and D1, with
 * interactive transactions: every store on a new real file in WAL mode, every write durable
 * (synchronous=FULL) when it resolves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { existsSync, readFileSync } from 'node:fs';
import { CorruptDatabaseError, openStore } from '../../src/index.js';
import { defineApiSuite } from '../api/suite.js';
import { tempDir } from '../helpers/go-schema.js';
import { DatabaseSync } from './sqlite.js';

const dir = tempDir('pa-api-node-sqlite-');
afterAll(() => dir.remove());
let n = 0;
defineApiSuite('node:sqlite (a file in WAL mode)', (clock) => openStore({ clock, engine: createNodeSqliteEngine({ path: dir.file(`db-${n++}.db`) }) }));

describe("the node:sqlite engine's allReadOnly (store.query runs through it)", () => {
  it('a write fails inside SQLite and changes nothing, every time; query_only is undone after each query, and writes work again', async () => {
    const engine = createNodeSqliteEngine({ path: dir.file('read-only-query.db') });
    await engine.run('CREATE TABLE t (id TEXT PRIMARY KEY)');
    await engine.run("INSERT INTO t VALUES ('a')");
    for (let i = 0; i < 3; i++) {
      await expect(engine.allReadOnly("INSERT INTO t VALUES ('b') RETURNING id")).rejects.toThrow(/readonly/i);
      await expect(engine.allReadOnly('DELETE FROM t RETURNING id')).rejects.toThrow(/readonly/i);
      expect(await engine.allReadOnly('SELECT count(*) AS n FROM t')).toEqual([{ n: 1 }]);
      expect(await engine.all('PRAGMA query_only')).toEqual([{ query_only: 0 }]);
    }
    await engine.run("INSERT INTO t VALUES ('b')");
    expect(await engine.all('SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }]);
    await engine.close();

    const reader = createNodeSqliteEngine({ path: dir.file('read-only-query.db'), readOnly: true });
    expect(await reader.allReadOnly('SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }]);
    expect(await reader.all('PRAGMA query_only')).toEqual([{ query_only: 1 }]);
    await reader.close();
  });
});

describe("another program's SQLite database on the node:sqlite engine", () => {
  it('is refused with CORRUPT (NOT_AGENT_DATABASE) by a writer and a reader, before anything changes it (no WAL switch, no -wal or -shm)', async () => {
    const path = dir.file('recipes.db');
    const other = new DatabaseSync(path);
    other.exec("CREATE TABLE recipes (name TEXT NOT NULL); INSERT INTO recipes VALUES ('soup')");
    other.close();
    const before = readFileSync(path);
    for (const readOnly of [false, true]) {
      const error = await openStore({ engine: createNodeSqliteEngine({ path, ...(readOnly ? { readOnly } : {}) }) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `readOnly ${readOnly}`).toBeInstanceOf(CorruptDatabaseError);
      expect((error as CorruptDatabaseError).reason).toBe('NOT_AGENT_DATABASE');
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(existsSync(`${path}-wal`) || existsSync(`${path}-shm`)).toBe(false);
    }
  });
});
