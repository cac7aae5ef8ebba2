import { createMemoryAdapter } from '../adapters/memory.js';
import * as approvals from './approvals.js';
import * as audit from './audit.js';
import type { Context } from './context.js';
import * as deadLetters from './dead-letters.js';
import {
  ClosedError,
  CorruptDatabaseError,
  LockError,
  NotFoundError,
  PersistenceError,
  ReadOnlyError,
  SqlError,
  SqliteJournalError,
  StoreError,
  type CorruptReason,
  UnsupportedError,
  ValidationError,
  type LockHolder,
} from './errors.js';
import {
  DurabilityManager,
  type ChangeMessage,
  type Durability,
  type DurabilitySettings,
  type StoreHealth,
  type StoreWarning,
} from './durability.js';
import { journalContinuation, readImageMeta } from './image-meta.js';
import { parseJournal } from './journal.js';
import { migrate } from './migrations.js';
import type { LoadedState, PersistenceAdapter } from './persistence.js';
import type {
  ApprovalFilter,
  AuditEntry,
  AuditEntryInput,
  AuditFilter,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterInput,
  PendingApproval,
  PendingApprovalInput,
  RetentionPolicy,
  RetentionResult,
  SessionContext,
  SessionContextFilter,
  SessionContextInput,
  Task,
  TaskFilter,
  TaskInput,
  TaskOutcome,
  TaskStatus,
  ThreadSession,
  ThreadSessionFilter,
  ThreadSessionInput,
} from './records.js';
import { runRetention } from './retention.js';
import * as sessions from './sessions.js';
import type { SqlPort, SqlStatement, SqlValue } from './sql-port.js';
import { isJournaling, type Engine, type JournalingEngine } from './engine.js';
import { createSqlJsEngine, type SqlJsEngine, type WasmSource } from './sqljs-engine.js';
import * as tasks from './tasks.js';

type Operation<A extends unknown[], R> = (ctx: Context, ...args: A) => Promise<R>;

/**
 * Every domain operation of the store. The {@link Store} has them all, and so has the handle a
 * {@link Store.transaction} callback receives.
 */
export abstract class StoreOperations {
  /** Runs one reading operation against the right port, or rejects (closed, transaction ended). */
  protected abstract call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R>;
  /** Runs one writing operation: refused up front when the store cannot take writes (read-only, degraded). */
  protected abstract write<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R>;

  // Tasks
  /** Saves a task (INSERT OR REPLACE of every column); `status` defaults to `pending`, timestamps to now. */
  saveTask(task: TaskInput): Promise<Task> {
    return this.write(tasks.saveTask, task);
  }
  /** The task with this id, or `undefined`. */
  getTask(id: string): Promise<Task | undefined> {
    return this.call(tasks.getTask, id);
  }
  /** Sets a task's status and `updatedAt`; rejects with `NOT_FOUND` when there is no such task. */
  updateTaskStatus(id: string, status: TaskStatus): Promise<void> {
    return this.write(tasks.updateTaskStatus, id, status);
  }
  /** Ends a task: `failed` when `error` is given (non-empty), else `completed`; rejects with `NOT_FOUND`. */
  completeTask(id: string, outcome?: TaskOutcome): Promise<void> {
    return this.write(tasks.completeTask, id, outcome);
  }
  /** Tasks newest first, optionally by `status` and `callerId`, at most `limit`. */
  listTasks(filter?: TaskFilter): Promise<Task[]> {
    return this.call(tasks.listTasks, filter);
  }
  /** Marks every `running` task `failed` (`stuck_on_startup`); resolves with how many. */
  failStuckTasks(): Promise<number> {
    return this.write(tasks.failStuckTasks);
  }
  /** The pending tasks, oldest first (changes nothing). */
  requeuePendingTasks(): Promise<Task[]> {
    return this.call(tasks.requeuePendingTasks);
  }

  // Approvals
  /** Saves a pending approval (INSERT OR REPLACE); `createdAt` defaults to now. */
  saveApproval(approval: PendingApprovalInput): Promise<PendingApproval> {
    return this.write(approvals.saveApproval, approval);
  }
  /** The approval, or `undefined`. */
  getApproval(requestId: string): Promise<PendingApproval | undefined> {
    return this.call(approvals.getApproval, requestId);
  }
  /** Deletes an approval; a missing one is no error. Resolves `true` when one was deleted. */
  deleteApproval(requestId: string): Promise<boolean> {
    return this.write(approvals.deleteApproval, requestId);
  }
  /** Approvals created more than `maxAgeMs` ago, oldest first. */
  listExpiredApprovals(maxAgeMs: number): Promise<PendingApproval[]> {
    return this.call(approvals.listExpiredApprovals, maxAgeMs);
  }
  /** Approvals newest first, optionally by `taskId`/`callerId`, at most `limit`. */
  listApprovals(filter?: ApprovalFilter): Promise<PendingApproval[]> {
    return this.call(approvals.listApprovals, filter);
  }

  // Sessions
  /** Saves a session context (INSERT OR REPLACE); timestamps default to now. */
  saveSessionContext(context: SessionContextInput): Promise<SessionContext> {
    return this.write(sessions.saveSessionContext, context);
  }
  /** The session context, or `undefined`. */
  getSessionContext(sessionId: string): Promise<SessionContext | undefined> {
    return this.call(sessions.getSessionContext, sessionId);
  }
  /** The most recently used session context of a thread, or `undefined`. */
  getSessionContextByThread(channel: string, threadTs: string): Promise<SessionContext | undefined> {
    return this.call(sessions.getSessionContextByThread, channel, threadTs);
  }
  /** Sets `lastUsed` to now; rejects with `NOT_FOUND`. */
  touchSessionContext(sessionId: string): Promise<void> {
    return this.write(sessions.touchSessionContext, sessionId);
  }
  /** Session contexts, most recently used first, optionally by `channel`/`userId`, at most `limit`. */
  listSessionContexts(filter?: SessionContextFilter): Promise<SessionContext[]> {
    return this.call(sessions.listSessionContexts, filter);
  }
  /** Saves a thread session (INSERT OR REPLACE); timestamps default to now, `sessionKey` to the agent's form. */
  saveThreadSession(session: ThreadSessionInput): Promise<ThreadSession> {
    return this.write(sessions.saveThreadSession, session);
  }
  /** The thread session of `(channel, threadTs)`, or `undefined`. */
  getThreadSession(channel: string, threadTs: string): Promise<ThreadSession | undefined> {
    return this.call(sessions.getThreadSession, channel, threadTs);
  }
  /** Sets `lastMessageAt` to now; rejects with `NOT_FOUND`. */
  touchThreadSession(channel: string, threadTs: string): Promise<void> {
    return this.write(sessions.touchThreadSession, channel, threadTs);
  }
  /** Thread sessions, most recent message first, optionally by `channel`, at most `limit`. */
  listThreadSessions(filter?: ThreadSessionFilter): Promise<ThreadSession[]> {
    return this.call(sessions.listThreadSessions, filter);
  }

