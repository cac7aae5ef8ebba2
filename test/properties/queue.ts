/**
 * Property tests of the task engine, written once and run on every engine: random interleavings of
 * enqueue, claim, heartbeat, fail, complete, cancel and the clock moving (leases expiring), checked
 * against a model of who may hold what. No task is ever held by two workers at once, a worker that
 * does not hold a task can change nothing, no task is lost (once the clock runs on and every due
 * task is worked off, all of them have ended), and each task's history chains from its first
 * status to the one it ends in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoreError, Store, TaskStatus } from '../../src/index.js';
import { testClock } from '../helpers/clock.js';

/** How the suite opens a new, empty store on the engine under test. */
export type OpenQueueStore = (now: () => number) => Promise<Store>;

type Op =
  | { kind: 'enqueue'; maxAttempts: number; delay: number }
  | { kind: 'claim'; worker: number; leaseMs: number }
  | { kind: 'heartbeat'; worker: number; pick: number; leaseMs: number }
  | { kind: 'complete'; worker: number; pick: number; error: boolean }
  | { kind: 'fail'; worker: number; pick: number; retry: boolean }
  | { kind: 'cancel'; pick: number }
  | { kind: 'advance'; ms: number };

const WORKERS = 4;
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), maxAttempts: fc.integer({ min: 1, max: 3 }), delay: fc.constantFrom(0, 0, 500, 5000) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('claim' as const), worker: fc.nat(WORKERS - 1), leaseMs: fc.constantFrom(1000, 3000, 10_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), worker: fc.nat(WORKERS - 1), pick: fc.nat(), leaseMs: fc.constantFrom(1000, 5000) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), worker: fc.nat(WORKERS - 1), pick: fc.nat(), error: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail' as const), worker: fc.nat(WORKERS - 1), pick: fc.nat(), retry: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(100, 900, 2000, 6000, 20_000) }) },
);

/** What the model knows of a task's current claim. */
interface Claim {
  worker: string;
  fence: number;
  until: number;
}

