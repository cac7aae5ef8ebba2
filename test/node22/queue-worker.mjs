// A worker process of the multi-process queue tests (Node 22, the built package): opens the store on
// a file with the node:sqlite engine and runs `workers` claim loops. Each prints one line per event,
// written synchronously (so the parent holds it even if a SIGKILL follows):
//   claimed <task> <worker> <fence>   done <task> <worker> <fence>   idle <worker>
// Mode `work` completes every task it claims and stops once nothing is due; mode `hold` claims
// `limit` tasks with a short lease and never completes them (the parent kills it).
import { openStore } from '../../dist/index.js';
import { createNodeSqliteEngine } from '../../dist/engines/node-sqlite.js';

const [path, mode, workersText, name, leaseText = '60000', limitText = '0'] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${line}\n`);
const store = await openStore({ engine: createNodeSqliteEngine({ path }) });
const leaseMs = Number(leaseText);
const limit = Number(limitText);
let held = 0;

async function work(worker) {
  let idle = 0;
  for (;;) {
    // In hold mode the limit is reserved before the claim (two loops share it).
    if (mode === 'hold' && held++ >= limit) break;
    const claimed = await store.claimTask({ workerId: worker, leaseMs });
    if (!claimed) {
      if (mode === 'hold' || ++idle >= 5) break;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    idle = 0;
    say(`claimed ${claimed.id} ${worker} ${claimed.fence}`);
    if (mode === 'hold') continue;
    await store.completeTask(claimed.id, { workerId: worker, fence: claimed.fence, result: { worker } });
    say(`done ${claimed.id} ${worker} ${claimed.fence}`);
  }
  say(`idle ${worker}`);
}

await Promise.all(Array.from({ length: Number(workersText) }, (_, i) => work(`${name}.${i}`)));
if (mode === 'hold') {
  say('holding');
  await new Promise(() => {}); // until killed
}
await store.close();
