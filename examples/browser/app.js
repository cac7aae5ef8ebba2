// The store in a plain <script type="module"> page: dist/browser.js holds the store, the IndexedDB
// adapter and sql.js; dist/sql-wasm.wasm is fetched from beside it (never from a CDN).
// In your site, copy both files from node_modules/@platform-agent/store/dist/.
import { openStore, createIndexedDbAdapter, LockError } from '../../dist/browser.js';

const $ = (id) => document.getElementById(id);

const store = await openStore({
  wasm: new URL('../../dist/sql-wasm.wasm', import.meta.url),
  adapter: createIndexedDbAdapter({ name: 'example-agent' }),
  // Another tab owns the database: read its commits as they land, take over when it closes.
  whenLocked: 'follow',
  onChange: () => render(),
});
// For the console (and the browser tests): `agentStore.listTasks()`.
globalThis.agentStore = store;

async function render() {
  $('role').textContent = store.role === 'owner' ? 'writer' : 'follower (another tab writes)';
  $('add').disabled = store.role !== 'owner';
  const tasks = await store.listTasks({ limit: 20 });
  // textContent, never innerHTML: values from the database are shown as text.
  $('tasks').replaceChildren(
    ...tasks.map((task) => {
      const li = document.createElement('li');
      li.textContent = `${task.id}  ${task.command}  ${task.status}  ${new Date(task.createdAt).toLocaleTimeString()}`;
      return li;
    }),
  );
  const health = store.health();
  $('status').textContent = `${health.state}, ${health.lastSequence} writes`;
}

$('add').addEventListener('click', async () => {
  try {
    // Resolves once the write is durable in IndexedDB.
    await store.saveTask({ id: crypto.randomUUID().slice(0, 8), command: 'deploy', params: { env: 'staging' } });
  } catch (e) {
    $('status').textContent = e instanceof LockError ? 'another tab is the writer' : String(e);
  }
  await render();
});

// A follower becomes the writer when the writing tab closes.
store.owned().then(render, () => {});
addEventListener('pagehide', () => store.close());
await render();
document.body.dataset.ready = 'true';
