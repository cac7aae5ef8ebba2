// A Worker on the package's own dist (bundled by test/edge/workerd.test.ts), run in workerd.
import { openStore, type StoreError } from '@platform-agent/store';
import wasm from './sql-wasm.wasm';

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
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
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
