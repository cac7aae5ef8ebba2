/**
 * The whole API suite on the node:sqlite engine, the same one that runs on sql.js and D1, with
 * interactive transactions: every store on a new real file in WAL mode, every write durable
 * (synchronous=FULL) when it resolves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore } from '../../src/index.js';
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

describe("an application's own database on the node:sqlite engine", () => {
  it("the store adds its tables beside the application's (an engine's database may be shared; only an adapter's file is the store's alone)", async () => {
    const path = dir.file('app.db');
    const app = new DatabaseSync(path);
    app.exec("CREATE TABLE recipes (name TEXT NOT NULL); INSERT INTO recipes VALUES ('soup')");
    app.close();
    const store = await openStore({ engine: createNodeSqliteEngine({ path }) });
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    await store.close();
    const after = new DatabaseSync(path, { readOnly: true });
    expect(after.prepare('SELECT name FROM recipes').all()).toEqual([{ name: 'soup' }]);
    expect(after.prepare('SELECT id FROM tasks').all()).toEqual([{ id: 't1' }]);
    after.close();
  });
});
