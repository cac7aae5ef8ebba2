// A Worker on the package's own dist (bundled by test/edge/workerd.test.ts), run in workerd.
import { openStore, type StoreError } from '@platform-agent/store';
import { createKvAdapter, type KeyValueStore } from '@platform-agent/store/adapters/kv';
import wasm from './sql-wasm.wasm';

/** The part of Cloudflare's KV binding this Worker uses. */
interface KvNamespace {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  put(key: string, value: ArrayBuffer | ArrayBufferView): Promise<void>;
  delete(key: string): Promise<void>;
}

interface Env {
  KV: KvNamespace;
}

/** Cloudflare KV as the adapter's key-value store: three lines. */
function kvOf(env: Env): KeyValueStore {
  return { get: (key) => env.KV.get(key, 'arrayBuffer'), put: (key, value) => env.KV.put(key, value), delete: (key) => env.KV.delete(key) };
}

/** One request's store on KV: opened, used, closed (the close writes the image). Small chunks, so the image spans several values. */
async function withKvStore<T>(env: Env, use: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore({ wasm, adapter: createKvAdapter({ kv: kvOf(env), key: 'agent', chunkBytes: 16 * 1024 }) });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

async function roundTrip(): Promise<unknown> {
  const store = await openStore({ wasm });
  try {
    await store.saveTask({ id: 't1', command: 'deploy', params: { env: 'edge' } });
    await store.completeTask('t1', { result: { ok: true } });
    return { task: await store.getTask('t1'), image: (await store.exportImage()).length };
  } finally {
    await store.close();
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      if (path === '/kv/save') {
        const id = url.searchParams.get('id') ?? 'none';
        await withKvStore(env, (store) => store.saveTask({ id, command: 'deploy', params: { at: 'edge' } }));
        return Response.json({ ok: true });
      }
      if (path === '/kv/list') {
        const ids = await withKvStore(env, async (store) => (await store.listTasks()).map((t) => t.id).sort());
        return Response.json({ ok: true, value: ids });
      }
      if (path === '/no-wasm') {
        await openStore();
        return Response.json({ ok: true });
      }
      if (path === '/round-trip') return Response.json({ ok: true, value: await roundTrip() });
      return new Response('not found', { status: 404 });
    } catch (e) {
      const error = e as StoreError;
      return Response.json({ ok: false, name: error.constructor?.name, code: error.code, message: error.message }, { status: 500 });
    }
  },
};
