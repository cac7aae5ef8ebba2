/**
 * Where the dashboard reads from: the `agent-store serve` server (snapshots, pushed over
 * server-sent events), a browser app's IndexedDB store (followed live), or a `.db` file. Each
 * opens read-only stores only: the dashboard never writes to what it shows.
 */
import { createSqlJsEngine, openStore, readSchemaVersion, type Store, type StoreOptions } from '../src/index.js';
import { createMemoryAdapter } from '../adapters/memory.js';
import { createIndexedDbAdapter } from '../adapters/indexeddb.js';

/**
 * The package ships its WASM once, in dist/, one level above this bundle (dist/dashboard/app.js):
 * relative to the script, so the page works under any sub-path (`serve` answers it at /sql-wasm.wasm).
 */
const wasm = () => new URL('../sql-wasm.wasm', import.meta.url);

/** One sample of the database's size. */
export interface SizeSample {
  /** Unix ms. */
  readonly at: number;
  readonly imageBytes: number;
  readonly journalBytes: number;
}

/** What `GET ./api/status` answers. */
export interface ServerStatus {
  readonly source: 'serve';
  readonly database: string;
  /** Random per server process: a restarted server counts versions from 1 again. */
  readonly instance?: string;
  readonly version: number;
  readonly at: number;
  readonly imageBytes: number;
  readonly journalBytes: number;
  readonly sizes: readonly SizeSample[];
  /** Why the server could not take a newer snapshot (it serves its last good one meanwhile). */
  readonly problem?: string;
}

/** The connection state shown in the header. */
export type SourceState = 'connecting' | 'live' | 'reconnecting' | 'loaded' | 'error';

/** What a source tells the page. */
export interface SourceListener {
  /** The data changed: re-read `source.store`. */
  update(): void;
  /** The connection state changed; `detail` says why when it is an error. */
  state(state: SourceState, detail?: string): void;
  /**
   * What is shown is older than the database, and why (the server cannot snapshot it, a new snapshot
   * could not be loaded); `undefined` once that is over.
   */
  problem(text: string | undefined): void;
}

/** An open source. `store` may be replaced by a newer one between updates (server snapshots). */
export interface Source {
  readonly kind: 'serve' | 'indexeddb' | 'file';
  /** For the header, e.g. `server · agent.db`. */
  readonly label: string;
  /** The store to read now. */
  readonly store: Store;
  /** The snapshot version shown (server only). */
  readonly version: number | undefined;
  /** The size history: the server's own, or one sample per refresh. */
  sizes(): readonly SizeSample[];
  /** Takes a size sample now (sources without a server's history). */
  sample(): Promise<void>;
  /** Stops listening and closes the store. */
  close(): Promise<void>;
}

const MAX_SAMPLES = 1000;

// ---- open stores -------------------------------------------------------------------------------

// Every store the sources open, until they close it. The page shows the count as a data attribute
// (`html[data-open-stores]`), so a test can see that each refresh closes the snapshot it replaced:
// a leaked snapshot holds its whole image in memory.
const openStores = new Set<Store>();
let storesWatcher: ((count: number) => void) | undefined;

/** Calls `watch` with the number of stores the sources hold open, now and on every change. */
export function watchOpenStores(watch: (count: number) => void): void {
  storesWatcher = watch;
  watch(openStores.size);
}

async function openTracked(options: StoreOptions): Promise<Store> {
  const store = await openStore(options);
  openStores.add(store);
  storesWatcher?.(openStores.size);
  return store;
}

async function closeTracked(store: Store): Promise<void> {
  try {
    await store.close();
  } finally {
    if (openStores.delete(store)) storesWatcher?.(openStores.size);
  }
}

// ---- the server ----------------------------------------------------------------------------------

/**
 * The server's status when the page is served by `agent-store serve`, or `undefined` when it is
 * not (another host: no `./api/status`, or something else answers there).
 */
