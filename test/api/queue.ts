/**
 * The task engine's part of the API suite (schema v2): enqueue, claim with a lease, heartbeat,
 * complete and fail with retries, cancel, history, replay, queue stats, and the v1 operations'
 * transitions recorded by triggers. Run by `defineApiSuite` on every engine.
 */
import { describe, expect, it } from 'vitest';
import { ConflictError, LeaseLostError, NotFoundError, StoreError, ValidationError, type Store, type TransitionEntry, type TransitionFilter } from '../../src/index.js';
import { HOUR, MINUTE, type TestClock } from '../helpers/clock.js';

/** Everything the task engine keeps for `ids`, read through the API: what a refused call must not change. */
async function queueState(store: Store, ids: readonly string[]): Promise<unknown> {
  const out: Record<string, unknown> = { stats: await store.queueStats() };
  for (const id of ids) out[id] = { task: await store.getTask(id), entry: await store.queueEntry(id), history: await store.taskHistory(id) };
  return out;
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

/** Expects `call` to reject with a `code` error (and the class) and to change nothing of `ids`. */
async function refusedUnchanged(store: Store, ids: readonly string[], call: () => Promise<unknown>, code: string, type: abstract new (...args: never[]) => Error): Promise<unknown> {
  const before = await queueState(store, ids);
  const error = await rejected(call());
  expect(error).toBeInstanceOf(type);
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  expect(await queueState(store, ids)).toEqual(before);
  return error;
}

const job = (id: string, extra: Record<string, unknown> = {}) => ({ id, command: 'deploy', params: { id }, callerId: 'U1', ...extra });

export function defineQueueSuite(setup: () => Promise<{ store: Store; clock: TestClock }>): void {
  describe('the task engine (schema v2)', () => {
    it('enqueueTask: a pending task with its queue row; runAt, maxAttempts and backoff kept', async () => {
      const { store, clock } = await setup();
      const t = await store.enqueueTask(job('t1', { runAt: clock.now() + MINUTE, maxAttempts: 3, backoff: { baseMs: 500, maxMs: 10_000 } }));
      expect(t).toEqual({ id: 't1', status: 'pending', command: 'deploy', params: { id: 't1' }, callerId: 'U1', createdAt: clock.now(), updatedAt: clock.now() });
      expect(await store.getTask('t1')).toEqual(t);
      expect(await store.queueEntry('t1')).toEqual({ taskId: 't1', status: 'pending', runAt: clock.now() + MINUTE, attempts: 0, maxAttempts: 3, backoff: { baseMs: 500, maxMs: 10_000 }, fence: 0 });
      expect(await store.taskHistory('t1')).toEqual([{ to: 'pending', at: clock.now() }]);
      expect(await store.queueEntry('missing')).toBeUndefined();
      expect(await store.taskHistory('missing')).toEqual([]);
      await store.close();
    });

    it('enqueueTask: the same idempotency key returns the first task and changes nothing, also once it completed; an id taken is a CONFLICT', async () => {
      const { store, clock } = await setup();
      const first = await store.enqueueTask(job('a', { idempotencyKey: 'k-1' }));
      const before = await queueState(store, ['a', 'b']);
      clock.advance(1000);
      expect(await store.enqueueTask(job('b', { idempotencyKey: 'k-1', params: { other: true } }))).toEqual(first);
      expect(await queueState(store, ['a', 'b'])).toEqual(before);
      expect(await store.getTask('b')).toBeUndefined();
      const claimed = await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      await store.completeTask('a', { workerId: 'w', fence: claimed?.fence, result: { ok: true } });
      const done = await store.getTask('a');
      expect(done?.status).toBe('completed');
      clock.advance(2 * HOUR);
      expect(await store.enqueueTask(job('c', { idempotencyKey: 'k-1' }))).toEqual(done);
      expect(await store.getTask('c')).toBeUndefined();
      // A taken id, with no key (or a new one): refused, nothing changed.
      await refusedUnchanged(store, ['a'], () => store.enqueueTask(job('a')), 'CONFLICT', ConflictError);
      await refusedUnchanged(store, ['a'], () => store.enqueueTask(job('a', { idempotencyKey: 'k-2' })), 'CONFLICT', ConflictError);
      await store.close();
    });

    it('enqueueTask: bad input is a ValidationError and changes nothing', async () => {
      const { store } = await setup();
      await store.enqueueTask(job('ok'));
      const bad: Record<string, unknown>[] = [
        job('s', { status: 'running' }),
        job('m', { maxAttempts: 0 }),
        job('r', { runAt: -1 }),
        job('b', { backoff: { baseMs: -5 } }),
        job('j', { backoff: { jitter: 2 } }),
        job('k', { idempotencyKey: '' }),
        job(''),
        { ...job('x'), unknown: 1 },
      ];
      for (const input of bad) await refusedUnchanged(store, ['ok', String(input.id)].filter(Boolean), () => store.enqueueTask(input as never), 'VALIDATION', ValidationError);
      await store.close();
    });

    it('claimTask: the oldest due task, once; not before runAt; only of the commands asked; the claim is recorded', async () => {
      const { store, clock } = await setup();
      expect(await store.claimTask({ workerId: 'w1', leaseMs: MINUTE })).toBeUndefined();
      await store.enqueueTask(job('later', { runAt: clock.now() + 10 * MINUTE }));
      clock.advance(1);
      await store.enqueueTask(job('first'));
      clock.advance(1);
      await store.enqueueTask({ ...job('other'), command: 'restart' });
      clock.advance(1);
      await store.enqueueTask(job('second'));
      const claimed = await store.claimTask({ workerId: 'w1', leaseMs: MINUTE });
      expect(claimed).toEqual({ ...(await store.getTask('first')), attempt: 1, maxAttempts: 1, fence: 1, workerId: 'w1', leaseUntil: clock.now() + MINUTE });
      expect(claimed?.status).toBe('running');
      expect((await store.claimTask({ workerId: 'w2', leaseMs: MINUTE, commands: ['deploy'] }))?.id).toBe('second');
      expect((await store.claimTask({ workerId: 'w3', leaseMs: MINUTE, commands: ['deploy'] }))?.id).toBeUndefined();
      expect((await store.claimTask({ workerId: 'w3', leaseMs: MINUTE }))?.id).toBe('other');
      expect(await store.claimTask({ workerId: 'w4', leaseMs: MINUTE })).toBeUndefined();
      expect(await store.taskHistory('first')).toEqual([
        { to: 'pending', at: clock.now() - 2 },
        { from: 'pending', to: 'running', at: clock.now(), attempt: 1, workerId: 'w1' },
      ]);
      expect(await store.queueStats()).toEqual({ due: 0, scheduled: 1, retrying: 0, running: 3, leased: 3, expired: 0, awaitingApproval: 0 });
      clock.advance(10 * MINUTE);
      expect(await store.queueStats()).toEqual({ due: 1, scheduled: 0, retrying: 0, running: 3, leased: 0, expired: 3, awaitingApproval: 0 });
      // The three leases expired on their only attempt: that claim fails them, and takes 'later'.
      expect((await store.claimTask({ workerId: 'w4', leaseMs: MINUTE }))?.id).toBe('later');
      expect((await store.getTask('first'))?.status).toBe('failed');
      expect(await store.queueStats()).toEqual({ due: 0, scheduled: 0, retrying: 0, running: 1, leased: 1, expired: 0, awaitingApproval: 0 });
      await store.close();
    });

    it('leases: a heartbeat extends one; an expired lease is claimable again (attempt counted, expiry recorded); the old holder gets LEASE_LOST and changes nothing', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('t', { maxAttempts: 3 }));
      const a = await store.claimTask({ workerId: 'a', leaseMs: MINUTE });
      expect(a?.fence).toBe(1);
      clock.advance(50_000);
      expect(await store.heartbeatTask('t', 'a', { leaseMs: MINUTE })).toBe(clock.now() + MINUTE);
      expect((await store.queueEntry('t'))?.leaseUntil).toBe(clock.now() + MINUTE);
      clock.advance(50_000);
      expect(await store.claimTask({ workerId: 'b', leaseMs: MINUTE })).toBeUndefined(); // still held
      await refusedUnchanged(store, ['t'], () => store.heartbeatTask('t', 'b', { leaseMs: MINUTE }), 'LEASE_LOST', LeaseLostError);
      clock.advance(10_001);
      // Expired: the holder can no longer act, and another worker takes it over.
      await refusedUnchanged(store, ['t'], () => store.heartbeatTask('t', 'a', { leaseMs: MINUTE }), 'LEASE_LOST', LeaseLostError);
      const b = await store.claimTask({ workerId: 'b', leaseMs: MINUTE });
      expect(b).toMatchObject({ id: 't', attempt: 2, fence: 2, workerId: 'b' });
      const lost = (await refusedUnchanged(store, ['t'], () => store.completeTask('t', { workerId: 'a', result: 'late' }), 'LEASE_LOST', LeaseLostError)) as LeaseLostError;
      expect(lost).toMatchObject({ taskId: 't', workerId: 'a' });
      expect(lost.message).toContain('"b" holds it');
      await refusedUnchanged(store, ['t'], () => store.failTask('t', { workerId: 'a', error: 'late' }), 'LEASE_LOST', LeaseLostError);
      // The same worker with a stale fence (a claim before this one) is refused too.
      await refusedUnchanged(store, ['t'], () => store.completeTask('t', { workerId: 'b', fence: 1 }), 'LEASE_LOST', LeaseLostError);
      const history = await store.taskHistory('t');
      expect(history[2]).toMatchObject({ from: 'running', to: 'running', attempt: 1, workerId: 'a', error: expect.stringContaining('lease expired') });
      await store.completeTask('t', { workerId: 'b', fence: 2, result: { done: true } });
      expect(await store.getTask('t')).toMatchObject({ status: 'completed', result: { done: true }, completedAt: clock.now() });
      expect((await store.taskHistory('t')).at(-1)).toEqual({ from: 'running', to: 'completed', at: clock.now(), attempt: 2, workerId: 'b' });
      expect(await store.queueEntry('t')).toMatchObject({ status: 'completed', attempts: 2, fence: 2 });
      expect((await store.queueEntry('t'))?.workerId).toBeUndefined();
      await store.close();
    });

    it('a lease that expires on the last attempt fails the task at the next claim', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('once'));
      await store.claimTask({ workerId: 'w', leaseMs: 1000 });
      clock.advance(1001);
      expect(await store.claimTask({ workerId: 'v', leaseMs: 1000 })).toBeUndefined();
      expect(await store.getTask('once')).toMatchObject({ status: 'failed', error: 'lease expired on its last attempt', completedAt: clock.now() });
      expect((await store.taskHistory('once')).at(-1)).toMatchObject({ from: 'running', to: 'failed', workerId: 'w', attempt: 1 });
      await store.close();
    });

    it('a claim that takes another task fails, in the same statement, a task whose lease expired on its last attempt; the claimed task reads as stored', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('once'));
      await store.claimTask({ workerId: 'w', leaseMs: 1000 });
      clock.advance(500);
      await store.enqueueTask(job('next', { responseChannel: 'C1', responseThread: '17.1' }));
      clock.advance(501);
      const claimed = await store.claimTask({ workerId: 'v', leaseMs: 1000 });
      expect(claimed).toEqual({ ...(await store.getTask('next')), attempt: 1, maxAttempts: 1, fence: 1, workerId: 'v', leaseUntil: clock.now() + 1000 });
      expect(claimed).toMatchObject({ id: 'next', status: 'running', updatedAt: clock.now(), responseChannel: 'C1', responseThread: '17.1', params: { id: 'next' } });
      expect(await store.getTask('once')).toMatchObject({ status: 'failed', error: 'lease expired on its last attempt', completedAt: clock.now() });
      expect((await store.taskHistory('once')).at(-1)).toMatchObject({ from: 'running', to: 'failed', at: clock.now(), workerId: 'w', attempt: 1 });
      expect(await store.queueStats()).toMatchObject({ running: 1, expired: 0 });
      await store.close();
    });

    it('failTask: back to pending after a bounded backoff while attempts remain, then failed; retry: false fails at once', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('r', { maxAttempts: 3, backoff: { baseMs: 1000, factor: 2, maxMs: 1500, jitter: 0.5 } }));
      const first = await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      const failed = await store.failTask('r', { workerId: 'w', error: 'timeout', fence: first?.fence });
      expect(failed.status).toBe('pending');
      expect(failed.attempt).toBe(1);
      // 1000 ms less up to half of it.
      expect(failed.runAt).toBeGreaterThanOrEqual(clock.now() + 500);
      expect(failed.runAt).toBeLessThanOrEqual(clock.now() + 1000);
      expect(await store.getTask('r')).toMatchObject({ status: 'pending', error: 'timeout' });
      expect(await store.queueEntry('r')).toMatchObject({ status: 'pending', attempts: 1, runAt: failed.runAt, lastError: 'timeout' });
      expect(await store.queueStats()).toMatchObject({ due: 0, scheduled: 1, retrying: 1 });
      expect(await store.claimTask({ workerId: 'w', leaseMs: MINUTE })).toBeUndefined();
      clock.set(failed.runAt as number);
      await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      const second = await store.failTask('r', { workerId: 'w', error: 'timeout again' });
      // 2000 ms, bounded by maxMs to 1500, less up to half.
      expect(second.runAt).toBeGreaterThanOrEqual(clock.now() + 750);
      expect(second.runAt).toBeLessThanOrEqual(clock.now() + 1500);
      clock.set(second.runAt as number);
      await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      expect(await store.failTask('r', { workerId: 'w', error: 'for good' })).toEqual({ status: 'failed', attempt: 3 });
      expect(await store.getTask('r')).toMatchObject({ status: 'failed', error: 'for good', completedAt: clock.now() });
      const transitions = (await store.taskHistory('r')).map((t) => `${t.from ?? ''}>${t.to}:${t.attempt ?? ''}:${t.error ?? ''}`);
      expect(transitions).toEqual(['>pending::', 'pending>running:1:', 'running>pending:1:timeout', 'pending>running:2:timeout', 'running>pending:2:timeout again', 'pending>running:3:timeout again', 'running>failed:3:for good']);

      await store.enqueueTask(job('no-retry', { maxAttempts: 5 }));
      await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      expect(await store.failTask('no-retry', { workerId: 'w', error: 'bad input', retry: false })).toEqual({ status: 'failed', attempt: 1 });
      await store.close();
    });

    it('cancelTask: a task that has not ended is cancelled (its holder loses it); an ended one is a CONFLICT; a missing one NOT_FOUND', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('p'));
      await store.enqueueTask(job('q'));
      await store.cancelTask('p', 'not needed');
      expect(await store.getTask('p')).toMatchObject({ status: 'cancelled', error: 'not needed', completedAt: clock.now() });
      const claimed = await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      expect(claimed?.id).toBe('q');
      await store.cancelTask('q');
      expect((await store.getTask('q'))?.error).toBeUndefined();
      await refusedUnchanged(store, ['q'], () => store.completeTask('q', { workerId: 'w' }), 'LEASE_LOST', LeaseLostError);
      await refusedUnchanged(store, ['p'], () => store.cancelTask('p', 'again'), 'CONFLICT', ConflictError);
      await refusedUnchanged(store, ['p'], () => store.cancelTask('nope'), 'NOT_FOUND', NotFoundError);
      await store.close();
    });

    it('replayTask: a new pending task with the original command and params, linked to it', async () => {
      const { store, clock } = await setup();
      await store.enqueueTask(job('orig', { maxAttempts: 4, backoff: { baseMs: 200 }, responseChannel: 'C1', responseThread: '1.2' }));
      await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      await store.completeTask('orig', { workerId: 'w', error: 'failed' });
      clock.advance(5000);
      const replay = await store.replayTask('orig', { id: 'orig-again' });
      expect(replay).toEqual({ id: 'orig-again', status: 'pending', command: 'deploy', params: { id: 'orig' }, callerId: 'U1', responseChannel: 'C1', responseThread: '1.2', createdAt: clock.now(), updatedAt: clock.now() });
      expect(await store.queueEntry('orig-again')).toMatchObject({ replayOf: 'orig', maxAttempts: 4, backoff: { baseMs: 200 }, attempts: 0, runAt: clock.now() });
      const generated = await store.replayTask('orig');
      expect(generated.id).toMatch(/^orig-replay-[0-9a-f]{8}$/);
      await refusedUnchanged(store, ['orig'], () => store.replayTask('orig', { id: 'orig-again' }), 'CONFLICT', ConflictError);
      await refusedUnchanged(store, ['orig'], () => store.replayTask('missing'), 'NOT_FOUND', NotFoundError);
      expect((await store.claimTask({ workerId: 'w', leaseMs: MINUTE }))?.id).toBe('orig-again');
      await store.close();
    });

    it('the v1 operations are recorded too (saveTask, updateTaskStatus, completeTask, failStuckTasks), and retention takes a task’s queue row and history with it', async () => {
      const { store, clock } = await setup();
      await store.saveTask({ ...job('v1'), status: 'awaiting_approval' });
      clock.advance(10);
      await store.updateTaskStatus('v1', 'pending');
      clock.advance(10);
      await store.saveTask({ ...job('v1'), status: 'running', createdAt: clock.now() - 20, updatedAt: clock.now() });
      clock.advance(10);
      await store.failStuckTasks();
      clock.advance(10);
      await store.saveTask(job('done'));
      await store.completeTask('done', { result: 1 });
      const t0 = clock.now() - 40;
      expect(await store.taskHistory('v1')).toEqual([
        { to: 'awaiting_approval', at: t0 },
        { from: 'awaiting_approval', to: 'pending', at: t0 + 10, attempt: 0 },
        { from: 'pending', to: 'running', at: t0 + 20, attempt: 0 },
        { from: 'running', to: 'failed', at: t0 + 30, attempt: 0, error: 'stuck_on_startup' },
      ]);
      expect(await store.queueEntry('done')).toMatchObject({ status: 'completed' });
      clock.advance(8 * 24 * HOUR);
      expect((await store.runRetention()).tasks).toBe(2);
      expect(await store.queueEntry('done')).toBeUndefined();
      expect(await store.taskHistory('done')).toEqual([]);
      expect(await store.queueStats()).toEqual({ due: 0, scheduled: 0, retrying: 0, running: 0, leased: 0, expired: 0, awaitingApproval: 0 });
      await store.close();
    });

    describe('listTransitions', () => {
      // Two tasks run side by side (equal times: a and b enqueued, then claimed, in the same ms), and
      // a v1 writer saves a task whose time is earlier than rows written before it: ids follow the
      // order of writing, not of time.
      async function history() {
        const { store, clock } = await setup();
        const t0 = clock.now();
        await store.enqueueTask(job('a', { maxAttempts: 2, backoff: { baseMs: 1000 } }));
        await store.enqueueTask(job('b'));
        clock.advance(10);
        const a = await store.claimTask({ workerId: 'w1', leaseMs: MINUTE });
        const b = await store.claimTask({ workerId: 'w2', leaseMs: MINUTE });
        clock.advance(10);
        await store.failTask('a', { workerId: 'w1', fence: a?.fence, error: 'boom' });
        await store.completeTask('b', { workerId: 'w2', fence: b?.fence, result: 'ok' });
        clock.advance(10);
        await store.saveTask({ ...job('late'), createdAt: t0 + 5, updatedAt: t0 + 5 });
        await store.updateTaskStatus('late', 'awaiting_approval');
        return { store, clock, t0 };
      }
      const brief = (ts: readonly TransitionEntry[]) => ts.map((t) => `${t.taskId}:${t.from ?? ''}>${t.to}@${t.at}`);

      /** Every page of `filter` with `limit`, each going on after the last one's last transition. */
      async function paged(store: Store, filter: TransitionFilter, limit: number): Promise<TransitionEntry[][]> {
        const pages: TransitionEntry[][] = [];
        let after: TransitionFilter['after'];
        for (;;) {
          const page = await store.listTransitions({ ...filter, limit, ...(after === undefined ? {} : { after }) });
          expect(page.length).toBeLessThanOrEqual(limit);
          if (page.length === 0) return pages;
          pages.push(page);
          const last = page[page.length - 1] as TransitionEntry;
          after = { at: last.at, id: last.id };
          expect(pages.length).toBeLessThan(100);
        }
      }

      it("every task's transitions, ordered by time then id, each with its task's id, its own id and taskHistory's fields", async () => {
        const { store, t0 } = await history();
        const all = await store.listTransitions();
        expect(brief(all)).toEqual([
          `a:>pending@${t0}`,
          `b:>pending@${t0}`,
          `late:>pending@${t0 + 5}`,
          `a:pending>running@${t0 + 10}`,
          `b:pending>running@${t0 + 10}`,
          `a:running>pending@${t0 + 20}`,
          `b:running>completed@${t0 + 20}`,
          `late:pending>awaiting_approval@${t0 + 30}`,
        ]);
        // Ids: distinct positive integers in the order the rows were written ('late' last).
        const byId = [...all].sort((x, y) => x.id - y.id);
        expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
        for (const t of all) expect(Number.isSafeInteger(t.id) && t.id > 0).toBe(true);
        expect(byId.map((t) => `${t.taskId}:${t.to}`)).toEqual(['a:pending', 'b:pending', 'a:running', 'b:running', 'a:pending', 'b:completed', 'late:pending', 'late:awaiting_approval']);
        // Of equal times, the one written first comes first.
        for (let i = 1; i < all.length; i++) {
          const [p, q] = [all[i - 1] as TransitionEntry, all[i] as TransitionEntry];
          expect(p.at < q.at || (p.at === q.at && p.id < q.id)).toBe(true);
        }
        // Each task's transitions are its taskHistory, field for field.
        for (const id of ['a', 'b', 'late']) {
          const mine = byId.filter((t) => t.taskId === id).map(({ id: _rowId, taskId: _taskId, ...rest }) => rest);
          expect(mine).toEqual(await store.taskHistory(id));
        }
        expect(all.find((t) => t.taskId === 'a' && t.from === 'running')).toEqual(expect.objectContaining({ to: 'pending', attempt: 1, workerId: 'w1', error: 'boom' }));
        await store.close();
      });

      it('a window: since inclusive, until exclusive; an empty window and one with nothing in it give none', async () => {
        const { store, t0 } = await history();
        expect(brief(await store.listTransitions({ since: t0 + 10, until: t0 + 20 }))).toEqual([`a:pending>running@${t0 + 10}`, `b:pending>running@${t0 + 10}`]);
        expect(brief(await store.listTransitions({ since: t0 + 5, until: t0 + 11 }))).toEqual([`late:>pending@${t0 + 5}`, `a:pending>running@${t0 + 10}`, `b:pending>running@${t0 + 10}`]);
        expect(brief(await store.listTransitions({ since: t0 + 20 }))).toEqual([`a:running>pending@${t0 + 20}`, `b:running>completed@${t0 + 20}`, `late:pending>awaiting_approval@${t0 + 30}`]);
        expect(brief(await store.listTransitions({ until: t0 + 5 }))).toEqual([`a:>pending@${t0}`, `b:>pending@${t0}`]);
        expect(brief(await store.listTransitions({ since: t0 + 30, until: t0 + 31 }))).toEqual([`late:pending>awaiting_approval@${t0 + 30}`]);
        expect(await store.listTransitions({ since: t0 + 10, until: t0 + 10 })).toEqual([]);
        expect(await store.listTransitions({ since: t0 + 31 })).toEqual([]);
        expect(await store.listTransitions({ since: 0, until: t0 })).toEqual([]);
        await store.close();
      });

      it("taskId: that task's transitions only, in time order (also in a window); an unknown task has none", async () => {
        const { store, t0 } = await history();
        expect(brief(await store.listTransitions({ taskId: 'a' }))).toEqual([`a:>pending@${t0}`, `a:pending>running@${t0 + 10}`, `a:running>pending@${t0 + 20}`]);
        expect(brief(await store.listTransitions({ taskId: 'late', since: t0 }))).toEqual([`late:>pending@${t0 + 5}`, `late:pending>awaiting_approval@${t0 + 30}`]);
        expect(brief(await store.listTransitions({ taskId: 'b', since: t0 + 10, until: t0 + 20 }))).toEqual([`b:pending>running@${t0 + 10}`]);
        expect(brief(await store.listTransitions({ taskId: 'b', limit: 1 }))).toEqual([`b:>pending@${t0}`]);
        expect(await store.listTransitions({ taskId: 'missing' })).toEqual([]);
        expect(await store.listTransitions({ taskId: '' })).toEqual([]);
        await store.close();
      });

      it('limit and after page through every transition exactly once, across equal times and rows deleted meanwhile', async () => {
        const { store, clock, t0 } = await history();
        const all = await store.listTransitions();
        for (const limit of [1, 2, 3, 7, 8, 50]) {
          const pages = await paged(store, {}, limit);
          expect(pages.flat(), `limit ${limit}`).toEqual(all);
          expect(pages.length).toBe(Math.ceil(all.length / limit));
          expect(new Set(pages.flat().map((t) => t.id)).size).toBe(all.length);
        }
        // In a window and of one task too.
        const window = await store.listTransitions({ since: t0 + 5, until: t0 + 30 });
        expect(window).toHaveLength(5);
        for (const limit of [1, 2, 4]) expect((await paged(store, { since: t0 + 5, until: t0 + 30 }, limit)).flat()).toEqual(window);
        expect((await paged(store, { taskId: 'a' }, 1)).flat()).toEqual(await store.listTransitions({ taskId: 'a' }));
        // The first page's limit, then the rest after it: nothing before the cursor, nothing twice.
        const first = await store.listTransitions({ limit: 4 });
        const cursor = { at: (first[3] as TransitionEntry).at, id: (first[3] as TransitionEntry).id };
        expect([...first, ...(await store.listTransitions({ after: cursor }))]).toEqual(all);
        // A cursor is a place in the order, not a row: the row it names may be gone (retention
        // deleted its task), and the next page still starts right after it.
        const page = await store.listTransitions({ limit: 5 });
        expect((page[4] as TransitionEntry).taskId).toBe('b');
        clock.advance(HOUR);
        expect((await store.runRetention({ tasks: MINUTE })).tasks).toBe(1);
        const rest = await store.listTransitions({ after: { at: (page[4] as TransitionEntry).at, id: (page[4] as TransitionEntry).id } });
        expect(rest).toEqual(all.slice(5).filter((t) => t.taskId !== 'b'));
        await store.close();
      });

      it('bad filters: negative, fractional or unsafe times, until before since, a bad limit or cursor, unknown keys: a ValidationError, nothing changed', async () => {
        const { store, t0 } = await history();
        const ids = ['a', 'b', 'late'];
        const bad: unknown[] = [
          { since: -1 },
          { until: -5 },
          { since: 1.5 },
          { until: t0 + 0.5 },
          { since: Number.MAX_SAFE_INTEGER + 2 },
          { since: Number.NaN },
          { since: String(t0) },
          { since: t0 + 10, until: t0 + 9 },
          { limit: 0 },
          { limit: -1 },
          { limit: 2.5 },
          { after: { at: t0 } },
          { after: { at: t0, id: 0 } },
          { after: { at: -1, id: 1 } },
          { after: { at: t0, id: 1, taskId: 'a' } },
          { taskId: 5 },
          { taskId: 'a\0' },
          { afterId: 3 },
          { since: t0, extra: true },
          'a',
          null,
          [],
        ];
        for (const filter of bad) {
          const error = await refusedUnchanged(store, ids, () => store.listTransitions(filter as TransitionFilter), 'VALIDATION', ValidationError);
          expect((error as ValidationError).message, JSON.stringify(filter)).toMatch(/^\[@platform-agent\/store\] invalid transition filter: /);
        }
        const inverted = (await rejected(store.listTransitions({ since: t0 + 10, until: t0 + 9 }))) as ValidationError;
        expect(inverted.issues).toEqual([expect.objectContaining({ path: ['until'], message: 'must not be before since' })]);
        // What is allowed: nothing at all, and an empty window.
        expect(await store.listTransitions(undefined)).toHaveLength(8);
        expect(await store.listTransitions({ since: t0, until: t0 })).toEqual([]);
        await store.close();
      });
    });

    it('bad input: unknown tasks NOT_FOUND, a negative or huge lease, an empty worker id, a fence without a worker: typed errors, nothing changed', async () => {
      const { store } = await setup();
      await store.enqueueTask(job('t'));
      const claimed = await store.claimTask({ workerId: 'w', leaseMs: MINUTE });
      const ids = ['t'];
      await refusedUnchanged(store, ids, () => store.heartbeatTask('nope', 'w', { leaseMs: 1000 }), 'NOT_FOUND', NotFoundError);
      await refusedUnchanged(store, ids, () => store.failTask('nope', { workerId: 'w', error: 'x' }), 'NOT_FOUND', NotFoundError);
      await refusedUnchanged(store, ids, () => store.completeTask('nope', { workerId: 'w' }), 'NOT_FOUND', NotFoundError);
      await refusedUnchanged(store, ids, () => store.claimTask({ workerId: 'w', leaseMs: -1 }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.claimTask({ workerId: 'w', leaseMs: 2 * 24 * HOUR }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.claimTask({ workerId: '', leaseMs: 1000 }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.claimTask({ workerId: 'w', leaseMs: 1000, commands: [] }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.heartbeatTask('t', 'w', { leaseMs: 0 }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.failTask('t', { workerId: 'w', error: '' }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.completeTask('t', { fence: claimed?.fence }), 'VALIDATION', ValidationError);
      await refusedUnchanged(store, ids, () => store.replayTask('t', { id: '' }), 'VALIDATION', ValidationError);
      await store.close();
    });
  });
}
