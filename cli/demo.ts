/**
 * A realistic agent history for trying things out (`agent-store demo`), and a small simulated agent
 * that keeps writing (`--live`, what `npm start` runs). The history is generated from a seed, so
 * one seed and one end time give the same database. Tasks go through the task engine as the agent's
 * would (enqueued, claimed by a worker under a lease, completed or failed, some retried, some taken
 * over after a worker died), so each has a history of its transitions.
 */
import type { Backoff, DeadLetterInput, JsonValue, Store, TaskInput, TaskStatus, TransactionHandle } from '../src/index.js';
import { StoreError } from '../src/index.js';

type Params = { [key: string]: JsonValue };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same history. */
export function randomFrom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = ['U07ALICE', 'U09BOB', 'U11CAROL', 'U13DAVE', 'U17ERIN', 'U19FRANK', 'U23GRACE'];
const APPROVERS = ['U09BOB', 'U23GRACE'];
const CHANNELS = ['C042OPS', 'C051DEPLOYS', 'C067INCIDENTS', 'C073PLATFORM'];
const SERVICES = ['api', 'web', 'worker', 'billing', 'search', 'auth', 'gateway', 'scheduler'];
const ENVS = ['prod', 'staging', 'dev'];
const SLACK_ERRORS = ['slack: rate_limited', 'slack: channel_not_found', 'slack: request timeout after 10s', 'slack: invalid_blocks', 'slack: service_unavailable'];
const TASK_ERRORS: Readonly<Record<string, readonly string[]>> = {
  deploy: ['helm: UPGRADE FAILED: timed out waiting for the condition', 'deploy: image not found in registry', 'kubectl: context "prod" not found'],
  rollback: ['helm: release has no revision to roll back to', 'kubectl: context "prod" not found'],
  restart: ['kubectl: deployment not found', 'restart: pods not ready after 300s'],
  scale: ['scale: quota exceeded: requested replicas over the limit of 32'],
  logs: ['logs: upstream connect error or disconnect/reset before headers'],
  status: ['status: metrics server unavailable'],
  exec: ['exec: permission denied for pod', 'exec: container not running'],
};

// Failures a retry gets past.
const TRANSIENT_ERRORS = ['kubectl: dial tcp 10.40.0.1:443: connect: connection refused', 'helm: context deadline exceeded', 'registry: 503 Service Unavailable'];
/** The agent's workers (pods of its deployment). */
const WORKERS = ['agent-7f9c4-0', 'agent-7f9c4-1', 'agent-7f9c4-2'];
/** Attempts and backoff of every task the demo enqueues (no jitter: one seed, one history). */
const ATTEMPTS = 3;
const BACKOFF: Backoff = { baseMs: 30_000, factor: 2, maxMs: 5 * MINUTE, jitter: 0 };
/** A claim's lease: longer than any demo task runs, so only a worker that "dies" loses one. */
const LEASE_MS = 5 * MINUTE;

function errorFor(rand: () => number, command: string): string {
  return pick(rand, TASK_ERRORS[command] ?? ['internal error']);
}

interface Planned {
  readonly task: TaskInput;
  readonly approval?: { requestId: string; approver?: string; decidedAt?: number; denied?: boolean; permission: string };
  readonly letter?: DeadLetterInput;
  /** When a worker claims it (absent: it is never claimed) and how long its work takes. */
  readonly run?: { readonly startAt: number; readonly runMs: number };
}

/** What {@link seedDemo} wrote. */
export interface DemoSummary {
  readonly tasks: number;
  readonly approvals: number;
  readonly sessions: number;
  readonly threads: number;
  readonly deadLetters: number;
  readonly audit: number;
  readonly from: number;
  readonly to: number;
}

