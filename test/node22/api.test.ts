/**
 * The whole API suite on the node:sqlite engine, the same one that runs on sql.js and D1, with
 * interactive transactions: every store on a new real file in WAL mode, every write durable
 * (synchronous=FULL) when it resolves.
 */
import { afterAll } from 'vitest';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore } from '../../src/index.js';
import { defineApiSuite } from '../api/suite.js';
import { tempDir } from '../helpers/go-schema.js';

const dir = tempDir('pa-api-node-sqlite-');
afterAll(() => dir.remove());
let n = 0;
defineApiSuite('node:sqlite (a file in WAL mode)', (clock) => openStore({ clock, engine: createNodeSqliteEngine({ path: dir.file(`db-${n++}.db`) }) }));
