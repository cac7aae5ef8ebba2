/** Reads what the views show from a store, in one pass per refresh. */
import type { DeadLetter, DeadLetterState, PendingApproval, SessionContext, Store, Task, ThreadSession } from '../src/index.js';
import { DEAD_LETTER_STATES } from './format.js';

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
  return { tasks, approvals, sessions, threads, deadLetters };
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
