/**
 * The node:sqlite engine on this machine's Node 20, which has no node:sqlite: the module loads, and
 * opening fails at once with a typed UNSUPPORTED error naming the sql.js way, creating nothing. (Its
 * suites run on Node 22: `npm run test:node22`.)
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeSqliteEngine, nodeSqliteAvailable } from '../engines/node-sqlite.js';
import { UnsupportedError, openStore } from '../src/index.js';
import { tempDir } from './helpers/go-schema.js';

const dir = tempDir('pa-node-sqlite-20-');
afterAll(() => dir.remove());

describe('the node:sqlite engine without node:sqlite (Node 20)', () => {
  it('this Node has no node:sqlite', () => {
    expect(process.versions.node.split('.')[0]).toBe('20');
    expect(process.getBuiltinModule('node:sqlite')).toBeUndefined();
    expect(nodeSqliteAvailable()).toBe(false);
  });

  it('openStore rejects at once with UnsupportedError naming the sql.js way, and creates no file', async () => {
    const path = dir.file('agent.db');
    const error = await openStore({ engine: createNodeSqliteEngine({ path }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error).toMatchObject({ code: 'UNSUPPORTED' });
    expect((error as Error).message).toMatch(/^\[@platform-agent\/store\] \[node:sqlite\] node:sqlite is not available in v20\./);
    expect((error as Error).message).toContain('createFileAdapter');
    expect((error as Error).message).toContain('@platform-agent/store/adapters/fs');
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir.dir)).toEqual([]);
  });

  it('so does every call on the engine itself, with the code the store types', async () => {
    const engine = createNodeSqliteEngine({ path: dir.file('direct.db') });
    await expect(engine.all('SELECT 1')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(engine.transaction(async () => 1)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('refuses options that are not options with a TypeError when it is created', () => {
    expect(() => createNodeSqliteEngine({ path: '' })).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({} as never)).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({ path: 'a.db', readOnly: 'yes' as never })).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({ path: 'a.db', busyTimeoutMs: -1 })).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({ path: 'a.db', busyTimeoutMs: 1.5 })).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({ path: 'a.db', immutable: 1 as never, readOnly: true })).toThrow(TypeError);
    expect(() => createNodeSqliteEngine({ path: 'a.db', immutable: true })).toThrow(/immutable needs readOnly: true/);
  });
});
