import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { ValidationError } from './errors.js';
import { encodedJson, encodeJson, jsonSnapshot, type JsonValue } from './json.js';

// zod compiles object parsers with `new Function` where it may, and probes for it while the schemas
// below are built: under a Content-Security-Policy without 'unsafe-eval' the probe alone is reported
// as a violation, though zod catches it. Its interpreter parses the same, so the store runs jitless
// everywhere (a page, a Worker, Node), set before any schema of the store exists.
z.config({ jitless: true });
// zod/mini loads no locale: without one every message would read "Invalid input". English, as the
// classic API sets it: only when no locale is set yet (an app's own `z.config(z.locales.xx())` wins;
// zod's config is one per page, shared by every copy of zod).
if (z.config().localeError === undefined) z.config(en());

/**
 * Text as SQLite stores it and every reader reads it back: well-formed Unicode (no lone surrogates)
 * and no NUL character (C readers such as the `sqlite3` shell stop at the first NUL).
 */
export const TextSchema = z
  .string()
  .check(
    z.refine((s) => !s.includes('\0'), 'must not contain a NUL character'),
    z.refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)'),
  );

/** The rules of {@link TextSchema} as one predicate, for the fast paths below. */
function isStoredText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0') && value.isWellFormed();
}

/** A key: non-empty {@link TextSchema}. */
export const IdSchema = z.pipe(TextSchema, z.string().check(z.minLength(1, 'must not be empty')));

/** Unix milliseconds, a non-negative safe integer. */
export const TimestampSchema = z.int().check(z.nonnegative());

/** A JSON value that reads back exactly as written (no NaN, -0, cycles, class instances, functions). */
export const JsonValueSchema = z.pipe(
  z.custom<JsonValue>(() => true),
  z.transform((value: JsonValue, ctx) => {
    // Validated and stored as one copy, read once (see jsonSnapshot).
    const snapshot = jsonSnapshot(value);
    for (const p of snapshot.problems) ctx.issues.push({ code: 'custom', message: p.message, path: p.path, input: value });
    return snapshot.value as JsonValue;
  }),
);

/** A row limit: a positive integer. Leave it out for no limit. */
export const LimitSchema = z.int().check(z.positive('must be a positive integer (leave it out for no limit)'));

/** Task statuses, as stored in `tasks.status`. */
export const TaskStatusSchema = z.enum(['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled']);
/** A task status. */
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** A row of `tasks`. `params`/`result` are JSON values (JSON text in the file). */
export const TaskSchema = z.strictObject({
  id: IdSchema,
  status: TaskStatusSchema,
  command: TextSchema,
  params: JsonValueSchema,
  callerId: TextSchema,
  responseChannel: z.optional(TextSchema),
  responseThread: z.optional(TextSchema),
  result: z.optional(JsonValueSchema),
  error: z.optional(TextSchema),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
  completedAt: z.optional(TimestampSchema),
});
/** A task as stored. */
export type Task = z.infer<typeof TaskSchema>;

/** What `saveTask` accepts: `status` defaults to `pending`, `callerId` to `''`, timestamps to now. */
export const TaskInputSchema = z.extend(TaskSchema, {
  status: z.optional(TaskStatusSchema),
  callerId: z.optional(TextSchema),
  createdAt: z.optional(TimestampSchema),
  updatedAt: z.optional(TimestampSchema),
});
/** Input of `saveTask`. */
export type TaskInput = z.input<typeof TaskInputSchema>;

