// The crash test's child: opens the store on a file and writes until it is killed, printing one
// line per write whose promise resolved (so the parent knows exactly what was acknowledged).
// Runs from the built package (dist/), so each start is fast. Arguments: <db path> <seed> [engine],
// engine `fs` (sql.js on the fs adapter, the default) or `node-sqlite` (the node:sqlite engine, Node 22).
import { openStore } from '../../dist/index.js';

const [path, seedText, engine = 'fs'] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
function random() {
  // mulberry32
  let t = (seed = (seed + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// Pipes are written synchronously on Linux: a line printed here is in the parent's hands even if a
// SIGKILL follows at once.
const ack = (line) => process.stdout.write(`${line}\n`);

const onWarning = (w) => process.stderr.write(`warning ${w.code}: ${w.message}\n`);
const store =
  engine === 'node-sqlite'
    ? // Every write durable when it resolves: SQLite's WAL, synchronous=FULL.
      await openStore({ engine: (await import('../../dist/engines/node-sqlite.js')).createNodeSqliteEngine({ path }), onWarning })
    : await openStore({
        adapter: (await import('../../dist/adapters/fs.js')).createFileAdapter({ path }),
        durability: 'write',
        // Small, so checkpoints (temp file, fsync, rename) happen often and kills land inside them too.
        checkpointBytes: 48 * 1024,
        onWarning,
      });
ack('ready');

// Whether a checkpoint runs, printed as it changes (`~1` from its start until its image is durable
// and the journal before its marker dropped, `~0` after): the parent counts the kills inside one.
let checkpointing = false;
const watch = globalThis.setInterval(() => {
  const now = store.health().checkpointing;
  if (now !== checkpointing) ack(now ? '~1' : '~0');
  checkpointing = now;
}, 1);
watch.unref?.();

const run = `${process.pid}.${Date.now()}`;
let n = 0;
const padding = 'p'.repeat(200 + Math.floor(random() * 600));

async function writer(w) {
  for (;;) {
    const id = `${run}.${w}.${n++}`;
    const r = random();
    if (r < 0.55) {
      await store.saveTask({ id: `S.${id}`, command: 'deploy', params: { w, padding }, callerId: `c${w}` });
      ack(`S S.${id}`);
    } else if (r < 0.85) {
      // A batch: three tasks and an audit entry in one transaction, all or nothing.
      await store.transaction(async (tx) => {
        for (const part of ['a', 'b', 'c']) await tx.saveTask({ id: `T.${id}.${part}`, command: 'batch', params: { part, padding } });
        await tx.appendAudit({ userId: `T.${id}`, action: 'batch', result: 'ok' });
      });
      ack(`T T.${id}`);
    } else {
      const completed = `S.${id}.done`;
      await store.saveTask({ id: completed, command: 'work', params: {} });
      await store.completeTask(completed, { result: { n } });
      ack(`C ${completed}`);
    }
  }
}

await Promise.all([0, 1, 2, 3].map(writer));
