// The dashboard test's "agent": opens the database the server serves, writable, saves one task
// whose command and params are markup, and closes. Arguments: <db path> <task id>.
import { openStore } from '../../dist/index.js';
import { createFileAdapter } from '../../dist/adapters/fs.js';

const [path, id] = process.argv.slice(2);
const store = await openStore({ adapter: createFileAdapter({ path }) });
await store.saveTask({ id, command: '<script>alert(2)</script>', params: { note: '<img src=x onerror=alert(1)>' }, callerId: 'U66MALLORY' });
await store.close();
