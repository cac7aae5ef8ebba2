// The agent's store on Cloudflare D1: the same schema and queries, on D1's replicated SQLite, for
// deployments where several Worker instances share one store. `npx wrangler dev` in this folder runs
// it locally (see wrangler.toml); the tests run it in workerd through miniflare.
import { openStore } from '@platform-agent/store';
import { createD1Engine } from '@platform-agent/store/engines/d1';

export default {
  async fetch(request, env) {
    // No sql.js and no WASM here: D1 runs the SQL. Opening runs the migrations (once: later opens
    // find the schema in place).
    const store = await openStore({ engine: createD1Engine(env.DB) });
    try {
      const url = new URL(request.url);
      if (request.method === 'POST' && url.pathname === '/tasks') {
        const { id, command, params } = await request.json();
        return Response.json(await store.saveTask({ id, command, params: params ?? {} }), { status: 201 });
      }
      if (request.method === 'POST' && url.pathname.startsWith('/tasks/') && url.pathname.endsWith('/complete')) {
        const id = decodeURIComponent(url.pathname.slice('/tasks/'.length, -'/complete'.length));
        await store.completeTask(id, await request.json());
        return Response.json(await store.getTask(id));
      }
      if (request.method === 'GET' && url.pathname === '/tasks') {
        return Response.json(await store.listTasks({ limit: 50 }));
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      const status = e.code === 'VALIDATION' ? 400 : e.code === 'NOT_FOUND' ? 404 : 500;
      return Response.json({ error: e.code ?? 'ERROR', message: e.message }, { status });
    } finally {
      await store.close();
    }
  },
};
