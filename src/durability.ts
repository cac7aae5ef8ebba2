import type { JournalingEngine } from './engine.js';
import { ClosedError, PersistenceError, StoreError } from './errors.js';
import { IMAGE_ID_KEY, IMAGE_PARENT_KEY, SEQUENCE_KEY } from './image-meta.js';
import { encodeJournalHeader, encodeRecord, newImageId } from './journal.js';
import type { Durability, PersistenceAdapter } from './persistence.js';
import type { SqlStatement } from './sql-port.js';

export type { Durability };

/** Something the store wants you to know that is not an error (delivered to `onWarning`). */
export interface StoreWarning {
  /**
   * `TORN_TAIL`: a last journal record cut short or damaged by a crash was dropped (at open);
   * `SIZE`: the image passed `sizeWarningBytes`; `CHECKPOINT`: the checkpoint at `close()` failed,
   * but nothing was lost (the journal stays); `DEGRADED`: an append or checkpoint failed: writes
   * are refused while the store retries (once per failure episode); `FOLLOW`: a following store
   * (`whenLocked: 'follow'`/`'wait'`) could not refresh or take over, and retries; `DURABILITY`: the
   * adapter chose the durability (`'deferred'` on Cloudflare KV), once per adapter kind and realm.
   */
  readonly code: 'TORN_TAIL' | 'SIZE' | 'CHECKPOINT' | 'DEGRADED' | 'FOLLOW' | 'DURABILITY';
  /** A sentence for people. */
  readonly message: string;
  /** The error behind it, if any. */
  readonly cause?: unknown;
}

/** What `store.health()` reports. */
export interface StoreHealth {
  /**
   * `'degraded'` while persistence fails (writes are refused, reads work); `'read-only'` for a
   * read-only store; `'following'` while another store owns the database and this one follows its
   * commits (`whenLocked: 'follow'`/`'wait'`).
   */
  readonly state: 'ok' | 'degraded' | 'read-only' | 'following' | 'closed';
  /** The durability mode in force. */
  readonly durability: Durability;
  /** Whether writes go to a journal (`false`: the whole image is written per flush). */
  readonly journal: boolean;
  /** Write units committed in memory and not yet durable. */
  readonly pendingWrites: number;
  /** The sequence number of the last committed write unit. */
  readonly lastSequence: number;
  /** The sequence number of the last durable write unit. */
  readonly durableSequence: number;
  /** The size of the last image loaded or written, in bytes. */
  readonly imageBytes: number;
  /** The journal's size, in bytes. */
  readonly journalBytes: number;
  /** When the last checkpoint completed (Unix ms, the store's clock), if one did since opening. */
  readonly lastCheckpointAt?: number;
  /** The last persistence failure, while degraded. */
  readonly lastError?: StoreError;
  /** When the store became degraded (Unix ms). */
  readonly degradedSince?: number;
  /** When the next retry runs (Unix ms), while degraded. */
  readonly nextRetryAt?: number;
}

/**
 * What an owning store tells the stores that follow it (through the adapter's `publish`), once it
 * is durable: the journal records it appended, or the sequence a new image holds.
 */
export type ChangeMessage =
  | { readonly kind: 'pa-store/records'; readonly bytes: Uint8Array }
  | { readonly kind: 'pa-store/image'; readonly sequence: number };

/** The durability settings `openStore` resolves. */
export interface DurabilitySettings {
  readonly mode: Durability;
  readonly useJournal: boolean;
  readonly flushIntervalMs: number;
  readonly checkpointBytes: number;
  readonly sizeWarningBytes: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly onWarning: (warning: StoreWarning) => void;
}

/** Where the persisted state stood when the store opened. */
export interface OpenedState {
  /** The sequence the image contains. */
  readonly imageSequence: number;
  /** The sequence of the last record replayed (≥ imageSequence). */
  readonly lastSequence: number;
  /** Where the next journal append goes. */
  readonly journalLength: number;
  /** The image's size in bytes. */
  readonly imageBytes: number;
  /** The image's id (`meta.store_image_id`), which a journal after it names; `undefined` for an image from before ids. */
  readonly imageId?: string | undefined;
}

export { SEQUENCE_KEY };

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/**
 * The write path to the adapter: journal records, group commit, checkpoints, failures and retries.
 * One persistence step (an append or a checkpoint) runs at a time, in order.
 */
export class DurabilityManager {
  readonly #engine: JournalingEngine;
  readonly #adapter: PersistenceAdapter;
  readonly #settings: DurabilitySettings;
  readonly #now: () => number;
  // Waits until no interactive transaction is open (the image cannot be exported inside one).
  readonly #transactionsEnded: () => Promise<void>;