  // Dead letters
  /** Saves a dead letter (INSERT OR REPLACE); `createdAt` defaults to now, `retryCount` to 0. */
  saveDeadLetter(letter: DeadLetterInput): Promise<DeadLetter> {
    return this.write(deadLetters.saveDeadLetter, letter);
  }
  /** The dead letter, or `undefined`. */
  getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    return this.call(deadLetters.getDeadLetter, id);
  }
  /** Unresolved letters whose retry time has come, earliest due first, at most `limit`; never given-up ones. */
  listRetryable(limit?: number): Promise<DeadLetter[]> {
    return this.call(deadLetters.listRetryable, limit);
  }
  /** `retryCount + 1` and the next retry time; `undefined` gives up. Rejects with `NOT_FOUND`. */
  incrementRetry(id: string, nextRetryAt: number | undefined): Promise<void> {
    return this.write(deadLetters.incrementRetry, id, nextRetryAt);
  }
  /** Marks a letter resolved (the first resolution time is kept). Rejects with `NOT_FOUND`. */
  resolveDeadLetter(id: string): Promise<void> {
    return this.write(deadLetters.resolveDeadLetter, id);
  }
  /** Dead letters newest first, optionally in one `state`, at most `limit`. */
  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.call(deadLetters.listDeadLetters, filter);
  }

  // Audit log
  /** Appends an audit entry (`createdAt` defaults to now); resolves with its id. */
  appendAudit(entry: AuditEntryInput): Promise<number> {
    return this.write(audit.appendAudit, entry);
  }
  /** Audit entries newest first, by `userId`, `action`, `since` (inclusive), `until` (exclusive), at most `limit`. */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]> {
    return this.call(audit.listAudit, filter);
  }

  // Maintenance
  /** Deletes old rows with the Go agent's retention (or `policy`), atomically; resolves with the counts. */
  runRetention(policy?: RetentionPolicy): Promise<RetentionResult> {
    return this.write(runRetention, policy);
  }
  /** The database size: `page_count × page_size`. */
  dbSizeBytes(): Promise<number> {
    return this.call(async (ctx) => {
      if (ctx.port.sizeBytes) return ctx.port.sizeBytes();
      const rows = await ctx.port.all('SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()');
      return Number(rows[0]?.size ?? 0);
    });
  }
}

/**
 * The handle a {@link Store.transaction} callback receives: every operation, inside the transaction.
 * Its port refuses every statement once the transaction has ended.
 */
class Transaction extends StoreOperations {
  readonly #ctx: Context;
  // Throws when writes are refused (a read-only or degraded store); reads go on.
  readonly #checkWritable: () => void;

  constructor(ctx: Context, checkWritable: () => void) {
    super();
    this.#ctx = ctx;
    this.#checkWritable = checkWritable;
  }

  protected call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    return op(this.#ctx, ...args);
  }

  protected write<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    try {
      this.#checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    return op(this.#ctx, ...args);
  }
}

/** The handle type a transaction callback receives. */
export type TransactionHandle = StoreOperations;

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * Where the database is kept. @default `createMemoryAdapter()` (in memory only)
   */
  adapter?: PersistenceAdapter;
  /**
   * An engine that keeps its own storage instead of sql.js and an adapter: `createD1Engine(env.DB)`
   * from `@platform-agent/store/engines/d1`. The same migrations and queries run on it; what it
   * cannot do (interactive transactions, an image) is refused with `UNSUPPORTED`. Not together with
   * `adapter`, `wasm`, `readOnly`, `whenLocked` or `durability`.
   */
  engine?: Engine;
  /** Where the SQLite WebAssembly binary comes from. @default in Node, the installed sql.js package's */
  wasm?: WasmSource;
  /**
   * The clock every timestamp comes from, in Unix ms. Inject one for tests and replays.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * The most memory SQLite's page cache may use, in KiB (it grows only as pages are read).
   * @default 65536 (64 MiB)
   */
  cacheSizeKiB?: number;
  /**
   * When a write's promise resolves (see {@link Durability}): `'write'` once it is durable,
   * `'deferred'` at once and durable within `flushIntervalMs`, `'none'` at once and durable only at
   * `flush()`/`checkpoint()`/`close()`. @default `'write'` for a persistent adapter, `'none'` for memory
   */
  durability?: Durability;
  /** With `durability: 'deferred'`, the longest a committed write waits to be flushed. @default 1000 */
  flushIntervalMs?: number;
  /**
   * `false` writes the whole image at every flush instead of appending journal records (the mode of
   * adapters that cannot append; for comparison). @default true
   */
  journal?: boolean;
  /** A checkpoint runs when the journal reaches this many bytes. @default 16 MiB */
  checkpointBytes?: number;
  /** `onWarning` hears once when the image grows past this size. @default 1 GiB */
  sizeWarningBytes?: number;
  /**
   * Opens without taking ownership: reads the image and journal, refuses every write, writes
   * nothing. On an adapter that passes messages between stores (IndexedDB) it also follows the
   * owner's commits as they become durable, and never takes over (a dashboard, a viewer tab).
   */
  readOnly?: boolean;
  /**
   * What to do when another store owns the database (another tab, with the IndexedDB adapter):
   * - `'fail'`: `openStore` rejects with a `LockError`;
   * - `'follow'`: opens as a follower: reads work and see the owner's commits as they become durable,
   *   writes reject at once with a `LockError`; when the owner closes or its tab dies, this store
   *   takes over (it loads everything durable first) and writes from then on;
   * - `'wait'`: like `'follow'`, but writes, transactions and checkpoints wait for the takeover.
   *
   * `'follow'` and `'wait'` need an adapter that can wait for ownership and pass messages
   * (`waitForLock`, `publish`, `subscribe`: the IndexedDB adapter). @default 'fail'
   */
  whenLocked?: WhenLocked;
  /**
   * A following store (see `whenLocked`) calls it after it applied commits of the owner, reloaded,
   * or took over. @default none
   */
  onChange?: () => void;
  /** Hears what is not an error: a dropped torn tail, a size warning, a failed checkpoint, a degraded store. @default console.warn */
  onWarning?: (warning: StoreWarning) => void;
  /** The first and the longest wait between retries while degraded, in ms. @default { minMs: 50, maxMs: 5000 } */
  retry?: { minMs?: number; maxMs?: number };
  /**
   * What a read may see:
   * - `'committed'`: every write committed so far, durable or not: with `durability: 'write'`, a
   *   read made while another caller's write waits for its flush sees that write, which a crash in
   *   that moment still loses (it was never acknowledged);
   * - `'durable'`: a read (and a transaction, before it starts) resolves only once every write it
   *   could see is durable, starting a flush when none is under way, so an agent acts only on
   *   what survives a crash. While persistence fails (a degraded store) such a read rejects with a
   *   `PersistenceError` instead.
   *
   * A follower or a read-only store only ever sees durable writes either way. @default 'committed'
   */
  reads?: Reads;
}

// The key of the method openStore uses to make a store follow: not exported, so not public API.
const FOLLOW: unique symbol = Symbol('follow');

