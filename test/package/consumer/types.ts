// moduleResolution bundler: every subpath's types, as Vite, esbuild or webpack users resolve them.
import wasm from '@platform-agent/store/sql-wasm.wasm';
import { createIndexedDbAdapter } from '@platform-agent/store/adapters/indexeddb';
import { createKvAdapter } from '@platform-agent/store/adapters/kv';
import { createMemoryAdapter } from '@platform-agent/store/adapters/memory';
import { createFileAdapter } from '@platform-agent/store/adapters/fs';
import { isStoreError, openStore as openInBrowser } from '@platform-agent/store/browser';
import { createD1Engine } from '@platform-agent/store/engines/d1';
import { describe, everyCode } from './types-common.js';

export function lockedIn(e: unknown): number | undefined {
  return isStoreError(e) && e.code === 'LOCKED' ? e.holder.pid : undefined;
}

export const used = [wasm, createIndexedDbAdapter, createKvAdapter, createMemoryAdapter, createFileAdapter, openInBrowser, createD1Engine, describe, everyCode];
