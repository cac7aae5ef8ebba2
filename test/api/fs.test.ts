import { afterAll } from 'vitest';
import { createFileAdapter } from '../../adapters/fs.js';
import { openStore } from '../../src/index.js';
import { tempDir } from '../helpers/go-db.js';
import { defineApiSuite } from './suite.js';

// The same API suite on a real file, every write durable before it resolves (journal + fdatasync).
const dir = tempDir('pa-api-fs-');
afterAll(() => dir.remove());
let n = 0;
defineApiSuite('sql.js (fs adapter, durability write)', (clock) => openStore({ clock, adapter: createFileAdapter({ path: dir.file(`db-${n++}.db`) }) }));