/** See {@link StoreOptions.whenLocked}. */
export type WhenLocked = 'fail' | 'follow' | 'wait';

/** See {@link StoreOptions.reads}. */
export type Reads = 'committed' | 'durable';

/** What this store is to its database: the writer, a follower of another store, or a read-only reader. */
export type StoreRole = 'owner' | 'follower' | 'read-only';

/** An engine opened from the adapter's state, migrated. */
interface Opened {
  readonly engine: SqlJsEngine;
  readonly opened: ReturnType<typeof replay>;
  readonly hasImage: boolean;
  readonly migrated: boolean;
}

/** Messages the adapter delivered, and how the store stops them. */
interface Mailbox {
  readonly messages: unknown[];
  notify: () => void;
  unsubscribe: () => void;
}

/** @internal What openStore hands a store that follows another owner. */
export interface FollowSetup {
  readonly mode: 'follow' | 'wait';
  readonly holder: LockHolder;
  readonly settings: DurabilitySettings;
  readonly sequence: number;
  readonly imageBytes: number;
  readonly mailbox: Mailbox;
  /** Opens the adapter's current state in a new engine (`asOwner`: the lock is held). */
  readonly load: (asOwner: boolean) => Promise<Opened>;
  readonly onChange: (() => void) | undefined;
}

interface Follower extends FollowSetup {
  sequence: number;
  imageBytes: number;
  reloadDue: boolean;
  takeoverDue: boolean;
  // The worker's run (close() awaits it), and whether one runs (set before it starts: a run with
  // nothing to do ends before its promise could be stored).
  work: Promise<void> | undefined;
  working: boolean;
  // Failed attempts in a row, for the backoff: following (apply, reload) and taking over, apart.
  followFailures: number;
  takeoverFailures: number;
  // The pending retries, apart, so that one never cancels the other.
  followTimer: ReturnType<typeof setTimeout> | undefined;
  lockTimer: ReturnType<typeof setTimeout> | undefined;
  readonly abort: AbortController;
  readonly owned: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };
}

function isChangeMessage(message: unknown): message is ChangeMessage {
  const m = message as Partial<Record<string, unknown>> | null;
  if (typeof m !== 'object' || m === null) return false;
  if (m.kind === 'pa-store/records') return m.bytes instanceof Uint8Array;
  return m.kind === 'pa-store/image' && typeof m.sequence === 'number' && Number.isSafeInteger(m.sequence) && m.sequence >= 0;
}

/**
 * The agent's store: tasks, approvals, session and thread state, dead letters and the audit log,
 * in the Go store's schema. Open one with {@link openStore}.
 */
export class Store extends StoreOperations {
  // Replaced when a follower reloads or takes over (see `whenLocked`); fixed otherwise.
  #engine: Engine;
  readonly #adapter: PersistenceAdapter;
  #ctx: Context;
  #durability: DurabilityManager | undefined;
  readonly #readOnly: boolean;
  readonly #reads: Reads;
  // Set while another store owns the database and this one follows it.
  #follower: Follower | undefined;
  // Operations running on each engine; a replaced engine closes when its last one settles.
  readonly #users = new Map<Engine, number>();
  readonly #retired = new Set<Engine>();
  #closing: Promise<void> | undefined;
  // Settles when the open transaction ends; operations from outside it wait for that.
  #transaction: Promise<void> | undefined;
  // Operations started and not yet settled; close() waits for them.
  #inFlight = 0;
  #drained: (() => void) | undefined;

  /** @internal Use {@link openStore}. */
  constructor(engine: Engine, adapter: PersistenceAdapter, clock: () => number, durability?: DurabilityManager, readOnly = false, reads: Reads = 'committed') {
    super();
    this.#engine = engine;
    this.#adapter = adapter;
    this.#ctx = { port: engine, now: checkedClock(clock) };
    this.#durability = durability;
    this.#readOnly = readOnly;
    this.#reads = reads;
  }

