/**
 * The page of the browser-durable benchmark (bench/browser-durable.ts drives it through
 * `globalThis.bench`): builds seed images, puts them into IndexedDB through the adapter's own
 * contract, and times durable saves of the store and raw IndexedDB transactions. Browser code only:
 * it is bundled by esbuild for Chromium.
 */
import { createIndexedDbAdapter, indexedDbNames } from '../../adapters/indexeddb.js';
import { openStore, type PersistenceAdapter } from '../../src/index.js';
import { prng, SAVES_SEED, Tasks } from './tasks.js';

const WASM = '/sql-wasm.wasm';
/** The most tasks per transaction while a seed is filled (its size is checked between them). */
const SEED_CHUNK = 500;
/** About what one history task adds to the database, to size the last transactions near the target. */
const SEED_TASK_BYTES = 4096;

/** What {@link bench.measureStallsInWorker} measures: {@link StallsRun}'s timings, with the store in a Worker. */
export type WorkerStallsRun = Pick<StallsRun, 'openMs' | 'imageBytes' | 'checkpointThresholdBytes' | 'latencies' | 'totalMs' | 'maxTickGapMs' | 'medianTickGapMs' | 'checkpoints' | 'checkpointMs' | 'closeMs'>;

/** Seed images built in this page, by target size. */
const seeds = new Map<number, Uint8Array>();

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    tx.onerror = () => reject(tx.error);
  });
}

function deleteDatabase(database: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(database);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`deleting ${database} is blocked by an open connection`));
  });
}

/** One subject's run on one database. */
export interface StoreRun {
  /** `openStore` on the seeded database, ms. */
  readonly openMs: number;
  /** The image the store opened (health().imageBytes). */
  readonly imageBytes: number;
  /** Each timed save, ms. */
  readonly latencies: number[];
  /** Journal bytes appended per timed save (0 in whole-image mode). */
  readonly journalBytesPerSave: number;
  /** `close()`: the final checkpoint (whole image written), ms. */
  readonly closeMs: number;
}

/** One run of sequential durable saves across checkpoints (the browser half of checkpoint-stalls). */
export interface StallsRun {
  readonly openMs: number;
  readonly imageBytes: number;
  readonly checkpointThresholdBytes: number;
  /** Each timed save, ms. */
  readonly latencies: number[];
  /** All timed saves, from the first's start to the last's end (and the explicit checkpoint's), ms. */
  readonly totalMs: number;
  /** The longest gap between two ticks of a 1 ms interval timer during the saves, and the median gap (the timer's own period), ms. */
  readonly maxTickGapMs: number;
  readonly medianTickGapMs: number;
  /** Checkpoints completed during the saves (the explicit one included), and how long each took (health().lastCheckpointMs). */
  readonly checkpoints: number;
  readonly checkpointMs: number[];
  /** What the adapter was given to write during the saves: journal records, and images (checkpoints). */
  readonly journalBytes: number;
  readonly imageBytesWritten: number;
  readonly closeMs: number;
  /** Open and close again with nothing written: what a clean close costs and writes. */
  readonly cleanCloseMs: number;
  readonly cleanCloseBytes: number;
}

/** Wraps an adapter so that the bytes it is given to write are counted. */
function counting(adapter: PersistenceAdapter, written: { journal: number; image: number }): PersistenceAdapter {
  const { append, writeImage } = adapter;
  return {
    ...adapter,
    checkpoint: (image) => ((written.image += image.length), adapter.checkpoint(image)),
    ...(append ? { append: (bytes: Uint8Array, at: number) => ((written.journal += bytes.length), append(bytes, at)) } : {}),
    ...(writeImage ? { writeImage: (image: Uint8Array) => ((written.image += image.length), writeImage(image)) } : {}),
  };
}