const ENDED: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export function defineQueueProperties(engine: string, open: OpenQueueStore, runs = 40): void {
  describe(`task engine properties on ${engine}`, () => {
    it('random interleavings: never two holders, no change by a worker that does not hold the task, nothing lost, history consistent', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 60 }), async (ops) => {
          const clock = testClock();
          const store = await open(clock.now);
          try {
            const ids: string[] = [];
            const claims = new Map<string, Claim>();
            const lastFence = new Map<string, number>();
            const holds = (id: string, worker: string): boolean => {
              const c = claims.get(id);
              return c !== undefined && c.worker === worker && c.until > clock.now();
            };
            for (const o of ops) {
              if (o.kind === 'enqueue') {
                const id = `t${ids.length}`;
                ids.push(id);
                await store.enqueueTask({ id, command: 'c', params: { n: ids.length }, maxAttempts: o.maxAttempts, runAt: clock.now() + o.delay, backoff: { baseMs: 300, maxMs: 1000, jitter: 0 } });
              } else if (o.kind === 'claim') {
                const worker = `w${o.worker}`;
                const claimed = await store.claimTask({ workerId: worker, leaseMs: o.leaseMs });
                if (!claimed) continue;
                const previous = claims.get(claimed.id);
                // Never while another holds a lease that still runs.
                if (previous) expect(previous.until, `${claimed.id} claimed while ${previous.worker} held it`).toBeLessThanOrEqual(clock.now());
                expect(claimed.fence).toBeGreaterThan(lastFence.get(claimed.id) ?? 0);
                expect(claimed.status).toBe('running');
                lastFence.set(claimed.id, claimed.fence);
                claims.set(claimed.id, { worker, fence: claimed.fence, until: claimed.leaseUntil });
              } else if (o.kind === 'advance') {
                clock.advance(o.ms);
              } else {
                if (ids.length === 0) continue;
                const id = ids[o.pick % ids.length] as string;
                const before = await store.getTask(id);
                if (o.kind === 'cancel') {
                  const outcome = await store.cancelTask(id, 'changed plans').then(() => 'ok', (e: unknown) => (e as StoreError).code);
                  expect(outcome).toBe(before && ENDED.includes(before.status) ? 'CONFLICT' : 'ok');
                  claims.delete(id);
                  continue;
                }
                const worker = `w${o.worker}`;
                const mayAct = holds(id, worker) && before?.status === 'running';
                const attempt =
                  o.kind === 'heartbeat'
                    ? store.heartbeatTask(id, worker, { leaseMs: o.leaseMs })
                    : o.kind === 'complete'
                      ? store.completeTask(id, { workerId: worker, ...(o.error ? { error: 'boom' } : { result: { by: worker } }) })
                      : store.failTask(id, { workerId: worker, error: 'flaky', retry: o.retry });
                const outcome = await attempt.then(
                  (value) => ({ ok: true as const, value }),
                  (e: unknown) => ({ ok: false as const, code: (e as StoreError).code }),
                );
                if (!mayAct) {
                  expect(outcome, `${o.kind} of ${id} by ${worker}, which does not hold it`).toEqual({ ok: false, code: 'LEASE_LOST' });
                  expect(await store.getTask(id)).toEqual(before);
                  continue;
                }
                expect(outcome.ok, `${o.kind} of ${id} by its holder ${worker}`).toBe(true);
                if (o.kind === 'heartbeat') (claims.get(id) as Claim).until = clock.now() + o.leaseMs;
                else claims.delete(id);
              }
              // Whoever the store says holds a running task, the model agrees (lease included).
              for (const [id, c] of claims) {
                const entry = await store.queueEntry(id);
                if (entry?.status === 'running' && entry.workerId === c.worker) expect(entry.fence).toBe(c.fence);
              }
            }
            // Nothing is lost: with time running on, every task is worked off or ends.
            for (let round = 0; round < 200; round++) {
              clock.advance(60_000);
              const claimed = await store.claimTask({ workerId: 'sweeper', leaseMs: 1000 });
              if (claimed) await store.completeTask(claimed.id, { workerId: 'sweeper', fence: claimed.fence, result: 'swept' });
              else if ((await store.queueStats()).running === 0 && (await store.queueStats()).due === 0 && (await store.queueStats()).scheduled === 0) break;
            }
            for (const id of ids) {
              const task = await store.getTask(id);
              expect(task && ENDED.includes(task.status), `${id} ended (${task?.status})`).toBe(true);
              const history = await store.taskHistory(id);
              expect(history[0]).toMatchObject({ to: 'pending' });
              expect(history[0]?.from).toBeUndefined();
              for (let i = 1; i < history.length; i++) {
                const prev = history[i - 1];
                const cur = history[i];
                // A lease taken over records running → running.
                expect(cur?.from, `${id} history ${i}`).toBe(prev?.to);
                expect(cur?.at).toBeGreaterThanOrEqual(prev?.at ?? 0);
              }
              expect(history.at(-1)?.to).toBe(task?.status);
            }
          } finally {
            await store.close();
          }
        }),
        { numRuns: runs },
      );
    });

    it('8 workers in one process claim 400 tasks: each completed exactly once, by its holder', async () => {
      const clock = testClock();
      const store = await open(clock.now);
      try {
        for (let i = 0; i < 400; i++) await store.enqueueTask({ id: `j${i}`, command: 'c', params: { i } });
        const done = new Map<string, string>();
        await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            const worker = `w${w}`;
            for (;;) {
              const claimed = await store.claimTask({ workerId: worker, leaseMs: 60_000 });
              if (!claimed) return;
              expect(done.has(claimed.id), `${claimed.id} claimed again`).toBe(false);
              done.set(claimed.id, worker);
              await store.completeTask(claimed.id, { workerId: worker, fence: claimed.fence, result: { worker } });
            }
          }),
        );
        expect(done.size).toBe(400);
        for (const [id, worker] of done) expect(await store.getTask(id)).toMatchObject({ status: 'completed', result: { worker } });
        expect(new Set(done.values()).size).toBeGreaterThan(1);
      } finally {
        await store.close();
      }
    });
  });
}