/** Filter of `listTasks`. */
export const TaskFilterSchema = z.strictObject({
  status: z.optional(TaskStatusSchema),
  callerId: z.optional(TextSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listTasks`. */
export type TaskFilter = z.infer<typeof TaskFilterSchema>;

/**
 * What `completeTask` records: a `result`, an `error`, both or neither. With `workerId` (a task
 * claimed with `claimTask`) the lease is checked first: a worker that no longer holds it (and, with
 * `fence`, a stale claim) gets `LEASE_LOST` and nothing changes.
 */
export const TaskOutcomeSchema = z.strictObject({
  result: z.optional(JsonValueSchema),
  error: z.optional(TextSchema),
  workerId: z.optional(IdSchema),
  fence: z.optional(z.int().check(z.positive())),
});
/** Outcome passed to `completeTask`. */
export type TaskOutcome = z.infer<typeof TaskOutcomeSchema>;

/** A row of `pending_approvals`. */
export const PendingApprovalSchema = z.strictObject({
  requestId: IdSchema,
  taskId: TextSchema,
  callerId: TextSchema,
  permission: TextSchema,
  action: TextSchema,
  resource: TextSchema,
  channelId: z.optional(TextSchema),
  threadTs: z.optional(TextSchema),
  createdAt: TimestampSchema,
});
/** A pending approval as stored. */
export type PendingApproval = z.infer<typeof PendingApprovalSchema>;
/** What `saveApproval` accepts: `createdAt` defaults to now. */
export const PendingApprovalInputSchema = z.extend(PendingApprovalSchema, { createdAt: z.optional(TimestampSchema) });
/** Input of `saveApproval`. */
export type PendingApprovalInput = z.input<typeof PendingApprovalInputSchema>;

/** Filter of `listApprovals`. */
export const ApprovalFilterSchema = z.strictObject({
  taskId: z.optional(TextSchema),
  callerId: z.optional(TextSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listApprovals`. */
export type ApprovalFilter = z.infer<typeof ApprovalFilterSchema>;

/** A row of `session_contexts`. */
export const SessionContextSchema = z.strictObject({
  sessionId: IdSchema,
  channel: TextSchema,
  threadTs: TextSchema,
  userId: z.optional(TextSchema),
  createdAt: TimestampSchema,
  lastUsed: TimestampSchema,
});
/** A session context as stored. */
export type SessionContext = z.infer<typeof SessionContextSchema>;
/** What `saveSessionContext` accepts: both timestamps default to now. */
export const SessionContextInputSchema = z.extend(SessionContextSchema, {
  createdAt: z.optional(TimestampSchema),
  lastUsed: z.optional(TimestampSchema),
});
/** Input of `saveSessionContext`. */
export type SessionContextInput = z.input<typeof SessionContextInputSchema>;

/** Filter of `listSessionContexts`. */
export const SessionContextFilterSchema = z.strictObject({
  channel: z.optional(TextSchema),
  userId: z.optional(TextSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listSessionContexts`. */
export type SessionContextFilter = z.infer<typeof SessionContextFilterSchema>;

/** A row of `thread_sessions`, keyed by `(channel, threadTs)`. */
export const ThreadSessionSchema = z.strictObject({
  channel: TextSchema,
  threadTs: TextSchema,
  sessionKey: TextSchema,
  createdAt: TimestampSchema,
  lastMessageAt: TimestampSchema,
});
/** A thread session as stored. */
export type ThreadSession = z.infer<typeof ThreadSessionSchema>;
/**
 * What `saveThreadSession` accepts: timestamps default to now, and `sessionKey` to the agent's own
 * form, `agent:main:slack-<channel>-<threadTs>`.
 */
export const ThreadSessionInputSchema = z.extend(ThreadSessionSchema, {
  sessionKey: z.optional(TextSchema),
  createdAt: z.optional(TimestampSchema),
  lastMessageAt: z.optional(TimestampSchema),
});
/** Input of `saveThreadSession`. */
export type ThreadSessionInput = z.input<typeof ThreadSessionInputSchema>;

/** Filter of `listThreadSessions`. */
export const ThreadSessionFilterSchema = z.strictObject({
  channel: z.optional(TextSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listThreadSessions`. */
export type ThreadSessionFilter = z.infer<typeof ThreadSessionFilterSchema>;

/** A row of `dead_letters`: a failed outgoing message. No `nextRetryAt` = given up; `resolvedAt` = resolved. */
export const DeadLetterSchema = z.strictObject({
  id: IdSchema,
  targetChannel: TextSchema,
  targetThread: z.optional(TextSchema),
  message: TextSchema,
  error: TextSchema,
  createdAt: TimestampSchema,
  retryCount: z.int().check(z.nonnegative()),
  nextRetryAt: z.optional(TimestampSchema),
  resolvedAt: z.optional(TimestampSchema),
});
/** A dead letter as stored. */
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
/** What `saveDeadLetter` accepts: `createdAt` defaults to now, `retryCount` to 0. */
export const DeadLetterInputSchema = z.extend(DeadLetterSchema, {
  createdAt: z.optional(TimestampSchema),
  retryCount: z.optional(z.int().check(z.nonnegative())),
});
/** Input of `saveDeadLetter`. */
export type DeadLetterInput = z.input<typeof DeadLetterInputSchema>;

/** The states `listDeadLetters` can filter on. */
export const DeadLetterStateSchema = z.enum(['due', 'waiting', 'given_up', 'resolved']);
/** A dead letter's state: due (retry time reached), waiting, given_up (no retry time), resolved. */
export type DeadLetterState = z.infer<typeof DeadLetterStateSchema>;
/** Filter of `listDeadLetters`. */
export const DeadLetterFilterSchema = z.strictObject({
  state: z.optional(DeadLetterStateSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listDeadLetters`. */
export type DeadLetterFilter = z.infer<typeof DeadLetterFilterSchema>;

/** A row of `audit_log`. `details` is a JSON value. */
export const AuditEntrySchema = z.strictObject({
  id: z.int().check(z.positive()),
  userId: TextSchema,
  action: TextSchema,
  resource: z.optional(TextSchema),
  result: TextSchema,
  details: z.optional(JsonValueSchema),
  createdAt: TimestampSchema,
});
/** An audit entry as stored. */
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
/** What `appendAudit` accepts: no `id` (SQLite assigns it), `createdAt` defaults to now. */
export const AuditEntryInputSchema = z.extend(z.omit(AuditEntrySchema, { id: true }), {
  createdAt: z.optional(TimestampSchema),
});
/** Input of `appendAudit`. */
export type AuditEntryInput = z.input<typeof AuditEntryInputSchema>;

/** Filter of `listAudit`: `since` is inclusive, `until` exclusive (Unix ms). */
export const AuditFilterSchema = z.strictObject({
  userId: z.optional(TextSchema),
  action: z.optional(TextSchema),
  since: z.optional(TimestampSchema),
  until: z.optional(TimestampSchema),
  limit: z.optional(LimitSchema),
});
/** Filter of `listAudit`. */
export type AuditFilter = z.infer<typeof AuditFilterSchema>;

const MaxAgeSchema = z.union([z.int().check(z.nonnegative()), z.literal(false)]);
/**
 * Retention: the maximum age in ms per table (`false` keeps that table's rows forever).
 * Defaults are the Go agent's: tasks 7 days after completion, approvals 1 hour, session contexts
 * 24 hours unused, thread sessions 7 days without a message, resolved dead letters 24 hours after
 * resolution, audit entries 30 days.
 */
export const RetentionPolicySchema = z.strictObject({
  tasks: z.optional(MaxAgeSchema),
  pendingApprovals: z.optional(MaxAgeSchema),
  sessionContexts: z.optional(MaxAgeSchema),
  threadSessions: z.optional(MaxAgeSchema),
  deadLetters: z.optional(MaxAgeSchema),
  auditLog: z.optional(MaxAgeSchema),
});
/** Retention policy; see {@link RetentionPolicySchema}. */
export type RetentionPolicy = z.infer<typeof RetentionPolicySchema>;
/** Rows deleted per table by one `runRetention`. */
export interface RetentionResult {
  tasks: number;
  pendingApprovals: number;
  sessionContexts: number;
  threadSessions: number;
  deadLetters: number;
  auditLog: number;
}

// ---------------------------------------------------------------------------------------------
// The task engine (schema v2): enqueue, claim with a lease, retries, history.

/**
 * How long a failed attempt waits before the next: `baseMs × factor^(attempt − 1)`, at most
 * `maxMs`, less a random part of up to `jitter` of it (so workers that fail together do not retry
 * together). Defaults: 1 s, ×2, at most 5 min, jitter 0.2.
 */
export const BackoffSchema = z.strictObject({
  baseMs: z.optional(z.int().check(z.positive(), z.maximum(7 * 24 * 3_600_000))),
  factor: z.optional(z.number().check(z.minimum(1), z.maximum(10))),
  maxMs: z.optional(z.int().check(z.positive(), z.maximum(7 * 24 * 3_600_000))),
  jitter: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
});
/** A retry backoff; see {@link BackoffSchema}. */
export type Backoff = z.infer<typeof BackoffSchema>;

/**
 * What `enqueueTask` accepts: a new pending task (a task's fields, without a status or an outcome)
 * and how it runs: `runAt` (Unix ms; default now), `maxAttempts` (claims it may have; default 1,
 * no retry), `backoff` between attempts, and an `idempotencyKey` (the same key again returns the
 * first task and changes nothing) kept at least `idempotencyTtlMs` (default 24 h) after the enqueue,
 * and for as long as the task exists.
 */
export const EnqueueInputSchema = z.extend(z.omit(TaskSchema, { status: true, result: true, error: true, completedAt: true, updatedAt: true }), {
  callerId: z.optional(TextSchema),
  createdAt: z.optional(TimestampSchema),
  runAt: z.optional(TimestampSchema),
  maxAttempts: z.optional(z.int().check(z.minimum(1), z.maximum(1000))),
  backoff: z.optional(BackoffSchema),
  idempotencyKey: z.optional(IdSchema),
  idempotencyTtlMs: z.optional(z.int().check(z.positive(), z.maximum(365 * 24 * 3_600_000))),
});
/** Input of `enqueueTask`. */
export type EnqueueInput = z.input<typeof EnqueueInputSchema>;

/** A worker's id: who holds a claimed task. */
export const WorkerIdSchema = IdSchema;
/** A lease's length in ms: a positive integer, at most a day. */
export const LeaseMsSchema = z.int().check(z.positive('must be a positive number of ms'), z.maximum(24 * 3_600_000, 'must be at most a day'));

/** What `claimTask` takes: who claims, for how long, and optionally only these commands. */
export const ClaimOptionsSchema = z.strictObject({
  workerId: WorkerIdSchema,
  leaseMs: LeaseMsSchema,
  commands: z.optional(z.array(TextSchema).check(z.minLength(1), z.maxLength(100))),
});
/** Options of `claimTask`. */
export type ClaimOptions = z.infer<typeof ClaimOptionsSchema>;

/** A task a worker claimed: the task, and the lease it holds it under. */
export const ClaimedTaskSchema = z.extend(TaskSchema, {
  /** This claim's attempt (1 for the first). */
  attempt: z.int().check(z.positive()),
  maxAttempts: z.int().check(z.positive()),
  /** The fencing token: it grows with every claim of the task; a stale holder's token is smaller. */
  fence: z.int().check(z.positive()),
  workerId: WorkerIdSchema,
  /** Until when the lease holds (Unix ms); `heartbeatTask` extends it. */
  leaseUntil: TimestampSchema,
});
/** A claimed task; see {@link ClaimedTaskSchema}. */
export type ClaimedTask = z.infer<typeof ClaimedTaskSchema>;

/** What `heartbeatTask` takes: the new lease, from now; `fence` checks the claim too when given. */
export const HeartbeatOptionsSchema = z.strictObject({
  leaseMs: LeaseMsSchema,
  fence: z.optional(z.int().check(z.positive())),
});
/** Options of `heartbeatTask`. */
export type HeartbeatOptions = z.infer<typeof HeartbeatOptionsSchema>;

/** What `failTask` takes: who fails it, why, and whether it may run again (default true). */
export const FailOptionsSchema = z.strictObject({
  workerId: WorkerIdSchema,
  error: z.pipe(TextSchema, z.string().check(z.minLength(1, 'must not be empty'))),
  retry: z.optional(z.boolean()),
  fence: z.optional(z.int().check(z.positive())),
});
/** Options of `failTask`. */
export type FailOptions = z.infer<typeof FailOptionsSchema>;

/** What `failTask` did: back to `pending` at `runAt` (attempts remain), or `failed`. */
export interface FailResult {
  readonly status: 'pending' | 'failed';
  /** The attempt that failed. */
  readonly attempt: number;
  /** When it runs again, for `pending`. */
  readonly runAt?: number;
}

/** One status transition of a task (`taskHistory`). */
export const TaskTransitionSchema = z.strictObject({
  /** The status before (absent for a new task). */
  from: z.optional(TaskStatusSchema),
  to: TaskStatusSchema,
  /** When (the task's `updatedAt` then; for a lease that expired, when the next claim saw it). */
  at: TimestampSchema,
  attempt: z.optional(z.int().check(z.nonnegative())),
  workerId: z.optional(TextSchema),
  error: z.optional(TextSchema),
});
/** A task's transition; see {@link TaskTransitionSchema}. */
export type TaskTransition = z.infer<typeof TaskTransitionSchema>;

/**
 * One transition of `listTransitions`: a {@link TaskTransition} with its task's id and its own `id`
 * (the `task_history` row's, which never changes and is never reused), which orders transitions of
 * equal `at` (in the order they were written) and, with `at`, marks where a page ended.
 */
export const TransitionEntrySchema = z.extend(TaskTransitionSchema, {
  id: z.int().check(z.positive()),
  taskId: TextSchema,
});
/** A transition across tasks; see {@link TransitionEntrySchema}. */
export type TransitionEntry = z.infer<typeof TransitionEntrySchema>;

/**
 * Filter of `listTransitions`: the transitions at `since` (inclusive) to `until` (exclusive), Unix
 * ms, optionally of one task (`taskId`), in their order (`at`, then `id`), at most `limit`. A page
 * goes on from where the previous one ended with `after`: its last transition's `at` and `id`
 * (both, since ids follow the order the rows were written in, which is not always the order of
 * their times). `until` before `since` is refused (an empty window is `since === until`).
 */
export const TransitionFilterSchema = z
  .strictObject({
    since: z.optional(TimestampSchema),
    until: z.optional(TimestampSchema),
    taskId: z.optional(TextSchema),
    after: z.optional(z.strictObject({ at: TimestampSchema, id: z.int().check(z.positive()) })),
    limit: z.optional(LimitSchema),
  })
  .check(z.refine((f) => f.since === undefined || f.until === undefined || f.since <= f.until, { message: 'must not be before since', path: ['until'] }));
/** Filter of `listTransitions`. */
export type TransitionFilter = z.infer<typeof TransitionFilterSchema>;

/** A task's queue row (`queueEntry`): how and when it runs, who holds it. */
export interface QueueEntry {
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly runAt: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly backoff?: Backoff;
  readonly workerId?: string;
  readonly leaseUntil?: number;
  readonly fence: number;
  readonly idempotencyKey?: string;
  /** The task this one replays (`replayTask`). */
  readonly replayOf?: string;
  readonly lastError?: string;
}

/** The queue at a glance (`queueStats`). */
export interface QueueStats {
  /** Pending and due now. */
  readonly due: number;
  /** Pending, due later (`runAt` in the future: scheduled, or waiting to retry). */
  readonly scheduled: number;
  /** Pending after a failed attempt. */
  readonly retrying: number;
  /** Running (claimed, or set running by a v1 operation). */
  readonly running: number;
  /** Running under a lease that still holds. */
  readonly leased: number;
  /** Running under a lease that has expired (the next claim takes it over). */
  readonly expired: number;
  readonly awaitingApproval: number;
}

/** Options of `replayTask`: the new task's id. @default `<id>-replay-<8 hex digits>` */
export const ReplayOptionsSchema = z.strictObject({ id: z.optional(IdSchema) });
/** Options of `replayTask`. */
export type ReplayOptions = z.infer<typeof ReplayOptionsSchema>;

/** Parses `value` with `schema` or throws a {@link ValidationError} naming `what`. */
export function validate<S extends z.ZodMiniType>(schema: S, value: unknown, what: string): z.output<S> {
  let issues: z.core.$ZodIssue[];
  try {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    issues = parsed.error.issues; // (zod words its messages here, reading the input again)
  } catch (e) {
    // A getter or proxy that throws while it is read is invalid input like any other.
    throw ValidationError.of(what, `reading it threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  throw new ValidationError(what, issues);
}

/** Validates one key argument (an id) without building a schema per call. */
export function validateId(value: unknown, what: string): string {
  if (isStoredText(value) && value.length > 0) return value;
  return validate(IdSchema, value, what);
}

/** Validates one text argument (may be empty) without building a schema per call. */
export function validateText(value: unknown, what: string): string {
  if (isStoredText(value)) return value;
  return validate(TextSchema, value, what);
}

const TASK_STATUSES: ReadonlySet<unknown> = new Set<unknown>(TaskStatusSchema.options);

/** Validates a task status argument: a lookup, and the schema only to word a refusal. */
export function validateTaskStatus(value: unknown, what: string): TaskStatus {
  if (TASK_STATUSES.has(value)) return value as TaskStatus;
  return validate(TaskStatusSchema, value, what);
}

/** Whether `value` is `undefined` or stored text (an optional {@link TextSchema} field). */
function isOptionalText(value: unknown): value is string | undefined {
  return value === undefined || isStoredText(value);
}

/** Whether `value` is `undefined` or a {@link TimestampSchema} value. */
function isOptionalTimestamp(value: unknown): value is number | undefined {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

/** `saveTask`'s input as validated, with its JSON fields' text as the INSERT binds it. */
export interface CheckedTaskInput {
  readonly task: z.output<typeof TaskInputSchema>;
  readonly paramsJson: string;
  /** `undefined` when the input has no `result`. */
  readonly resultJson: string | undefined;
}

const TASK_INPUT_KEYS: ReadonlySet<string> = new Set(Object.keys(TaskInputSchema.def.shape));

// The fast path of TaskInputSchema for valid input: every field read once, in the schema's order;
// `undefined` wherever the schema could refuse (or reading threw), so that the schema words it.
function taskInputFast(input: unknown): CheckedTaskInput | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const i = input as Record<string, unknown>;
  const id = i.id;
  const status = i.status;
  const command = i.command;
  const params = i.params;
  const callerId = i.callerId;
  const responseChannel = i.responseChannel;
  const responseThread = i.responseThread;
  const result = i.result;
  const error = i.error;
  const createdAt = i.createdAt;
  const updatedAt = i.updatedAt;
  const completedAt = i.completedAt;
  // A strict object: every key the schema's `for…in` sees must be one of its own.
  for (const key in i) if (!TASK_INPUT_KEYS.has(key)) return undefined;
  if (!isStoredText(id) || id.length === 0 || !isStoredText(command)) return undefined;
  if (status !== undefined && !TASK_STATUSES.has(status)) return undefined;
  if (!isOptionalText(callerId) || !isOptionalText(responseChannel) || !isOptionalText(responseThread) || !isOptionalText(error)) return undefined;
  if (!isOptionalTimestamp(createdAt) || !isOptionalTimestamp(updatedAt) || !isOptionalTimestamp(completedAt)) return undefined;
  const p = encodedJson(params);
  if (!p) return undefined;
  let r: ReturnType<typeof encodedJson>;
  if (result !== undefined) {
    r = encodedJson(result);
    if (!r) return undefined;
  }
  const task: z.output<typeof TaskInputSchema> = { id, command, params: p.value };
  if (status !== undefined) task.status = status as TaskStatus;
  if (callerId !== undefined) task.callerId = callerId;
  if (responseChannel !== undefined) task.responseChannel = responseChannel;
  if (responseThread !== undefined) task.responseThread = responseThread;
  if (r) task.result = r.value;
  if (error !== undefined) task.error = error;
  if (createdAt !== undefined) task.createdAt = createdAt;
  if (updatedAt !== undefined) task.updatedAt = updatedAt;
  if (completedAt !== undefined) task.completedAt = completedAt;
  return { task, paramsJson: p.text, resultJson: r?.text };
}

/**
 * Validates `saveTask`'s input as {@link TaskInputSchema} does, reading it once, and encodes its
 * JSON fields in the same pass; refusals (and their messages and paths) are the schema's.
 */
export function validateTaskInput(input: unknown): CheckedTaskInput {
  let fast: CheckedTaskInput | undefined;
  try {
    fast = taskInputFast(input);
  } catch {
    // A getter or proxy that throws: the schema reads it again and words the refusal.
  }
  if (fast) return fast;
  const task = validate(TaskInputSchema, input, 'task');
  return { task, paramsJson: encodeJson(task.params), resultJson: task.result === undefined ? undefined : encodeJson(task.result) };
}

const TASK_FILTER_KEYS: ReadonlySet<string> = new Set(Object.keys(TaskFilterSchema.def.shape));

/** Validates `listTasks`' filter as {@link TaskFilterSchema} does, reading it once; refusals are the schema's. */
export function validateTaskFilter(filter: unknown): TaskFilter {
  try {
    if (typeof filter === 'object' && filter !== null && !Array.isArray(filter)) {
      const f = filter as Record<string, unknown>;
      const status = f.status;
      const callerId = f.callerId;
      const limit = f.limit;
      let known = true;
      for (const key in f) if (!TASK_FILTER_KEYS.has(key)) known = false;
      if (known && (status === undefined || TASK_STATUSES.has(status)) && isOptionalText(callerId) && (limit === undefined || (Number.isSafeInteger(limit) && (limit as number) > 0))) {
        const out: TaskFilter = {};
        if (status !== undefined) out.status = status as TaskStatus;
        if (callerId !== undefined) out.callerId = callerId;
        if (limit !== undefined) out.limit = limit as number;
        return out;
      }
    }
  } catch {
    // As in validateTaskInput: the schema words it.
  }
  return validate(TaskFilterSchema, filter, 'task filter');
}