/** Samples the event loop: the gaps between ticks of a 1 ms interval timer (Chromium clamps nested timers to 4 ms). */
/** The worker of {@link bench.measurePutLag}: opens a database, then one strict put per message; answers null or an error. */
const PUT_WORKER = `
let db;
onmessage = (event) => {
  const { open, key, value } = event.data;
  if (open) {
    const request = indexedDB.open(open, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('data');
    request.onsuccess = () => { db = request.result; postMessage(null); };
    request.onerror = () => postMessage(String(request.error));
    return;
  }
  const tx = db.transaction('data', 'readwrite', { durability: 'strict' });
  tx.oncomplete = () => postMessage(null);
  tx.onabort = () => postMessage(String(tx.error));
  tx.objectStore('data').put(value, key);
};
`;

function tickSampler(): { stop(): { maxGapMs: number; medianGapMs: number } } {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      gaps.push(performance.now() - last);
      const sorted = [...gaps].sort((a, b) => a - b);
      return { maxGapMs: sorted[sorted.length - 1] ?? 0, medianGapMs: sorted[Math.floor(sorted.length / 2)] ?? 0 };
    },
  };
}

const bench = {
  info: () => ({ userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true }),

  /**
   * Builds (once) a seed image of at least `targetBytes`: a store on the memory adapter, no
   * durability, history tasks saved in large transactions until `dbSizeBytes()` reaches the target.
   */
  async buildSeed(targetBytes: number): Promise<{ bytes: number; tasks: number; ms: number }> {
    const t0 = performance.now();
    const store = await openStore({ wasm: WASM, durability: 'none' });
    const history = new Tasks(0x5eed_d15c);
    const now = Date.now();
    let tasks = 0;
    try {
      for (let size = await store.dbSizeBytes(); size < targetBytes; size = await store.dbSizeBytes()) {
        // Large transactions, shrinking near the target so the image overshoots it by little.
        const chunk = Math.max(10, Math.min(SEED_CHUNK, Math.floor((targetBytes - size) / SEED_TASK_BYTES)));
        await store.transaction(async (tx) => {
          for (let i = 0; i < chunk; i++) await tx.saveTask(history.pastTask(now));
        });
        tasks += chunk;
      }
      const image = await store.exportImage();
      seeds.set(targetBytes, image);
      return { bytes: image.byteLength, tasks, ms: performance.now() - t0 };
    } finally {
      await store.close();
    }
  },

  /** Puts the seed image of `targetBytes` into the store database `name`, as the adapter's own checkpoint would. */
  async seed(name: string, targetBytes: number): Promise<number> {
    const image = seeds.get(targetBytes);
    if (!image) throw new Error(`no seed of ${targetBytes} bytes was built`);
    const adapter = createIndexedDbAdapter({ name });
    await adapter.lock();
    await adapter.load();
    await adapter.checkpoint(image);
    await adapter.close();
    return image.byteLength;
  },

  /** Opens the store on `name` (timed), saves `warmup` tasks, then times `count` durable saves, then closes it (timed). */
  async measureStore(options: { name: string; journal: boolean; durability: 'strict' | 'relaxed'; warmup: number; count: number }): Promise<StoreRun> {
    const t0 = performance.now();
    const store = await openStore({ wasm: WASM, adapter: createIndexedDbAdapter({ name: options.name, durability: options.durability }), journal: options.journal });
    const openMs = performance.now() - t0;
    const { imageBytes } = store.health();
    const saves = new Tasks(SAVES_SEED);
    const latencies: number[] = [];
    let journalBytes = 0;
    try {
      for (let i = 0; i < options.warmup; i++) await store.saveTask(saves.newTask());
      const before = store.health().journalBytes;
      for (let i = 0; i < options.count; i++) {
        const task = saves.newTask();
        const start = performance.now();
        await store.saveTask(task);
        latencies.push(performance.now() - start);
      }
      journalBytes = store.health().journalBytes - before;
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    const c0 = performance.now();
    await store.close();
    return { openMs, imageBytes, latencies, journalBytesPerSave: journalBytes / options.count, closeMs: performance.now() - c0 };
  },

  /**
   * Opens the store on the seeded `name` (strict IndexedDB, durability 'write'), checkpoints once
   * (so the journal names the image), then saves `count` new tasks one after another, each awaited,
   * with an explicit `checkpoint()` started at the half, while a 1 ms timer samples the event loop.
   * The automatic checkpoints happen where the journal reaches the threshold (`checkpointBytes`
   * when given, else the store's adaptive one).
   */
  async measureStalls(options: { name: string; count: number; checkpointBytes?: number }): Promise<StallsRun> {
    const written = { journal: 0, image: 0 };
    const adapter = counting(createIndexedDbAdapter({ name: options.name }), written);
    const t0 = performance.now();
    const store = await openStore({ wasm: WASM, adapter, ...(options.checkpointBytes ? { checkpointBytes: options.checkpointBytes } : {}) });
    await store.listTasks({ limit: 1 });
    const openMs = performance.now() - t0;
    const saves = new Tasks(SAVES_SEED);
    const latencies: number[] = [];
    const checkpointMs: number[] = [];
    let checkpoints = 0;
    let totalMs: number;
    let gaps: { maxGapMs: number; medianGapMs: number };
    let imageBytes: number;
    let checkpointThresholdBytes: number;
    try {
      await store.checkpoint();
      written.journal = 0;
      written.image = 0;
      let lastAt = store.health().lastCheckpointAt;
      const countCheckpoint = (): void => {
        const h = store.health();
        if (h.lastCheckpointAt !== lastAt) {
          lastAt = h.lastCheckpointAt;
          checkpoints++;
          if (h.lastCheckpointMs !== undefined) checkpointMs.push(h.lastCheckpointMs);
        }
      };
      ({ imageBytes, checkpointThresholdBytes } = store.health());
      const explicitAt = Math.floor(options.count / 2);
      let explicit: Promise<void> | undefined;
      const sampler = tickSampler();
      const start = performance.now();
      for (let i = 0; i < options.count; i++) {
        if (i === explicitAt) explicit = store.checkpoint().then(countCheckpoint);
        // Made one at a time, as an agent makes them (100,000 held at once would make each GC slower).
        const task = saves.newTask();
        const before = performance.now();
        await store.saveTask(task);
        latencies.push(performance.now() - before);
        countCheckpoint();
      }
      await explicit;
      totalMs = performance.now() - start;
      gaps = sampler.stop();
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    const counted = { journalBytes: written.journal, imageBytesWritten: written.image };
    const c0 = performance.now();
    await store.close();
    const closeMs = performance.now() - c0;
    // Open and close again with nothing written: the image is clean.
    const again = await openStore({ wasm: WASM, adapter: counting(createIndexedDbAdapter({ name: options.name }), written) });
    written.journal = 0;
    written.image = 0;
    const c1 = performance.now();
    await again.close();
    const cleanCloseMs = performance.now() - c1;
    return {
      openMs,
      imageBytes,
      checkpointThresholdBytes,
      latencies,
      totalMs,
      maxTickGapMs: gaps.maxGapMs,
      medianTickGapMs: gaps.medianGapMs,
      checkpoints,
      checkpointMs,
      ...counted,
      closeMs,
      cleanCloseMs,
      cleanCloseBytes: written.journal + written.image,
    };
  },

  /**
   * {@link bench.measureStalls} with the store in a dedicated Worker (bench/browser/durable-worker.ts):
   * the page posts each save and awaits the worker's answer, and samples its own event loop.
   */
  async measureStallsInWorker(options: { name: string; count: number; checkpointBytes?: number }): Promise<WorkerStallsRun> {
    const worker = new Worker('/durable-worker.js', { type: 'module' });
    let ids = 0;
    const waiting = new Map<number, { resolve: (value: never) => void; reject: (e: Error) => void }>();
    worker.onmessage = (event: MessageEvent<{ id: number; result?: unknown; error?: string }>) => {
      const call = waiting.get(event.data.id);
      waiting.delete(event.data.id);
      if (event.data.error !== undefined) call?.reject(new Error(`in the worker: ${event.data.error}`));
      else call?.resolve(event.data.result as never);
    };
    worker.onerror = (event) => {
      for (const call of waiting.values()) call.reject(new Error(`the worker failed: ${event.message}`));
      waiting.clear();
    };
    const call = <T>(op: string, extra: Record<string, unknown> = {}): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const id = ++ids;
        waiting.set(id, { resolve: resolve as (value: never) => void, reject });
        worker.postMessage({ id, op, ...extra });
      });
    type Checkpointed = { lastCheckpointAt?: number; lastCheckpointMs?: number };
    try {
      const opened = await call<{ openMs: number; imageBytes: number; checkpointThresholdBytes: number } & Checkpointed>('open', {
        name: options.name,
        ...(options.checkpointBytes ? { checkpointBytes: options.checkpointBytes } : {}),
      });
      const latencies: number[] = [];
      const checkpointMs: number[] = [];
      let checkpoints = 0;
      let lastAt = opened.lastCheckpointAt;
      const countCheckpoint = (h: Checkpointed): void => {
        if (h.lastCheckpointAt !== lastAt) {
          lastAt = h.lastCheckpointAt;
          checkpoints++;
          if (h.lastCheckpointMs !== undefined) checkpointMs.push(h.lastCheckpointMs);
        }
      };
      const explicitAt = Math.floor(options.count / 2);
      let explicit: Promise<void> | undefined;
      const sampler = tickSampler();
      const start = performance.now();
      for (let i = 0; i < options.count; i++) {
        if (i === explicitAt) explicit = call<Checkpointed>('checkpoint').then(countCheckpoint);
        const before = performance.now();
        const h = await call<Checkpointed>('save');
        latencies.push(performance.now() - before);
        countCheckpoint(h);
      }
      await explicit;
      const totalMs = performance.now() - start;
      const gaps = sampler.stop();
      const { closeMs } = await call<{ closeMs: number }>('close');
      return {
        openMs: opened.openMs,
        imageBytes: opened.imageBytes,
        checkpointThresholdBytes: opened.checkpointThresholdBytes,
        latencies,
        totalMs,
        maxTickGapMs: gaps.maxGapMs,
        medianTickGapMs: gaps.medianGapMs,
        checkpoints,
        checkpointMs,
        closeMs,
      };
    } finally {
      worker.terminate();
    }
  },

  /** The journal bytes of one saveTask of the subjects' tasks, on a new store database `name` (removed after). */
  async recordBytes(name: string, count: number): Promise<number> {
    const store = await openStore({ wasm: WASM, adapter: createIndexedDbAdapter({ name }) });
    const sample = new Tasks(0x5a_3b1e);
    try {
      const before = store.health().journalBytes;
      for (let i = 0; i < count; i++) await store.saveTask(sample.newTask());
      return (store.health().journalBytes - before) / count;
    } finally {
      await store.close();
      await bench.drop(name);
    }
  },

  /**
   * The floor: one readwrite transaction per value, `durability` as asked, putting `bytes` bytes (a
   * journal record's size) under a new key, into the plain IndexedDB database `database`.
   */
  async measurePut(options: { database: string; durability: 'strict' | 'relaxed'; bytes: number; warmup: number; count: number }): Promise<number[]> {
    const open = indexedDB.open(options.database, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('data');
    const db = await request(open);
    const value = new Uint8Array(options.bytes);
    const fill = prng(options.bytes);
    for (let i = 0; i < value.length; i++) value[i] = Math.floor(fill() * 256);
    const latencies: number[] = [];
    try {
      for (let i = 0; i < options.warmup + options.count; i++) {
        const start = performance.now();
        const tx = db.transaction('data', 'readwrite', { durability: options.durability });
        const done = committed(tx);
        tx.objectStore('data').put(value, i);
        await done;
        if (i >= options.warmup) latencies.push(performance.now() - start);
      }
    } finally {
      db.close();
    }
    await deleteDatabase(options.database);
    return latencies;
  },

  /**
   * The strict put floor with the event loop sampled as in {@link bench.measureStalls}: `where:
   * 'page'` puts in this page's thread, `'worker'` in a dedicated Worker (the page posts each put
   * and times it until the worker's answer), which shows what IndexedDB's own garbage collection
   * costs the page's thread and a write.
   */
  async measurePutLag(options: { database: string; where: 'page' | 'worker'; bytes: number; warmup: number; count: number }): Promise<{ latencies: number[]; maxTickGapMs: number; medianTickGapMs: number }> {
    const value = new Uint8Array(options.bytes);
    const fill = prng(options.bytes);
    for (let i = 0; i < value.length; i++) value[i] = Math.floor(fill() * 256);
    let put: (key: number) => Promise<void>;
    let finish: () => void;
    if (options.where === 'page') {
      const open = indexedDB.open(options.database, 1);
      open.onupgradeneeded = () => open.result.createObjectStore('data');
      const db = await request(open);
      put = (key) => {
        const tx = db.transaction('data', 'readwrite', { durability: 'strict' });
        const done = committed(tx);
        tx.objectStore('data').put(value, key);
        return done;
      };
      finish = () => db.close();
    } else {
      const worker = new Worker(URL.createObjectURL(new Blob([PUT_WORKER], { type: 'text/javascript' })));
      let answer: ((error: unknown) => void) | undefined;
      worker.onmessage = (event: MessageEvent) => answer?.(event.data);
      worker.onerror = (event) => answer?.(event.message);
      const send = (message: unknown): Promise<void> =>
        new Promise((resolve, reject) => {
          answer = (error) => (error ? reject(new Error(String(error))) : resolve());
          worker.postMessage(message);
        });
      await send({ open: options.database });
      put = (key) => send({ key, value });
      finish = () => worker.terminate();
    }
    const latencies: number[] = [];
    let gaps: { maxGapMs: number; medianGapMs: number };
    try {
      for (let i = 0; i < options.warmup; i++) await put(i);
      const sampler = tickSampler();
      for (let i = options.warmup; i < options.warmup + options.count; i++) {
        const start = performance.now();
        await put(i);
        latencies.push(performance.now() - start);
      }
      gaps = sampler.stop();
    } finally {
      finish();
    }
    await deleteDatabase(options.database);
    return { latencies, maxTickGapMs: gaps.maxGapMs, medianTickGapMs: gaps.medianGapMs };
  },

  /**
   * The adapter alone: `append` of `bytes`-byte records (one transaction: read `meta`, put the
   * record, put `meta`) to the journal of a new store database `name`, which is removed after.
   */
  async measureAppend(options: { name: string; bytes: number; warmup: number; count: number }): Promise<number[]> {
    const adapter = createIndexedDbAdapter({ name: options.name });
    if (!adapter.append) throw new Error('the IndexedDB adapter has no append()');
    const append = adapter.append.bind(adapter);
    const record = new Uint8Array(options.bytes).fill(0x2a);
    const latencies: number[] = [];
    try {
      await adapter.lock();
      await adapter.load();
      for (let i = 0, at = 0; i < options.warmup + options.count; i++, at += record.length) {
        const start = performance.now();
        await append(record, at);
        if (i >= options.warmup) latencies.push(performance.now() - start);
      }
    } finally {
      await adapter.close();
    }
    await bench.drop(options.name);
    return latencies;
  },

  /** Deletes store database `name` (its store must be closed). */
  drop: (name: string): Promise<void> => deleteDatabase(indexedDbNames(name).database),
};

(globalThis as unknown as { bench: typeof bench }).bench = bench;

/** The page's API, for the Node side's types. */
export type DurablePage = typeof bench;