  protected call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    // Only a call made after close() is refused; one made before it runs, even if it first waits
    // for a transaction (close() waits for every operation already started).
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    const read = this.#run(op, args);
    return this.#track(this.#reads === 'durable' ? read.then((result) => this.#durableRead(result)) : read);
  }

  // With reads: 'durable', what a read returns may have seen any write committed before it ended:
  // it resolves once they are all durable (a follower's state is durable already).
  async #durableRead<R>(result: R): Promise<R> {
    const durability = this.#durability;
    const waiting = durability?.durableUpTo(durability.lastSequence);
    if (waiting) await waiting;
    return result;
  }

  protected write<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    const follower = this.#follower;
    if (follower) {
      if (follower.mode === 'wait') return follower.owned.promise.then(() => this.write(op, ...args));
      return Promise.reject(this.#followerLockError(follower));
    }
    try {
      this.#checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(this.#run(op, args).then((result) => this.#afterWrite(result)));
  }

  #checkWritable(): void {
    if (this.#readOnly) throw new ReadOnlyError();
    if (this.#follower) throw this.#followerLockError(this.#follower);
    this.#durability?.checkWritable();
  }

  #followerLockError(follower: Follower): LockError {
    return new LockError(`the ${this.#adapter.name} database`, follower.holder);
  }

  async #afterWrite<R>(result: R): Promise<R> {
    const durable = this.#durability?.afterWrite();
    if (durable) await durable;
    return result;
  }

  #track<R>(promise: Promise<R>): Promise<R> {
    this.#inFlight++;
    const settle = (): void => {
      if (--this.#inFlight === 0) this.#drained?.();
    };
    promise.then(settle, settle);
    return promise;
  }

  async #idle(): Promise<void> {
    for (;;) {
      if (this.#transaction) {
        await this.#transaction;
        continue;
      }
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => (this.#drained = resolve));
        this.#drained = undefined;
        continue;
      }
      return;
    }
  }

  #run<A extends unknown[], R>(op: Operation<A, R>, args: A): Promise<R> {
    if (this.#transaction) return this.#transaction.then(() => this.#run(op, args));
    return this.#using(this.#engine, () => op(this.#ctx, ...args));
  }

  // Runs `fn` on `engine`, which a follower's reload must not close before `fn` settles.
  async #using<R>(engine: Engine, fn: () => Promise<R>): Promise<R> {
    this.#users.set(engine, (this.#users.get(engine) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const users = (this.#users.get(engine) ?? 1) - 1;
      if (users > 0) this.#users.set(engine, users);
      else {
        this.#users.delete(engine);
        if (this.#retired.delete(engine)) await engine.close().catch(() => undefined);
      }
    }
  }

  /**
   * Runs `fn` in a transaction: every write made through the handle it receives commits together
   * when `fn` resolves, or none does when it throws (the error is rethrown). Operations called on the
   * store itself meanwhile wait until the transaction ends, so inside `fn` use the handle, never the
   * store (awaiting the store there would wait forever). Transactions do not nest. With
   * `durability: 'write'` it resolves once the whole transaction is durable (one journal record).
   * @example
   * await store.transaction(async (tx) => {
   *   await tx.deleteApproval(requestId);
   *   await tx.updateTaskStatus(taskId, 'running');
   * });
   */
  transaction<T>(fn: (tx: TransactionHandle) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(ValidationError.of('transaction', 'transaction() takes a function'));
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    // A transaction may write: with `whenLocked: 'wait'` it waits for ownership like a write.
    if (this.#follower?.mode === 'wait') return this.#follower.owned.promise.then(() => this.transaction(fn));
    return this.#track(this.#transact(fn));
  }

  async #transact<T>(fn: (tx: TransactionHandle) => Promise<T> | T): Promise<T> {
    while (this.#transaction) await this.#transaction;
    const engine = this.#engine;
    if (!engine.transaction) {
      throw new UnsupportedError(`the ${engine.name} engine has no interactive transactions; use single operations`);
    }
    let release = (): void => {};
    this.#transaction = new Promise<void>((resolve) => (release = resolve));
    let result: T;
    const before = this.#durability?.lastSequence;
    try {
      // Nothing commits while it waits (the transaction holds the store), so its reads see only
      // durable writes and its own.
      if (this.#reads === 'durable') await this.#durableRead(undefined);
      result = await this.#using(engine, () =>
        (engine.transaction as NonNullable<Engine['transaction']>)((port: SqlPort) =>
          Promise.resolve(fn(new Transaction({ port, now: this.#ctx.now }, () => this.#checkWritable()))),
        ),
      );
    } finally {
      this.#transaction = undefined;
      release();
    }
    // Only a transaction that committed a write waits for it to be durable (nothing else commits
    // while a transaction is open, so a new sequence number is its own).
    return this.#durability?.lastSequence === before ? result : this.#afterWrite(result);
  }

  /**
   * A complete SQLite database file of the current state, openable by `sqlite3`, better-sqlite3 and
   * the Go agent (whatever journal mode the store uses inside). Waits for an open transaction to end.
   */
  exportImage(): Promise<Uint8Array> {
    return this.call(async () => {
      if (!this.#engine.exportImage) throw new UnsupportedError(`the ${this.#engine.name} engine cannot export an image`);
      return this.#engine.exportImage();
    });
  }

  /**
   * Makes every write committed so far durable (appends the journal, or writes the image), and
   * resolves when it is. With `durability: 'write'` every write already waited for this.
   */
  flush(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    // A follower has nothing of its own to flush (it writes nothing until it takes over).
    if (this.#readOnly || this.#follower || !this.#durability) return Promise.resolve();
    return this.#durability.flush();
  }

  /**
   * Writes a new image now (atomically replacing the old one) and empties the journal. It runs
   * between transactions; writes made meanwhile wait for the next flush.
   */
  checkpoint(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    const follower = this.#follower;
    if (follower) return follower.mode === 'wait' ? follower.owned.promise.then(() => this.checkpoint()) : Promise.reject(this.#followerLockError(follower));
    if (!this.#durability) return Promise.reject(new UnsupportedError(`the ${this.#engine.name} engine keeps its own persistence; there is no image to checkpoint`));
    return this.#durability.checkpoint();
  }

  /** How persistence is doing: `'degraded'` while writes to the adapter fail (writes are refused then). */
  health(): StoreHealth {
    const closed = this.#closing !== undefined;
    const follower = this.#follower;
    if (follower && !closed) {
      return {
        state: this.#readOnly ? 'read-only' : 'following',
        durability: follower.settings.mode,
        journal: follower.settings.useJournal,
        pendingWrites: 0,
        lastSequence: follower.sequence,
        durableSequence: follower.sequence,
        imageBytes: follower.imageBytes,
        journalBytes: 0,
      };
    }
    if (!this.#durability) {
      return {
        state: closed ? 'closed' : this.#readOnly ? 'read-only' : 'ok',
        durability: this.#engine.durable ? 'write' : 'none',
        journal: false,
        pendingWrites: 0,
        lastSequence: 0,
        durableSequence: 0,
        imageBytes: 0,
        journalBytes: 0,
      };
    }
    const health = this.#durability.health(closed);
    return this.#readOnly && !closed ? { ...health, state: 'read-only' } : health;
  }

  /** @internal Settles when the open transaction (if any) ends. */
  transactionEnded(): Promise<void> {
    return this.#transaction ?? Promise.resolve();
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Whether the store was opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** `'owner'` when this store writes the database, `'follower'` while another store owns it (`whenLocked`), or `'read-only'`. */
  get role(): StoreRole {
    return this.#readOnly ? 'read-only' : this.#follower ? 'follower' : 'owner';
  }

  /**
   * Resolves once this store owns the database: at once for an owner; for a follower, when it took
   * over. Rejects with `READ_ONLY` for a read-only store, and with `CLOSED` if the store closes first.
   */
  owned(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    return this.#follower?.owned.promise ?? Promise.resolve();
  }

  /** @internal Makes a store opened without ownership follow the owner's commits and take over when it can (openStore, `whenLocked`). */
  [FOLLOW](setup: FollowSetup): void {
    let resolve = (): void => {};
    let reject: (e: unknown) => void = () => {};
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    const follower: Follower = {
      ...setup,
      reloadDue: false,
      takeoverDue: false,
      work: undefined,
      working: false,
      followFailures: 0,
      takeoverFailures: 0,
      followTimer: undefined,
      lockTimer: undefined,
      abort: new AbortController(),
      owned: { promise, resolve, reject },
    };
    this.#follower = follower;
    setup.mailbox.notify = () => {
      // Far behind (a reload failing, a flood): a reload makes the queued records unnecessary.
      if (follower.mailbox.messages.length > MAILBOX_LIMIT) {
        follower.mailbox.messages.length = 0;
        follower.reloadDue = true;
      }
      this.#followWork(follower);
    };
    this.#followWork(follower);
    if (!this.#readOnly) this.#awaitOwnership(follower);
  }

  // Asks the adapter for ownership; when it comes, the follower takes over (in its work queue).
  #awaitOwnership(follower: Follower): void {
    const waitForLock = this.#adapter.waitForLock?.bind(this.#adapter);
    if (!waitForLock || this.#follower !== follower || this.#closing) return;
    waitForLock(follower.abort.signal).then(
      () => {
        follower.takeoverDue = true;
        this.#followWork(follower);
      },
      (e: unknown) => {
        if (follower.abort.signal.aborted || this.#follower !== follower || this.#closing) return;
        this.#retryOwnership(follower, e, 'waiting for ownership');
      },
    );
  }

  #retryOwnership(follower: Follower, e: unknown, what: string): void {
    const delay = this.#followWarning(follower, e, what, ++follower.takeoverFailures);
    if (delay === undefined) return;
    clearTimeout(follower.lockTimer);
    follower.lockTimer = setTimeout(() => {
      follower.lockTimer = undefined;
      this.#awaitOwnership(follower);
    }, delay);
  }

  // Warns, and says how long to wait before the next attempt (undefined: the store is closing).
  #followWarning(follower: Follower, e: unknown, what: string, failures: number): number | undefined {
    if (this.#follower !== follower || this.#closing) return undefined;
    const { retryMinMs, retryMaxMs } = follower.settings;
    const delay = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures - 1, 20));
    follower.settings.onWarning({
      code: 'FOLLOW',
      message: `${what} on the ${this.#adapter.name} database failed (${e instanceof Error ? e.message : String(e)}); retrying in ${delay} ms`,
      cause: e,
    });
    return delay;
  }

  #changed(follower: Follower): void {
    const onChange = follower.onChange;
    if (!onChange) return;
    // After the reactions already queued (writes waiting for a takeover run first), and a listener
    // that throws breaks nothing.
    queueMicrotask(() => {
      if (this.#closing) return;
      try {
        onChange();
      } catch {
        /* ignored, like onWarning's */
      }
    });
  }

  // One worker per follower applies messages, reloads and takes over, one step at a time.
  #followWork(follower: Follower): void {
    if (follower.working || this.#follower !== follower || this.#closing) return;
    if (follower.followTimer !== undefined) {
      // Waiting out a failure: only a takeover does not wait (it loads everything anyway).
      if (!follower.takeoverDue) return;
      clearTimeout(follower.followTimer);
      follower.followTimer = undefined;
    }
    follower.working = true;
    const work = (async () => {
      try {
        for (;;) {
          if (this.#follower !== follower || this.#closing) return;
          if (follower.takeoverDue) {
            follower.takeoverDue = false;
            await this.#takeOver(follower);
            continue;
          }
          if (follower.reloadDue) {
            follower.reloadDue = false;
            await this.#reload(follower);
            follower.followFailures = 0;
            continue;
          }
          const message = follower.mailbox.messages.shift();
          if (message === undefined) return;
          await this.#apply(follower, message);
        }
      } catch (e) {
        follower.reloadDue = true;
        const delay = this.#followWarning(follower, e, 'following the owner', ++follower.followFailures);
        if (delay !== undefined) {
          follower.followTimer = setTimeout(() => {
            follower.followTimer = undefined;
            this.#followWork(follower);
          }, delay);
        }
      } finally {
        // Cleared in the same step the loop ends in, so no wake-up falls between the two.
        follower.working = false;
        follower.work = undefined;
      }
    })();
    if (follower.working) follower.work = work;
  }

  // Applies the owner's durable records in order; anything out of order means a reload.
  async #apply(follower: Follower, message: unknown): Promise<void> {
    if (!isChangeMessage(message)) return;
    if (message.kind === 'pa-store/image') {
      if (message.sequence > follower.sequence) follower.reloadDue = true;
      return;
    }
    let applied = false;
    try {
      const parsed = parseJournal(message.bytes);
      if (parsed.tornBytes > 0) throw new CorruptDatabaseError('a published record was cut short');
      for (const record of parsed.records) {
        if (record.sequence <= follower.sequence) continue;
        if (record.sequence !== follower.sequence + 1) {
          follower.reloadDue = true;
          return;
        }
        const statements = record.decodeStatements();
        while (this.#transaction) await this.#transaction;
        if (this.#follower !== follower || this.#closing) return;
        // Synchronous from here: no operation of this store runs in between.
        (this.#engine as JournalingEngine).applySync(statements);
        follower.sequence = record.sequence;
        applied = true;
      }
    } catch {
      // A record that does not parse or apply: the adapter's state is the truth; load it.
      follower.reloadDue = true;
    } finally {
      if (applied) this.#changed(follower);
    }
  }

  async #reload(follower: Follower): Promise<void> {
    const next = await follower.load(false);
    while (this.#transaction) await this.#transaction;
    if (this.#follower !== follower || this.#closing) {
      await next.engine.close().catch(() => undefined);
      return;
    }
    this.#swap(next.engine, undefined);
    follower.sequence = next.opened.lastSequence;
    follower.imageBytes = next.opened.imageBytes;
    this.#changed(follower);
  }

  // Ownership came: load everything durable (the lock is held, so it is final), and become the owner.
  async #takeOver(follower: Follower): Promise<void> {
    let next: Opened;
    try {
      next = await follower.load(true);
    } catch (e) {
      await this.#adapter.unlock().catch(() => undefined);
      this.#retryOwnership(follower, e, 'taking over');
      return;
    }
    const durability = new DurabilityManager(next.engine, this.#adapter, follower.settings, next.opened, this.#ctx.now, () => this.transactionEnded());
    while (this.#transaction) await this.#transaction;
    if (this.#follower !== follower || this.#closing) {
      durability.stop();
      await next.engine.close().catch(() => undefined);
      return;
    }
    follower.mailbox.unsubscribe();
    clearTimeout(follower.followTimer);
    follower.followTimer = undefined;
    this.#swap(next.engine, durability);
    // A new or migrated database is written at once, as at open (a failure degrades and retries).
    // The store still counts as a follower meanwhile, so writes keep queueing behind owned().
    if (!next.hasImage || next.migrated) await durability.checkpoint().catch(() => undefined);
    durability.checkSize();
    if (this.#follower !== follower) return; // closed meanwhile: close() finishes the rest
    this.#follower = undefined;
    // Writes that waited for ownership run now, in the order they were made (promise reactions),
    // before anything made from here on.
    follower.owned.resolve();
    this.#changed(follower);
  }

  #swap(engine: Engine, durability: DurabilityManager | undefined): void {
    const old = this.#engine;
    this.#engine = engine;
    this.#ctx = { port: engine, now: this.#ctx.now };
    this.#durability = durability;
    if (this.#users.has(old)) this.#retired.add(old);
    else old.close().catch(() => undefined);
  }

  /**
   * Lets every operation already started finish (and an open transaction end), makes every write
   * durable and writes a final image, then releases the engine (statements, WASM memory), the
   * adapter and its ownership. Every call after it rejects with `CLOSED`. Calling it again returns
   * the same promise. It rejects with a `PersistenceError` when the last writes could not be
   * persisted; everything is released all the same.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#idle();
      const follower = this.#follower;
      if (follower) {
        this.#follower = undefined;
        follower.abort.abort();
        clearTimeout(follower.followTimer);
        clearTimeout(follower.lockTimer);
        follower.mailbox.unsubscribe();
        follower.owned.reject(new ClosedError('the store'));
        await follower.work?.catch(() => undefined);
      }
      let error: unknown;
      try {
        if (!this.#readOnly) await this.#durability?.close();
      } catch (e) {
        error = e;
      }
      this.#durability?.stop();
      try {
        await this.#engine.close();
      } catch (e) {
        error ??= e;
      }
      try {
        if (!this.#readOnly) await this.#adapter.unlock();
      } catch (e) {
        error ??= new PersistenceError(`releasing the ${this.#adapter.name} adapter's lock failed: ${String(e)}`, { cause: e });
      }
      try {
        await this.#adapter.close();
      } catch (e) {
        error ??= new PersistenceError(`closing the ${this.#adapter.name} adapter failed: ${String(e)}`, { cause: e });
      }
      if (error !== undefined) throw error;
    })();
    return this.#closing;
  }
}

function checkedClock(clock: () => number): () => number {
  return () => {
    const now = clock();
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new StoreError('CLOCK', `the clock returned ${String(now)}; it must return Unix milliseconds as a non-negative integer`);
    }
    return now;
  };
}

const DURABILITIES: readonly Durability[] = ['write', 'deferred', 'none'];
// Adapter kinds whose chosen durability was told (see openStore).
const toldDeferred = new Set<string>();
const WHEN_LOCKED: readonly WhenLocked[] = ['fail', 'follow', 'wait'];
const READS: readonly Reads[] = ['committed', 'durable'];

function readsOption(value: unknown): Reads {
  if (value === undefined) return 'committed';
  if (!READS.includes(value as Reads)) throw ValidationError.of('options', `reads must be one of ${READS.join(', ')}, not ${String(value)}`);
  return value as Reads;
}
// Messages a follower queues before it gives them up for one reload.
const MAILBOX_LIMIT = 10_000;

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw ValidationError.of('options', `${name} must be a positive integer, not ${String(value)}`);
  }
  return value;
}

function defaultWarning(warning: StoreWarning): void {
  console.warn(`[@platform-agent/store] ${warning.code}: ${warning.message}`);
}

function settingsFrom(options: StoreOptions, adapter: PersistenceAdapter): DurabilitySettings {
  const mode = options.durability ?? adapter.defaultDurability ?? (adapter.persistent ? 'write' : 'none');
  if (!DURABILITIES.includes(mode)) throw ValidationError.of('options', `durability must be one of ${DURABILITIES.join(', ')}, not ${String(mode)}`);
  if (options.journal !== undefined && typeof options.journal !== 'boolean') throw ValidationError.of('options', 'journal must be true or false');
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw ValidationError.of('options', 'onWarning must be a function');
  const retryMinMs = positiveInteger('retry.minMs', options.retry?.minMs, 50);
  const retryMaxMs = positiveInteger('retry.maxMs', options.retry?.maxMs, 5000);
  const onWarning = options.onWarning ?? defaultWarning;
  return {
    mode,
    useJournal: options.journal ?? true,
    flushIntervalMs: positiveInteger('flushIntervalMs', options.flushIntervalMs, 1000),
    checkpointBytes: positiveInteger('checkpointBytes', options.checkpointBytes, 16 * 2 ** 20),
    sizeWarningBytes: positiveInteger('sizeWarningBytes', options.sizeWarningBytes, 2 ** 30),
    retryMinMs,
    retryMaxMs: Math.max(retryMinMs, retryMaxMs),
    // A listener that throws must not break a write path.
    onWarning: (warning) => {
      try {
        onWarning(warning);
      } catch {
        /* ignored */
      }
    },
  };
}

function lockFailure(adapter: Pick<PersistenceAdapter, 'name'>, e: unknown): StoreError {
  const err = e as { code?: unknown; holder?: Partial<LockHolder> } | undefined;
  if (err?.code === 'LOCKED') {
    const description = typeof err.holder?.description === 'string' ? err.holder.description : 'another owner';
    const holder: LockHolder = { description, ...(typeof err.holder?.pid === 'number' ? { pid: err.holder.pid } : {}), ...(typeof err.holder?.host === 'string' ? { host: err.holder.host } : {}) };
    return new LockError(`the ${adapter.name} database`, holder, { cause: e });
  }
  return refusal(e) ?? new PersistenceError(`taking ownership of the ${adapter.name} database failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

const CORRUPT_REASONS: readonly CorruptReason[] = ['EMPTY', 'NOT_SQLITE', 'TRUNCATED', 'TRAILING_BYTES', 'DAMAGED', 'JOURNAL_DAMAGED', 'JOURNAL_MISMATCH'];

/**
 * An adapter's refusal of what it finds (see `PersistenceAdapter.load`), as the store's typed error:
 * `SQLITE_JOURNAL` (SQLite's own journal beside the database), `CORRUPT` (with a `reason`),
 * `NOT_FOUND`. `undefined` for any other failure.
 */
function refusal(e: unknown): StoreError | undefined {
  if (e instanceof StoreError) return e;
  const err = e as { code?: unknown; message?: unknown; path?: unknown; kind?: unknown; bytes?: unknown; reason?: unknown } | null | undefined;
  if (typeof err !== 'object' || err === null) return undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  if (err.code === 'SQLITE_JOURNAL' && typeof err.path === 'string' && (err.kind === 'wal' || err.kind === 'rollback' || err.kind === 'shm')) {
    return new SqliteJournalError(message, { path: err.path, kind: err.kind, bytes: typeof err.bytes === 'number' ? err.bytes : 0 }, { cause: e });
  }
  if (err.code === 'CORRUPT') {
    const reason = CORRUPT_REASONS.find((r) => r === err.reason) ?? 'DAMAGED';
    return new CorruptDatabaseError(message, { cause: e, reason });
  }
  if (err.code === 'NOT_FOUND') return new NotFoundError('database', typeof err.path === 'string' ? err.path : message);
  return undefined;
}

/** Replays the journal records the image does not contain; returns where the store stands. */
function replay(engine: JournalingEngine, journal: Uint8Array | undefined, settings: DurabilitySettings, imageBytes: number) {
  const image = readImageMeta(engine);
  const parsed = parseJournal(journal ?? new Uint8Array(0));
  // Checked before anything is applied: a journal of another image is refused whole.
  const { records, journalLength } = journalContinuation(parsed, image);
  if (parsed.tornBytes > 0) {
    settings.onWarning({
      code: 'TORN_TAIL',
      message: `dropped the journal's last ${parsed.tornBytes} bytes: a last record cut short by a crash during its append (so never acknowledged), or, for a read-only open, one still being written`,
    });
  }
  for (const record of records) {
    const statements = record.decodeStatements(); // one record decoded at a time
    try {
      engine.applySync(statements);
    } catch (e) {
      throw new CorruptDatabaseError(`journal record ${record.sequence} does not apply to the image (${e instanceof Error ? e.message : String(e)}); nothing was changed`, {
        cause: e,
        reason: 'JOURNAL_DAMAGED',
      });
    }
  }
  return {
    imageSequence: image.sequence,
    imageId: image.id,
    lastSequence: records[records.length - 1]?.sequence ?? image.sequence,
    // A journal the image covers entirely (a crash after a checkpoint replaced the image and before
    // it emptied the journal, or records the checkpoint held before they were appended) is
    // overwritten from its start: the next record must follow the image, not the stale records.
    journalLength,
    imageBytes,
  };
}

interface Loaded {
  readonly engine: SqlJsEngine;
  readonly opened: ReturnType<typeof replay>;
  readonly hasImage: boolean;
}

/** Loads the adapter's state into a new engine and replays the journal; closes the engine on failure. */
async function loadAndReplay(
  adapter: PersistenceAdapter,
  settings: DurabilitySettings,
  options: { wasm: WasmSource | undefined; cacheSizeKiB: number | undefined; mustExist: boolean },
): Promise<Loaded> {
  let state: LoadedState | undefined;
  try {
    state = await adapter.load();
  } catch (e) {
    throw refusal(e) ?? new PersistenceError(`loading from the ${adapter.name} adapter failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let image = state.image;
  const journal = state.journal;
  const imageOwned = state.imageOwned === true;
  state = undefined;
  if (image !== undefined && !(image instanceof Uint8Array)) {
    throw ValidationError.of('image', `the ${adapter.name} adapter loaded something that is not a Uint8Array`);
  }
  if (journal !== undefined && !(journal instanceof Uint8Array)) {
    throw ValidationError.of('journal', `the ${adapter.name} adapter loaded a journal that is not a Uint8Array`);
  }
  // Before SQLite sees the bytes: a zero-byte image (a truncated file, a failed copy) is not a new
  // database, and one shorter or longer than its header says is damaged (checked in the engine).
  if (image !== undefined && image.byteLength === 0) {
    throw new CorruptDatabaseError(`the ${adapter.name} adapter's database is empty (0 bytes): a truncated file or a failed copy, not a database; nothing was changed`, { reason: 'EMPTY' });
  }
  const hasImage = image !== undefined;
  if (!hasImage && journal !== undefined && journal.byteLength > 0) {
    const parsed = parseJournal(journal);
    if (parsed.header !== undefined || parsed.records.length > 0) {
      throw new CorruptDatabaseError(`the ${adapter.name} adapter holds journal records but no image; nothing was changed`, { reason: 'JOURNAL_MISMATCH' });
    }
  }
  if (options.mustExist && !hasImage && (journal?.byteLength ?? 0) === 0) {
    throw new NotFoundError('database', `in the ${adapter.name} adapter (readOnly opens an existing one)`);
  }
  const imageBytes = image?.byteLength ?? 0;
  const engine = await createSqlJsEngine({ wasm: options.wasm, image, imageOwned, cacheSizeKiB: options.cacheSizeKiB });
  // The engine holds its own copy; the loaded bytes can go (large images).
  image = undefined;
  try {
    const opened = replay(engine, journal, settings, imageBytes);
    return { engine, opened, hasImage };
  } catch (e) {
    await engine.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Opens a store: takes ownership of the database (unless `readOnly`), loads the adapter's image and
 * replays its journal (or starts empty), runs the migrations, and returns the {@link Store}. A file
 * that is not SQLite, a damaged journal, or a schema newer than this code is refused with a typed
 * error and left untouched; a database another store owns gives a `LockError`.
 * @example
 * const store = await openStore({ adapter: createFileAdapter({ path: 'agent.db' }) });
 * await store.saveTask({ id: 't1', command: 'deploy', params: { env: 'prod' } });
 */
export async function openStore(given: StoreOptions = {}): Promise<Store> {
  const options = readOptions(given);
  if (options.engine !== undefined) return openOnEngine(options);
  const { adapter = createMemoryAdapter(), wasm, clock = Date.now, cacheSizeKiB, readOnly = false, whenLocked = 'fail', onChange } = options;
  const reads = readsOption(options.reads);
  if (typeof clock !== 'function') throw ValidationError.of('options', 'the clock option must be a function returning Unix ms');
  if (typeof readOnly !== 'boolean') throw ValidationError.of('options', 'readOnly must be true or false');
  if (!WHEN_LOCKED.includes(whenLocked)) throw ValidationError.of('options', `whenLocked must be one of ${WHEN_LOCKED.join(', ')}, not ${String(whenLocked)}`);
  if (onChange !== undefined && typeof onChange !== 'function') throw ValidationError.of('options', 'onChange must be a function');
  if (whenLocked !== 'fail') {
    if (readOnly) throw ValidationError.of('options', `whenLocked: '${whenLocked}' takes over writing one day; it cannot go with readOnly: true`);
    if (typeof adapter.waitForLock !== 'function' || typeof adapter.subscribe !== 'function') {
      throw ValidationError.of('options', `whenLocked: '${whenLocked}' needs an adapter that can wait for ownership and pass messages between stores (waitForLock, subscribe); the ${adapter.name} adapter cannot`);
    }
  }

  const settings = settingsFrom(options, adapter);
  if (options.durability === undefined && adapter.defaultDurability === 'deferred' && !toldDeferred.has(adapter.name)) {
    // Said once per adapter kind and realm (a Worker opens a store per request).
    toldDeferred.add(adapter.name);
    settings.onWarning({
      code: 'DURABILITY',
      message: `the ${adapter.name} adapter defaults to durability 'deferred': writes resolve at once and reach storage within flushIntervalMs (${settings.flushIntervalMs} ms), or at flush()/close(); a crash loses at most that window. Pass durability: 'write' where one writer has strongly consistent storage (a Durable Object)`,
    });
  }
  const now = checkedClock(clock);
  let engine: Engine | undefined;
  let store: Store | undefined;
  let mailbox: Mailbox | undefined;
  // Loads the adapter's state into a new, migrated engine. Without the lock another store may write
  // meanwhile: a journal emptied and appended again during the read looks damaged, so it reads
  // again (a real damage stays a CORRUPT error).
  const load = async (asOwner: boolean, mustExist: boolean): Promise<Opened> => {
    let loaded: Loaded | undefined;
    for (let attempt = 1; !loaded; attempt++) {
      try {
        loaded = await loadAndReplay(adapter, settings, { wasm, cacheSizeKiB, mustExist });
      } catch (e) {
        // Only a journal can look damaged for a moment (an image is only ever replaced whole).
        const passing = !asOwner && e instanceof CorruptDatabaseError && (e.reason === 'JOURNAL_DAMAGED' || e.reason === 'JOURNAL_MISMATCH');
        if (!passing || attempt >= 3) throw e;
        await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
      }
    }
    try {
      const { from, to } = await migrate(loaded.engine);
      return { ...loaded, migrated: from !== to };
    } catch (e) {
      await loaded.engine.close().catch(() => undefined);
      throw e;
    }
  };
  try {
    let following: LockError | undefined;
    if (!readOnly) {
      try {
        await adapter.lock();
      } catch (e) {
        const error = lockFailure(adapter, e);
        if (whenLocked === 'fail' || !(error instanceof LockError)) throw error;
        following = error;
      }
    }
    // A read-only store on an adapter that passes messages follows the owner too (it never takes over).
    const live = readOnly && typeof adapter.subscribe === 'function';
    if (following || live) {
      // Listens before it loads, so no commit falls between the load and the first message.
      const box: Mailbox = { messages: [], notify: () => {}, unsubscribe: () => {} };
      box.unsubscribe = (adapter.subscribe as NonNullable<PersistenceAdapter['subscribe']>)((message) => {
        box.messages.push(message);
        box.notify();
      });
      mailbox = box;
      const first = await load(false, readOnly);
      engine = first.engine;
      store = new Store(first.engine, adapter, clock, undefined, readOnly, reads);
      mailbox = undefined; // the store stops it from now on
      store[FOLLOW]({
        mode: whenLocked === 'wait' ? 'wait' : 'follow',
        holder: following?.holder ?? { description: 'the owner (this store is read-only)' },
        settings,
        sequence: first.opened.lastSequence,
        imageBytes: first.opened.imageBytes,
        mailbox: box,
        load: (asOwner) => load(asOwner, false),
        onChange,
      });
      return store;
    }
    const first = await load(!readOnly, readOnly);
    engine = first.engine;
    const { opened, hasImage, migrated } = first;
    const durability = isJournaling(engine)
      ? new DurabilityManager(engine, adapter, settings, opened, now, () => store?.transactionEnded() ?? Promise.resolve())
      : undefined;
    store = new Store(engine, adapter, clock, durability, readOnly, reads);
    if (!readOnly && durability) {
      // A new or migrated database is written at once, so the image on disk is complete and current.
      if (!hasImage || migrated) await durability.checkpoint();
      durability.checkSize();
    }
    return store;
  } catch (e) {
    // The error that stopped the open is the one to report; cleanup failures must not hide it.
    mailbox?.unsubscribe();
    if (store) await store.close().catch(() => undefined);
    else {
      await engine?.close().catch(() => undefined);
      if (!readOnly) await adapter.unlock().catch(() => undefined);
      await adapter.close().catch(() => undefined);
    }
    throw e;
  }
}

/**
 * The options as plain data, each read once: a getter or proxy that throws (or answers differently
 * the second time) makes a `ValidationError`, never a raw error or an option seen two ways.
 */
function readOptions(given: unknown): StoreOptions {
  if (typeof given !== 'object' || given === null) throw ValidationError.of('options', 'openStore() takes an options object');
  try {
    const options: StoreOptions = { ...(given as StoreOptions) };
    if (typeof options.retry === 'object' && options.retry !== null) options.retry = { ...options.retry };
    return options;
  } catch (e) {
    throw ValidationError.of('options', `reading them threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** `openStore({ engine })`: the store on an engine that keeps its own storage (Cloudflare D1). */
async function openOnEngine(options: StoreOptions): Promise<Store> {
  const { engine, clock = Date.now } = options;
  if (typeof engine !== 'object' || engine === null || typeof engine.run !== 'function' || typeof engine.all !== 'function' || typeof engine.batch !== 'function') {
    throw ValidationError.of('options', 'the engine option must be an engine (run, all, batch), such as createD1Engine(env.DB)');
  }
  const clash = (['adapter', 'wasm', 'durability', 'journal', 'cacheSizeKiB', 'flushIntervalMs', 'checkpointBytes', 'sizeWarningBytes', 'retry'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (options.readOnly === true) clash.push('readOnly' as never);
  if (options.whenLocked !== undefined && options.whenLocked !== 'fail') clash.push('whenLocked' as never);
  if (clash.length > 0) throw ValidationError.of('options', `the engine option keeps its own storage; ${clash.join(', ')} cannot go with it`);
  if (typeof clock !== 'function') throw ValidationError.of('options', 'the clock option must be a function returning Unix ms');
  readsOption(options.reads); // an engine with its own storage has every write durable when it resolves
  for (const name of ['onWarning', 'onChange'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw ValidationError.of('options', `${name} must be a function`);
  }
  const typed = typedErrors(engine);
  try {
    await migrate(typed);
  } catch (e) {
    // A refused open (a newer schema, a locked file) must not leave the engine's file open.
    await typed.close().catch(() => undefined);
    throw e;
  }
  // The store's ownership and persistence calls have nothing to do: the engine keeps its own storage.
  const own: PersistenceAdapter = {
    name: engine.name,
    persistent: true,
    async lock() {},
    async load() {
      return {};
    },
    async checkpoint() {
      throw new UnsupportedError(`the ${engine.name} engine keeps its own persistence; there is no image to checkpoint`);
    },
    async unlock() {},
    async close() {},
  };
  return new Store(typed, own, clock, undefined, false);
}

/**
 * The engine with its errors made the store's (see {@link engineError}), in its transactions' ports
 * too; what a transaction's function itself throws comes back as thrown.
 */
function typedErrors(engine: Engine): Engine {
  const wrap = <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (e) {
        throw engineError(engine.name, what, e);
      }
    };
  const typedPort = (port: SqlPort): SqlPort => ({
    run: wrap('statement', (sql: string, params?: readonly SqlValue[]) => port.run(sql, params)),
    all: wrap('query', (sql: string, params?: readonly SqlValue[]) => port.all(sql, params)),
    batch: wrap('batch', (statements: readonly SqlStatement[]) => port.batch(statements)),
  });
  const transaction = engine.transaction?.bind(engine);
  return {
    name: engine.name,
    ...(engine.durable === undefined ? {} : { durable: engine.durable }),
    ...typedPort(engine),
    ...(engine.sizeBytes ? { sizeBytes: wrap('size query', () => (engine.sizeBytes as () => Promise<number>)()) } : {}),
    ...(engine.exportImage ? { exportImage: wrap('export', () => (engine.exportImage as () => Promise<Uint8Array>)()) } : {}),
    ...(transaction
      ? {
          transaction: async <T>(fn: (port: SqlPort) => Promise<T>): Promise<T> => {
            let thrown: { error: unknown } | undefined;
            try {
              return await transaction((port: SqlPort) =>
                fn(typedPort(port)).catch((error: unknown) => {
                  thrown = { error };
                  throw error;
                }),
              );
            } catch (e) {
              if (thrown && thrown.error === e) throw e;
              throw engineError(engine.name, 'transaction', e);
            }
          },
        }
      : {}),
    close: () => (typeof engine.close === 'function' ? engine.close() : Promise.resolve()),
  };
}

/**
 * An engine's error as the store's: a `StoreError` passes; a plain error with a code the store
 * knows becomes its class (`LOCKED` with a `holder`, `READ_ONLY`, `UNSUPPORTED`, `CLOSED`,
 * `TRANSACTION`, and the adapters' `SQLITE_JOURNAL`, `CORRUPT`, `NOT_FOUND`); anything else is a
 * `SqlError`. Engines outside the core throw plain coded errors: a bundle of theirs has classes of
 * its own, which `instanceof` would not recognise.
 */
function engineError(name: string, what: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  const err = e as { code?: unknown; message?: unknown; what?: unknown; cause?: unknown } | null | undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  switch (err?.code) {
    case 'LOCKED':
      return lockFailure({ name }, e);
    case 'READ_ONLY':
      return new ReadOnlyError(`the ${name} database`);
    case 'UNSUPPORTED':
      return new UnsupportedError(message, { cause: e });
    case 'CLOSED':
      return new ClosedError(typeof err.what === 'string' ? err.what : `the ${name} engine`);
    case 'TRANSACTION':
      return new StoreError('TRANSACTION', message, { cause: err.cause ?? e });
  }
  return refusal(e) ?? new SqlError(`${name} ${what} failed: ${message}`, { cause: e });
}
