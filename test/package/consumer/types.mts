// moduleResolution node16, an ES module: every subpath's types, the import conditions.
import { createFileAdapter } from '@platform-agent/store/adapters/fs';
import { createIndexedDbAdapter } from '@platform-agent/store/adapters/indexeddb';
import { createKvAdapter } from '@platform-agent/store/adapters/kv';
import { createMemoryAdapter } from '@platform-agent/store/adapters/memory';
import { openStore as openInBrowser } from '@platform-agent/store/browser';
import { createD1Engine } from '@platform-agent/store/engines/d1';
import { describe, everyCode } from './types-common.js';

export const used = [createFileAdapter, createIndexedDbAdapter, createKvAdapter, createMemoryAdapter, openInBrowser, createD1Engine, describe, everyCode];
