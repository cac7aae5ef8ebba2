import { createMemoryAdapter } from '../adapters/memory.js';
import * as approvals from './approvals.js';
import * as audit from './audit.js';
import type { Context } from './context.js';
import * as deadLetters from './dead-letters.js';
import { ClosedError, StoreError, UnsupportedError, ValidationError } from './errors.js';
import { migrate } from './migrations.js';
import type { PersistenceAdapter } from './persistence.js';
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
import type { SqlPort } from './sql-port.js';
import type { Engine } from './engine.js';
import { createSqlJsEngine, type WasmSource } from './sqljs-engine.js';
import * as tasks from './tasks.js';

type Operation<A extends unknown[], R> = (ctx: Context, ...args: A) => Promise<R>;

/**
 * Every domain operation of the store. The {@link Store} has them all, and so has the handle a
 * {@link Store.transaction} callback receives.
 */
export abstract class StoreOperations {
  /** Runs one operation against the right port, or rejects (closed, transaction ended). */
  protected abstract call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R>;

  // Tasks
  /** Saves a task (INSERT OR REPLACE of every column); `status` defaults to `pending`, timestamps to now. */
  saveTask(task: TaskInput): Promise<Task> {
    return this.call(tasks.saveTask, task);
  }
  /** The task with this id, or `undefined`. */
  getTask(id: string): Promise<Task | undefined> {
    return this.call(tasks.getTask, id);
  }
  /** Sets a task's status and `updatedAt`; rejects with `NOT_FOUND` when there is no such task. */
  updateTaskStatus(id: string, status: TaskStatus): Promise<void> {
    return this.call(tasks.updateTaskStatus, id, status);
  }
  /** Ends a task: `failed` when `error` is given (non-empty), else `completed`; rejects with `NOT_FOUND`. */
  completeTask(id: string, outcome?: TaskOutcome): Promise<void> {
    return this.call(tasks.completeTask, id, outcome);
  }
  /** Tasks newest first, optionally by `status` and `callerId`, at most `limit`. */
  listTasks(filter?: TaskFilter): Promise<Task[]> {
    return this.call(tasks.listTasks, filter);
  }
  /** Marks every `running` task `failed` (`stuck_on_startup`); resolves with how many. */
  failStuckTasks(): Promise<number> {
    return this.call(tasks.failStuckTasks);
  }
  /** The pending tasks, oldest first (changes nothing). */
  requeuePendingTasks(): Promise<Task[]> {
    return this.call(tasks.requeuePendingTasks);
  }

  // Approvals
  /** Saves a pending approval (INSERT OR REPLACE); `createdAt` defaults to now. */
  saveApproval(approval: PendingApprovalInput): Promise<PendingApproval> {
    return this.call(approvals.saveApproval, approval);
  }
  /** The approval, or `undefined`. */
  getApproval(requestId: string): Promise<PendingApproval | undefined> {
    return this.call(approvals.getApproval, requestId);
  }
  /** Deletes an approval; a missing one is no error. Resolves `true` when one was deleted. */
  deleteApproval(requestId: string): Promise<boolean> {
    return this.call(approvals.deleteApproval, requestId);
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
    return this.call(sessions.saveSessionContext, context);
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
    return this.call(sessions.touchSessionContext, sessionId);
  }
  /** Session contexts, most recently used first, optionally by `channel`/`userId`, at most `limit`. */
  listSessionContexts(filter?: SessionContextFilter): Promise<SessionContext[]> {
    return this.call(sessions.listSessionContexts, filter);
  }
  /** Saves a thread session (INSERT OR REPLACE); timestamps default to now, `sessionKey` to the agent's form. */
  saveThreadSession(session: ThreadSessionInput): Promise<ThreadSession> {
    return this.call(sessions.saveThreadSession, session);
  }
  /** The thread session of `(channel, threadTs)`, or `undefined`. */
  getThreadSession(channel: string, threadTs: string): Promise<ThreadSession | undefined> {
    return this.call(sessions.getThreadSession, channel, threadTs);
  }
  /** Sets `lastMessageAt` to now; rejects with `NOT_FOUND`. */
  touchThreadSession(channel: string, threadTs: string): Promise<void> {
    return this.call(sessions.touchThreadSession, channel, threadTs);
  }
  /** Thread sessions, most recent message first, optionally by `channel`, at most `limit`. */
  listThreadSessions(filter?: ThreadSessionFilter): Promise<ThreadSession[]> {
    return this.call(sessions.listThreadSessions, filter);
  }

