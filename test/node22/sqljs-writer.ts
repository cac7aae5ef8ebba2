// A sql.js store on the fs adapter in its own process: saves `count` tasks durably, prints `written`,
// then waits to be killed (a crash with its journal holding acknowledged writes). Args: <db> <count>.
import { createFileAdapter } from '../../adapters/fs.js';
import { openStore } from '../../src/index.js';

const [path, countText] = process.argv.slice(2);
const store = await openStore({ adapter: createFileAdapter({ path: path as string }), durability: 'write' });
for (let i = 0; i < Number(countText); i++) await store.saveTask({ id: `sqljs-${i}`, command: 'deploy', params: { i } });
process.stdout.write('written\n');
setInterval(() => undefined, 60_000);
