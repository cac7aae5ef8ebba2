/**
 * The API suite: every operation of the store, its edge cases and its errors, written once and run
 * against every engine (`defineApiSuite('sql.js', open)` in one line per engine's test file).
 */
import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  NotFoundError,
  StoreError,
  ValidationError,
  type Store,
  type JsonValue,
  type RetentionResult,
  type TaskInput,
  type TransactionHandle,
} from '../../src/index.js';
import { DAY, HOUR, testClock, type TestClock } from '../helpers/clock.js';
import { defineQueueSuite } from './queue.js';

/** Opens a new, empty store whose timestamps come from `clock`. */
export type OpenStore = (clock: () => number) => Promise<Store>;

/** Everything a store holds, read through the API only (so it works on every engine). */
export async function snapshot(store: Store): Promise<unknown> {
  return {
    tasks: await store.listTasks(),
    approvals: await store.listApprovals(),
    sessions: await store.listSessionContexts(),
    threads: await store.listThreadSessions(),
    deadLetters: await store.listDeadLetters(),
    audit: await store.listAudit(),
  };
}

async function expectCode(promise: Promise<unknown>, code: string, type?: new (...a: never[]) => Error): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} error`).toBeInstanceOf(StoreError);
  if (type) expect(error).toBeInstanceOf(type);
  expect((error as StoreError).code).toBe(code);
  expect((error as StoreError).message).toMatch(/^\[@platform-agent\/store\] /);
  return error as StoreError;
}

/** Expects a ValidationError and that the store's contents did not change. */
async function expectRejectedUnchanged(store: Store, call: () => Promise<unknown>): Promise<ValidationError> {
  const before = await snapshot(store);
  const error = (await expectCode(call(), 'VALIDATION', ValidationError)) as ValidationError;
  expect(error.issues.length).toBeGreaterThan(0);
  expect(await snapshot(store)).toEqual(before);
  return error;
}

/** A retention result with the same count for every table. */
const everyTable = (n: number): RetentionResult => ({
  tasks: n,
  pendingApprovals: n,
  sessionContexts: n,
  threadSessions: n,
  deadLetters: n,
  auditLog: n,
});

const task = (id: string, extra: Partial<TaskInput> = {}): TaskInput => ({
  id,
  command: 'deploy',
  params: { service: 'api', env: 'prod' },
  callerId: 'U1',
  ...extra,
});

/** What an engine cannot do, so the suite checks the refusal instead. */
export interface ApiSuiteOptions {
  /** `false` for an engine without interactive transactions (Cloudflare D1): `transaction()` must reject with `UNSUPPORTED`. */
  transactions?: boolean;
  /** `false` for an engine that keeps its own storage (Cloudflare D1): `reclaimSpace()` reports `unsupported`. */
  vacuum?: boolean;
}

export function defineApiSuite(engine: string, open: OpenStore, options: ApiSuiteOptions = {}): void {
  const transactions = options.transactions ?? true;
  const vacuum = options.vacuum ?? true;
  async function setup(): Promise<{ store: Store; clock: TestClock }> {
    const clock = testClock();
    const store = await open(clock.now);
    return { store, clock };
  }

  describe(`API on ${engine}`, () => {
    describe('Go store tests, ported', () => {
      it('TestOpen: a new store is empty and usable', async () => {
        const { store } = await setup();
        expect(await snapshot(store)).toEqual({ tasks: [], approvals: [], sessions: [], threads: [], deadLetters: [], audit: [] });
        expect(await store.dbSizeBytes()).toBeGreaterThan(0);
        await store.close();
      });

      it('TestSaveAndGetTask: round trip, defaults to now, missing is undefined', async () => {
        const { store, clock } = await setup();
        const saved = await store.saveTask(task('t1', { responseChannel: 'C1', responseThread: '111.222' }));
        expect(saved).toEqual({
          id: 't1',
          status: 'pending',
          command: 'deploy',
          params: { service: 'api', env: 'prod' },
          callerId: 'U1',
          responseChannel: 'C1',
          responseThread: '111.222',
          createdAt: clock.now(),
          updatedAt: clock.now(),
        });
        expect(await store.getTask('t1')).toEqual(saved);
        expect(await store.getTask('missing')).toBeUndefined();
        await store.close();
      });

      it('TestUpdateTaskStatus: sets status and updatedAt; a missing task is an error', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('t1'));
        clock.advance(5_000);
        await store.updateTaskStatus('t1', 'running');
        const t = await store.getTask('t1');
        expect(t?.status).toBe('running');
        expect(t?.updatedAt).toBe(clock.now());
        expect(t?.createdAt).toBe(clock.now() - 5_000);
        const e = await expectCode(store.updateTaskStatus('nope', 'running'), 'NOT_FOUND', NotFoundError);
        expect(e.message).toContain('"nope"');
        await store.close();
      });

      it('TestCompleteTask: completed with a result, failed with an error (the Go quirk fixed)', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('ok'));
        await store.saveTask(task('bad'));
        clock.advance(1_000);
        await store.completeTask('ok', { result: { url: 'https://x', n: 3 } });
        await store.completeTask('bad', { error: 'exit 1' });
        expect(await store.getTask('ok')).toMatchObject({
          status: 'completed',
          result: { url: 'https://x', n: 3 },
          completedAt: clock.now(),
          updatedAt: clock.now(),
        });
        expect((await store.getTask('ok'))?.error).toBeUndefined();
        expect(await store.getTask('bad')).toMatchObject({ status: 'failed', error: 'exit 1', completedAt: clock.now() });
        expect((await store.getTask('bad'))?.result).toBeUndefined();
        await expectCode(store.completeTask('nope'), 'NOT_FOUND', NotFoundError);
        await store.close();
      });

      it('TestListTasks: newest first, status filter, limit', async () => {
        const { store, clock } = await setup();
        for (let i = 0; i < 5; i++) {
          await store.saveTask(task(`t${i}`, { status: i % 2 === 0 ? 'pending' : 'running' }));
          clock.advance(1_000);
        }
        expect((await store.listTasks()).map((t) => t.id)).toEqual(['t4', 't3', 't2', 't1', 't0']);
        expect((await store.listTasks({ status: 'pending' })).map((t) => t.id)).toEqual(['t4', 't2', 't0']);
        expect((await store.listTasks({ limit: 2 })).map((t) => t.id)).toEqual(['t4', 't3']);
        expect((await store.listTasks({ status: 'running', limit: 1 })).map((t) => t.id)).toEqual(['t3']);
        expect(await store.listTasks({ status: 'cancelled' })).toEqual([]);
        await store.close();
      });

      it('TestFailStuckTasks: running tasks fail with stuck_on_startup, others untouched', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('r1', { status: 'running' }));
        await store.saveTask(task('r2', { status: 'running' }));
        await store.saveTask(task('p1', { status: 'pending' }));
        await store.saveTask(task('a1', { status: 'awaiting_approval' }));
        clock.advance(60_000);
        expect(await store.failStuckTasks()).toBe(2);
        for (const id of ['r1', 'r2']) {
          expect(await store.getTask(id)).toMatchObject({
            status: 'failed',
            error: 'stuck_on_startup',
            completedAt: clock.now(),
            updatedAt: clock.now(),
          });
        }
        expect((await store.getTask('p1'))?.status).toBe('pending');
        expect((await store.getTask('a1'))?.status).toBe('awaiting_approval');
        expect(await store.failStuckTasks()).toBe(0);
        await store.close();
      });

      it('TestApprovals: save, get, delete (missing is no error), list expired', async () => {
        const { store, clock } = await setup();
        const approval = {
          requestId: 'req1',
          taskId: 't1',
          callerId: 'U1',
          permission: 'deploy:prod',
          action: 'deploy',
          resource: 'api',
          channelId: 'C1',
          threadTs: '1.2',
        };
        expect(await store.saveApproval(approval)).toEqual({ ...approval, createdAt: clock.now() });
        expect(await store.getApproval('req1')).toEqual({ ...approval, createdAt: clock.now() });
        clock.advance(HOUR + 1);
        expect((await store.listExpiredApprovals(HOUR)).map((a) => a.requestId)).toEqual(['req1']);
        expect(await store.deleteApproval('req1')).toBe(true);
        expect(await store.getApproval('req1')).toBeUndefined();
        expect(await store.deleteApproval('req1')).toBe(false);
        await store.close();
      });

      it('TestSessions: session contexts and thread sessions survive, touch moves last use', async () => {
        const { store, clock } = await setup();
        await store.saveSessionContext({ sessionId: 's1', channel: 'C1', threadTs: '1.1', userId: 'U1' });
        await store.saveThreadSession({ channel: 'C1', threadTs: '1.1' });
        clock.advance(10_000);
        await store.touchSessionContext('s1');
        await store.touchThreadSession('C1', '1.1');
        expect(await store.getSessionContext('s1')).toEqual({
          sessionId: 's1',
          channel: 'C1',
          threadTs: '1.1',
          userId: 'U1',
          createdAt: clock.now() - 10_000,
          lastUsed: clock.now(),
        });
        expect(await store.getSessionContextByThread('C1', '1.1')).toMatchObject({ sessionId: 's1' });
        expect(await store.getThreadSession('C1', '1.1')).toEqual({
          channel: 'C1',
          threadTs: '1.1',
          sessionKey: 'agent:main:slack-C1-1.1',
          createdAt: clock.now() - 10_000,
          lastMessageAt: clock.now(),
        });
        await expectCode(store.touchSessionContext('nope'), 'NOT_FOUND', NotFoundError);
        await expectCode(store.touchThreadSession('C1', '9.9'), 'NOT_FOUND', NotFoundError);
        await store.close();
      });

      it('TestDeadLetters: due letters listed, retries counted, resolved and given-up never listed', async () => {
        const { store, clock } = await setup();
        await store.saveDeadLetter({ id: 'd1', targetChannel: 'C1', message: 'hi', error: 'rate_limited', nextRetryAt: clock.now() });
        await store.saveDeadLetter({ id: 'd2', targetChannel: 'C1', message: 'yo', error: 'timeout', nextRetryAt: clock.now() + 60_000 });
        expect((await store.listRetryable()).map((d) => d.id)).toEqual(['d1']);
        await store.incrementRetry('d1', clock.now() + 300_000);
        expect(await store.getDeadLetter('d1')).toMatchObject({ retryCount: 1, nextRetryAt: clock.now() + 300_000 });
        clock.advance(60_000);
        expect((await store.listRetryable()).map((d) => d.id)).toEqual(['d2']);
        await store.resolveDeadLetter('d2');
        await store.incrementRetry('d1', undefined);
        clock.advance(DAY);
        expect(await store.listRetryable()).toEqual([]);
        expect((await store.getDeadLetter('d1'))?.nextRetryAt).toBeUndefined();
        await expectCode(store.incrementRetry('nope', 1), 'NOT_FOUND', NotFoundError);
        await expectCode(store.resolveDeadLetter('nope'), 'NOT_FOUND', NotFoundError);
        await store.close();
      });

      it('TestRunRetention: the Go defaults delete what is old and keep the rest', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('old-done'));
        await store.completeTask('old-done', { result: 1 });
        await store.saveTask(task('old-open'));
        await store.saveApproval({ requestId: 'r', taskId: 't', callerId: 'U', permission: 'p', action: 'a', resource: 'x' });
        await store.saveSessionContext({ sessionId: 's', channel: 'C', threadTs: '1' });
        await store.saveThreadSession({ channel: 'C', threadTs: '1' });
        await store.saveDeadLetter({ id: 'd', targetChannel: 'C', message: 'm', error: 'e', nextRetryAt: clock.now() });
        await store.resolveDeadLetter('d');
        await store.appendAudit({ userId: 'U', action: 'deny', result: 'denied' });
        clock.advance(31 * DAY);
        expect(await store.runRetention()).toEqual(everyTable(1));
        expect((await store.listTasks()).map((t) => t.id)).toEqual(['old-open']);
        expect(await store.runRetention()).toEqual(everyTable(0));
        await store.close();
      });
    });

    describe('tasks', () => {
      it('saveTask replaces every column, clearing optional ones left out', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('t', { responseChannel: 'C', responseThread: '1', result: [1], error: 'x', completedAt: 5 }));
        clock.advance(10);
        const replaced = await store.saveTask({ id: 't', command: 'other', params: null });
        expect(replaced).toEqual({
          id: 't',
          status: 'pending',
          command: 'other',
          params: null,
          callerId: '',
          createdAt: clock.now(),
          updatedAt: clock.now(),
        });
        expect(await store.getTask('t')).toEqual(replaced);
        expect(await store.listTasks()).toHaveLength(1);
        await store.close();
      });

      it('saveTask keeps explicit timestamps, including 0, and every status', async () => {
        const { store } = await setup();
        const statuses = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'] as const;
        for (const [i, status] of statuses.entries()) {
          const saved = await store.saveTask(task(`t${i}`, { status, createdAt: i, updatedAt: i * 2, completedAt: 0 }));
          expect(saved).toMatchObject({ status, createdAt: i, updatedAt: i * 2, completedAt: 0 });
          expect(await store.getTask(`t${i}`)).toEqual(saved);
        }
        await store.close();
      });

      it('JSON params and result keep their shape: objects, arrays, strings, numbers, null', async () => {
        const { store } = await setup();
        const values: JsonValue[] = [{ a: { b: [1, 2, { c: 'd' }] } }, [1, 'two', null, true], 'just text', 42.5, null, false, {}];
        for (const [i, value] of values.entries()) {
          await store.saveTask(task(`j${i}`, { params: value, result: value }));
          const t = await store.getTask(`j${i}`);
          expect(t?.params).toEqual(value);
          expect(t?.result).toEqual(value);
        }
        await store.close();
      });

      it('completeTask without an outcome completes with no result; an empty error counts as none', async () => {
        const { store } = await setup();
        await store.saveTask(task('a'));
        await store.saveTask(task('b'));
        await store.completeTask('a');
        await store.completeTask('b', { error: '', result: 'r' });
        expect(await store.getTask('a')).toMatchObject({ status: 'completed' });
        expect(await store.getTask('b')).toMatchObject({ status: 'completed', result: 'r' });
        expect((await store.getTask('b'))?.error).toBeUndefined();
        await store.close();
      });

      it('completeTask with both a result and an error fails the task and keeps both', async () => {
        const { store } = await setup();
        await store.saveTask(task('t'));
        await store.completeTask('t', { result: { partial: true }, error: 'timeout' });
        expect(await store.getTask('t')).toMatchObject({ status: 'failed', result: { partial: true }, error: 'timeout' });
        await store.close();
      });

      it('listTasks filters by caller, combines filters, and orders equal times by insertion', async () => {
        const { store } = await setup();
        await store.saveTask(task('a', { callerId: 'U1' }));
        await store.saveTask(task('b', { callerId: 'U2' }));
        await store.saveTask(task('c', { callerId: 'U1', status: 'running' }));
        expect((await store.listTasks()).map((t) => t.id)).toEqual(['c', 'b', 'a']);
        expect((await store.listTasks({ callerId: 'U1' })).map((t) => t.id)).toEqual(['c', 'a']);
        expect((await store.listTasks({ callerId: 'U1', status: 'pending' })).map((t) => t.id)).toEqual(['a']);
        expect((await store.listTasks({ limit: 100 })).map((t) => t.id)).toEqual(['c', 'b', 'a']);
        await store.close();
      });

      it('requeuePendingTasks lists pending tasks oldest first and changes nothing', async () => {
        const { store, clock } = await setup();
        await store.saveTask(task('p2', { createdAt: 2000 }));
        await store.saveTask(task('p1', { createdAt: 1000 }));
        await store.saveTask(task('r', { status: 'running' }));
        const before = await snapshot(store);
        clock.advance(1);
        expect((await store.requeuePendingTasks()).map((t) => t.id)).toEqual(['p1', 'p2']);
        expect(await snapshot(store)).toEqual(before);
        await store.close();
      });

      it('rejects bad tasks, statuses, ids and filters before writing anything', async () => {
        const { store } = await setup();
        await store.saveTask(task('keep'));
        const bad: unknown[] = [
          { command: 'x', params: {} },
          { id: 1, command: 'x', params: {} },
          { id: '', command: 'x', params: {} },
          { id: 'x', command: 'x' },
          { id: 'x', command: 'x', params: {}, status: 'done' },
          { id: 'x', command: 'x', params: { n: NaN } },
          { id: 'x', command: 'x', params: { f: () => 1 } },
          { id: 'x', command: 'x', params: { d: new Date(0) } },
          { id: 'x', command: 'x', params: 10n },
          { id: 'x', command: 'x', params: Object.assign([1, 2], { extra: 'lost' }) },
          {
            id: 'x',
            command: 'x',
            params: {
              get a(): number {
                throw new Error('boom');
              },
            },
          },
          { id: 'x', command: 'x', params: Array.from({ length: 20_000 }).reduce<unknown>((inner) => [inner], 1) },
          { id: 'x', command: 'x', params: {}, createdAt: -1 },
          { id: 'x', command: 'x', params: {}, createdAt: 1.5 },
          { id: 'x', command: 'x', params: {}, caller_id: 'U1' },
          { id: 'x\0y', command: 'x', params: {} },
          null,
          'task',
        ];
        for (const b of bad) await expectRejectedUnchanged(store, () => store.saveTask(b as TaskInput));
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const e = await expectRejectedUnchanged(store, () => store.saveTask(task('x', { params: cyclic as never })));
        expect(e.issues[0]?.path).toEqual(['params', 'self']);
        await expectRejectedUnchanged(store, () => store.updateTaskStatus('keep', 'done' as never));
        await expectRejectedUnchanged(store, () => store.updateTaskStatus(42 as never, 'running'));
        await expectRejectedUnchanged(store, () => store.completeTask('keep', { result: undefined, error: 7 as never }));
        await expectRejectedUnchanged(store, () => store.completeTask('keep', { extra: 1 } as never));
        await expectRejectedUnchanged(store, () => store.getTask(undefined as never));
        for (const limit of [0, -1, 1.5, Number.NaN]) await expectRejectedUnchanged(store, () => store.listTasks({ limit }));
        await expectRejectedUnchanged(store, () => store.listTasks({ status: 'nope' as never }));
        await expectRejectedUnchanged(store, () => store.listTasks({ state: 'x' } as never));
        expect((await store.getTask('keep'))?.status).toBe('pending');
        await store.close();
      });

      it('validation errors carry the field path of each problem', async () => {
        const { store } = await setup();
        const e = await expectRejectedUnchanged(store, () =>
          store.saveTask({ id: 'x', command: 5, params: { deep: [0, { n: Infinity }] }, status: 'zzz' } as never),
        );
        const paths = e.issues.map((i) => i.path.join('.'));
        expect(paths).toEqual(expect.arrayContaining(['command', 'params.deep.1.n', 'status']));
        expect(e.message).toContain('params.deep.1.n');
        await store.close();
      });
    });

    describe('approvals', () => {
      const approval = (requestId: string, extra = {}) => ({
        requestId,
        taskId: 't1',
        callerId: 'U1',
        permission: 'p',
        action: 'a',
        resource: 'r',
        ...extra,
      });

      it('optional columns read back absent; saving again replaces', async () => {
        const { store, clock } = await setup();
        const saved = await store.saveApproval(approval('r1'));
        expect(saved).toEqual({ ...approval('r1'), createdAt: clock.now() });
        expect(Object.keys(saved)).not.toContain('channelId');
        await store.saveApproval(approval('r1', { channelId: 'C', createdAt: 5 }));
        expect(await store.getApproval('r1')).toEqual({ ...approval('r1'), channelId: 'C', createdAt: 5 });
        expect(await store.getApproval('nope')).toBeUndefined();
        await store.close();
      });

      it('listExpiredApprovals: exactly maxAge old is not expired, a millisecond older is', async () => {
        const { store, clock } = await setup();
        await store.saveApproval(approval('edge', { createdAt: clock.now() - HOUR }));
        await store.saveApproval(approval('older', { createdAt: clock.now() - HOUR - 1 }));
        await store.saveApproval(approval('oldest', { createdAt: clock.now() - 2 * HOUR }));
        expect((await store.listExpiredApprovals(HOUR)).map((a) => a.requestId)).toEqual(['oldest', 'older']);
        expect((await store.listExpiredApprovals(0)).map((a) => a.requestId)).toEqual(['oldest', 'older', 'edge']);
        await expectRejectedUnchanged(store, () => store.listExpiredApprovals(-1));
        await expectRejectedUnchanged(store, () => store.listExpiredApprovals('1h' as never));
        await store.close();
      });

      it('listApprovals: newest first, by task and caller, limit', async () => {
        const { store, clock } = await setup();
        await store.saveApproval(approval('a', { taskId: 't1' }));
        clock.advance(1);
        await store.saveApproval(approval('b', { taskId: 't2', callerId: 'U2' }));
        clock.advance(1);
        await store.saveApproval(approval('c', { taskId: 't1' }));
        expect((await store.listApprovals()).map((a) => a.requestId)).toEqual(['c', 'b', 'a']);
        expect((await store.listApprovals({ taskId: 't1' })).map((a) => a.requestId)).toEqual(['c', 'a']);
        expect((await store.listApprovals({ callerId: 'U2' })).map((a) => a.requestId)).toEqual(['b']);
        expect((await store.listApprovals({ limit: 1 })).map((a) => a.requestId)).toEqual(['c']);
        await store.close();
      });

      it('rejects bad approvals and ids', async () => {
        const { store } = await setup();
        await expectRejectedUnchanged(store, () => store.saveApproval({ ...approval('x'), resource: undefined } as never));
        await expectRejectedUnchanged(store, () => store.saveApproval({ ...approval('x'), createdAt: '2026' } as never));
        await expectRejectedUnchanged(store, () => store.deleteApproval(7 as never));
        await expectRejectedUnchanged(store, () => store.deleteApproval(''));
        await store.close();
      });
    });

    describe('sessions and threads', () => {
      it('getSessionContextByThread returns the most recently used of several', async () => {
        const { store, clock } = await setup();
        await store.saveSessionContext({ sessionId: 'a', channel: 'C', threadTs: '1' });
        clock.advance(1);
        await store.saveSessionContext({ sessionId: 'b', channel: 'C', threadTs: '1' });
        clock.advance(1);
        await store.saveSessionContext({ sessionId: 'other', channel: 'C', threadTs: '2' });
        expect((await store.getSessionContextByThread('C', '1'))?.sessionId).toBe('b');
        clock.advance(1);
        await store.touchSessionContext('a');
        expect((await store.getSessionContextByThread('C', '1'))?.sessionId).toBe('a');
        expect(await store.getSessionContextByThread('C', '3')).toBeUndefined();
        expect(await store.getSessionContext('zzz')).toBeUndefined();
        await store.close();
      });

      it('lists contexts by last use and threads by last message, with filters and limits', async () => {
        const { store, clock } = await setup();
        await store.saveSessionContext({ sessionId: 'a', channel: 'C1', threadTs: '1', userId: 'U1' });
        await store.saveThreadSession({ channel: 'C1', threadTs: '1', sessionKey: 'k1' });
        clock.advance(1);
        await store.saveSessionContext({ sessionId: 'b', channel: 'C2', threadTs: '1' });
        await store.saveThreadSession({ channel: 'C2', threadTs: '1', sessionKey: 'k2' });
        expect((await store.listSessionContexts()).map((s) => s.sessionId)).toEqual(['b', 'a']);
        expect((await store.listSessionContexts({ channel: 'C1' })).map((s) => s.sessionId)).toEqual(['a']);
        expect((await store.listSessionContexts({ userId: 'U1' })).map((s) => s.sessionId)).toEqual(['a']);
        expect((await store.listSessionContexts({ limit: 1 })).map((s) => s.sessionId)).toEqual(['b']);
        expect((await store.listThreadSessions()).map((t) => t.sessionKey)).toEqual(['k2', 'k1']);
        expect((await store.listThreadSessions({ channel: 'C1' })).map((t) => t.sessionKey)).toEqual(['k1']);
        clock.advance(1);
        await store.touchThreadSession('C1', '1');
        expect((await store.listThreadSessions({ limit: 1 })).map((t) => t.sessionKey)).toEqual(['k1']);
        await store.close();
      });

      it('thread sessions are keyed by (channel, threadTs); saving again replaces', async () => {
        const { store } = await setup();
        await store.saveThreadSession({ channel: 'C', threadTs: '1', sessionKey: 'old', createdAt: 1, lastMessageAt: 2 });
        await store.saveThreadSession({ channel: 'C', threadTs: '1', sessionKey: 'new', createdAt: 3, lastMessageAt: 4 });
        await store.saveThreadSession({ channel: 'D', threadTs: '1', sessionKey: 'd', createdAt: 5, lastMessageAt: 6 });
        expect(await store.getThreadSession('C', '1')).toEqual({ channel: 'C', threadTs: '1', sessionKey: 'new', createdAt: 3, lastMessageAt: 4 });
        expect(await store.listThreadSessions()).toHaveLength(2);
        expect(await store.getThreadSession('C', '2')).toBeUndefined();
        await store.close();
      });

      it('rejects bad contexts, threads and keys', async () => {
        const { store } = await setup();
        await expectRejectedUnchanged(store, () => store.saveSessionContext({ sessionId: 's', channel: 'C' } as never));
        await expectRejectedUnchanged(store, () => store.saveSessionContext({ sessionId: 's', channel: 'C', threadTs: '1', userId: 3 } as never));
        await expectRejectedUnchanged(store, () => store.saveThreadSession({ channel: 'C', threadTs: 1 } as never));
        await expectRejectedUnchanged(store, () => store.touchThreadSession('C', undefined as never));
        await expectRejectedUnchanged(store, () => store.getSessionContextByThread(null as never, '1'));
        await expectRejectedUnchanged(store, () => store.listSessionContexts({ limit: -5 }));
        await store.close();
      });
    });

    describe('dead letters', () => {
      const letter = (id: string, extra = {}) => ({ id, targetChannel: 'C', message: 'm', error: 'e', ...extra });

      it('listRetryable: due at exactly now, earliest first, limit; future, resolved and given up never', async () => {
        const { store, clock } = await setup();
        const now = clock.now();
        await store.saveDeadLetter(letter('late', { nextRetryAt: now }));
        await store.saveDeadLetter(letter('early', { nextRetryAt: now - 10 }));
        await store.saveDeadLetter(letter('future', { nextRetryAt: now + 1 }));
        await store.saveDeadLetter(letter('resolved', { nextRetryAt: now - 20, resolvedAt: now - 5 }));
        await store.saveDeadLetter(letter('given-up'));
        expect((await store.listRetryable()).map((d) => d.id)).toEqual(['early', 'late']);
        expect((await store.listRetryable(1)).map((d) => d.id)).toEqual(['early']);
        await expectRejectedUnchanged(store, () => store.listRetryable(0));
        await expectRejectedUnchanged(store, () => store.listRetryable(-3));
        await store.close();
      });

      it('listDeadLetters by state: due, waiting, given_up, resolved', async () => {
        const { store, clock } = await setup();
        const now = clock.now();
        await store.saveDeadLetter(letter('due', { nextRetryAt: now, createdAt: 1 }));
        await store.saveDeadLetter(letter('waiting', { nextRetryAt: now + 1, createdAt: 2 }));
        await store.saveDeadLetter(letter('given-up', { createdAt: 3 }));
        await store.saveDeadLetter(letter('resolved', { nextRetryAt: now, resolvedAt: now, createdAt: 4 }));
        const ids = async (state?: 'due' | 'waiting' | 'given_up' | 'resolved') =>
          (await store.listDeadLetters(state ? { state } : {})).map((d) => d.id);
        expect(await ids()).toEqual(['resolved', 'given-up', 'waiting', 'due']);
        expect(await ids('due')).toEqual(['due']);
        expect(await ids('waiting')).toEqual(['waiting']);
        expect(await ids('given_up')).toEqual(['given-up']);
        expect(await ids('resolved')).toEqual(['resolved']);
        expect((await store.listDeadLetters({ limit: 2 })).map((d) => d.id)).toEqual(['resolved', 'given-up']);
        await expectRejectedUnchanged(store, () => store.listDeadLetters({ state: 'stuck' as never }));
        await store.close();
      });

      it('retryCount defaults to 0 and counts up; resolving twice keeps the first time', async () => {
        const { store, clock } = await setup();
        expect(await store.saveDeadLetter(letter('d', { targetThread: '1.1', nextRetryAt: 1 }))).toEqual({
          ...letter('d'),
          targetThread: '1.1',
          nextRetryAt: 1,
          retryCount: 0,
          createdAt: clock.now(),
        });
        await store.incrementRetry('d', 2);
        await store.incrementRetry('d', 3);
        expect(await store.getDeadLetter('d')).toMatchObject({ retryCount: 2, nextRetryAt: 3 });
        await store.resolveDeadLetter('d');
        const first = clock.now();
        clock.advance(1000);
        await store.resolveDeadLetter('d');
        expect((await store.getDeadLetter('d'))?.resolvedAt).toBe(first);
        expect(await store.getDeadLetter('nope')).toBeUndefined();
        await store.close();
      });

      it('rejects bad letters and retry times', async () => {
        const { store } = await setup();
        await store.saveDeadLetter(letter('d'));
        await expectRejectedUnchanged(store, () => store.saveDeadLetter({ ...letter('x'), retryCount: -1 }));
        await expectRejectedUnchanged(store, () => store.saveDeadLetter({ ...letter('x'), message: undefined } as never));
        await expectRejectedUnchanged(store, () => store.incrementRetry('d', -5));
        await expectRejectedUnchanged(store, () => store.incrementRetry('d', '2026-01-01' as never));
        await store.close();
      });
    });

    describe('audit log', () => {
      it('appendAudit returns increasing ids; listAudit is newest first with filters', async () => {
        const { store, clock } = await setup();
        const a = await store.appendAudit({ userId: 'U1', action: 'approve', resource: 'r', result: 'ok', details: { why: 'x' } });
        clock.advance(10);
        const b = await store.appendAudit({ userId: 'U2', action: 'deny', result: 'denied' });
        clock.advance(10);
        const c = await store.appendAudit({ userId: 'U1', action: 'deny', result: 'denied', createdAt: clock.now() });
        expect(b).toBeGreaterThan(a);
        expect(c).toBeGreaterThan(b);
        const all = await store.listAudit();
        expect(all.map((e) => e.id)).toEqual([c, b, a]);
        expect(all[2]).toEqual({
          id: a,
          userId: 'U1',
          action: 'approve',
          resource: 'r',
          result: 'ok',
          details: { why: 'x' },
          createdAt: clock.now() - 20,
        });
        expect(Object.keys(all[1] ?? {})).not.toContain('details');
        expect((await store.listAudit({ userId: 'U1' })).map((e) => e.id)).toEqual([c, a]);
        expect((await store.listAudit({ action: 'deny' })).map((e) => e.id)).toEqual([c, b]);
        expect((await store.listAudit({ userId: 'U1', action: 'deny' })).map((e) => e.id)).toEqual([c]);
        // since is inclusive, until exclusive
        const t0 = clock.now() - 20;
        expect((await store.listAudit({ since: t0 + 10 })).map((e) => e.id)).toEqual([c, b]);
        expect((await store.listAudit({ until: t0 + 10 })).map((e) => e.id)).toEqual([a]);
        expect((await store.listAudit({ since: t0, until: t0 + 20 })).map((e) => e.id)).toEqual([b, a]);
        expect((await store.listAudit({ limit: 1 })).map((e) => e.id)).toEqual([c]);
        await store.close();
      });

      it('rejects bad entries and filters', async () => {
        const { store } = await setup();
        await expectRejectedUnchanged(store, () => store.appendAudit({ userId: 'U', action: 'a' } as never));
        await expectRejectedUnchanged(store, () => store.appendAudit({ userId: 'U', action: 'a', result: 'r', id: 5 } as never));
        await expectRejectedUnchanged(store, () => store.appendAudit({ userId: 'U', action: 'a', result: 'r', details: { x: undefined } as never }));
        await expectRejectedUnchanged(store, () => store.listAudit({ since: -1 }));
        await store.close();
      });
    });

    describe('retention', () => {
      it('every rule keeps a row exactly at its age and deletes one a millisecond older', async () => {
        const { store, clock } = await setup();
        const now = clock.now();
        const cases = [
          { age: 7 * DAY, save: (id: string, t: number) => store.saveTask(task(id, { status: 'completed', completedAt: t })) },
          { age: HOUR, save: (id: string, t: number) => store.saveApproval({ requestId: id, taskId: 't', callerId: 'U', permission: 'p', action: 'a', resource: 'r', createdAt: t }) },
          { age: DAY, save: (id: string, t: number) => store.saveSessionContext({ sessionId: id, channel: 'C', threadTs: id, lastUsed: t }) },
          { age: 7 * DAY, save: (id: string, t: number) => store.saveThreadSession({ channel: 'C', threadTs: id, lastMessageAt: t }) },
          { age: DAY, save: (id: string, t: number) => store.saveDeadLetter({ id, targetChannel: 'C', message: 'm', error: 'e', resolvedAt: t }) },
          { age: 30 * DAY, save: (id: string, t: number) => store.appendAudit({ userId: id, action: 'a', result: 'r', createdAt: t }) },
        ];
        for (const c of cases) {
          await c.save('edge', now - c.age);
          await c.save('older', now - c.age - 1);
        }
        // rows retention never deletes, however old
        await store.saveTask(task('never-completed', { createdAt: 0, updatedAt: 0 }));
        await store.saveDeadLetter({ id: 'unresolved', targetChannel: 'C', message: 'm', error: 'e', createdAt: 0 });
        expect(await store.runRetention()).toEqual(everyTable(1));
        expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['edge', 'never-completed']);
        expect((await store.listApprovals()).map((a) => a.requestId)).toEqual(['edge']);
        expect((await store.listSessionContexts()).map((s) => s.sessionId)).toEqual(['edge']);
        expect((await store.listThreadSessions()).map((t) => t.threadTs)).toEqual(['edge']);
        expect((await store.listDeadLetters()).map((d) => d.id).sort()).toEqual(['edge', 'unresolved']);
        expect((await store.listAudit()).map((e) => e.userId)).toEqual(['edge']);
        clock.advance(1);
        expect(await store.runRetention()).toEqual(everyTable(1));
        await store.close();
      });

      it('a policy overrides ages per table, and false keeps a table', async () => {
        const { store, clock } = await setup();
        await store.appendAudit({ userId: 'U', action: 'a', result: 'r' });
        await store.saveApproval({ requestId: 'r', taskId: 't', callerId: 'U', permission: 'p', action: 'a', resource: 'r' });
        clock.advance(2 * HOUR);
        expect(await store.runRetention({ auditLog: HOUR, pendingApprovals: false })).toMatchObject({ auditLog: 1, pendingApprovals: 0 });
        expect(await store.listApprovals()).toHaveLength(1);
        await expectRejectedUnchanged(store, () => store.runRetention({ tasks: -1 }));
        await expectRejectedUnchanged(store, () => store.runRetention({ sessions: 1 } as never));
        await store.close();
      });

      it('reclaimSpace after retention gives the free pages back (where the engine can), keeps every row that stays, and does nothing below its limits', async () => {
        const { store, clock } = await setup();
        const pad = 'x'.repeat(4000);
        for (let i = 0; i < 300; i++) await store.saveTask(task(`old${i}`, { status: 'completed', completedAt: clock.now(), params: { pad } }));
        for (let i = 0; i < 20; i++) await store.saveTask(task(`kept${i}`, { params: { pad } }));
        const before = await snapshot(store);
        // Nothing deleted yet: no free space worth a rebuild.
        const idle = await store.reclaimSpace();
        expect(idle.vacuumed).toBe(false);
        expect(idle.reason).toBe(vacuum ? 'below-threshold' : 'unsupported');
        expect(idle.ms).toBe(0);
        clock.advance(8 * DAY);
        expect((await store.runRetention()).tasks).toBe(300);
        const after = await snapshot(store);
        const report = await store.reclaimSpace();
        if (!vacuum) {
          expect(report).toMatchObject({ vacuumed: false, reason: 'unsupported', ms: 0 });
        } else {
          expect(report.vacuumed).toBe(true);
          expect(report.reason).toBeUndefined();
          const { before: b, after: a } = report as Required<typeof report>;
          // ~1.2 MiB of deleted params were free pages; the rebuilt file holds the 20 tasks left.
          expect(b.freeBytes).toBeGreaterThan(1024 * 1024);
          expect(a.freeBytes).toBe(0);
          expect(a.fileBytes).toBeLessThan(b.fileBytes - b.freeBytes / 2);
          expect(await store.dbSizeBytes()).toBe(a.fileBytes);
          // A second call finds nothing to do.
          expect(await store.reclaimSpace()).toMatchObject({ vacuumed: false, reason: 'below-threshold' });
        }
        expect(await snapshot(store)).toEqual(after);
        expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `kept${i}`).sort());
        expect(before).not.toEqual(after);
        // Writes go on as before.
        await store.saveTask(task('after'));
        expect(await store.getTask('after')).toBeDefined();
        await store.close();
      });

      it('reclaimSpace refuses bad limits with a ValidationError and changes nothing; limits it cannot meet do nothing', async () => {
        const { store, clock } = await setup();
        for (let i = 0; i < 50; i++) await store.saveTask(task(`t${i}`, { status: 'completed', completedAt: clock.now(), params: { pad: 'y'.repeat(2000) } }));
        clock.advance(8 * DAY);
        await store.runRetention();
        for (const bad of [{ minFreeRatio: -0.1 }, { minFreeRatio: 1.5 }, { minFreeRatio: Number.NaN }, { minFreeBytes: -1 }, { minFreeBytes: 1.5 }, { free: 1 }, 'all']) {
          await expectRejectedUnchanged(store, () => store.reclaimSpace(bad as never));
        }
        const size = await store.dbSizeBytes();
        expect(await store.reclaimSpace({ minFreeRatio: 1 })).toMatchObject({ vacuumed: false, reason: vacuum ? 'below-threshold' : 'unsupported' });
        expect(await store.dbSizeBytes()).toBe(size);
        // No lower limit: any free page is worth it.
        expect((await store.reclaimSpace({ minFreeRatio: 0, minFreeBytes: 0 })).vacuumed).toBe(vacuum);
        await store.close();
        await expectCode(store.reclaimSpace(), 'CLOSED', ClosedError);
      });
    });

    if (!transactions) {
      describe('transactions', () => {
        it('are refused with UNSUPPORTED, and the function never runs; single operations and batches work', async () => {
          const { store } = await setup();
          await store.saveTask(task('t'));
          let ran = false;
          const before = await snapshot(store);
          await expectCode(
            store.transaction(async (tx) => {
              ran = true;
              await tx.saveTask(task('u'));
            }),
            'UNSUPPORTED',
          );
          expect(ran).toBe(false);
          expect(await snapshot(store)).toEqual(before);
          expect((await store.runRetention()).tasks).toBe(0);
          await store.close();
        });
      });
    }

    if (transactions) {
    describe('transactions', () => {
        it('all writes commit together', async () => {
          const { store } = await setup();
          await store.saveApproval({ requestId: 'r', taskId: 't', callerId: 'U', permission: 'p', action: 'a', resource: 'x' });
          await store.saveTask(task('t', { status: 'awaiting_approval' }));
          const out = await store.transaction(async (tx) => {
            await tx.deleteApproval('r');
            await tx.updateTaskStatus('t', 'pending');
            const id = await tx.appendAudit({ userId: 'U', action: 'approve', result: 'ok' });
            expect((await tx.getTask('t'))?.status).toBe('pending');
            return id;
          });
          expect(typeof out).toBe('number');
          expect(await store.getApproval('r')).toBeUndefined();
          expect((await store.getTask('t'))?.status).toBe('pending');
          expect(await store.listAudit()).toHaveLength(1);
          await store.close();
        });
  
        it('none commit when the callback throws, and the error comes back as thrown', async () => {
          const { store } = await setup();
          await store.saveTask(task('t'));
          const before = await snapshot(store);
          const boom = new Error('boom');
          await expect(
            store.transaction(async (tx) => {
              await tx.saveTask(task('u'));
              await tx.completeTask('t', { result: 1 });
              throw boom;
            }),
          ).rejects.toBe(boom);
          expect(await snapshot(store)).toEqual(before);
          await expectCode(
            store.transaction(async (tx) => {
              await tx.appendAudit({ userId: 'U', action: 'a', result: 'r' });
              await tx.updateTaskStatus('missing', 'running');
            }),
            'NOT_FOUND',
            NotFoundError,
          );
          expect(await snapshot(store)).toEqual(before);
          await store.close();
        });
  
        it('calls on the store wait until the transaction ends; the handle is dead afterwards', async () => {
          const { store } = await setup();
          let release = (): void => {};
          const gate = new Promise<void>((r) => (release = r));
          let handle: TransactionHandle | undefined;
          const tx = store.transaction(async (t) => {
            handle = t;
            await t.saveTask(task('inside'));
            await gate;
            return 'done';
          });
          await new Promise((r) => setTimeout(r, 10));
          let seen: string[] | undefined;
          const outside = store.listTasks().then((ts) => (seen = ts.map((t) => t.id)));
          const outsideWrite = store.saveTask(task('outside'));
          await new Promise((r) => setTimeout(r, 10));
          expect(seen).toBeUndefined();
          release();
          expect(await tx).toBe('done');
          await outside;
          await outsideWrite;
          expect(seen).toEqual(['inside']);
          expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['inside', 'outside']);
          await expectCode(handle!.getTask('inside'), 'CLOSED', ClosedError);
          await store.close();
        });
  
        it('transactions run one after another', async () => {
          const { store } = await setup();
          const order: string[] = [];
          await Promise.all(
            ['a', 'b', 'c'].map((id) =>
              store.transaction(async (tx) => {
                order.push(`start ${id}`);
                await tx.saveTask(task(id));
                await new Promise((r) => setTimeout(r, 5));
                order.push(`end ${id}`);
              }),
            ),
          );
          expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
          expect(await store.listTasks()).toHaveLength(3);
          await store.close();
        });
      });
    }

    describe('ad-hoc queries (query)', () => {
      /** Everything a query could change: the records, the schema, the attached databases and user_version (D1 refuses the last two pragmas: they are left out there). */
      async function everything(store: Store): Promise<unknown> {
        const optional = (sql: string) => store.query(sql).catch((e: unknown) => (e instanceof StoreError && e.code === 'SQL' ? 'refused by the engine' : Promise.reject(e)));
        return {
          records: await snapshot(store),
          schema: await store.query('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name'),
          queue: await store.query('SELECT * FROM task_queue ORDER BY task_id'),
          history: await store.query('SELECT * FROM task_history ORDER BY id'),
          meta: await store.query('SELECT * FROM meta ORDER BY key'),
          userVersion: await optional('SELECT user_version FROM pragma_user_version'),
          databases: await optional('SELECT name FROM pragma_database_list ORDER BY name'),
        };
      }

      async function filled(): Promise<Store> {
        const { store } = await setup();
        await store.saveTask(task('t1', { status: 'completed' }));
        await store.saveTask(task('t2', { callerId: 'U2' }));
        await store.enqueueTask({ id: 't3', command: 'scale', params: { n: 3 } });
        await store.saveApproval({ requestId: 'r1', taskId: 't1', callerId: 'U1', permission: 'deploy', action: 'approve', resource: 'api' });
        await store.appendAudit({ userId: 'U1', action: 'approve', result: 'ok' });
        return store;
      }

      it('reads: joins, CTEs, VALUES, positional params (?, ?NNN), comments and strings holding ;', async () => {
        const store = await filled();
        expect(await store.query('SELECT t.id, t.command, a.request_id FROM tasks t JOIN pending_approvals a ON a.task_id = t.id')).toEqual([{ id: 't1', command: 'deploy', request_id: 'r1' }]);
        expect(await store.query('WITH s AS (SELECT status, count(*) AS n FROM tasks GROUP BY status) SELECT status, n FROM s ORDER BY status')).toEqual([
          { status: 'completed', n: 1 },
          { status: 'pending', n: 2 },
        ]);
        expect(await store.query('SELECT id FROM tasks WHERE status = ? AND caller_id = ? ORDER BY id', ['pending', 'U2'])).toEqual([{ id: 't2' }]);
        expect(await store.query('SELECT ?2 AS b, ?1 AS a, ? AS c', [1, 'two', null])).toEqual([{ b: 'two', a: 1, c: null }]);
        expect(await store.query('VALUES (1, 2.5)')).toHaveLength(1);
        expect(await store.query("/* leading; */ select 'a; DELETE FROM tasks' AS s -- ; DELETE FROM tasks\n;")).toEqual([{ s: 'a; DELETE FROM tasks' }]);
        expect(await store.query("SELECT name FROM pragma_table_info('tasks') WHERE name = 'id'")).toEqual([{ name: 'id' }]);
        expect(await store.query('SELECT id FROM tasks WHERE id = ?', ['none'])).toEqual([]);
        expect(await store.query('SELECT t.command, q.max_attempts FROM task_queue q JOIN tasks t ON t.id = q.task_id WHERE q.task_id = ?', ['t3'])).toEqual([{ command: 'scale', max_attempts: 1 }]);
        await store.close();
      });

      const writes: readonly [string, string][] = [
        ['INSERT', "INSERT INTO tasks (id, command, params, status, created_at, updated_at) VALUES ('x', 'c', '{}', 'pending', 1, 1)"],
        ['UPDATE', "UPDATE tasks SET status = 'failed'"],
        ['DELETE', 'DELETE FROM tasks'],
        ['REPLACE', "REPLACE INTO meta (key, value) VALUES ('schema_version', '99')"],
        ['lower case after a comment', '/* x */ delete from audit_log'],
        ['WITH … INSERT', "WITH x AS (SELECT 'y' AS id) INSERT INTO audit_log (user_id, action, result, created_at) SELECT id, 'a', 'r', 1 FROM x"],
        ['WITH … UPDATE', "WITH x AS (SELECT 't1' AS id) UPDATE tasks SET status = 'failed' WHERE id IN (SELECT id FROM x)"],
        ['WITH … DELETE', 'WITH x AS (SELECT id FROM tasks) DELETE FROM tasks WHERE id IN x'],
        ['CREATE TABLE', 'CREATE TABLE evil (a)'],
        ['CREATE TEMP TABLE', 'CREATE TEMP TABLE evil AS SELECT * FROM tasks'],
        ['CREATE INDEX', 'CREATE INDEX evil ON tasks(command)'],
        ['CREATE TRIGGER', "CREATE TRIGGER evil AFTER INSERT ON tasks BEGIN DELETE FROM audit_log; END"],
        ['DROP TABLE', 'DROP TABLE audit_log'],
        ['ALTER TABLE', 'ALTER TABLE tasks ADD COLUMN evil TEXT'],
        ['ATTACH', "ATTACH DATABASE ':memory:' AS other"],
        ['PRAGMA that writes', 'PRAGMA user_version = 5'],
        ['PRAGMA that changes the connection', 'PRAGMA foreign_keys = OFF'],
        ['a pragma table that acts', 'SELECT * FROM pragma_optimize'],
        ['VACUUM', 'VACUUM'],
        ['ANALYZE', 'ANALYZE'],
        ['BEGIN', 'BEGIN IMMEDIATE'],
        ['two statements', 'SELECT 1; DELETE FROM tasks'],
        ['two statements after a comment holding ;', "SELECT ';' -- ;\n; DELETE FROM tasks"],
        ['a function with side effects', "SELECT load_extension('/tmp/evil')"],
        ['a quoted function with side effects', `SELECT "load_extension"('/tmp/evil') FROM tasks`],
        ['EXPLAIN', 'EXPLAIN DELETE FROM tasks'],
      ];
      for (const [what, sql] of writes) {
        it(`refuses ${what} with a ValidationError before it runs, and changes nothing`, async () => {
          const store = await filled();
          const before = await everything(store);
          const error = await expectCode(store.query(sql), 'VALIDATION', ValidationError);
          expect((error as ValidationError).issues[0]?.path).toEqual(['sql']);
          expect(await everything(store)).toEqual(before);
          // The store goes on reading and writing as before (nothing was left switched on or off).
          await store.saveTask(task('after'));
          expect((await store.getTask('after'))?.id).toBe('after');
          await store.close();
        });
      }

      it('refuses bad params and bad SQL values with a ValidationError, and changes nothing', async () => {
        const store = await filled();
        const before = await everything(store);
        const bad: [string, unknown, (string | number)[]][] = [
          ['SELECT ?', [{}], ['params', 0]],
          ['SELECT ?', [undefined], ['params', 0]],
          ['SELECT ?', [2n ** 60n], ['params', 0]],
          ['SELECT ?', [1n], ['params', 0]],
          ['SELECT ?', [Number.NaN], ['params', 0]],
          ['SELECT ?', [Infinity], ['params', 0]],
          ['SELECT ?', [[1]], ['params', 0]],
          ['SELECT ?', [true], ['params', 0]],
          ['SELECT ?', 'x', ['params']],
          ['SELECT ?', null, ['params']],
          ['SELECT ?, ?', [1], ['params']],
          ['SELECT 1', [1], ['params']],
          ['SELECT ?', [], ['params']],
          ['SELECT :id', ['x'], ['sql']],
          ['SELECT @id', ['x'], ['sql']],
          ['SELECT $id', ['x'], ['sql']],
          ['', [], ['sql']],
          ['  -- nothing\n', [], ['sql']],
          ["SELECT 'open", [], ['sql']],
        ];
        for (const [sql, params, path] of bad) {
          const error = await expectCode(store.query(sql, params as never), 'VALIDATION', ValidationError);
          expect((error as ValidationError).issues[0]?.path, `${sql} ${String(params)}`).toEqual(path);
        }
        await expectCode(store.query(42 as never), 'VALIDATION', ValidationError);
        const hostile = new Proxy([], { get: () => { throw new Error('boom'); } });
        await expectCode(store.query('SELECT ?', hostile as never), 'VALIDATION', ValidationError);
        expect(await everything(store)).toEqual(before);
        await store.close();
      });

      it('reports SQLite errors (a missing table) as SqlError', async () => {
        const store = await filled();
        await expectCode(store.query('SELECT * FROM no_such_table'), 'SQL');
        expect(await store.query('SELECT count(*) AS n FROM tasks')).toEqual([{ n: 3 }]);
        await store.close();
      });
    });

    describe('lifecycle and clock', () => {
      it('every call after close() fails with CLOSED; close() is idempotent', async () => {
        const { store } = await setup();
        await store.saveTask(task('t'));
        await store.close();
        await store.close();
        expect(store.closed).toBe(true);
        await expectCode(store.getTask('t'), 'CLOSED', ClosedError);
        await expectCode(store.saveTask(task('u')), 'CLOSED', ClosedError);
        await expectCode(store.listTasks(), 'CLOSED', ClosedError);
        await expectCode(store.dbSizeBytes(), 'CLOSED', ClosedError);
        await expectCode(store.exportImage(), 'CLOSED', ClosedError);
        await expectCode(store.transaction(async () => 1), 'CLOSED', ClosedError);
      });

      // (Needs interactive transactions.)
      if (transactions) {
        it('calls made before close() run, even those waiting for a transaction; later ones are refused', async () => {
          const { store } = await setup();
          await store.saveTask(task('t'));
          let release = (): void => {};
          const gate = new Promise<void>((r) => (release = r));
          const tx = store.transaction(async (t) => {
            await t.saveTask(task('in-tx'));
            await gate;
          });
          await new Promise((r) => setTimeout(r, 1));
          const queuedWrite = store.updateTaskStatus('t', 'running');
          const queuedRead = store.getTask('t');
          const queuedTx = store.transaction(async (t) => t.completeTask('in-tx', { result: 1 }));
          const closing = store.close();
          await expectCode(store.getTask('t'), 'CLOSED', ClosedError);
          release();
          await tx;
          await expect(queuedWrite).resolves.toBeUndefined();
          expect((await queuedRead)?.status).toBe('running');
          await expect(queuedTx).resolves.toBeUndefined();
          await closing;
          await expectCode(store.transaction(async () => 1), 'CLOSED', ClosedError);
        });
      }

      // (Needs interactive transactions.)
      if (transactions) {
        it('close() waits for an open transaction to commit', async () => {
          const { store } = await setup();
          let committed = false;
          const tx = store.transaction(async (t) => {
            await new Promise((r) => setTimeout(r, 20));
            await t.saveTask(task('t'));
            committed = true;
          });
          await new Promise((r) => setTimeout(r, 1));
          await store.close();
          await tx;
          expect(committed).toBe(true);
        });
      }

      it('a clock that returns no integer ms is an error and writes nothing', async () => {
        let value = Date.UTC(2026, 0, 1);
        const store = await open(() => value);
        await store.saveTask(task('t'));
        const before = await snapshot(store);
        for (const bad of [Number.NaN, 1.5, -1]) {
          value = bad;
          await expectCode(store.saveTask(task('u')), 'CLOCK');
          await expectCode(store.updateTaskStatus('t', 'running'), 'CLOCK');
        }
        value = Date.UTC(2026, 0, 2);
        expect(await snapshot(store)).toEqual(before);
        await store.close();
      });

      it('dbSizeBytes grows with the data', async () => {
        const { store } = await setup();
        const empty = await store.dbSizeBytes();
        for (let i = 0; i < 200; i++) await store.saveTask(task(`t${i}`, { params: { blob: 'x'.repeat(500) } }));
        expect(await store.dbSizeBytes()).toBeGreaterThan(empty + 100_000);
        await store.close();
      });
    });

    defineQueueSuite(setup);
  });
}