export async function detectServer(): Promise<ServerStatus | undefined> {
  try {
    const response = await fetch('./api/status', { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (!response.ok) return undefined;
    const body = (await response.json()) as Partial<ServerStatus> | null;
    return body && body.source === 'serve' ? (body as ServerStatus) : undefined;
  } catch {
    return undefined;
  }
}

async function fetchStatus(): Promise<ServerStatus> {
  const response = await fetch('./api/status', { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ./api/status: HTTP ${response.status}`);
  return (await response.json()) as ServerStatus;
}

/** Which snapshot: the server process (`instance`) and its count. Both name it; versions alone repeat. */
interface SnapshotId {
  readonly instance: string | undefined;
  readonly version: number;
}

const sameSnapshot = (a: SnapshotId, b: SnapshotId) => a.instance === b.instance && a.version === b.version;

async function fetchSnapshot(): Promise<SnapshotId & { store: Store }> {
  const response = await fetch('./api/snapshot', { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ./api/snapshot: HTTP ${response.status}`);
  const version = Number(response.headers.get('x-snapshot-version'));
  const instance = response.headers.get('x-snapshot-instance') ?? undefined;
  const image = new Uint8Array(await response.arrayBuffer());
  const store = await openTracked({ adapter: createMemoryAdapter({ image }), readOnly: true, wasm: wasm() });
  return { store, instance, version: Number.isFinite(version) ? version : 0 };
}

/** The snapshot and the status, together; a store opened for a load that fails is closed again. */
async function fetchBoth(): Promise<{ next: SnapshotId & { store: Store }; status: ServerStatus }> {
  // allSettled, not all: with `all`, a failed status would drop the opened snapshot unclosed.
  const [next, status] = await Promise.allSettled([fetchSnapshot(), fetchStatus()]);
  if (next.status === 'fulfilled' && status.status === 'fulfilled') return { next: next.value, status: status.value };
  if (next.status === 'fulfilled') await closeTracked(next.value.store).catch(() => undefined);
  throw next.status === 'rejected' ? next.reason : (status as PromiseRejectedResult).reason;
}

/** What a `snapshot` event carries. */
interface SnapshotEvent {
  instance?: string;
  version: number;
  problem?: string;
}

/** Retry delays: 0.5 s, doubling, at most 10 s. */
const backoff = (failures: number) => Math.min(10_000, 500 * 2 ** Math.min(failures - 1, 10));

/**
 * Follows the `agent-store serve` server: loads its latest snapshot, then listens to
 * `./api/events` and loads each other snapshot as it is announced (another version, or another
 * server process). A load that fails is retried with backoff; an event stream the server refuses
 * is reopened with backoff after asking `./api/status` again. Rejects when the first snapshot
 * cannot be loaded.
 */
export async function openServerSource(status: ServerStatus, listener: SourceListener): Promise<Source> {
  const first = await fetchSnapshot();
  let store = first.store;
  let shown: SnapshotId = { instance: first.instance, version: first.version };
  let sizes: readonly SizeSample[] = status.sizes ?? [];
  let closed = false;
  // The newest snapshot announced; a load runs while it differs from the one shown, one at a time.
  let wanted: SnapshotId = shown;
  let loading: Promise<void> | undefined;
  let loadFailures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  // Two reasons the page can be behind the database; either is shown, the load's first (it is ours).
  let serverProblem = status.problem;
  let loadProblem: string | undefined;
  const tellProblem = () => {
    const serverText = serverProblem === undefined ? undefined : `The server cannot take a new snapshot of ${status.database}: ${serverProblem}. Showing its last good snapshot (v${shown.version}).`;
    listener.problem(loadProblem ?? serverText);
  };

  const load = async (): Promise<void> => {
    while (!closed && !sameSnapshot(wanted, shown)) {
      const target = wanted;
      const { next, status: nextStatus } = await fetchBoth();
      if (closed || sameSnapshot(next, shown)) {
        await closeTracked(next.store);
        // The server has not got further than what is shown: nothing newer to wait for.
        if (!closed && sameSnapshot(wanted, target)) wanted = shown;
        continue;
      }
      const old = store;
      store = next.store;
      shown = { instance: next.instance, version: next.version };
      // Not newer than what was downloaded: an event for it may have been missed (or it was announced).
      if (sameSnapshot(wanted, target)) wanted = shown;
      sizes = nextStatus.sizes ?? sizes;
      serverProblem = nextStatus.problem;
      listener.update();
      await closeTracked(old);
    }
  };

  const startLoad = () => {
    if (loading || closed || retryTimer !== undefined) return;
    loading = load()
      .then(() => {
        if (loadFailures > 0 || loadProblem !== undefined) {
          loadFailures = 0;
          loadProblem = undefined;
          tellProblem();
        }
      })
      .catch((e: unknown) => {
        if (closed) return;
        // Still behind: `wanted` stays, and the load is tried again later, longer after each failure.
        loadFailures++;
        const delay = backoff(loadFailures);
        loadProblem = `Cannot load snapshot v${wanted.version} from the server: ${describeError(e)}. Showing v${shown.version}; retrying in ${(delay / 1000).toFixed(1)} s.`;
        tellProblem();
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          startLoad();
        }, delay);
      })
      .finally(() => {
        loading = undefined;
      });
  };

  let events: EventSource | undefined;
  let streamFailures = 0;
  let streamTimer: ReturnType<typeof setTimeout> | undefined;

  const onSnapshot = (event: Event) => {
    let announced: SnapshotEvent;
    try {
      announced = JSON.parse((event as MessageEvent<string>).data) as SnapshotEvent;
    } catch {
      return;
    }
    streamFailures = 0;
    listener.state('live');
    serverProblem = announced.problem;
    tellProblem();
    // Instance and version: a restarted server numbers its snapshots from 1 again.
    const id: SnapshotId = { instance: announced.instance, version: announced.version };
    if (sameSnapshot(id, shown)) {
      wanted = shown;
      return;
    }
    wanted = id;
    // A retry is already scheduled; it loads the newest one announced by then.
    startLoad();
  };

  const connect = () => {
    const stream = new EventSource('./api/events');
    events = stream;
    stream.addEventListener('open', () => listener.state('live'));
    stream.addEventListener('snapshot', onSnapshot);
    stream.addEventListener('error', () => {
      if (stream !== events || closed) return;
      // EventSource reconnects by itself unless the server refused the stream outright (CLOSED:
      // a 401, a 503 with too many streams open, a proxy's error page). Then it is up to the page.
      if (stream.readyState !== EventSource.CLOSED) {
        listener.state('reconnecting');
        return;
      }
      stream.close();
      streamFailures++;
      const delay = backoff(streamFailures);
      listener.state('reconnecting', `the server refused the event stream; trying again in ${(delay / 1000).toFixed(1)} s`);
      streamTimer = setTimeout(() => void reconnect(), delay);
    });
  };

  // Asks the status first: it says why the stream was refused (the token, the server gone).
  const reconnect = async () => {
    streamTimer = undefined;
    if (closed) return;
    try {
      await fetchStatus();
    } catch (e) {
      streamFailures++;
      const delay = backoff(streamFailures);
      listener.state('error', `${describeError(e)}; trying again in ${(delay / 1000).toFixed(1)} s`);
      streamTimer = setTimeout(() => void reconnect(), delay);
      return;
    }
    connect();
  };

  connect();
  if (serverProblem !== undefined) tellProblem();

  return {
    kind: 'serve',
    label: `server · ${status.database}`,
    get store() {
      return store;
    },
    get version() {
      return shown.version;
    },
    sizes: () => sizes,
    sample: () => Promise.resolve(),
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(streamTimer);
      events?.close();
      // A load in flight closes what it opened once it sees `closed`.
      await closeTracked(store);
    },
  };
}

