/**
 * Where the dashboard reads from: the `agent-store serve` server (snapshots, pushed over
 * server-sent events), a browser app's IndexedDB store (followed live), or a `.db` file. Each
 * opens read-only stores only: the dashboard never writes to what it shows.
 */
import { openStore, type Store } from '../src/index.js';
import { createMemoryAdapter } from '../adapters/memory.js';
import { createIndexedDbAdapter } from '../adapters/indexeddb.js';

/** The WASM sits beside the page (tsup copies it into dist/dashboard/), so the page works under any sub-path. */
const wasm = () => new URL('./sql-wasm.wasm', location.href);

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
  readonly version: number;
  readonly at: number;
  readonly imageBytes: number;
  readonly journalBytes: number;
  readonly sizes: readonly SizeSample[];
}

/** The connection state shown in the header. */
export type SourceState = 'connecting' | 'live' | 'reconnecting' | 'loaded' | 'error';

/** What a source tells the page. */
export interface SourceListener {
  /** The data changed: re-read `source.store`. */
  update(): void;
  /** The connection state changed; `detail` says why when it is an error. */
  state(state: SourceState, detail?: string): void;
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

async function fetchSnapshot(): Promise<{ store: Store; version: number }> {
  const response = await fetch('./api/snapshot', { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ./api/snapshot: HTTP ${response.status}`);
  const version = Number(response.headers.get('x-snapshot-version'));
  const image = new Uint8Array(await response.arrayBuffer());
  const store = await openStore({ adapter: createMemoryAdapter({ image }), readOnly: true, wasm: wasm() });
  return { store, version: Number.isFinite(version) ? version : 0 };
}

interface SnapshotEvent {
  version: number;
}

/**
 * Follows the `agent-store serve` server: loads its latest snapshot, then listens to
 * `./api/events` and loads each newer snapshot as it is announced. Rejects when the first snapshot
 * cannot be loaded.
 */
export async function openServerSource(status: ServerStatus, listener: SourceListener): Promise<Source> {
  let { store, version } = await fetchSnapshot();
  let sizes: readonly SizeSample[] = status.sizes ?? [];
  let closed = false;
  // Set by an announcement of a version other than the one shown; loads run one at a time.
  let stale = false;
  let loading: Promise<void> | undefined;

  const load = async (): Promise<void> => {
    while (stale && !closed) {
      stale = false;
      const [next, nextStatus] = await Promise.all([fetchSnapshot(), fetchStatus()]);
      if (closed || next.version === version) {
        await next.store.close();
        continue;
      }
      const old = store;
      ({ store, version } = next);
      sizes = nextStatus.sizes ?? sizes;
      listener.update();
      await old.close();
    }
  };

  const events = new EventSource('./api/events');
  events.addEventListener('open', () => listener.state('live'));
  events.addEventListener('error', () => {
    // EventSource reconnects by itself unless the server refused the stream outright (CLOSED).
    if (events.readyState === EventSource.CLOSED) listener.state('error', 'the server closed the event stream');
    else listener.state('reconnecting');
  });
  events.addEventListener('snapshot', (event) => {
    let announced: SnapshotEvent;
    try {
      announced = JSON.parse((event as MessageEvent<string>).data) as SnapshotEvent;
    } catch {
      return;
    }
    listener.state('live');
    // Not "greater than": a restarted server numbers its snapshots from 1 again.
    if (announced.version === version) return;
    stale = true;
    loading ??= load()
      .catch((e: unknown) => listener.state('reconnecting', describeError(e)))
      .finally(() => {
        loading = undefined;
      });
  });

  return {
    kind: 'serve',
    label: `server · ${status.database}`,
    get store() {
      return store;
    },
    get version() {
      return version;
    },
    sizes: () => sizes,
    sample: () => Promise.resolve(),
    async close() {
      closed = true;
      events.close();
      await store.close();
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
  const store = await openStore({
    adapter: createIndexedDbAdapter({ name }),
    readOnly: true,
    wasm: wasm(),
    onChange: () => {
      if (!closed) listener.update();
    },
  });
  const sizes = sampler(() => store);
  return {
    kind: 'indexeddb',
    label: `IndexedDB · ${name}`,
    store,
    version: undefined,
    ...sizes,
    async close() {
      closed = true;
      await store.close();
    },
  };
}

/** Opens a `.db` file's bytes read-only. Rejects with the store's typed error (`CORRUPT`, `SCHEMA_VERSION`…). */
export async function openFileSource(file: File): Promise<Source> {
  const image = new Uint8Array(await file.arrayBuffer());
  const store = await openStore({ adapter: createMemoryAdapter({ image }), readOnly: true, wasm: wasm() });
  const sizes = sampler(() => store);
  return {
    kind: 'file',
    label: `file · ${file.name}`,
    store,
    version: undefined,
    ...sizes,
    close: () => store.close(),
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
