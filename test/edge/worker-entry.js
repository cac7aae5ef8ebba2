// A Worker on the package's own dist (bundled by test/edge/workerd.test.ts from the package's name,
// so through its exports map), run in workerd. Plain JavaScript: on a fresh clone the typecheck runs
// before dist/ (and so the package's own types) exists.
import { openStore } from '@platform-agent/store';
import { createKvAdapter } from '@platform-agent/store/adapters/kv';
import wasm from './sql-wasm.wasm';

/** Cloudflare KV as the adapter's key-value store: three lines. */
function kvOf(env) {
  return { get: (key) => env.KV.get(key, 'arrayBuffer'), put: (key, value) => env.KV.put(key, value), delete: (key) => env.KV.delete(key) };
}

/** One request's store on KV: opened, used, closed (the close writes the image). Small chunks, so the image spans several values. */
async function withKvStore(env, use) {
  const store = await openStore({ wasm, adapter: createKvAdapter({ kv: kvOf(env), key: 'agent', chunkBytes: 16 * 1024 }) });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

async function roundTrip() {
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
  async fetch(request, env) {
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
      return Response.json({ ok: false, name: e?.constructor?.name, code: e?.code, message: e?.message }, { status: 500 });
    }
  },
};
