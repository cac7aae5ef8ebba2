/** Reads what the views show from a store, in one pass per refresh. */
import type { DeadLetter, DeadLetterState, PendingApproval, QueueEntry, SessionContext, Store, Task, TaskStatus, TaskTransition, ThreadSession, TransitionEntry } from '../src/index.js';
import { DEAD_LETTER_STATES, HOUR, hourOf, QUEUE_HOURS } from './format.js';

/** Everything but the filtered lists (tasks table, audit table), read from one store. */
export interface Model {
  /** Every task, newest first. */
  readonly tasks: readonly Task[];
  /** Approvals waiting, newest first. */
  readonly approvals: readonly PendingApproval[];
  readonly sessions: readonly SessionContext[];
  readonly threads: readonly ThreadSession[];
  /** Dead letters per state, newest first. */
  readonly deadLetters: Readonly<Record<DeadLetterState, readonly DeadLetter[]>>;
  /** What the queue chart shows. */
  readonly queue: QueueHistory;
}

/** Reads the model from `store`. */
export async function loadModel(store: Store): Promise<Model> {
  const [tasks, approvals, sessions, threads, ...letters] = await Promise.all([
    store.listTasks(),
    store.listApprovals(),
    store.listSessionContexts(),
    store.listThreadSessions(),
    ...DEAD_LETTER_STATES.map(([state]) => store.listDeadLetters({ state })),
  ]);
  const deadLetters = Object.fromEntries(DEAD_LETTER_STATES.map(([state], i) => [state, letters[i] ?? []])) as Record<DeadLetterState, DeadLetter[]>;
  return { tasks, approvals, sessions, threads, deadLetters, queue: await loadQueueHistory(store, tasks) };
}

// A database at schema v1 that the store could not upgrade (read-only on node:sqlite) has no task
// engine: its reads say UNSUPPORTED. (sql.js, which the page runs, upgrades what it reads in memory.)
const unsupported = (e: unknown) => (e as { code?: unknown } | null)?.code === 'UNSUPPORTED';

/** A task's place in the queue, for its detail panel. */
export interface TaskQueueView {
  readonly id: string;
  /** Its transitions, oldest first; `undefined` when the database has no task engine (schema v1). */
  readonly history: readonly TaskTransition[] | undefined;
  /** Its queue row (`undefined`: none, or no task engine). */
  readonly entry: QueueEntry | undefined;
}

/** Reads the transitions and the queue row of task `id`. */
export async function loadTaskQueue(store: Store, id: string): Promise<TaskQueueView> {
  try {
    const [history, entry] = await Promise.all([store.taskHistory(id), store.queueEntry(id)]);
    return { id, history, entry };
  } catch (e) {
    if (unsupported(e)) return { id, history: undefined, entry: undefined };
    throw e;
  }
}

/** What the queue chart shows: the transitions of the tasks that matter in its window, or why there are none. */
export type QueueHistory =
  | {
      readonly kind: 'transitions';
      /** The window's last hour: the newest task's (as the tasks chart's). */
      readonly lastHour: number;
      /**
       * Every transition, up to the end of the window's last hour, of each task that may be waiting
       * or running at the end of one of its hours, in the store's order (`at`, then `id`).
       */
      readonly transitions: readonly TransitionEntry[];
    }
  /** No tasks; tasks written before schema v2 (no transitions recorded); no task engine at all. */
  | { readonly kind: 'no-tasks' | 'unrecorded' | 'unsupported' };

const ENDED: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/**
 * The transitions the queue chart needs, in one read (two when none are recorded).
 *
 * The chart counts each task in the state its latest transition by the end of an hour left it in,
 * so a task waiting since before the window, with no transition inside it, needs its transitions
 * from before the window: reading only the window would miss it, and reading each task's history
 * (as this did) costs a read per task. Instead: which tasks can be waiting or running at the end of
 * one of the chart's hours? Not one that ended before the first of them (its last transition is no
 * later than its `updatedAt`). And the others' transitions are none of them earlier than their
 * `createdAt`: each is written at the task's `updatedAt`, or at the clock of the claim that takes a
 * lease over. So one `listTransitions` from the earliest `createdAt` among those tasks to the end
 * of the window's last hour holds every transition of theirs the chart looks at. Other tasks'
 * transitions in that span are dropped, so the chart counts exactly the tasks, and the
 * transitions, it counted reading each history. A task waiting for days makes the read start days
 * back: more rows, still one read.
 */
