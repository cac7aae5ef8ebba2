/**
 * Every domain operation of the store, once: the {@link Store} and the handle a transaction
 * callback receives both have them, each running them its own way.
 */
import * as approvals from './approvals.js';
import * as audit from './audit.js';
import type { Context } from './context.js';
import * as deadLetters from './dead-letters.js';
import * as queue from './queue.js';
import type {
  ClaimedTask,
  ClaimOptions,
  EnqueueInput,
  FailOptions,
  FailResult,
  HeartbeatOptions,
  QueueEntry,
  QueueStats,
  ReplayOptions,
  TaskTransition,
  TransitionEntry,
  TransitionFilter,
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
import * as tasks from './tasks.js';

/** One domain operation: a function of the context and its arguments. */
export type Operation<A extends unknown[], R> = (ctx: Context, ...args: A) => Promise<R>;

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
  /**
   * Ends a task: `failed` when `error` is given (non-empty), else `completed`; rejects with
   * `NOT_FOUND`. With `workerId` (a claimed task), only while that worker holds the lease (and,
   * with `fence`, that claim): otherwise `LEASE_LOST`, and nothing changes.
   */
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

  // The task engine (schema v2)
  /**
   * Enqueues a new pending task, to run at `runAt` (default now) with up to `maxAttempts` claims
   * (default 1) and `backoff` between them. The same `idempotencyKey` again returns the first task
   * and changes nothing. A task id that exists rejects with `CONFLICT`.
   */
  enqueueTask(input: EnqueueInput): Promise<Task> {
    return this.write(queue.enqueueTask, input);
  }
  /**
   * Claims the oldest due task for `workerId` under a lease of `leaseMs` (a pending task whose time
   * has come, or a running one whose lease expired), optionally only of `commands`; `undefined`
   * when none is due. Exactly one worker gets each claim; its `fence` grows with every claim.
   */
  claimTask(options: ClaimOptions): Promise<ClaimedTask | undefined> {
    return this.write(queue.claimTask, options);
  }
  /** Extends the lease of a task `workerId` holds to `leaseMs` from now, resolving with its end; `LEASE_LOST` when it does not hold it. */
  heartbeatTask(id: string, workerId: string, options: HeartbeatOptions): Promise<number> {
    return this.write(queue.heartbeatTask, id, workerId, options);
  }
  /**
   * A failed attempt of a task `workerId` holds: back to `pending` after the backoff while attempts
   * remain (and `retry` is not `false`), else `failed`. `LEASE_LOST` when it does not hold it.
   */
  failTask(id: string, options: FailOptions): Promise<FailResult> {
    return this.write(queue.failTask, id, options);
  }
  /** Cancels a task that has not ended; `CONFLICT` for one that has, `NOT_FOUND` for none. */
  cancelTask(id: string, reason?: string): Promise<void> {
    return this.write(queue.cancelTask, id, reason);
  }
  /** Every status transition of a task, oldest first, whoever made it (v1 operations and the Go agent too). */
  taskHistory(id: string): Promise<TaskTransition[]> {
    return this.call(queue.taskHistory, id);
  }
  /**
   * Status transitions across tasks, at `since` (inclusive) to `until` (exclusive), optionally of
   * one `taskId`, ordered by `at` then `id`, at most `limit`; `after` (a page's last `at` and `id`)
   * goes on where that page ended. Each carries its `taskId` and its row's stable `id`.
   */
  listTransitions(filter?: TransitionFilter): Promise<TransitionEntry[]> {
    return this.call(queue.listTransitions, filter);
  }
  /** A new pending task with the original's command and params, linked to it (`queueEntry(id).replayOf`). */
  replayTask(id: string, options?: ReplayOptions): Promise<Task> {
    return this.write(queue.replayTask, id, options);
  }
  /** A task's queue row (when it runs, its attempts, who holds it), or `undefined`. */
  queueEntry(id: string): Promise<QueueEntry | undefined> {
    return this.call(queue.queueEntry, id);
  }
  /** The queue at a glance: due, scheduled, retrying, running, leased, expired, awaiting approval. */
  queueStats(): Promise<QueueStats> {
    return this.call(queue.queueStats);
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
export class Transaction extends StoreOperations {
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

