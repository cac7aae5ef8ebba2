/**
 * The write path to the adapter: journal records and group commit, checkpoints (those that writes go
 * on during, and those they wait for), failures and retries, close, health.
 */
import type { ImageExport, JournalingEngine } from './engine.js';
import { ClosedError, PersistenceError, StoreError } from './errors.js';
import { Degradation, describe, retryDelay } from './degraded.js';
import { CHECKPOINT_KEY, IMAGE_ID_KEY, IMAGE_PARENT_KEY, SEQUENCE_KEY, type CheckpointStamp } from './image-meta.js';
import { encodeJournalHeader, encodeRecord, newImageId } from './journal.js';
import { clockMs, exportImage, type ExportedImage, type Stamp } from './image-export.js';
import { checkpointThreshold, type ChangeMessage, type DurabilitySettings, type OpenedState, type StoreHealth } from './durability-types.js';
import { joinFrames, PendingFrames, type PendingFrame } from './pending-frames.js';
import type { PersistenceAdapter } from './persistence.js';
import type { SqlStatement } from './sql-port.js';

export * from './durability-types.js';

/** A checkpoint that writes go on during: its image, and the marker that ends what it holds. */
interface Segmenting {
  readonly exported: ExportedImage;
  /** The marker (a header naming the new image), queued to the journal after the image's last record. */
  readonly marker: PendingFrame;
  /** Where the marker landed in the journal, once appended. */
  markerOffset: number | undefined;
  /** Whether the new image is durable (the journal before the marker may then be dropped). */
  imageDurable: boolean;
}