/** Sizes sampled by the page itself, one per refresh. */
function sampler(getStore: () => Store) {
  const samples: SizeSample[] = [];
  return {
    sizes: (): readonly SizeSample[] => samples,
    async sample(): Promise<void> {
      const store = getStore();
      const imageBytes = await store.dbSizeBytes();
      samples.push({ at: Date.now(), imageBytes, journalBytes: store.health().journalBytes });
      if (samples.length > MAX_SAMPLES) samples.shift();
    },
  };
}

/**
 * Follows a browser app's IndexedDB store `name` on this origin, read-only: the owner's commits
 * arrive through the store's `onChange`. Rejects with the store's `NotFoundError` when there is
 * no such store.
 */
export async function openIndexedDbSource(name: string, listener: SourceListener): Promise<Source> {
  let closed = false;
  const adapter = createIndexedDbAdapter({ name });
  const store = await openTracked({
    adapter,
    readOnly: true,
    wasm: wasm(),
    onChange: () => {
      if (!closed) listener.update();
    },
  });
  // A read-only store follows the owner's commits only through the adapter's messages (a
  // BroadcastChannel); without them it shows the store as it was when opened, and says so.
  if (typeof adapter.subscribe === 'function') listener.state('live');
  else listener.state('loaded', 'this browser cannot pass messages between tabs (no BroadcastChannel): reload to see newer commits');
  const sizes = sampler(() => store);
  return {
    kind: 'indexeddb',
    label: `IndexedDB · ${name}`,
    store,
    version: undefined,
    ...sizes,
    async close() {
      closed = true;
      await closeTracked(store);
    },
  };
}

