// A second process on the CLI tests' database, through the built package:
//   writer.mjs <db> hold <n>      saves n tasks, prints "ready", keeps the store open until killed
//   writer.mjs <db> stream        saves a task every few ms, printing each acknowledged id
//   writer.mjs <db> save <json>   saves one task and closes
//   writer.mjs <db> churn         like stream, with a checkpoint every 4 KiB of journal
import { openStore } from '../../dist/index.js';
import { createFileAdapter } from '../../dist/adapters/fs.js';

const [path, mode, arg] = process.argv.slice(2);
const store = await openStore({ adapter: createFileAdapter({ path }), ...(mode === 'churn' ? { checkpointBytes: 4096 } : {}), onWarning: (w) => process.stderr.write(`warning ${w.code}: ${w.message}\n`) });
const task = (id) => ({ id, command: 'deploy', params: { service: 'api', n: id }, callerId: 'U-WRITER' });
if (mode === 'hold') {
  for (let i = 0; i < Number(arg); i++) await store.saveTask(task(`held-${i}`));
  process.stdout.write('ready\n');
  globalThis.setInterval(() => {}, 1 << 30);
} else if (mode === 'stream' || mode === 'churn') {
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    await store.saveTask(task(`stream-${i}`));
    process.stdout.write(`stream-${i}\n`);
    await new Promise((r) => setTimeout(r, 5));
  }
} else if (mode === 'save') {
  await store.saveTask(JSON.parse(arg));
  await store.close();
  process.stdout.write('saved\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
