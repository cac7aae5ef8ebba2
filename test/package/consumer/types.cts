// moduleResolution node16, a CommonJS module: every subpath with a require condition, through its .d.cts.
import { isStoreError, openStore } from '@platform-agent/store';
import { createFileAdapter } from '@platform-agent/store/adapters/fs';
import { createIndexedDbAdapter } from '@platform-agent/store/adapters/indexeddb';
import { createKvAdapter } from '@platform-agent/store/adapters/kv';
import { createMemoryAdapter } from '@platform-agent/store/adapters/memory';
import { createD1Engine } from '@platform-agent/store/engines/d1';

export async function holder(path: string): Promise<string | undefined> {
  try {
    await openStore({ adapter: createFileAdapter({ path }) });
    return undefined;
  } catch (e) {
    return isStoreError(e) && e.code === 'LOCKED' ? e.holder.description : undefined;
  }
}

export const used = [createIndexedDbAdapter, createKvAdapter, createMemoryAdapter, createD1Engine];