  #lastSequence: number;
  #durableSequence: number;
  #imageSequence: number;
  #journalLength: number;
  #imageBytes: number;
  // The durable image's id; a journal started after it begins with a header naming it.
  #imageId: string | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  // The next persistence step must write the whole image: no journal, a failed checkpoint, a write
  // the journal could not hold, or a checkpoint that is due.
  #checkpointDue = false;
  #running: Promise<void> | undefined;
  #runningUpTo = 0;
  #queued: Promise<void> | undefined;
  #lastCheckpointAt: number | undefined;
  #failure: { error: PersistenceError; since: number; attempts: number; nextRetryAt?: number } | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #sizeWarned = false;
  #stopped = false;
  readonly #publish: ((message: ChangeMessage) => void) | undefined;

  constructor(
    engine: JournalingEngine,
    adapter: PersistenceAdapter,
    settings: DurabilitySettings,
    opened: OpenedState,
    now: () => number,
    transactionsEnded: () => Promise<void>,
  ) {
    // Telling followers is best effort: it must never fail a write that is durable.
    this.#publish = adapter.publish
      ? (message) => {
          try {
            adapter.publish?.(message);
          } catch {
            /* followers catch up from the next message */
          }
        }
      : undefined;
    this.#engine = engine;
    this.#adapter = adapter;
    this.#settings = settings;
    this.#now = now;
    this.#transactionsEnded = transactionsEnded;
    this.#lastSequence = opened.lastSequence;
    this.#durableSequence = opened.lastSequence;
    this.#imageSequence = opened.imageSequence;
    this.#journalLength = opened.journalLength;
    this.#imageBytes = opened.imageBytes;
    this.#imageId = opened.imageId;
    engine.setCommitListener((statements) => this.#record(statements));
  }

  get #journaling(): boolean {
    return this.#settings.useJournal && typeof this.#adapter.append === 'function';
  }