/** A file the page refuses before the store sees it: empty, or SQLite but not an agent database. */
export class NotAgentDatabaseError extends Error {
  override readonly name = 'NotAgentDatabaseError';
  constructor(
    readonly code: 'EMPTY' | 'NOT_AGENT_DATABASE',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whether `image` is an agent database. The read-only store opens any SQLite file (a file without
 * tables reads as an empty agent database), so the page looks for `meta.schema_version` itself.
 * Files that are not SQLite at all, or damaged, are left to the store: its typed error says more.
 */
async function checkAgentImage(image: Uint8Array): Promise<void> {
  if (image.byteLength === 0) throw new NotAgentDatabaseError('EMPTY', 'the file is empty (0 bytes): it is not an agent database');
  let engine: Awaited<ReturnType<typeof createSqlJsEngine>>;
  try {
    engine = await createSqlJsEngine({ image, wasm: wasm() });
  } catch {
    return;
  }
  let version: number;
  try {
    version = await readSchemaVersion(engine);
  } catch {
    return; // a bad version text: the store refuses it with its own SCHEMA_VERSION error
  } finally {
    await engine.close();
  }
  if (version === 0) throw new NotAgentDatabaseError('NOT_AGENT_DATABASE', 'it is a SQLite file but not an agent database (it has no meta.schema_version)');
}

/**
 * Opens a `.db` file's bytes read-only. Rejects with {@link NotAgentDatabaseError} for an empty file
 * or another program's SQLite database, else with the store's typed error (`CORRUPT`, `SCHEMA_VERSION`…).
 */
export async function openFileSource(file: File): Promise<Source> {
  const image = new Uint8Array(await file.arrayBuffer());
  await checkAgentImage(image);
  const store = await openTracked({ adapter: createMemoryAdapter({ image }), readOnly: true, wasm: wasm() });
  const sizes = sampler(() => store);
  return {
    kind: 'file',
    label: `file · ${file.name}`,
    store,
    version: undefined,
    ...sizes,
    close: () => closeTracked(store),
  };
}

/** An error as one line for the page: the store's message (it names the thing), else the text. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The store's stable error code, when `e` is a store error. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