export async function loadQueueHistory(store: Store, tasks: readonly Task[], hours = QUEUE_HOURS): Promise<QueueHistory> {
  if (tasks.length === 0) return { kind: 'no-tasks' };
  let newest = tasks[0] as Task;
  for (const t of tasks) if (t.createdAt > newest.createdAt) newest = t;
  const lastHour = hourOf(newest.createdAt);
  const from = lastHour - (hours - 2) * HOUR; // the end of the window's first hour
  const until = lastHour + HOUR + 1; // the end of its last hour, counted (transitions at it included)
  const open = new Set<string>();
  let since = until;
  for (const t of tasks) {
    if (ENDED.has(t.status) && t.updatedAt < from) continue;
    open.add(t.id);
    if (t.createdAt < since) since = t.createdAt;
  }
  try {
    const transitions = (await store.listTransitions({ since: Math.max(0, since), until })).filter((t) => open.has(t.taskId));
    // Every task written at schema v2 has at least its first transition: the newest has none when
    // the tasks were written before (a v1 agent's database, upgraded in memory as the page reads it).
    // (Or none in the window, saved with a later `updatedAt`: asked to be sure.)
    if (!transitions.some((t) => t.taskId === newest.id) && !(await hasTransitions(store, newest.id))) return { kind: 'unrecorded' };
    return { kind: 'transitions', lastHour, transitions };
  } catch (e) {
    if (unsupported(e)) return { kind: 'unsupported' };
    throw e;
  }
}

/** Whether task `id` has any transition recorded. */
async function hasTransitions(store: Store, id: string): Promise<boolean> {
  try {
    return (await store.listTransitions({ taskId: id, limit: 1 })).length > 0;
  } catch (e) {
    // An id the store refuses to look up (one with a NUL a v1 writer stored) has no readable history.
    if ((e as { code?: unknown } | null)?.code === 'VALIDATION') return false;
    throw e;
  }
}

/** The task table's filters, as the inputs hold them. */
export interface TaskFilters {
  readonly status: Task['status'] | undefined;
  /** Exact caller id (the store filters on it). */
  readonly callerId: string | undefined;
  /** Case-insensitive substring of the command. */
  readonly command: string | undefined;
  /** Unix ms, inclusive. */
  readonly from: number | undefined;
  /** Unix ms; the whole minute it names is included. */
  readonly to: number | undefined;
}

/** The tasks matching `filters`, newest first: status and caller by the store, the rest here. */
export async function queryTasks(store: Store, filters: TaskFilters): Promise<Task[]> {
  const tasks = await store.listTasks({
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.callerId ? { callerId: filters.callerId } : {}),
  });
  const command = filters.command?.toLowerCase();
  // `datetime-local` has minute precision: "to 18:00" means up to 18:00:59.999.
  const before = filters.to === undefined ? undefined : filters.to + 60_000;
  return tasks.filter(
    (t) =>
      (!command || t.command.toLowerCase().includes(command)) &&
      (filters.from === undefined || t.createdAt >= filters.from) &&
      (before === undefined || t.createdAt < before),
  );
}

/**
 * The unresolved letters split again at `now`: "due" and "waiting" depend on the clock (a letter is
 * due once its `nextRetryAt` has passed), so a page that shows the same data for a while must move
 * them itself. Newest first, as the store lists them. `undefined` when nothing moved.
 */
export function splitDeadLetters(letters: Model['deadLetters'], now: number): Model['deadLetters'] | undefined {
  const moved = letters.waiting.some((d) => d.nextRetryAt !== undefined && d.nextRetryAt <= now) || letters.due.some((d) => d.nextRetryAt !== undefined && d.nextRetryAt > now);
  if (!moved) return undefined;
  const unresolved = [...letters.due, ...letters.waiting].sort((a, b) => b.createdAt - a.createdAt);
  return {
    ...letters,
    due: unresolved.filter((d) => d.nextRetryAt !== undefined && d.nextRetryAt <= now),
    waiting: unresolved.filter((d) => d.nextRetryAt !== undefined && d.nextRetryAt > now),
  };
}