  /** Called by the engine, synchronously, for every committed write unit. */
  #record(statements: readonly SqlStatement[]): void {
    const sequence = ++this.#lastSequence;
    if (this.#journaling) {
      try {
        const frame = encodeRecord(sequence, statements);
        this.#pending.push(frame);
        this.#pendingBytes += frame.length;
      } catch {
        // The write is in memory but cannot be journaled (a unit over the record size limit): only
        // a new image can hold it, so the next flush is a checkpoint.
        this.#checkpointDue = true;
      }
    }
    if (this.#settings.mode === 'deferred' && this.#flushTimer === undefined && !this.#stopped) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.flush().catch(() => undefined);
      }, this.#settings.flushIntervalMs);
    }
  }

  /** The sequence number of the last committed write unit. */
  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Throws when a write must not start: the store is degraded. */
  checkWritable(): void {
    if (this.#failure) {
      throw new PersistenceError(
        `the store is degraded: persisting to the ${this.#adapter.name} adapter failed (${describe(this.#failure.error.cause)}); writes are refused until a retry succeeds (see store.health())`,
        { cause: this.#failure.error.cause },
      );
    }
  }

  /** After a write committed in memory: resolves when the write mode says it may. */
  afterWrite(): Promise<void> | undefined {
    if (this.#settings.mode !== 'write' || this.#lastSequence <= this.#durableSequence) return undefined;
    return this.#durable(this.#lastSequence);
  }

  /**
   * For a read that saw every write up to `sequence`: resolves once they are all durable (starting a
   * flush when none covers them yet), at once (`undefined`) when they are, and rejects with the
   * store's `PersistenceError` while it is degraded (what the read saw may not survive a crash).
   */
  durableUpTo(sequence: number): Promise<void> | undefined {
    if (sequence <= this.#durableSequence) return undefined;
    if (this.#failure) {
      return Promise.reject(
        new PersistenceError(
          `the read saw writes that are not durable, and persisting to the ${this.#adapter.name} adapter fails (${describe(this.#failure.error.cause)}); with reads: 'durable' it is refused until a retry succeeds (see store.health())`,
          { cause: this.#failure.error.cause },
        ),
      );
    }
    return this.#durable(sequence);
  }

  /** Makes everything committed so far durable. */
  flush(): Promise<void> {
    if (this.#lastSequence <= this.#durableSequence && !this.#checkpointDue) return Promise.resolve();
    return this.#durable(this.#lastSequence);
  }

  /** Writes a new image now (and empties the journal). */
  checkpoint(): Promise<void> {
    this.#checkpointDue = true;
    return this.#queue();
  }

  #durable(sequence: number): Promise<void> {
    if (this.#running && sequence <= this.#runningUpTo) return this.#running;
    return this.#queue();
  }

  // Starts a persistence step now, or after the one running: every write waiting then shares it.
  #queue(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#start();
      });
    return this.#queued;
  }

  #start(): Promise<void> {
    // After close() nothing reaches the adapter again: it has given up ownership.
    if (this.#stopped) return Promise.reject(new ClosedError('the store'));
    const step = this.#step();
    this.#running = step;
    this.#runningUpTo = this.#lastSequence;
    const clear = (): void => {
      if (this.#running === step) this.#running = undefined;
    };
    step.then(clear, clear);
    return step;
  }

  async #step(): Promise<void> {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    try {
      // A journal begins with a header naming its image: an image without an id (one from before
      // ids, or the Go agent's) is replaced by one with an id instead of being appended to.
      if (this.#checkpointDue || !this.#journaling || (this.#imageId === undefined && this.#pending.length > 0)) {
        if (this.#lastSequence > this.#durableSequence || this.#checkpointDue) await this.#writeImage();
      } else if (this.#pending.length > 0) {
        await this.#append();
        if (this.#journalLength >= this.#settings.checkpointBytes) {
          // Due: the next step writes a new image. It runs after this one, in the background.
          this.#checkpointDue = true;
          this.#queue().catch(() => undefined);
        }
      }
    } catch (e) {
      throw this.#failed(e);
    }
    this.#recovered();
  }

  async #append(): Promise<void> {
    const frames = this.#pending;
    const bytes = this.#pendingBytes;
    const upTo = this.#lastSequence;
    const at = this.#journalLength;
    this.#pending = [];
    this.#pendingBytes = 0;
    // A journal's first append starts with its header (the image always has an id by then).
    const header = at === 0 ? encodeJournalHeader(this.#imageId as string, this.#imageSequence) : undefined;
    const appended = header ? concat([header, ...frames], header.length + bytes) : concat(frames, bytes);
    try {
      await (this.#adapter.append as NonNullable<PersistenceAdapter['append']>)(appended, at);
    } catch (e) {
      // Kept, in order, for the retry: nothing committed is dropped.
      this.#pending = frames.concat(this.#pending);
      this.#pendingBytes += bytes;
      throw e;
    }
    this.#journalLength = at + appended.length;
    this.#durableSequence = Math.max(this.#durableSequence, upTo);
    this.#publish?.({ kind: 'pa-store/records', bytes: appended });
  }

  async #writeImage(): Promise<void> {
    // The image is exported between transactions, synchronously, so it holds exactly the write
    // units up to `upTo` and records that sequence in itself.
    while (this.#engine.inTransaction) await this.#transactionsEnded();
    const upTo = this.#lastSequence;
    // An image with writes the last one lacks (or the first with an id) gets a new id, and names
    // the one it replaces, whose journal a crash may leave beside it. An image with nothing new
    // keeps its id: every journal that continued the old one continues it.
    let id = this.#imageId;
    if (upTo !== this.#imageSequence || id === undefined) {
      id = newImageId();
      if (upTo !== this.#imageSequence) this.#engine.runSync('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [SEQUENCE_KEY, String(upTo)]);
      this.#engine.runSync('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [IMAGE_ID_KEY, id]);
      if (this.#imageId === undefined) this.#engine.runSync('DELETE FROM meta WHERE key = ?', [IMAGE_PARENT_KEY]);
      else this.#engine.runSync('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [IMAGE_PARENT_KEY, this.#imageId]);
    }
    const image = this.#engine.exportImageSync();
    const covered = this.#pending;
    const coveredBytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      await this.#adapter.checkpoint(image);
    } catch (e) {
      this.#pending = covered.concat(this.#pending);
      this.#pendingBytes += coveredBytes;
      throw e;
    }
    this.#checkpointDue = false;
    this.#journalLength = 0;
    this.#durableSequence = Math.max(this.#durableSequence, upTo);
    this.#imageSequence = upTo;
    this.#imageId = id;
    this.#imageBytes = image.length;
    this.#lastCheckpointAt = this.#now();
    this.#publish?.({ kind: 'pa-store/image', sequence: upTo });
    this.checkSize();
  }

  /** Warns once when the image passes `sizeWarningBytes` (after every checkpoint, and at open). */
  checkSize(): void {
    const limit = this.#settings.sizeWarningBytes;
    if (this.#imageBytes < limit) {
      this.#sizeWarned = false;
      return;
    }
    if (this.#sizeWarned) return;
    this.#sizeWarned = true;
    this.#settings.onWarning({
      code: 'SIZE',
      message: `the database image is ${(this.#imageBytes / 2 ** 20).toFixed(1)} MiB, past the warning threshold of ${(limit / 2 ** 20).toFixed(0)} MiB. The whole database lives in memory (and a checkpoint needs a second copy); run retention, or move to a native SQLite or D1 (see the README's limits)`,
    });
  }

  #failed(e: unknown): PersistenceError {
    const failure = this.#failure;
    const error =
      e instanceof PersistenceError
        ? e
        : new PersistenceError(
            `persisting to the ${this.#adapter.name} adapter failed (${describe(e)}); the write is applied in memory but not durable and not acknowledged. The store retries in the background and refuses new writes meanwhile (see store.health()); do not repeat the write: store.flush() resolves once it is durable`,
            { cause: e, applied: true },
          );
    const attempts = (failure?.attempts ?? 0) + 1;
    this.#failure = { error, since: failure?.since ?? this.#now(), attempts };
    if (!failure) this.#settings.onWarning({ code: 'DEGRADED', message: error.message, cause: e });
    // A closed engine cannot be exported again: retrying would fail forever.
    if (!(e instanceof ClosedError)) this.#scheduleRetry();
    return error;
  }

  #scheduleRetry(): void {
    const failure = this.#failure;
    if (!failure || this.#stopped || this.#retryTimer !== undefined) return;
    const delay = Math.min(this.#settings.retryMaxMs, this.#settings.retryMinMs * 2 ** Math.min(failure.attempts - 1, 20));
    failure.nextRetryAt = this.#now() + delay;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopped) return;
      this.#queue().catch(() => undefined);
    }, delay);
    // In 'write' mode every write not yet durable was refused, so a retry need not keep a process
    // alive (Node); with 'deferred' it holds acknowledged writes, so it does. Runtimes may lack unref.
    if (this.#settings.mode !== 'deferred') (this.#retryTimer as { unref?: () => void }).unref?.();
  }

  #recovered(): void {
    if (!this.#failure) return;
    this.#failure = undefined;
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  /**
   * At close: makes everything durable, then writes a final image when the journal holds anything
   * (a failed final checkpoint loses nothing: the journal stays, and is replayed at the next open).
   * Waits for every persistence step already queued, so nothing reaches the adapter afterwards.
   */
  async close(): Promise<void> {
    let error: unknown;
    try {
      await this.flush();
    } catch (e) {
      error = e;
    }
    if (error === undefined && (this.#journalLength > 0 || this.#checkpointDue)) {
      try {
        await this.checkpoint();
      } catch (e) {
        this.#settings.onWarning({ code: 'CHECKPOINT', message: `the checkpoint at close failed; nothing is lost (the journal is kept and replayed at the next open): ${describe(e)}`, cause: e });
      }
    }
    await this.#settled();
    this.stop();
    const unsaved = this.#lastSequence - this.#durableSequence;
    if (unsaved > 0) {
      const cause = error ?? this.#failure?.error;
      throw new PersistenceError(
        `close() could not persist ${unsaved} write unit(s) (in 'write' mode none of them was acknowledged): ${describe(cause instanceof StoreError ? (cause.cause ?? cause) : cause)}`,
        { cause },
      );
    }
  }

  // Resolves once no persistence step is running or queued (their errors are the callers').
  async #settled(): Promise<void> {
    for (let step = this.#queued ?? this.#running; step; step = this.#queued ?? this.#running) {
      await step.catch(() => undefined);
    }
  }

  /** Stops timers and listening (the store is closing). */
  stop(): void {
    this.#stopped = true;
    this.#engine.setCommitListener(undefined);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#retryTimer = undefined;
    this.#flushTimer = undefined;
  }

  /** The state `store.health()` reports. */
  health(closed: boolean): StoreHealth {
    const failure = this.#failure;
    return {
      state: closed ? 'closed' : failure ? 'degraded' : 'ok',
      durability: this.#settings.mode,
      journal: this.#journaling,
      pendingWrites: this.#lastSequence - this.#durableSequence,
      lastSequence: this.#lastSequence,
      durableSequence: this.#durableSequence,
      imageBytes: this.#imageBytes,
      journalBytes: this.#journalLength,
      ...(this.#lastCheckpointAt === undefined ? {} : { lastCheckpointAt: this.#lastCheckpointAt }),
      ...(failure ? { lastError: failure.error, degradedSince: failure.since, ...(failure.nextRetryAt === undefined ? {} : { nextRetryAt: failure.nextRetryAt }) } : {}),
    };
  }
}

