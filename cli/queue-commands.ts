/**
 * The task engine's commands (schema v2): `history` shows a task's transitions and its queue entry
 * (reading: it works while the agent runs), `replay` enqueues a task again (writing: the database
 * must not be open in a running store).
 */
import type { QueueEntry, Task, TaskTransition } from '../src/index.js';
import { StoreError } from '../src/index.js';
import type { Command, CommandContext } from './command.js';
import { reading, writing } from './database.js';
import { CliError, EXIT } from './errors.js';
import { safeText, table, time } from './format.js';

/** What `info` and `history` say for a database at schema v1 read where it cannot be upgraded. */
export const NO_QUEUE_YET = 'schema v1: no queue yet';

/**
 * Runs a read of the task engine's tables; `undefined` when the database is at schema v1 and read
 * where it cannot be upgraded (node:sqlite, read-only: the store says `UNSUPPORTED`).
 */
async function v2<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof StoreError && e.code === 'UNSUPPORTED') return undefined;
    throw e;
  }
}

function noTask(id: string, path: string): CliError {
  return new CliError(EXIT.NOT_FOUND, 'NOT_FOUND', `no task ${JSON.stringify(id)} in ${path}`);
}

/** `pending → running`, or `→ pending` for a task's first status. */
export function transitionText(t: TaskTransition): string {
  return `${t.from === undefined ? '' : `${t.from} `}→ ${t.to}`;
}

/** Who holds a queue entry, and until when (`expired` once the lease ran out at `now`). */
export function holderText(entry: QueueEntry, now: number): string {
  if (entry.workerId === undefined) return 'none';
  if (entry.leaseUntil === undefined) return safeText(entry.workerId);
  return `${safeText(entry.workerId)}, lease until ${time(entry.leaseUntil)}${entry.leaseUntil <= now ? ' (expired)' : ''}`;
}

function queueLines(entry: QueueEntry, now: number): string[] {
  return [
    `run at       ${time(entry.runAt)}`,
    `attempts     ${entry.attempts} of ${entry.maxAttempts}`,
    `held by      ${holderText(entry, now)}`,
    `fence        ${entry.fence}`,
    `replay of    ${entry.replayOf === undefined ? '-' : safeText(entry.replayOf)}`,
    `last error   ${entry.lastError === undefined ? '-' : safeText(entry.lastError)}`,
    ...(entry.idempotencyKey === undefined ? [] : [`idempotency  ${safeText(entry.idempotencyKey)}`]),
  ];
}

function taskIdOf(ctx: CommandContext): string {
  return ctx.args[1] as string;
}

const history: Command = {
  name: 'history',
  usage: '<db> <task-id>',
  summary: "a task's status transitions (time, attempt, worker, error) and its queue entry (read-only; works while the agent runs)",
  details: `--json prints { task, queue, history }. A database at schema v1 read on node:sqlite (a running Go agent's file, which a read cannot upgrade) has neither: queue and history are null ("${NO_QUEUE_YET}"). Exit 3 when there is no such task.`,
  options: {},
  positionals: [2, 2],
  async run(ctx) {
    const path = ctx.args[0] as string;
    const id = taskIdOf(ctx);
    const { task, queue, transitions } = await reading(path, ctx.onWarning, async (store) => {
      const task = await store.getTask(id);
      if (!task) throw noTask(id, path);
      return { task, queue: await v2(() => store.queueEntry(id)), transitions: await v2(() => store.taskHistory(id)) };
    });
    const now = Date.now();
    const lines = [
      `task         ${safeText(task.id)} (${task.status}): ${safeText(task.command)}, caller ${safeText(task.callerId) || '-'}, created ${time(task.createdAt)}`,
      ...(queue ? queueLines(queue, now) : [`queue        ${NO_QUEUE_YET}`]),
      '',
      transitions === undefined
        ? `no history: ${NO_QUEUE_YET}`
        : transitions.length === 0
        ? 'no transitions recorded (the task was written before schema v2)'
        : `${table(transitions, [
            { title: 'time', value: (t) => time(t.at) },
            { title: 'transition', value: transitionText, max: 40 },
            { title: 'attempt', value: (t) => t.attempt ?? '' },
            { title: 'worker', value: (t) => t.workerId ?? '', max: 24 },
            { title: 'error', value: (t) => t.error ?? '', max: 60 },
          ])}\n${transitions.length} transition${transitions.length === 1 ? '' : 's'}`,
    ];
    return { json: { task, queue: queue ?? null, history: transitions ?? null } satisfies { task: Task; queue: QueueEntry | null; history: TaskTransition[] | null }, text: lines.join('\n') };
  },
};

const replay: Command = {
  name: 'replay',
  usage: '<db> <task-id> [--id <new-id>]',
  summary: 'enqueues a task again: a new pending task with its command, params, caller and reply thread, linked to it (the database must not be open in a running store)',
  details:
    'Prints the new task\'s id (--json: the new task). The new id defaults to <task-id>-replay-<8 hex digits>. Exit 3 when there is no such task, 1 (CONFLICT) when --id names a task that exists, 4 while a running store owns the database.',
  options: {
    id: { type: 'string', arg: '<new-id>', help: 'the new task\'s id' },
  },
  positionals: [2, 2],
  async run(ctx) {
    const path = ctx.args[0] as string;
    const id = taskIdOf(ctx);
    const newId = typeof ctx.options.id === 'string' ? ctx.options.id : undefined;
    const task = await writing(path, ctx.onWarning, async (store) => {
      if (!(await store.getTask(id))) throw noTask(id, path);
      return store.replayTask(id, newId === undefined ? {} : { id: newId });
    });
    ctx.note(`replayed ${safeText(id)} as ${safeText(task.id)} (${task.status})`);
    return { json: task, text: task.id };
  },
};

/** The task engine's commands. */
export const QUEUE_COMMANDS: readonly Command[] = [history, replay];
