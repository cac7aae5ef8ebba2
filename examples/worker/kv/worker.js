// The agent's store in a Cloudflare Worker, kept in Workers KV through the key-value adapter.
// `npx wrangler dev` in this folder runs it locally (see wrangler.toml); the tests run it in workerd
// through miniflare (test/edge/examples.test.ts).
import { openStore } from '@platform-agent/store';
import { createKvAdapter } from '@platform-agent/store/adapters/kv';
// Workers import a .wasm file as a compiled WebAssembly.Module: the SQLite binary the package ships.
import wasm from '@platform-agent/store/sql-wasm.wasm';

/** Workers KV as the adapter's key-value store. */
const kvOf = (env) => ({
  get: (key) => env.KV.get(key, 'arrayBuffer'),
  put: (key, value) => env.KV.put(key, value),
  delete: (key) => env.KV.delete(key),
});

// KV has no locks: one writer per key is the deployment's job. Within this isolate, requests take
// turns; across isolates (production traffic), put the store behind a Durable Object.
let turn = Promise.resolve();

export default {
  fetch(request, env) {
    const mine = turn.then(() => handle(request, env));
    turn = mine.catch(() => undefined);
    return mine;
  },
};

async function handle(request, env) {
  // KV takes about one write per second per key and is eventually consistent across locations,
  // so the adapter's default durability is 'deferred'. Here each request opens the store and
  // closes it before answering: close() writes everything (one image, a few KV values).
  const store = await openStore({ wasm, adapter: createKvAdapter({ kv: kvOf(env), key: 'agent' }) });
  try {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/tasks') {
      const { id, command, params } = await request.json();
      return Response.json(await store.saveTask({ id, command, params: params ?? {} }), { status: 201 });
    }
    if (request.method === 'GET' && url.pathname === '/tasks') {
      return Response.json(await store.listTasks({ limit: 50 }));
    }
    return new Response('not found', { status: 404 });
  } catch (e) {
    return Response.json({ error: e.code ?? 'ERROR', message: e.message }, { status: e.code === 'VALIDATION' ? 400 : 500 });
  } finally {
    await store.close();
  }
}
