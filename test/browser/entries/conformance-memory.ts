// The adapter conformance suite on the memory adapter, in Chromium.
import { beforeAll } from 'vitest';
import { loadSqlJs } from '../../../src/index.js';
import { defineMemoryConformance } from '../../adapters/memory-conformance.js';

// The suite makes its SQLite images with createSqlJsEngine(), which takes no wasm option: sql.js
// loads once per page, so loading it from the server first is what makes those calls work here.
beforeAll(async () => {
  await loadSqlJs('/sql-wasm.wasm');
});

defineMemoryConformance('memory, in Chromium');
