/**
 * The queue chart's data in Node: `loadQueueHistory` reads the transitions once (`listTransitions`)
 * and `queuePerHour` counts, per hour, what each task's own history says, including tasks that
 * were waiting since long before the window and have no transition inside it.
 */
import { describe, expect, it } from 'vitest';
import { QUEUE_STATES, queuePerHour, type QueueState } from '../../dashboard/charts.js';
import { hourOf, QUEUE_HOURS } from '../../dashboard/format.js';
import { loadQueueHistory } from '../../dashboard/data.js';
import { openStore, type Store, type TaskTransition } from '../../src/index.js';
import { DAY, HOUR, MINUTE, testClock } from '../helpers/clock.js';

const job = (id: string, extra: Record<string, unknown> = {}) => ({ id, command: 'deploy', params: {}, callerId: 'U1', ...extra });

/** Counts `store`'s calls per method. */
function counting(store: Store): { store: Store; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(key)] = (calls[String(key)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

/** The reference: each task's own history (taskHistory), its latest transition by `t` (of equal times, the one written last). */
async function reference(store: Store, at: readonly number[]): Promise<Record<QueueState, number[]>> {
  const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, at.map(() => 0)])) as Record<QueueState, number[]>;
  for (const task of await store.listTasks()) {
    const history = await store.taskHistory(task.id);
    at.forEach((t, i) => {
      let latest: TaskTransition | undefined;
      for (const h of history) if (h.at <= t && (latest === undefined || h.at >= latest.at)) latest = h;
      if (!latest) return;
      const state = latest.to === 'pending' ? ((latest.attempt ?? 0) > 0 ? 'retrying' : 'pending') : latest.to;
      if ((QUEUE_STATES as readonly string[]).includes(state)) counts[state as QueueState][i]! += 1;
    });
  }
  return counts;
}