  // Dead letters
  /** Saves a dead letter (INSERT OR REPLACE); `createdAt` defaults to now, `retryCount` to 0. */
  saveDeadLetter(letter: DeadLetterInput): Promise<DeadLetter> {
    return this.call(deadLetters.saveDeadLetter, letter);
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
    return this.call(deadLetters.incrementRetry, id, nextRetryAt);
  }
  /** Marks a letter resolved (the first resolution time is kept). Rejects with `NOT_FOUND`. */
  resolveDeadLetter(id: string): Promise<void> {
    return this.call(deadLetters.resolveDeadLetter, id);
  }
  /** Dead letters newest first, optionally in one `state`, at most `limit`. */
  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.call(deadLetters.listDeadLetters, filter);
  }

  // Audit log
  /** Appends an audit entry (`createdAt` defaults to now); resolves with its id. */
  appendAudit(entry: AuditEntryInput): Promise<number> {
    return this.call(audit.appendAudit, entry);
  }
  /** Audit entries newest first, by `userId`, `action`, `since` (inclusive), `until` (exclusive), at most `limit`. */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]> {
    return this.call(audit.listAudit, filter);
  }

  // Maintenance
  /** Deletes old rows with the Go agent's retention (or `policy`), atomically; resolves with the counts. */
  runRetention(policy?: RetentionPolicy): Promise<RetentionResult> {
    return this.call(runRetention, policy);
  }
  /** The database size: `page_count × page_size`. */
  dbSizeBytes(): Promise<number> {
    return this.call(async (ctx) => {
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

  constructor(ctx: Context) {
    super();
    this.#ctx = ctx;
  }

  protected call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
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
}

/**
 * The agent's store: tasks, approvals, session and thread state, dead letters and the audit log,
 * in the Go store's schema. Open one with {@link openStore}.
 */
export class Store extends StoreOperations {
  readonly #engine: Engine;
  readonly #adapter: PersistenceAdapter;
  readonly #ctx: Context;
  #closing: Promise<void> | undefined;
  // Settles when the open transaction ends; operations from outside it wait for that.
  #transaction: Promise<void> | undefined;

  /** @internal Use {@link openStore}. */
  constructor(engine: Engine, adapter: PersistenceAdapter, clock: () => number) {
    super();
    this.#engine = engine;
    this.#adapter = adapter;
    this.#ctx = { port: engine, now: checkedClock(clock) };
  }

  protected call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    // Only a call made after close() is refused; one made before it runs, even if it first waits
    // for a transaction (close() waits for that transaction, and queued calls run before it goes on).
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    return this.#run(op, args);
  }

  #run<A extends unknown[], R>(op: Operation<A, R>, args: A): Promise<R> {
    if (this.#transaction) return this.#transaction.then(() => this.#run(op, args));
    return op(this.#ctx, ...args);
  }

  /**
   * Runs `fn` in a transaction: every write made through the handle it receives commits together
   * when `fn` resolves, or none does when it throws (the error is rethrown). Operations called on the
   * store itself meanwhile wait until the transaction ends, so inside `fn` use the handle, never the
   * store (awaiting the store there would wait forever). Transactions do not nest.
   * @example
   * await store.transaction(async (tx) => {
   *   await tx.deleteApproval(requestId);
   *   await tx.updateTaskStatus(taskId, 'running');
   * });
   */
  async transaction<T>(fn: (tx: TransactionHandle) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') throw ValidationError.of('transaction', 'transaction() takes a function');
    if (this.#closing) throw new ClosedError('the store');
    while (this.#transaction) await this.#transaction;
    const engine = this.#engine;
    if (!engine.transaction) {
      throw new UnsupportedError(`the ${engine.name} engine has no interactive transactions; use single operations`);
    }
    let release = (): void => {};
    this.#transaction = new Promise<void>((resolve) => (release = resolve));
    try {
      return await engine.transaction((port: SqlPort) => Promise.resolve(fn(new Transaction({ port, now: this.#ctx.now }))));
    } finally {
      this.#transaction = undefined;
      release();
    }
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

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Waits for an open transaction, then releases the engine (statements, WASM memory) and the
   * adapter. Every call after it rejects with `CLOSED`. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#transaction) await this.#transaction;
      try {
        await this.#engine.close();
      } finally {
        await this.#adapter.close();
      }
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

/**
 * Opens a store: loads the adapter's image (or starts empty), runs the migrations, and returns the
 * {@link Store}. A file that is not SQLite, or whose schema is newer than this code, is refused with
 * a typed error and left untouched.
 * @example
 * const store = await openStore();
 * await store.saveTask({ id: 't1', command: 'deploy', params: { env: 'prod' } });
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  if (typeof options !== 'object' || options === null) throw ValidationError.of('options', 'openStore() takes an options object');
  const { adapter = createMemoryAdapter(), wasm, clock = Date.now, cacheSizeKiB } = options;
  if (typeof clock !== 'function') throw ValidationError.of('options', 'the clock option must be a function returning Unix ms');
  let engine: Engine | undefined;
  try {
    const { image } = await adapter.load();
    if (image !== undefined && !(image instanceof Uint8Array)) {
      throw ValidationError.of('image', `the ${adapter.name} adapter loaded something that is not a Uint8Array`);
    }
    engine = await createSqlJsEngine({ wasm, image, cacheSizeKiB });
    await migrate(engine);
    return new Store(engine, adapter, clock);
  } catch (e) {
    // The error that stopped the open is the one to report; cleanup failures must not hide it.
    await engine?.close().catch(() => undefined);
    await adapter.close().catch(() => undefined);
    throw e;
  }
}