export { SEQUENCE_KEY };

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
  // The image the journal's last segment continues (a marker's parent).
  #segmentImageId: string | undefined;
  readonly #pending = new PendingFrames();
  // The next persistence step must write the whole image: no journal, a failed checkpoint, a write
  // the journal could not hold, or a checkpoint that is due.
  #checkpointDue = false;
  #running: Promise<void> | undefined;
  #runningUpTo = 0;
  #queued: Promise<void> | undefined;
  #lastCheckpointAt: number | undefined;
  #lastCheckpointMs: number | undefined;
  // The checkpoint running (its export and its image write), whichever kind: one at a time.
  #checkpointRun: Promise<void> | undefined;
  // Set by close(): no checkpoint starts any more.
  #closing = false;
  // Its marker and image, from the end of its export until the journal before the marker is dropped.
  #segmenting: Segmenting | undefined;
  // After a failed background checkpoint, the next one waits until then (Unix ms).
  #checkpointRetryAt = 0;
  #checkpointFailures = 0;
  #export: ImageExport | undefined;
  readonly #degradation: Degradation;
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
    this.#degradation = new Degradation(adapter.name, settings, now, () => this.#queue().catch(() => undefined));
    this.#settings = settings;
    this.#now = now;
    this.#transactionsEnded = transactionsEnded;
    this.#lastSequence = opened.lastSequence;
    this.#durableSequence = opened.lastSequence;
    this.#imageSequence = opened.imageSequence;
    this.#journalLength = opened.journalLength;
    this.#imageBytes = opened.imageBytes;
    this.#imageId = opened.imageId;
    this.#segmentImageId = opened.segmentImageId ?? opened.imageId;
    engine.setCommitListener((statements) => this.#record(statements));
  }

  get #journaling(): boolean {
    return this.#settings.useJournal && typeof this.#adapter.append === 'function';
  }

  // Whether checkpoints let writes go on: the adapter writes an image and trims the journal apart.
  get #segmented(): boolean {
    return this.#journaling && typeof this.#adapter.writeImage === 'function' && typeof this.#adapter.trimJournal === 'function';
  }

  /** The journal size at which the next checkpoint starts. */
  get #threshold(): number {
    return checkpointThreshold(this.#settings.checkpointBytes, this.#imageBytes);
  }

  /** Called by the engine, synchronously, for every committed write unit. */
  #record(statements: readonly SqlStatement[]): void {
    const sequence = ++this.#lastSequence;
    if (this.#journaling) {
      try {
        const frame = encodeRecord(sequence, statements);
        this.#pending.push({ bytes: frame, sequence, marker: false });
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
    this.#degradation.refuseWrite();
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
    const refused = this.#degradation.refusedRead();
    if (refused) return Promise.reject(refused);
    return this.#durable(sequence);
  }

  /** Makes everything committed so far durable. */
  flush(): Promise<void> {
    if (this.#lastSequence <= this.#durableSequence && !this.#checkpointDue) return Promise.resolve();
    return this.#durable(this.#lastSequence);
  }

  /**
   * Writes a new image now and drops the journal it covers. Where the adapter allows it (see
   * `PersistenceAdapter.writeImage`), writes go on meanwhile; otherwise they wait for it.
   */
  async checkpoint(): Promise<void> {
    if (this.#stopped || this.#closing) throw new ClosedError('the store');
    if (this.#segmented && !this.#checkpointDue && this.#imageId !== undefined) {
      try {
        await this.#serially(() => (this.#closing ? Promise.reject(new ClosedError('the store')) : this.#background()));
      } catch (e) {
        if (e instanceof StoreError) throw e;
        throw new PersistenceError(
          `the checkpoint to the ${this.#adapter.name} adapter failed (${describe(e)}); nothing is lost: the journal holds every write, and writes go on`,
          { cause: e },
        );
      }
      // The journal before the marker goes in the persistence queue, after the marker's append.
      await this.#queue();
      return;
    }
    this.#checkpointDue = true;
    return this.#queue();
  }

  /**
   * Runs `fn` while no checkpoint runs (none starts before it settles): for work on the engine that
   * an export in steps must not see half done, such as a vacuum.
   */
  async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#stopped || this.#closing) throw new ClosedError('the store');
    let result: { value: T } | undefined;
    await this.#serially(async () => {
      result = { value: await fn() };
    });
    return (result as { value: T }).value;
  }

  // Runs checkpoints one at a time (an export, an image write): `run` starts once none runs.
  async #serially(run: () => Promise<void>): Promise<void> {
    while (this.#checkpointRun) await this.#checkpointRun.catch(() => undefined);
    if (this.#stopped) throw new ClosedError('the store');
    const running = run();
    this.#checkpointRun = running;
    try {
      await running;
    } finally {
      if (this.#checkpointRun === running) this.#checkpointRun = undefined;
    }
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
      } else {
        if (this.#pending.length > 0) await this.#append();
        await this.#trim();
        if (this.#journalLength >= this.#threshold) this.#checkpointWhenDue();
      }
    } catch (e) {
      throw this.#degradation.failed(e);
    }
    this.#degradation.recovered();
  }

  // The journal reached the threshold: a checkpoint that writes go on during, or else the next step
  // writes a new image (after this one, in the background).
  #checkpointWhenDue(): void {
    if (this.#closing || this.#stopped) return;
    if (this.#segmented && this.#imageId !== undefined) {
      if (this.#checkpointRun || this.#segmenting || this.#now() < this.#checkpointRetryAt) return;
      this.#serially(() => (this.#closing ? Promise.resolve() : this.#background())).catch(() => undefined);
      return;
    }
    this.#checkpointDue = true;
    this.#queue().catch(() => undefined);
  }

  /**
   * A checkpoint that writes go on during (run by `#serially`): the image exported in steps; at the
   * moment the copy completes, a marker queued after the last record it holds; the image written
   * while the journal goes on growing; once it is durable the persistence queue drops the journal
   * before the marker (`#trim`). Resolves once the image is durable; a failure is a warning
   * (nothing is lost: the journal holds every write), and the next one waits a while.
   */
  async #background(): Promise<void> {
    const started = clockMs();
    let segmenting: Segmenting | undefined;
    const exported = await this.#exportImage(true, (stamped) => {
      // Synchronously with the copy's completion: every record before the marker is in the image,
      // every one after it is not.
      const bytes = encodeJournalHeader(stamped.id, stamped.sequence, this.#segmentImageId as string);
      const marker: PendingFrame = { bytes, sequence: stamped.sequence, marker: true };
      segmenting = { exported: stamped, marker, markerOffset: undefined, imageDurable: false };
      this.#segmenting = segmenting;
      this.#segmentImageId = stamped.id;
      this.#pending.push(marker);
    });
    const current = segmenting as unknown as Segmenting;
    // Appended with the records before it (soon, in the queue); the image is written meanwhile.
    this.#queue().catch(() => undefined);
    try {
      // After close() nothing reaches the adapter again.
      if (this.#stopped) throw new ClosedError('the store');
      await (this.#adapter.writeImage as NonNullable<PersistenceAdapter['writeImage']>)(exported.image);
    } catch (e) {
      if (this.#segmenting === current) this.#segmenting = undefined;
      if (e instanceof ClosedError) throw e;
      const delay = this.#checkpointFailed();
      this.#settings.onWarning({
        code: 'CHECKPOINT',
        message: `a checkpoint failed; nothing is lost (the journal holds every write) and writes go on; the next is tried after ${delay} ms: ${describe(e)}`,
        cause: e,
      });
      throw e;
    }
    this.#checkpointFailures = 0;
    current.imageDurable = true;
    this.#imageWritten(exported, clockMs() - started);
    // The journal before the marker is dropped in the queue, once the marker is appended.
    if (current.markerOffset !== undefined) this.#queue().catch(() => undefined);
  }

  // After a failed checkpoint: the next waits a backoff; returns it (ms).
  #checkpointFailed(): number {
    const delay = retryDelay(this.#settings, ++this.#checkpointFailures);
    this.#checkpointRetryAt = this.#now() + delay;
    return delay;
  }

  // The durable image is `exported` now.
  #imageWritten(exported: ExportedImage, ms: number): void {
    this.#durableSequence = Math.max(this.#durableSequence, exported.sequence);
    this.#imageSequence = exported.sequence;
    this.#imageId = exported.id;
    this.#imageBytes = exported.image.length;
    this.#lastCheckpointAt = this.#now();
    this.#lastCheckpointMs = ms;
    this.#publish?.({ kind: 'pa-store/image', sequence: exported.sequence });
    this.checkSize();
  }

  // Drops the journal before a durable image's marker (a step of the queue: never beside an append).
  // A failure loses nothing (the journal is whole, or trimmed: either replays onto the new image),
  // but leaves the journal's length unknown: the next step writes a whole image (the checkpoint every
  // adapter has), which empties the journal and starts it again, without refusing writes meanwhile.
  async #trim(): Promise<void> {
    const segmenting = this.#segmenting;
    if (!segmenting?.imageDurable || segmenting.markerOffset === undefined) return;
    // A marker with nothing after it yet goes too: the journal is then empty, and the next append
    // opens it with a header naming the new image.
    const from = segmenting.markerOffset + segmenting.marker.bytes.length === this.#journalLength ? this.#journalLength : segmenting.markerOffset;
    try {
      await (this.#adapter.trimJournal as NonNullable<PersistenceAdapter['trimJournal']>)(from);
    } catch (e) {
      this.#segmenting = undefined;
      this.#checkpointDue = true;
      this.#settings.onWarning({
        code: 'CHECKPOINT',
        message: `dropping the journal a checkpoint's image holds failed; nothing is lost and writes go on; the next flush writes the whole image instead: ${describe(e)}`,
        cause: e,
      });
      this.#queue().catch(() => undefined);
      return;
    }
    this.#journalLength -= from;
    if (this.#segmenting === segmenting) this.#segmenting = undefined;
  }

  async #append(): Promise<void> {
    const at = this.#journalLength;
    if (at === 0) {
      // A new journal, opened by a header naming the durable image: what that image holds (records,
      // and the markers of the checkpoints that wrote it or an earlier one) is not needed in it.
      this.#pending.dropThrough(this.#imageSequence);
      if (this.#segmenting && !this.#pending.includes(this.#segmenting.marker)) this.#segmenting = undefined;
      if (this.#pending.length === 0) return;
    }
    const upTo = this.#lastSequence;
    const taken = this.#pending.take();
    // A journal's first append starts with its header (the image always has an id by then).
    const header = at === 0 ? encodeJournalHeader(this.#imageId as string, this.#imageSequence) : undefined;
    const segmenting = this.#segmenting;
    const { joined, markerAt } = joinFrames(taken.frames, taken.bytes, at, header, segmenting?.markerOffset === undefined ? segmenting?.marker : undefined);
    try {
      await (this.#adapter.append as NonNullable<PersistenceAdapter['append']>)(joined, at);
    } catch (e) {
      // Kept, in order, for the retry: nothing committed is dropped.
      this.#pending.restore(taken);
      throw e;
    }
    this.#journalLength = at + joined.length;
    this.#durableSequence = Math.max(this.#durableSequence, upTo);
    if (markerAt !== undefined && segmenting) segmenting.markerOffset = markerAt;
    this.#publish?.({ kind: 'pa-store/records', bytes: joined });
  }

  // The bookkeeping an image records about itself (see `image-meta.ts`): the last write unit it
  // holds, a new id (unless it holds nothing the durable image lacks and that one has an id), the
  // durable image as its parent, and how its checkpoint went.
  #stamp(startedAt: number, journalBytes: number): Stamp {
    const sequence = this.#lastSequence;
    const statements: SqlStatement[] = [];
    const put = (key: string, value: string) => statements.push({ sql: 'INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', params: [key, value] });
    let id = this.#imageId;
    if (sequence !== this.#imageSequence || id === undefined) {
      id = newImageId();
      if (sequence !== this.#imageSequence) put(SEQUENCE_KEY, String(sequence));
      put(IMAGE_ID_KEY, id);
      if (this.#imageId === undefined) statements.push({ sql: 'DELETE FROM meta WHERE key = ?', params: [IMAGE_PARENT_KEY] });
      else put(IMAGE_PARENT_KEY, this.#imageId);
      const checkpoint: CheckpointStamp = {
        at: this.#now(),
        exportMs: Math.round(clockMs() - startedAt),
        journalBytes,
        ...(this.#lastCheckpointMs === undefined ? {} : { previousMs: Math.round(this.#lastCheckpointMs) }),
      };
      put(CHECKPOINT_KEY, JSON.stringify(checkpoint));
    }
    return { sequence, id, statements };
  }

  // Exports and stamps the image (see `image-export.ts`).
  #exportImage(stepped: boolean, onStamped: (exported: ExportedImage) => void): Promise<ExportedImage> {
    const journalBytes = this.#journalLength;
    return exportImage(
      {
        engine: this.#engine,
        transactionsEnded: this.#transactionsEnded,
        stopped: () => this.#stopped,
        running: (exported) => (this.#export = exported),
      },
      stepped,
      (startedAt) => this.#stamp(startedAt, journalBytes),
      onStamped,
    );
  }

  // A checkpoint in the persistence queue: the writes waiting for durability wait for it (the
  // journal is off, the adapter cannot write an image apart, or only a new image can hold a write).
  async #writeImage(): Promise<void> {
    // One at a time: a checkpoint that writes go on during finishes first (its image is then the
    // durable one, and this one replaces it with the journal it leaves).
    await this.#serially(async () => {
      const started = clockMs();
      let covered: ReturnType<PendingFrames['take']> | undefined;
      // An image that needs writing per flush (no journal) is small or slow anyway; a stepped export
      // pays off where it runs less often.
      const exported = await this.#exportImage(this.#journaling, () => {
        // What the image holds, taken at the moment it is complete: records that commit after it
        // stay pending for the journal the checkpoint starts.
        covered = this.#pending.take();
      });
      try {
        if (this.#stopped) throw new ClosedError('the store');
        await this.#adapter.checkpoint(exported.image);
      } catch (e) {
        if (covered) this.#pending.restore(covered);
        throw e;
      }
      this.#checkpointDue = false;
      this.#journalLength = 0;
      this.#segmenting = undefined;
      this.#segmentImageId = exported.id;
      this.#imageWritten(exported, clockMs() - started);
    });
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
      message: `the database image is ${(this.#imageBytes / 2 ** 20).toFixed(1)} MiB, past the warning threshold of ${(limit / 2 ** 20).toFixed(0)} MiB. The whole database lives in memory (and a checkpoint needs a second copy); run retention, or move to the node:sqlite engine or D1 (see docs/engines.md#limits)`,
    });
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
    // No checkpoint starts from now on; the one running (if any) ends first.
    this.#closing = true;
    while (this.#checkpointRun) await this.#checkpointRun.catch(() => undefined);
    // A clean image is not written again; a journal that only holds what the image has is emptied.
    const clean = this.#lastSequence === this.#imageSequence && !this.#checkpointDue;
    if (error === undefined && clean && this.#journalLength > 0 && this.#segmented) {
      try {
        await this.#settled();
        await (this.#adapter.trimJournal as NonNullable<PersistenceAdapter['trimJournal']>)(this.#journalLength);
        this.#journalLength = 0;
        this.#segmenting = undefined;
      } catch (e) {
        this.#settings.onWarning({ code: 'CHECKPOINT', message: `emptying the journal at close failed; nothing is lost (it only holds what the image has): ${describe(e)}`, cause: e });
      }
    } else if (error === undefined && (!clean || this.#journalLength > 0)) {
      try {
        this.#checkpointDue = true;
        await this.#queue();
      } catch (e) {
        this.#settings.onWarning({ code: 'CHECKPOINT', message: `the checkpoint at close failed; nothing is lost (the journal is kept and replayed at the next open): ${describe(e)}`, cause: e });
      }
    }
    await this.#settled();
    this.stop();
    const unsaved = this.#lastSequence - this.#durableSequence;
    if (unsaved > 0) {
      const cause = error ?? this.#degradation.error;
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
    this.#export?.abort();
    this.#engine.setCommitListener(undefined);
    this.#degradation.stop();
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  /** The state `store.health()` reports. */
  health(closed: boolean): StoreHealth {
    return {
      state: closed ? 'closed' : this.#degradation.error ? 'degraded' : 'ok',
      durability: this.#settings.mode,
      journal: this.#journaling,
      pendingWrites: this.#lastSequence - this.#durableSequence,
      lastSequence: this.#lastSequence,
      durableSequence: this.#durableSequence,
      imageBytes: this.#imageBytes,
      journalBytes: this.#journalLength,
      ...(this.#lastCheckpointAt === undefined ? {} : { lastCheckpointAt: this.#lastCheckpointAt }),
      ...(this.#lastCheckpointMs === undefined ? {} : { lastCheckpointMs: Math.round(this.#lastCheckpointMs) }),
      checkpointing: this.#checkpointRun !== undefined || this.#segmenting !== undefined,
      checkpointThresholdBytes: this.#threshold,
      ...this.#degradation.health(),
    };
  }
}