describe('the queue chart’s data', () => {
  it('one listTransitions read; tasks waiting since before the window (no transition in it) counted at every hour, as their histories say', async () => {
    const end = Date.UTC(2026, 2, 10, 12, 30);
    const clock = testClock(end - 6 * DAY);
    const store = await openStore({ clock: clock.now });
    // Ended days before the window: never counted.
    await store.enqueueTask(job('old-done'));
    const old = await store.claimTask({ workerId: 'w1', leaseMs: HOUR });
    clock.advance(MINUTE);
    await store.completeTask('old-done', { workerId: 'w1', fence: old?.fence });
    // Pending for five days, never claimed; awaiting approval for three: no transition in the window.
    clock.set(end - 5 * DAY);
    await store.enqueueTask(job('long-pending'));
    clock.set(end - 3 * DAY);
    await store.saveTask({ ...job('long-approval'), status: 'awaiting_approval' });
    // Retrying at the window's start (failed once before it), claimed again and done inside it.
    clock.set(end - 49 * HOUR);
    await store.enqueueTask(job('retry', { command: 'build', maxAttempts: 3, backoff: { baseMs: 30 * HOUR, maxMs: 30 * HOUR, jitter: 0 } }));
    const claimed = await store.claimTask({ workerId: 'w1', leaseMs: HOUR, commands: ['build'] });
    clock.advance(10 * MINUTE);
    await store.failTask('retry', { workerId: 'w1', fence: claimed?.fence, error: 'flaky' });
    // Running across the window's start under a lease that runs out inside it, taken over, completed.
    clock.set(end - 47 * HOUR);
    await store.enqueueTask(job('long-run', { command: 'migrate', maxAttempts: 2 }));
    await store.claimTask({ workerId: 'w2', leaseMs: 5 * HOUR, commands: ['migrate'] });
    clock.set(end - 40 * HOUR);
    const taken = await store.claimTask({ workerId: 'w3', leaseMs: HOUR, commands: ['migrate'] });
    expect(taken?.id).toBe('long-run');
    clock.advance(20 * MINUTE);
    await store.completeTask('long-run', { workerId: 'w3', fence: taken?.fence });
    clock.set(end - 18 * HOUR);
    const again = await store.claimTask({ workerId: 'w1', leaseMs: HOUR, commands: ['build'] });
    expect(again?.id).toBe('retry');
    clock.advance(5 * MINUTE);
    await store.completeTask('retry', { workerId: 'w1', fence: again?.fence });
    // Running at the end of the window's first hour, done soon after it.
    const lastHour = hourOf(end);
    const first = lastHour - 46 * HOUR;
    clock.set(first - 2 * HOUR);
    await store.enqueueTask(job('early-end', { command: 'early' }));
    const early = await store.claimTask({ workerId: 'w5', leaseMs: 4 * HOUR, commands: ['early'] });
    clock.set(first + 30 * MINUTE);
    await store.completeTask('early-end', { workerId: 'w5', fence: early?.fence });
    // Work inside the window, some of it at equal times.
    for (let h = 30; h >= 2; h -= 7) {
      clock.set(end - h * HOUR);
      await store.enqueueTask(job(`w-${h}-a`, { command: 'short' }));
      await store.enqueueTask(job(`w-${h}-b`, { command: 'short' }));
      const a = await store.claimTask({ workerId: 'w4', leaseMs: 2 * HOUR, commands: ['short'] });
      clock.advance(HOUR + 1);
      if (a && h % 2 === 0) await store.completeTask(a.id, { workerId: 'w4', fence: a.fence });
    }
    clock.set(end);
    await store.enqueueTask(job('newest', { command: 'later' }));
    // Claimed exactly at the end of the window's last hour: running at its last marker.
    clock.set(lastHour + HOUR);
    expect((await store.claimTask({ workerId: 'w6', leaseMs: HOUR, commands: ['later'] }))?.id).toBe('newest');

    const { store: counted, calls } = counting(store);
    const tasks = await store.listTasks();
    const queue = await loadQueueHistory(counted, tasks);
    expect(calls).toEqual({ listTransitions: 1 });
    expect(queue.kind).toBe('transitions');
    if (queue.kind !== 'transitions') return;
    expect(queue.lastHour).toBe(lastHour);
    const { at, counts } = queuePerHour(queue.transitions, queue.lastHour);
    expect(at).toHaveLength(QUEUE_HOURS);
    expect(at[0]).toBe(first);
    expect(counts).toEqual(await reference(store, at));
    // At the end of the first hour: the two that waited all along, the retry, the long run and the early one.
    expect(Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s][0]]))).toEqual({ pending: 1, retrying: 1, running: 2, awaiting_approval: 1 });
    expect(counts.running.at(-1)).toBe(1 + (await reference(store, [lastHour + HOUR - 1])).running[0]!);
    // The task that ended days before is not read at all.
    expect(queue.transitions.some((t) => t.taskId === 'old-done')).toBe(false);
    await store.close();
  });

  it('no transitions recorded (tasks written before schema v2), and none at all', async () => {
    const store = await openStore({ clock: () => Date.UTC(2026, 2, 10) });
    expect(await loadQueueHistory(store, [])).toEqual({ kind: 'no-tasks' });
    await store.saveTask(job('t'));
    // What a v1 agent's tasks look like to the chart: rows without history.
    const [task] = await store.listTasks();
    expect(await loadQueueHistory(store, [{ ...task!, id: 'never-recorded' }])).toEqual({ kind: 'unrecorded' });
    // A task whose only transition is after the window (saved with a later updatedAt) has a history.
    await store.saveTask({ ...job('later'), createdAt: Date.UTC(2026, 2, 1), updatedAt: Date.UTC(2026, 2, 9) });
    const later = (await store.getTask('later'))!;
    const { store: counted, calls } = counting(store);
    expect((await loadQueueHistory(counted, [later])).kind).toBe('transitions');
    expect(calls).toEqual({ listTransitions: 2 });
    await store.close();
  });
});