/** Options of {@link seedDemo}. */
export interface DemoOptions {
  /** Days of history, ending at `end`. @default 14 */
  readonly days?: number;
  /** Tasks per day on average (more in working hours). @default 300 */
  readonly perDay?: number;
  /** The PRNG seed. @default 42 */
  readonly seed?: number;
  /** When the history ends (Unix ms). @default Date.now() */
  readonly end?: number;
  /** Stops the fill after the day being written (then {@link DemoInterrupted}). */
  readonly signal?: AbortSignal;
  /** Told after each day: tasks written so far, of how many. */
  readonly onProgress?: (tasks: number, total: number) => void;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function threadTs(ms: number, rand: () => number): string {
  return `${Math.floor(ms / 1000)}.${String(Math.floor(rand() * 1e6)).padStart(6, '0')}`;
}

function commandFor(rand: () => number): { command: string; params: Params; needsApproval: boolean; permission: string } {
  const service = pick(rand, SERVICES);
  const env = rand() < 0.45 ? 'prod' : pick(rand, ENVS);
  const roll = rand();
  if (roll < 0.3) {
    const ref = `v2.${Math.floor(rand() * 30)}.${Math.floor(rand() * 10)}`;
    return { command: 'deploy', params: { service, env, ref, strategy: rand() < 0.7 ? 'rolling' : 'canary' }, needsApproval: env === 'prod', permission: `deploy:${env}` };
  }
  if (roll < 0.38) return { command: 'rollback', params: { service, env, to: `v2.${Math.floor(rand() * 30)}.0` }, needsApproval: env === 'prod', permission: `deploy:${env}` };
  if (roll < 0.5) return { command: 'restart', params: { service, env, graceful: rand() < 0.8 }, needsApproval: false, permission: `restart:${env}` };
  if (roll < 0.58) return { command: 'scale', params: { service, env, replicas: 2 + Math.floor(rand() * 30) }, needsApproval: env === 'prod', permission: `scale:${env}` };
  if (roll < 0.78) return { command: 'logs', params: { service, env, since: `${1 + Math.floor(rand() * 59)}m`, lines: 200 }, needsApproval: false, permission: 'read' };
  if (roll < 0.92) return { command: 'status', params: { service, env }, needsApproval: false, permission: 'read' };
  return { command: 'exec', params: { pod: `${service}-${Math.floor(rand() * 5)}`, env, command: pick(rand, ['df -h', 'ps aux', 'cat /etc/resolv.conf', 'redis-cli info']) }, needsApproval: true, permission: `exec:${env}` };
}

function resultFor(command: string, params: Params, rand: () => number): JsonValue {
  switch (command) {
    case 'deploy':
    case 'rollback':
      return { deployed: params.ref ?? params.to ?? null, pods: 2 + Math.floor(rand() * 20), durationSec: 30 + Math.floor(rand() * 300) };
    case 'restart':
      return { restarted: 1 + Math.floor(rand() * 12) };
    case 'scale':
      return { replicas: params.replicas ?? null, ready: params.replicas ?? null };
    case 'logs':
      return { lines: Math.floor(rand() * 200), errors: Math.floor(rand() * 5) };
    case 'status':
      return { healthy: rand() < 0.9, pods: 2 + Math.floor(rand() * 20), version: `v2.${Math.floor(rand() * 30)}.0` };
    default:
      return { exitCode: 0, output: 'ok' };
  }
}

// Working hours (08–19 UTC, weekdays) get most of the traffic.
function taskTimes(rand: () => number, from: number, to: number, count: number): number[] {
  const times: number[] = [];
  while (times.length < count) {
    const t = from + rand() * (to - from);
    const d = new Date(t);
    const weight = (d.getUTCHours() >= 8 && d.getUTCHours() < 19 ? 1 : 0.15) * (d.getUTCDay() === 0 || d.getUTCDay() === 6 ? 0.3 : 1);
    if (rand() < weight) times.push(Math.floor(t));
  }
  return times.sort((a, b) => a - b);
}

/**
 * Fills `store` with `days` of agent history ending at `end`: tasks in every status (those of the
 * last minutes still pending or running, some awaiting approval), their approvals, session contexts
 * and thread sessions, dead letters with retries (due, waiting, given up, resolved) and audit
 * entries. `setNow` moves the store's injected clock, so every timestamp is the simulated one.
 */
export async function seedDemo(store: Store, setNow: (ms: number) => void, options: DemoOptions = {}): Promise<DemoSummary> {
  const days = options.days ?? 14;
  const perDay = options.perDay ?? 300;
  const rand = randomFrom(options.seed ?? 42);
  const end = options.end ?? Date.now();
  const from = end - days * DAY;
  const times = taskTimes(rand, from, end, Math.round(days * perDay));
  const threads = new Map<string, { channel: string; ts: string; user: string; last: number; created: number }>();
  // Per user, the threads still used in the last two hours, oldest first: a thread idle longer is
  // never continued again (tasks come in time order), so it leaves the list for good. (Filtering
  // every thread for every task made the demo quadratic: 105,000 tasks took 66 s.)
  const live = new Map<string, { channel: string; ts: string; user: string; last: number; created: number }[]>();
  const summary = { tasks: 0, approvals: 0, sessions: 0, threads: 0, deadLetters: 0, audit: 0, from, to: end };
  const audits: { at: number; entry: Parameters<Store['appendAudit']>[0] }[] = [];

  const plans: Planned[] = times.map((createdAt, i) => {
    const id = `task-${String(i + 1).padStart(6, '0')}`;
    const user = pick(rand, USERS);
    const channel = pick(rand, CHANNELS);
    // Some messages continue a recent conversation in the same thread.
    const recent = (live.get(user) ?? []).filter((t) => createdAt - t.last < 2 * HOUR);
    live.set(user, recent);
    const continued = recent.length > 0 && rand() < 0.5 ? recent[recent.length - 1] : undefined;
    const thread = continued ?? { channel, ts: threadTs(createdAt, rand), user, last: createdAt, created: createdAt };
    if (!continued) recent.push(thread);
    thread.last = createdAt;
    threads.set(`${thread.channel}/${thread.ts}`, thread);
    const { command, params, needsApproval, permission } = commandFor(rand);
    const age = end - createdAt;
    const base = { id, command, params, callerId: user, responseChannel: thread.channel, responseThread: thread.ts, createdAt };
    let status: TaskStatus;
    let updatedAt = createdAt + 1000 + Math.floor(rand() * 3000);
    let completedAt: number | undefined;
    let result: JsonValue | undefined;
    let error: string | undefined;
    let approval: Planned['approval'];
    if (needsApproval) {
      const requestId = `appr-${String(i + 1).padStart(6, '0')}`;
      const waitMs = 2 * MINUTE + Math.floor(rand() * 40 * MINUTE);
      if (age < waitMs || (age < 3 * HOUR && rand() < 0.35)) {
        approval = { requestId, permission };
      } else {
        const denied = rand() < 0.12;
        approval = { requestId, permission, approver: pick(rand, APPROVERS), decidedAt: createdAt + waitMs, denied };
        audits.push({ at: createdAt + waitMs, entry: { userId: approval.approver as string, action: denied ? 'deny' : 'approve', resource: `${permission}/${String(params.service ?? params.pod)}`, result: denied ? 'denied' : 'approved', details: { requestId, taskId: id, requestedBy: user }, createdAt: createdAt + waitMs } });
      }
    }
    const runMs = 5_000 + Math.floor(rand() * 4 * MINUTE);
    const startAt = approval?.decidedAt ?? createdAt + 1500;
    if (approval && approval.decidedAt === undefined) {
      status = 'awaiting_approval';
    } else if (approval?.denied) {
      status = 'cancelled';
      updatedAt = approval.decidedAt as number;
      completedAt = updatedAt;
      error = `denied by ${approval.approver}`;
    } else if (end - startAt < 20_000) {
      status = 'pending';
      updatedAt = createdAt;
    } else if (end - startAt < runMs) {
      status = 'running';
      updatedAt = startAt;
    } else {
      completedAt = startAt + runMs;
      updatedAt = completedAt;
      if (rand() < 0.08) {
        status = 'failed';
        error = errorFor(rand, command);
      } else {
        status = rand() < 0.01 ? 'cancelled' : 'completed';
        if (status === 'completed') result = resultFor(command, params, rand);
      }
    }
    if (command === 'exec' && status === 'completed') {
      audits.push({ at: completedAt as number, entry: { userId: user, action: 'exec', resource: `${String(params.env)}/${String(params.pod)}`, result: 'ok', details: { command: params.command ?? null, taskId: id }, createdAt: completedAt } });
    }
    // The reply to a finished task sometimes fails to post: a dead letter, retried every 5 minutes.
    let letter: DeadLetterInput | undefined;
    if (completedAt !== undefined && rand() < 0.04) {
      const letterAt = completedAt + 500;
      const retries = Math.floor(rand() * 6);
      const lastTry = letterAt + retries * 5 * MINUTE;
      const fate = rand();
      const message = status === 'failed' ? `${id} ${command} failed: ${error}` : `${id} ${command} ${status}`;
      const common = { id: `dl-${String(i + 1).padStart(6, '0')}`, targetChannel: thread.channel, targetThread: thread.ts, message, error: pick(rand, SLACK_ERRORS), createdAt: letterAt, retryCount: retries };
      // Old letters were delivered in the end or given up after 5 retries; recent ones still wait.
      if (lastTry < end - HOUR) letter = fate < 0.8 ? { ...common, resolvedAt: lastTry + 5 * MINUTE, nextRetryAt: lastTry + 5 * MINUTE } : { ...common, retryCount: 5 };
      else letter = { ...common, nextRetryAt: lastTry + 5 * MINUTE };
    }
    const task: TaskInput = { ...base, status, updatedAt, ...(completedAt !== undefined ? { completedAt } : {}), ...(result !== undefined ? { result } : {}), ...(error !== undefined ? { error } : {}) };
    const claimed = status === 'running' || completedAt !== undefined && !approval?.denied;
    return { task, ...(approval ? { approval } : {}), ...(letter ? { letter } : {}), ...(claimed ? { run: { startAt, runMs } } : {}) };
  });
  // How the work went (which worker, a retry, a worker that died), from a PRNG of its own: the plans
  // above are what every seed gave before the demo went through the task engine.
  const work = randomFrom((options.seed ?? 42) ^ 0x5eed);

  // One transaction per simulated day: one durable record each. Between days the event loop runs
  // (Ctrl-C is heard) and the demo stops when `signal` says so, every day before it written.
  for (let day = 0; day < days + 1; day++) {
    if (options.signal?.aborted) throw new DemoInterrupted(summary, plans.length);
    const dayStart = from + day * DAY;
    const dayEnd = dayStart + DAY;
    const todays = plans.filter((p) => (p.task.createdAt as number) >= dayStart && (p.task.createdAt as number) < dayEnd);
    const todaysAudit = audits.filter((a) => a.at >= dayStart && a.at < dayEnd).sort((a, b) => a.at - b.at);
    const todaysThreads = [...threads.values()].filter((t) => t.created >= dayStart && t.created < dayEnd);
    if (todays.length + todaysAudit.length + todaysThreads.length === 0) continue;
    setNow(Math.min(dayEnd, end));
    await store.transaction(async (tx) => {
      for (const t of todaysThreads) {
        await tx.saveThreadSession({ channel: t.channel, threadTs: t.ts, createdAt: t.created, lastMessageAt: t.last });
        await tx.saveSessionContext({ sessionId: `sess-${t.channel}-${t.ts}`, channel: t.channel, threadTs: t.ts, userId: t.user, createdAt: t.created, lastUsed: t.last });
        summary.threads++;
        summary.sessions++;
      }
      // Tasks a worker claims first, each to its end (or left running), so that a claim, which takes
      // the oldest due task, finds the one meant: the tasks still pending at the end come last.
      for (const p of [...todays.filter((t) => t.run), ...todays.filter((t) => !t.run)]) {
        await writeTask(tx, p, setNow, work);
        summary.tasks++;
        if (p.approval && p.approval.decidedAt === undefined) {
          const params = p.task.params as Params;
          await tx.saveApproval({ requestId: p.approval.requestId, taskId: p.task.id, callerId: p.task.callerId as string, permission: p.approval.permission, action: p.task.command, resource: String(params.service ?? params.pod), channelId: p.task.responseChannel, threadTs: p.task.responseThread, createdAt: p.task.createdAt as number });
          summary.approvals++;
        }
        if (p.letter) {
          await tx.saveDeadLetter(p.letter);
          summary.deadLetters++;
        }
      }
      for (const a of todaysAudit) {
        await tx.appendAudit(a.entry);
        summary.audit++;
      }
    });
    options.onProgress?.(summary.tasks, plans.length);
    await new Promise((resolve) => setImmediate(resolve));
  }
  setNow(end);
  return summary;
}

/** {@link seedDemo} stopped by its signal: what it wrote (every day before it, whole). */
export class DemoInterrupted extends Error {
  constructor(
    readonly wrote: DemoSummary,
    readonly planned: number,
  ) {
    super(`interrupted after ${wrote.tasks} of ${planned} tasks`);
    this.name = 'DemoInterrupted';
  }
}

/**
 * Writes one planned task through the task engine, moving the clock to each event: enqueued; for
 * one that needs it, an approval asked for and decided (denied: cancelled; approved: back in the
 * queue); claimed by a worker; some attempts fail and are retried after the backoff, some workers
 * die and the task is taken over once their lease has run out; then its end as planned (or still
 * running). The task's row ends as the plan has it.
 */
async function writeTask(tx: TransactionHandle, p: Planned, setNow: (ms: number) => void, rand: () => number): Promise<void> {
  const { task, approval, run } = p;
  const id = task.id;
  const createdAt = task.createdAt as number;
  setNow(createdAt);
  await tx.enqueueTask({
    id,
    command: task.command,
    params: task.params,
    callerId: task.callerId as string,
    ...(task.responseChannel !== undefined ? { responseChannel: task.responseChannel } : {}),
    ...(task.responseThread !== undefined ? { responseThread: task.responseThread } : {}),
    createdAt,
    maxAttempts: ATTEMPTS,
    backoff: BACKOFF,
  });
  if (approval) {
    // The plan's updatedAt of a task still waiting is when it started to wait.
    setNow(approval.decidedAt === undefined ? (task.updatedAt as number) : createdAt + 1000);
    await tx.updateTaskStatus(id, 'awaiting_approval');
    if (approval.decidedAt === undefined) return;
    setNow(approval.decidedAt);
    if (approval.denied) return tx.cancelTask(id, task.error);
    await tx.updateTaskStatus(id, 'pending');
  }
  if (!run) return;
  const claim = async (at: number, leaseMs = LEASE_MS) => {
    setNow(at);
    const claimed = await tx.claimTask({ workerId: pick(rand, WORKERS), leaseMs });
    if (claimed?.id !== id) throw new Error(`demo: the claim at ${new Date(at).toISOString()} took ${claimed?.id ?? 'nothing'}, not ${id}`);
    return claimed;
  };
  const end = task.completedAt;
  const trouble = end !== undefined && run.runMs > 90_000 ? rand() : 1;
  let held;
  if (trouble < 0.05) {
    // The worker dies: its short lease runs out, and another worker takes the task over.
    await claim(run.startAt, 30_000);
    held = await claim(run.startAt + 45_000);
  } else if (trouble < 0.13) {
    // The first attempt fails on something passing; the retry, after the backoff, gets past it.
    const first = await claim(run.startAt);
    setNow(run.startAt + 20_000);
    const failed = await tx.failTask(id, { workerId: first.workerId, fence: first.fence, error: pick(rand, TRANSIENT_ERRORS) });
    held = await claim(failed.runAt as number);
  } else {
    held = await claim(run.startAt);
  }
  if (end === undefined) return; // still running
  setNow(end);
  const by = { workerId: held.workerId, fence: held.fence };
  if (task.status === 'completed') await tx.completeTask(id, { ...by, ...(task.result !== undefined ? { result: task.result } : {}) });
  else if (task.status === 'failed') await tx.failTask(id, { ...by, error: task.error as string, retry: false });
  else await tx.cancelTask(id);
}

/** A simulated agent writing to a store until stopped (`demo --live`, `npm start`). */
export interface LiveAgent {
  /** Stops after the step in progress; resolves when it has. */
  stop(): Promise<void>;
  /** Steps taken so far. */
  readonly steps: number;
}

/**
 * Starts a small simulated agent on `store` (with the real clock): every `intervalMs` or so it
 * enqueues tasks, its workers claim and run them (some attempts fail and are retried), asks for and
 * gets approvals, fails to post a reply now and then (dead letters, retried and resolved), touches
 * sessions, and runs retention every 10 minutes. `onStep` hears a line about each thing it did.
 */
export function startLiveAgent(store: Store, { intervalMs = 1500, seed = Date.now(), onStep }: { intervalMs?: number; seed?: number; onStep?: (line: string) => void } = {}): LiveAgent {
  const rand = randomFrom(seed);
  const running = new Map<string, { workerId: string; fence: number; steps: number }>(); // task id → its claim, steps left
  const waiting = new Map<string, { taskId: string; steps: number }>(); // approval → task
  let n = 0;
  let steps = 0;
  let stopped = false;
  let lastRetention = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> = Promise.resolve();
  const say = (line: string) => onStep?.(line);
  const prefix = `live-${Date.now().toString(36)}`;

  // A worker that lost its claim (retention deleted the task, a lease ran out) drops the work.
  const holding = async (id: string, act: () => Promise<void>) => {
    try {
      await act();
    } catch (e) {
      if (!(e instanceof StoreError && (e.code === 'LEASE_LOST' || e.code === 'NOT_FOUND'))) throw e;
      say(`${id}: ${e.code === 'LEASE_LOST' ? 'the worker lost its claim' : 'gone'}`);
    }
  };

  const step = async () => {
    steps++;
    // Work in flight moves on.
    for (const [id, claim] of running) {
      if (claim.steps > 1) {
        running.set(id, { ...claim, steps: claim.steps - 1 });
        continue;
      }
      running.delete(id);
      const task = await store.getTask(id);
      if (!task) continue;
      const by = { workerId: claim.workerId, fence: claim.fence };
      if (rand() < 0.1) {
        const transient = rand() < 0.5;
        await holding(id, async () => {
          const failed = await store.failTask(id, { ...by, error: transient ? pick(rand, TRANSIENT_ERRORS) : errorFor(rand, task.command), retry: transient });
          say(`${id} ${failed.status === 'pending' ? `failed attempt ${failed.attempt}; retried after the backoff` : 'failed'}`);
        });
        continue;
      }
      await holding(id, async () => {
        await store.completeTask(id, { ...by, result: resultFor(task.command, task.params as Params, rand) });
        say(`${id} completed by ${claim.workerId}`);
      });
      if (rand() < 0.15 && task.responseChannel) {
        await store.saveDeadLetter({ id: `dl-${id}`, targetChannel: task.responseChannel, ...(task.responseThread ? { targetThread: task.responseThread } : {}), message: `${id} ${task.command} done`, error: pick(rand, SLACK_ERRORS), nextRetryAt: Date.now() + 20_000 });
        say(`reply to ${id} failed to post: dead letter dl-${id}`);
      }
    }
    for (const [requestId, w] of waiting) {
      if (w.steps > 1) {
        waiting.set(requestId, { ...w, steps: w.steps - 1 });
        continue;
      }
      waiting.delete(requestId);
      const approver = pick(rand, APPROVERS);
      const approval = await store.getApproval(requestId);
      if (!approval) continue;
      const denied = rand() < 0.15;
      await store.transaction(async (tx) => {
        await tx.deleteApproval(requestId);
        await tx.appendAudit({ userId: approver, action: denied ? 'deny' : 'approve', resource: `${approval.permission}/${approval.resource}`, result: denied ? 'denied' : 'approved', details: { requestId, taskId: w.taskId } });
        // Approved: back in the queue, for the next free worker.
        if (denied) await tx.cancelTask(w.taskId, `denied by ${approver}`);
        else await tx.updateTaskStatus(w.taskId, 'pending');
      });
      say(`${approver} ${denied ? 'denied' : 'approved'} ${requestId}`);
    }
    // A new message arrives most steps.
    if (rand() < 0.8) {
      const id = `${prefix}-${++n}`;
      const user = pick(rand, USERS);
      const channel = pick(rand, CHANNELS);
      const ts = threadTs(Date.now(), rand);
      const { command, params, needsApproval, permission } = commandFor(rand);
      await store.saveThreadSession({ channel, threadTs: ts });
      await store.saveSessionContext({ sessionId: `sess-${channel}-${ts}`, channel, threadTs: ts, userId: user });
      await store.enqueueTask({ id, command, params, callerId: user, responseChannel: channel, responseThread: ts, maxAttempts: ATTEMPTS, backoff: { ...BACKOFF, baseMs: 5_000 } });
      if (needsApproval) {
        await store.updateTaskStatus(id, 'awaiting_approval');
        const requestId = `appr-${id}`;
        await store.saveApproval({ requestId, taskId: id, callerId: user, permission, action: command, resource: String(params.service ?? params.pod), channelId: channel, threadTs: ts });
        waiting.set(requestId, { taskId: id, steps: 2 + Math.floor(rand() * 6) });
        say(`${user} asked for ${command} (${permission}): approval ${requestId} waiting`);
      } else {
        say(`${user} asked for ${command} ${JSON.stringify(params)}: ${id} queued`);
      }
    }
    // Free workers take the due tasks, oldest first (retries, approved tasks, new ones).
    for (const workerId of WORKERS) {
      if ([...running.values()].some((c) => c.workerId === workerId)) continue;
      const claimed = await store.claimTask({ workerId, leaseMs: LEASE_MS });
      if (!claimed) break;
      running.set(claimed.id, { workerId, fence: claimed.fence, steps: 1 + Math.floor(rand() * 4) });
      say(`${workerId} claimed ${claimed.id} (attempt ${claimed.attempt} of ${claimed.maxAttempts})`);
    }
    // The dead-letter queue is retried.
    for (const letter of await store.listRetryable(5)) {
      if (rand() < 0.6) {
        await store.resolveDeadLetter(letter.id);
        say(`dead letter ${letter.id} delivered`);
      } else {
        await store.incrementRetry(letter.id, letter.retryCount >= 4 ? undefined : Date.now() + 30_000);
        say(`dead letter ${letter.id} retry ${letter.retryCount + 1} failed${letter.retryCount >= 4 ? ': given up' : ''}`);
      }
    }
    if (Date.now() - lastRetention > 10 * MINUTE) {
      lastRetention = Date.now();
      const deleted = await store.runRetention();
      say(`retention deleted ${Object.values(deleted).reduce((a, b) => a + b, 0)} rows`);
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = step()
        .catch((e: unknown) => say(`step failed: ${e instanceof Error ? e.message : String(e)}`))
        .finally(schedule);
    }, intervalMs * (0.5 + rand()));
  };
  schedule();
  return {
    get steps() {
      return steps;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
