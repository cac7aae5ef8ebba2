/**
 * Property-based tests (fast-check), written once and run on every engine
 * (`definePropertySuite(name, target)` in one line per engine's test file): every record type
 * round-trips exactly (save → get/list, and again in a store reopened from what the first wrote),
 * and every invalid record or argument is rejected with a ValidationError that changes nothing (the
 * exported image is byte-for-byte the same).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StoreError,
  ValidationError,
  type AuditEntry,
  type AuditEntryInput,
  type DeadLetter,
  type DeadLetterInput,
  type JsonValue,
  type PendingApproval,
  type PendingApprovalInput,
  type SessionContext,
  type SessionContextInput,
  type Store,
  type Task,
  type TaskInput,
  type TaskStatus,
  type ThreadSession,
  type ThreadSessionInput,
} from '../../src/index.js';
import { expectSameBytes } from '../helpers/bytes.js';
import { testClock } from '../helpers/clock.js';

const NUM_RUNS = 120;
const STATUSES: readonly TaskStatus[] = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'];

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid values.

/** Pieces of text that have broken stores before: quotes, escapes, SQL, LIKE wildcards, astral characters. */
const NASTY_TEXT = [
  "'",
  '"',
  '\\',
  "'; DROP TABLE tasks; --",
  '"; DELETE FROM meta; --',
  '%',
  '_',
  '?',
  '$1',
  '😀',
  '𝄞',
  '👩‍👩‍👧',
  'e\u0301',
  '\u2028',
  '\uFEFF',
  '\r\n',
  '\t',
  '\u0001',
  '\u007f',
  'NULL',
  'null',
  '{"a":1}',
  '[]',
  ' ',
];

/** Well-formed text without NUL (what TextSchema accepts), empty included. */
const textArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 8, arbitrary: fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom(...NASTY_TEXT)), { maxLength: 5 }).map((p) => p.join('')) },
    // Longer than a SQLite page, so it spills into overflow pages.
    { weight: 1, arbitrary: fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.integer({ min: 600, max: 3000 })).map(([s, n]) => s.repeat(n)) },
  )
  .map((s) => s.replaceAll('\0', ''))
  .filter((s) => s.isWellFormed());

/** A key: non-empty text; sometimes from a tiny pool so that saves replace each other. */
const idArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: textArb.filter((s) => s.length > 0) },
  { weight: 1, arbitrary: fc.constantFrom('k1', 'k2', "'; DROP TABLE tasks; --") },
);

/** A text that is often shared between records, so filters and thread look-ups match several. */
const sharedTextArb: fc.Arbitrary<string> = fc.oneof({ weight: 2, arbitrary: textArb }, { weight: 1, arbitrary: fc.constantFrom('', 'C1', 'C2') });

/** Unix ms: 0 … MAX_SAFE_INTEGER, with ties and the edges often. */
const tsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.maxSafeNat() },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 + 1, 1_700_000_000_000, Number.MAX_SAFE_INTEGER) },
);

/** fc.jsonValue can produce -0, which JSON cannot carry (it reads back as 0): turn it into 0. */
function withoutNegativeZero(value: JsonValue): JsonValue {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  }
  return value;
}

function nested(depth: number, leaf: JsonValue): JsonValue {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { d: v };
  return v;
}

/** JSON values: fc.jsonValue (unicode strings incl. NUL), big and deep ones, and nasty constants. */
const jsonArb: fc.Arbitrary<JsonValue> = fc
  .oneof(
    { weight: 6, arbitrary: fc.jsonValue({ noUnicodeString: false }) as fc.Arbitrary<JsonValue> },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 12, depthSize: 'medium', stringUnit: 'grapheme' }) as fc.Arbitrary<JsonValue> },
    { weight: 1, arbitrary: fc.array(fc.jsonValue() as fc.Arbitrary<JsonValue>, { minLength: 100, maxLength: 400 }) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 50, max: 800 }), fc.jsonValue() as fc.Arbitrary<JsonValue>).map(([d, leaf]) => nested(d, leaf)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<JsonValue>(
        { sql: "'; DROP TABLE tasks; --", quote: '"', backslash: '\\' },
        ['\u0000', '\uD800 lone surrogates are escaped by JSON \uDFFF', '😀', ''],
        JSON.parse('{"__proto__":{"polluted":true},"constructor":"x"}') as JsonValue,
        [Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_SAFE_INTEGER, 0.1, 1e21, 5e-324],
        '',
        0,
        false,
        null,
      ),
    },
  )
  .map(withoutNegativeZero);

/** An optional field: absent (record key left out), present as undefined, or a value. */
const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 6 });

const recordOptions = <K extends string>(requiredKeys: K[]) => ({ requiredKeys, noNullPrototype: true });

const taskInputArb: fc.Arbitrary<TaskInput> = fc.record(
  {
    id: idArb,
    status: opt(fc.constantFrom(...STATUSES)),
    command: textArb,
    params: jsonArb,
    callerId: opt(sharedTextArb),
    responseChannel: opt(textArb),
    responseThread: opt(textArb),
    result: opt(jsonArb),
    error: opt(textArb),
    createdAt: opt(tsArb),
    updatedAt: opt(tsArb),
    completedAt: opt(tsArb),
  },
  recordOptions(['id', 'command', 'params']),
);

const approvalInputArb: fc.Arbitrary<PendingApprovalInput> = fc.record(
  {
    requestId: idArb,
    taskId: sharedTextArb,
    callerId: sharedTextArb,
    permission: textArb,
    action: textArb,
    resource: textArb,
    channelId: opt(textArb),
    threadTs: opt(textArb),
    createdAt: opt(tsArb),
  },
  recordOptions(['requestId', 'taskId', 'callerId', 'permission', 'action', 'resource']),
);

const sessionContextInputArb: fc.Arbitrary<SessionContextInput> = fc.record(
  {
    sessionId: idArb,
    channel: sharedTextArb,
    threadTs: sharedTextArb,
    userId: opt(sharedTextArb),
    createdAt: opt(tsArb),
    lastUsed: opt(tsArb),
  },
  recordOptions(['sessionId', 'channel', 'threadTs']),
);

const threadSessionInputArb: fc.Arbitrary<ThreadSessionInput> = fc.record(
  {
    channel: sharedTextArb,
    threadTs: sharedTextArb,
    sessionKey: opt(textArb),
    createdAt: opt(tsArb),
    lastMessageAt: opt(tsArb),
  },
  recordOptions(['channel', 'threadTs']),
);

const deadLetterInputArb: fc.Arbitrary<DeadLetterInput> = fc.record(
  {
    id: idArb,
    targetChannel: textArb,
    targetThread: opt(textArb),
    message: textArb,
    error: textArb,
    createdAt: opt(tsArb),
    retryCount: opt(fc.oneof(fc.nat(20), fc.maxSafeNat())),
    nextRetryAt: opt(tsArb),
    resolvedAt: opt(tsArb),
  },
  recordOptions(['id', 'targetChannel', 'message', 'error']),
);

const auditInputArb: fc.Arbitrary<AuditEntryInput> = fc.record(
  {
    userId: sharedTextArb,
    action: sharedTextArb,
    resource: opt(textArb),
    result: textArb,
    details: opt(jsonArb),
    createdAt: opt(tsArb),
  },
  recordOptions(['userId', 'action', 'result']),
);

// ---------------------------------------------------------------------------------------------
// Expected records and orders, from the documented semantics.

/** A copy without undefined-valued keys: what a read returns for absent optional fields. */
function compact<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}

/** Records in save order, a later save of the same key replacing (and moving after) the earlier one. */
class Saved<T> {
  readonly #rows = new Map<string, T>();
  constructor(readonly key: (r: T) => string) {}
  put(record: T): void {
    const k = this.key(record);
    this.#rows.delete(k);
    this.#rows.set(k, record);
  }
  /** Rows in rowid order (the order of their last save). */
  get rows(): T[] {
    return [...this.#rows.values()];
  }
}

/** Sorts by `by` (descending when `desc`), ties by rowid in the same direction, as `ORDER BY x, rowid` does. */
function ordered<T>(rows: T[], by: (r: T) => number, desc: boolean): T[] {
  const indexed = rows.map((r, i) => ({ r, i }));
  indexed.sort((a, b) => (by(a.r) - by(b.r) || a.i - b.i) * (desc ? -1 : 1));
  return indexed.map((x) => x.r);
}

/** What the suite runs on: how a new store opens, and how the same data opens again. */
export interface PropertyTarget {
  /** A new, empty store whose timestamps come from `now`. */
  open(now: () => number): Promise<Store>;
  /** A second store on what `store` wrote (its exported image; or the same file, for an engine on one). */
  reopen(store: Store, now: () => number): Promise<Store>;
}

/**
 * Saves `inputs` in a new store with the clock at `now`, checks each returned record against
 * `expected(input)`, then runs `check` on the store and again on a store reopened from its image.
 */
async function roundTrip<I, R>(
  target: PropertyTarget,
  inputs: I[],
  now: number,
  save: (store: Store, input: I, index: number) => Promise<R>,
  expected: (input: I, index: number) => R,
  key: (r: R) => string,
  check: (store: Store, rows: R[]) => Promise<void>,
): Promise<void> {
  const clock = testClock(now);
  const store = await target.open(clock.now);
  try {
    const saved = new Saved<R>(key);
    for (const [i, input] of inputs.entries()) {
      const returned = await save(store, input, i);
      expect(returned).toStrictEqual(expected(input, i));
      saved.put(returned);
    }
    await check(store, saved.rows);
    const reopened = await target.reopen(store, clock.now);
    try {
      await check(reopened, saved.rows);
    } finally {
      await reopened.close();
    }
  } finally {
    await store.close();
  }
}

const recordsArb = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(arb, { minLength: 1, maxLength: 6 });
const limitArb = fc.integer({ min: 1, max: 8 });

function defineRoundTrips(target: PropertyTarget): void {
  describe('every record type round-trips exactly (get, list, and after exportImage → reopen)', () => {
    it('Task', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(taskInputArb), tsArb, limitArb, async (inputs, now, limit) => {
          await roundTrip(
            target,
            inputs,
            now,
            (store, input) => store.saveTask(input),
            (input): Task =>
              compact({ ...input, status: input.status ?? 'pending', callerId: input.callerId ?? '', createdAt: input.createdAt ?? now, updatedAt: input.updatedAt ?? now } as Task),
            (t) => t.id,
            async (store, rows) => {
              for (const t of rows) expect(await store.getTask(t.id)).toStrictEqual(t);
              const newestFirst = ordered(rows, (t) => t.createdAt, true);
              expect(await store.listTasks()).toStrictEqual(newestFirst);
              expect(await store.listTasks({ limit })).toStrictEqual(newestFirst.slice(0, limit));
              const first = rows[0] as Task;
              expect(await store.listTasks({ status: first.status })).toStrictEqual(newestFirst.filter((t) => t.status === first.status));
              expect(await store.listTasks({ callerId: first.callerId, limit })).toStrictEqual(
                newestFirst.filter((t) => t.callerId === first.callerId).slice(0, limit),
              );
              expect(await store.requeuePendingTasks()).toStrictEqual(ordered(rows.filter((t) => t.status === 'pending'), (t) => t.createdAt, false));
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('PendingApproval', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(approvalInputArb), tsArb, tsArb, limitArb, async (inputs, now, maxAge, limit) => {
          await roundTrip(
            target,
            inputs,
            now,
            (store, input) => store.saveApproval(input),
            (input): PendingApproval => compact({ ...input, createdAt: input.createdAt ?? now } as PendingApproval),
            (a) => a.requestId,
            async (store, rows) => {
              for (const a of rows) expect(await store.getApproval(a.requestId)).toStrictEqual(a);
              const newestFirst = ordered(rows, (a) => a.createdAt, true);
              expect(await store.listApprovals()).toStrictEqual(newestFirst);
              expect(await store.listApprovals({ limit })).toStrictEqual(newestFirst.slice(0, limit));
              const first = rows[0] as PendingApproval;
              expect(await store.listApprovals({ taskId: first.taskId })).toStrictEqual(newestFirst.filter((a) => a.taskId === first.taskId));
              expect(await store.listApprovals({ callerId: first.callerId })).toStrictEqual(newestFirst.filter((a) => a.callerId === first.callerId));
              expect(await store.listExpiredApprovals(maxAge)).toStrictEqual(
                ordered(rows.filter((a) => a.createdAt < now - maxAge), (a) => a.createdAt, false),
              );
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('SessionContext', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(sessionContextInputArb), tsArb, limitArb, async (inputs, now, limit) => {
          await roundTrip(
            target,
            inputs,
            now,
            (store, input) => store.saveSessionContext(input),
            (input): SessionContext => compact({ ...input, createdAt: input.createdAt ?? now, lastUsed: input.lastUsed ?? now } as SessionContext),
            (c) => c.sessionId,
            async (store, rows) => {
              for (const c of rows) {
                expect(await store.getSessionContext(c.sessionId)).toStrictEqual(c);
                // The most recently used context of the thread (ties: the last saved).
                const ofThread = ordered(rows.filter((x) => x.channel === c.channel && x.threadTs === c.threadTs), (x) => x.lastUsed, true);
                expect(await store.getSessionContextByThread(c.channel, c.threadTs)).toStrictEqual(ofThread[0]);
              }
              const recentFirst = ordered(rows, (c) => c.lastUsed, true);
              expect(await store.listSessionContexts()).toStrictEqual(recentFirst);
              expect(await store.listSessionContexts({ limit })).toStrictEqual(recentFirst.slice(0, limit));
              const first = rows[0] as SessionContext;
              expect(await store.listSessionContexts({ channel: first.channel })).toStrictEqual(recentFirst.filter((c) => c.channel === first.channel));
              if (first.userId !== undefined) {
                expect(await store.listSessionContexts({ userId: first.userId })).toStrictEqual(recentFirst.filter((c) => c.userId === first.userId));
              }
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('ThreadSession', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(threadSessionInputArb), tsArb, limitArb, async (inputs, now, limit) => {
          await roundTrip(
            target,
            inputs,
            now,
            (store, input) => store.saveThreadSession(input),
            (input): ThreadSession =>
              compact({
                ...input,
                sessionKey: input.sessionKey ?? `agent:main:slack-${input.channel}-${input.threadTs}`,
                createdAt: input.createdAt ?? now,
                lastMessageAt: input.lastMessageAt ?? now,
              } as ThreadSession),
            (t) => JSON.stringify([t.channel, t.threadTs]),
            async (store, rows) => {
              for (const t of rows) expect(await store.getThreadSession(t.channel, t.threadTs)).toStrictEqual(t);
              const recentFirst = ordered(rows, (t) => t.lastMessageAt, true);
              expect(await store.listThreadSessions()).toStrictEqual(recentFirst);
              expect(await store.listThreadSessions({ limit })).toStrictEqual(recentFirst.slice(0, limit));
              const first = rows[0] as ThreadSession;
              expect(await store.listThreadSessions({ channel: first.channel })).toStrictEqual(recentFirst.filter((t) => t.channel === first.channel));
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('DeadLetter', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(deadLetterInputArb), tsArb, limitArb, async (inputs, now, limit) => {
          await roundTrip(
            target,
            inputs,
            now,
            (store, input) => store.saveDeadLetter(input),
            (input): DeadLetter => compact({ ...input, createdAt: input.createdAt ?? now, retryCount: input.retryCount ?? 0 } as DeadLetter),
            (d) => d.id,
            async (store, rows) => {
              for (const d of rows) expect(await store.getDeadLetter(d.id)).toStrictEqual(d);
              const newestFirst = ordered(rows, (d) => d.createdAt, true);
              expect(await store.listDeadLetters()).toStrictEqual(newestFirst);
              expect(await store.listDeadLetters({ limit })).toStrictEqual(newestFirst.slice(0, limit));
              const unresolved = (d: DeadLetter): boolean => d.resolvedAt === undefined;
              const states = {
                due: (d: DeadLetter) => unresolved(d) && d.nextRetryAt !== undefined && d.nextRetryAt <= now,
                waiting: (d: DeadLetter) => unresolved(d) && d.nextRetryAt !== undefined && d.nextRetryAt > now,
                given_up: (d: DeadLetter) => unresolved(d) && d.nextRetryAt === undefined,
                resolved: (d: DeadLetter) => !unresolved(d),
              };
              for (const [state, is] of Object.entries(states)) {
                expect(await store.listDeadLetters({ state: state as keyof typeof states }), state).toStrictEqual(newestFirst.filter(is));
              }
              const retryable = ordered(rows.filter(states.due), (d) => d.nextRetryAt as number, false);
              expect(await store.listRetryable()).toStrictEqual(retryable);
              expect(await store.listRetryable(limit)).toStrictEqual(retryable.slice(0, limit));
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('AuditEntry', async () => {
      await fc.assert(
        fc.asyncProperty(recordsArb(auditInputArb), tsArb, tsArb, tsArb, limitArb, async (inputs, now, a, b, limit) => {
          const [since, until] = a <= b ? [a, b] : [b, a];
          await roundTrip(
            target,
            inputs,
            now,
            async (store, input): Promise<AuditEntry> => {
              const id = await store.appendAudit(input);
              return compact({ ...input, id, createdAt: input.createdAt ?? now } as AuditEntry);
            },
            (input, i): AuditEntry => compact({ ...input, id: i + 1, createdAt: input.createdAt ?? now } as AuditEntry),
            (e) => String(e.id),
            async (store, rows) => {
              const newestFirst = ordered(rows, (e) => e.createdAt, true);
              expect(await store.listAudit()).toStrictEqual(newestFirst);
              expect(await store.listAudit({ limit })).toStrictEqual(newestFirst.slice(0, limit));
              const first = rows[0] as AuditEntry;
              expect(await store.listAudit({ userId: first.userId })).toStrictEqual(newestFirst.filter((e) => e.userId === first.userId));
              expect(await store.listAudit({ action: first.action, userId: first.userId })).toStrictEqual(
                newestFirst.filter((e) => e.action === first.action && e.userId === first.userId),
              );
              expect(await store.listAudit({ since, until })).toStrictEqual(newestFirst.filter((e) => e.createdAt >= since && e.createdAt < until));
              expect(await store.listAudit({ since: first.createdAt })).toStrictEqual(newestFirst.filter((e) => e.createdAt >= first.createdAt));
            },
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Invalid records and arguments.

/** Text that TextSchema refuses: a NUL, or a lone surrogate, somewhere. */
const badStringArb: fc.Arbitrary<string> = fc
  .tuple(textArb, fc.constantFrom('\0', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', 'a\0b', '\uD83D'), textArb)
  .map(([a, bad, b]) => a + bad + b);

/** Values of the wrong type for a text field (never undefined: that is "absent" for optional fields). */
const notTextArb: fc.Arbitrary<unknown> = fc.oneof(
  badStringArb,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.constant(new String('boxed')),
  fc.bigInt(),
  fc.constant(Symbol('s')),
  fc.constant(() => 'fn'),
);

/** Values TimestampSchema refuses: negative, fractional, unsafe, non-finite, non-numbers. */
const badTimestampArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 }),
  fc.double({ min: -1e6, max: 1e15, noNaN: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 60, 1e300, Number.MAX_VALUE, Infinity, -Infinity, NaN, -0.5, 0.1),
  fc.constantFrom('0', '1700000000000', '', null, true, [1], {}, new Date(0)),
  fc.bigInt({ min: 0n, max: 10n ** 20n }),
);

/** Values a limit refuses: not a positive safe integer. */
const badLimitArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, '5', '', null, true, [], {}),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }),
  fc.double({ min: 0, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x)),
);

const badStatusArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.string().filter((s) => !(STATUSES as readonly string[]).includes(s)),
  fc.constantFrom('PENDING', 'Completed', 'done', 'canceled', ' pending', null, 0, true, ['pending']),
);

const badIdArb: fc.Arbitrary<unknown> = fc.oneof(fc.constant(''), notTextArb);

class NotPlain {
  x = 1;
}

/** A value that is not JSON (or not one that reads back as written), and where under it the problem is. */
type BadJsonLeaf = { make: () => unknown; at: (string | number)[]; name: string };
const badJsonLeafArb: fc.Arbitrary<BadJsonLeaf> = fc.constantFrom<BadJsonLeaf>(
  { name: 'NaN', make: () => NaN, at: [] },
  { name: 'Infinity', make: () => Infinity, at: [] },
  { name: '-Infinity', make: () => -Infinity, at: [] },
  { name: '-0', make: () => -0, at: [] },
  { name: 'a function', make: () => () => 1, at: [] },
  { name: 'a BigInt', make: () => 10n, at: [] },
  { name: 'a Symbol', make: () => Symbol('x'), at: [] },
  { name: 'a Date', make: () => new Date(0), at: [] },
  { name: 'a Map', make: () => new Map([['a', 1]]), at: [] },
  { name: 'a Set', make: () => new Set([1]), at: [] },
  { name: 'a typed array', make: () => new Uint8Array([1, 2]), at: [] },
  { name: 'a class instance', make: () => new NotPlain(), at: [] },
  { name: 'a boxed number', make: () => new Number(1), at: [] },
  { name: 'a RegExp', make: () => /x/, at: [] },
  { name: 'undefined in an array', make: () => [1, undefined, 3], at: [1] },
  { name: 'undefined as a property', make: () => ({ a: 1, b: undefined }), at: ['b'] },
  { name: 'a sparse array', make: () => [1, , 3], at: [1] }, // eslint-disable-line no-sparse-arrays
  { name: 'a symbol key', make: () => ({ a: 1, [Symbol('k')]: 2 }), at: [] },
  {
    name: 'a circular object',
    make: () => {
      const o: Record<string, unknown> = { a: 1 };
      o.self = o;
      return o;
    },
    at: ['self'],
  },
  {
    name: 'a circular array',
    make: () => {
      const a: unknown[] = [1];
      a.push([a]);
      return a;
    },
    at: [1, 0],
  },
);

/** A bad JSON leaf buried in valid JSON at a generated path; `path` is where the issue must point. */
const badJsonArb: fc.Arbitrary<{ value: () => unknown; path: (string | number)[]; name: string }> = fc
  .tuple(fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.nat(3)), { maxLength: 4 }), badJsonLeafArb)
  .map(([segments, leaf]) => ({
    name: `${leaf.name} at ${JSON.stringify(segments)}`,
    path: [...segments, ...leaf.at],
    value: () => {
      let v = leaf.make();
      for (const seg of [...segments].reverse()) {
        if (typeof seg === 'number') {
          const arr: unknown[] = Array.from({ length: seg + 1 }, () => null);
          arr[seg] = v;
          v = arr;
        } else {
          v = Object.fromEntries([[seg, v]]);
        }
      }
      return v;
    },
  }));

type FieldKind = 'id' | 'text' | 'optText' | 'json' | 'optJson' | 'ts' | 'optTs' | 'optStatus' | 'optCount';

/** A bad value for a field of this kind, and the issue path under the field (undefined: any path under it). */
function badValueFor(kind: FieldKind): fc.Arbitrary<{ value: () => unknown; sub?: (string | number)[]; name: string }> {
  const plain = (arb: fc.Arbitrary<unknown>, name: string) => arb.map((v) => ({ value: () => v, sub: [] as (string | number)[], name }));
  switch (kind) {
    case 'id':
      return plain(badIdArb, 'a bad id');
    case 'text':
    case 'optText':
      return plain(notTextArb, 'bad text');
    case 'json':
    case 'optJson': {
      const buried = badJsonArb.map((b) => ({ value: b.value, sub: b.path, name: b.name }));
      // A required JSON field also refuses undefined (its absence); an optional one takes undefined as "absent".
      return kind === 'json' ? fc.oneof(buried, plain(fc.constant(undefined), 'undefined')) : buried;
    }
    case 'ts':
    case 'optTs':
      return plain(badTimestampArb, 'a bad timestamp');
    case 'optStatus':
      return plain(badStatusArb, 'a bad status');
    case 'optCount':
      return plain(fc.oneof(badTimestampArb, fc.constantFrom(-1, 1.5)), 'a bad count');
  }
}

type BadExample = [name: string, make: () => unknown, sub: (string | number)[]];
const circular = (): unknown => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};
const BAD_TEXT: BadExample[] = [
  ['a number', () => 42, []],
  ['null', () => null, []],
  ['a boolean', () => false, []],
  ['an object', () => ({}), []],
  ['an array', () => ['a'], []],
  ['a NUL character', () => 'a\0b', []],
  ['a lone high surrogate', () => 'x\uD800', []],
  ['a lone low surrogate', () => '\uDC00x', []],
];
const BAD_JSON: BadExample[] = [
  ['NaN', () => NaN, []],
  ['Infinity', () => Infinity, []],
  ['-0', () => -0, []],
  ['-0 nested', () => ({ a: [1, -0] }), ['a', 1]],
  ['undefined inside an array', () => [1, undefined, 3], [1]],
  ['a function', () => () => 1, []],
  ['a BigInt', () => 1n, []],
  ['a Date', () => new Date(0), []],
  ['a Map', () => new Map([['a', 1]]), []],
  ['a circular object', circular, ['self']],
];
const BAD_TIMESTAMP: BadExample[] = [
  ['-1', () => -1, []],
  ['1.5', () => 1.5, []],
  ['2^53 (unsafe)', () => 2 ** 53, []],
  ['NaN', () => NaN, []],
  ['Infinity', () => Infinity, []],
  ['a numeric string', () => '1700000000000', []],
  ['null', () => null, []],
  ['a BigInt', () => 5n, []],
];
/** Fixed bad values per field kind: every field is tried with every one of its kind, every run. */
const FIXED_BAD: Record<FieldKind, BadExample[]> = {
  id: [['empty', () => '', []], ...BAD_TEXT],
  text: BAD_TEXT,
  optText: BAD_TEXT,
  json: [['undefined (missing)', () => undefined, []], ...BAD_JSON],
  optJson: BAD_JSON,
  ts: BAD_TIMESTAMP,
  optTs: BAD_TIMESTAMP,
  optStatus: [
    ['unknown', () => 'done', []],
    ['upper case', () => 'PENDING', []],
    ['empty', () => '', []],
    ['null', () => null, []],
  ],
  optCount: [['-1', () => -1, []], ['1.5', () => 1.5, []], ['a string', () => '1', []], ['null', () => null, []], ['2^53', () => 2 ** 53, []]],
};

interface RecordSpec {
  name: string;
  fields: Record<string, FieldKind>;
  /** Fields without a default: leaving one out is invalid. */
  required: string[];
  valid: fc.Arbitrary<object>;
  /** A fixed valid record that addresses a seeded row (so a wrongly accepted save would change it). */
  base: object;
  save(store: Store, input: unknown): Promise<unknown>;
}

type AnyMethod = (...args: unknown[]) => Promise<unknown>;
/** Calls a store method with arguments of any type (what a JavaScript caller can do). */
function callWith(store: Store, method: Extract<keyof Store, string>, ...args: unknown[]): Promise<unknown> {
  return (store[method] as unknown as AnyMethod).apply(store, args);
}

const SEED = {
  task: { id: 'seed', command: 'deploy', params: { env: 'prod' }, callerId: 'U1', createdAt: 10, updatedAt: 10 } satisfies TaskInput,
  approval: { requestId: 'seed', taskId: 'seed', callerId: 'U1', permission: 'p', action: 'a', resource: 'r', createdAt: 10 },
  context: { sessionId: 'seed', channel: 'C1', threadTs: '1.1', createdAt: 10, lastUsed: 10 },
  thread: { channel: 'C1', threadTs: '1.1', createdAt: 10, lastMessageAt: 10 },
  letter: { id: 'seed', targetChannel: 'C1', message: 'm', error: 'e', createdAt: 10, nextRetryAt: 10 },
  audit: { userId: 'U1', action: 'a', result: 'ok', details: { a: 1 }, createdAt: 10 },
};

/** Valid inputs that often address the seeded rows, so a wrongly accepted save would replace one. */
const seeded = <T extends object>(arb: fc.Arbitrary<T>, seed: Partial<T>): fc.Arbitrary<object> =>
  fc.oneof(arb, arb.map((r) => ({ ...r, ...seed })));

const RECORD_SPECS: RecordSpec[] = [
  {
    name: 'Task',
    fields: {
      id: 'id',
      status: 'optStatus',
      command: 'text',
      params: 'json',
      callerId: 'optText',
      responseChannel: 'optText',
      responseThread: 'optText',
      result: 'optJson',
      error: 'optText',
      createdAt: 'optTs',
      updatedAt: 'optTs',
      completedAt: 'optTs',
    },
    required: ['id', 'command', 'params'],
    valid: seeded(taskInputArb, { id: 'seed' }),
    base: SEED.task,
    save: (store, input) => callWith(store, 'saveTask', input),
  },
  {
    name: 'PendingApproval',
    fields: {
      requestId: 'id',
      taskId: 'text',
      callerId: 'text',
      permission: 'text',
      action: 'text',
      resource: 'text',
      channelId: 'optText',
      threadTs: 'optText',
      createdAt: 'optTs',
    },
    required: ['requestId', 'taskId', 'callerId', 'permission', 'action', 'resource'],
    valid: seeded(approvalInputArb, { requestId: 'seed' }),
    base: SEED.approval,
    save: (store, input) => callWith(store, 'saveApproval', input),
  },
  {
    name: 'SessionContext',
    fields: { sessionId: 'id', channel: 'text', threadTs: 'text', userId: 'optText', createdAt: 'optTs', lastUsed: 'optTs' },
    required: ['sessionId', 'channel', 'threadTs'],
    valid: seeded(sessionContextInputArb, { sessionId: 'seed' }),
    base: SEED.context,
    save: (store, input) => callWith(store, 'saveSessionContext', input),
  },
  {
    name: 'ThreadSession',
    fields: { channel: 'text', threadTs: 'text', sessionKey: 'optText', createdAt: 'optTs', lastMessageAt: 'optTs' },
    required: ['channel', 'threadTs'],
    valid: seeded(threadSessionInputArb, { channel: 'C1', threadTs: '1.1' }),
    base: SEED.thread,
    save: (store, input) => callWith(store, 'saveThreadSession', input),
  },
  {
    name: 'DeadLetter',
    fields: {
      id: 'id',
      targetChannel: 'text',
      targetThread: 'optText',
      message: 'text',
      error: 'text',
      createdAt: 'optTs',
      retryCount: 'optCount',
      nextRetryAt: 'optTs',
      resolvedAt: 'optTs',
    },
    required: ['id', 'targetChannel', 'message', 'error'],
    valid: seeded(deadLetterInputArb, { id: 'seed' }),
    base: SEED.letter,
    save: (store, input) => callWith(store, 'saveDeadLetter', input),
  },
  {
    name: 'AuditEntry',
    fields: { userId: 'text', action: 'text', resource: 'optText', result: 'text', details: 'optJson', createdAt: 'optTs' },
    required: ['userId', 'action', 'result'],
    valid: auditInputArb,
    base: SEED.audit,
    save: (store, input) => callWith(store, 'appendAudit', input),
  },
];

/** One invalid input: the value to pass and the issue path (prefix) it must produce, if known. */
interface Invalid {
  describe: string;
  input: () => unknown;
  /** An issue must have exactly this path; `undefined` when only "some issue" is asserted. */
  path?: (string | number)[];
  /** An issue must be about these unknown keys. */
  unknownKey?: string;
}

function invalidRecordArb(spec: RecordSpec): fc.Arbitrary<Invalid> {
  const fields = Object.keys(spec.fields);
  const wrongField = fc
    .constantFrom(...fields)
    .chain((field) => fc.tuple(fc.constant(field), spec.valid, badValueFor(spec.fields[field] as FieldKind)))
    .map(
      ([field, base, bad]): Invalid => ({
        describe: `${field}: ${bad.name}`,
        input: () => ({ ...base, [field]: bad.value() }),
        path: bad.sub === undefined ? undefined : [field, ...bad.sub],
      }),
    );
  const missing = fc.tuple(fc.constantFrom(...spec.required), spec.valid).map(
    ([field, base]): Invalid => ({
      describe: `missing ${field}`,
      input: () => Object.fromEntries(Object.entries(base).filter(([k]) => k !== field)),
      path: [field],
    }),
  );
  const extraKey = fc
    .tuple(
      fc.oneof(
        fc.string({ minLength: 1 }),
        fc.constantFrom('created_at', 'caller_id', 'id', 'ID', 'Status', 'rowid', 'constructor', 'toString', '__proto__', 'extra'),
      ),
      spec.valid,
      fc.jsonValue(),
    )
    .filter(([key]) => !fields.includes(key))
    .map(
      ([key, base, value]): Invalid => ({
        describe: `unknown key ${JSON.stringify(key)}`,
        // defineProperty keeps "__proto__" an own key instead of setting the prototype.
        input: () => Object.defineProperty({ ...base }, key, { value, enumerable: true, writable: true, configurable: true }),
        unknownKey: key,
      }),
    );
  // Primitives and arrays are refused at the root; object-like values (a Date, a Map, a function)
  // may instead be refused for their missing fields, so only "some issue" is asserted for them.
  const notAnObject = fc.oneof(
    fc
      .constantFrom<unknown>(null, undefined, 0, 42, 'task', '', true, [], [{}])
      .map((v): Invalid => ({ describe: `not an object: ${JSON.stringify(v) ?? String(v)}`, input: () => v, path: [] })),
    fc
      .constantFrom<[string, () => unknown]>(['a function', () => () => ({})], ['a Date', () => new Date(0)], ['a Map', () => new Map()])
      .map(([name, make]): Invalid => ({ describe: `not a plain object: ${name}`, input: make })),
  );
  return fc.oneof({ weight: 6, arbitrary: wrongField }, { weight: 2, arbitrary: missing }, { weight: 2, arbitrary: extraKey }, { weight: 1, arbitrary: notAnObject });
}

/** Asserts `promise` rejects with a ValidationError whose issues carry paths (and `invalid.path` if set). */
async function expectValidationError(promise: Promise<unknown>, invalid: Pick<Invalid, 'path' | 'unknownKey' | 'describe'>): Promise<void> {
  const error = await promise.then(
    (value) => new Error(`${invalid.describe}: was accepted, resolved with ${String(value)}`),
    (e: unknown) => e,
  );
  expect(error, invalid.describe).toBeInstanceOf(ValidationError);
  const v = error as ValidationError;
  expect(v).toBeInstanceOf(StoreError);
  expect(v.code).toBe('VALIDATION');
  expect(v.message).toMatch(/^\[@platform-agent\/store\] invalid /);
  expect(v.issues.length, invalid.describe).toBeGreaterThan(0);
  for (const issue of v.issues) {
    expect(Array.isArray(issue.path), invalid.describe).toBe(true);
    expect(typeof issue.message).toBe('string');
  }
  if (invalid.path !== undefined) {
    expect(
      v.issues.map((i) => i.path),
      `${invalid.describe}: an issue at ${JSON.stringify(invalid.path)}`,
    ).toContainEqual(invalid.path);
  }
  if (invalid.unknownKey !== undefined) {
    const unknownKeys = v.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
    expect(unknownKeys, invalid.describe).toContain(invalid.unknownKey);
  }
}

async function seededStore(target: PropertyTarget): Promise<Store> {
  const clock = testClock(1_000_000);
  const store = await target.open(clock.now);
  await store.saveTask(SEED.task);
  await store.saveTask({ ...SEED.task, id: 'seed-running', status: 'running' });
  await store.saveApproval(SEED.approval);
  await store.saveSessionContext(SEED.context);
  await store.saveThreadSession(SEED.thread);
  await store.saveDeadLetter(SEED.letter);
  await store.appendAudit(SEED.audit);
  return store;
}

/** Runs `call` and asserts it is refused with a ValidationError and leaves the image byte-for-byte the same. */
async function expectRefusedUnchanged(store: Store, invalid: Invalid, call: (input: unknown) => Promise<unknown>): Promise<void> {
  const before = await store.exportImage();
  await expectValidationError(call(invalid.input()), invalid);
  expectSameBytes(await store.exportImage(), before, `${invalid.describe}: image`);
}

function defineInvalidRecords(target: PropertyTarget): void {
  describe('invalid records are rejected with ValidationError and change nothing', () => {
    for (const spec of RECORD_SPECS) {
      describe(spec.name, () => {
        let store: Store;
        beforeAll(async () => {
          store = await seededStore(target);
        });
        afterAll(async () => {
          await store.close();
        });

        it('every field, with every fixed bad value of its kind, is refused and changes nothing', async () => {
          for (const [field, kind] of Object.entries(spec.fields)) {
            for (const [name, make, sub] of FIXED_BAD[kind]) {
              const invalid: Invalid = { describe: `${field}: ${name}`, input: () => ({ ...spec.base, [field]: make() }), path: [field, ...sub] };
              await expectRefusedUnchanged(store, invalid, (input) => spec.save(store, input));
            }
          }
          for (const field of spec.required) {
            const input = (): unknown => Object.fromEntries(Object.entries(spec.base).filter(([k]) => k !== field));
            await expectRefusedUnchanged(store, { describe: `missing ${field}`, input, path: [field] }, (i) => spec.save(store, i));
          }
          await expectRefusedUnchanged(store, { describe: 'unknown key', input: () => ({ ...spec.base, extra: 1 }), unknownKey: 'extra' }, (i) =>
            spec.save(store, i),
          );
        });

        it('every generated invalid variant is refused and leaves the image byte-for-byte the same', async () => {
          await fc.assert(
            fc.asyncProperty(invalidRecordArb(spec), (invalid) => expectRefusedUnchanged(store, invalid, (input) => spec.save(store, input))),
            { numRuns: NUM_RUNS },
          );
        });

        it('the generator of valid records it mutates is itself accepted (a control for the property above)', async () => {
          await fc.assert(
            fc.asyncProperty(spec.valid, async (input) => {
              await expect(spec.save(store, input)).resolves.toBeDefined();
            }),
            { numRuns: 20 },
          );
        });
      });
    }
  });
}

/** An invalid call of an operation that takes ids, statuses, outcomes, timestamps, limits or filters. */
interface InvalidCall extends Omit<Invalid, 'input'> {
  method: Extract<keyof Store, string>;
  args: () => unknown[];
}

const badFilterArb = (known: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<{ value: () => unknown; path?: (string | number)[]; name: string; unknownKey?: string }> =>
  fc.oneof(
    fc.constantFrom(...Object.keys(known)).chain((field) =>
      (known[field] as fc.Arbitrary<unknown>).map((bad) => ({ value: () => ({ [field]: bad }), path: [field], name: `${field}: ${String(bad)}` })),
    ),
    fc.constantFrom('extra', 'offset', 'order', 'where', 'Limit', '__proto__').map((key) => ({
      value: () => Object.defineProperty({}, key, { value: 1, enumerable: true }),
      name: `unknown filter key ${key}`,
      unknownKey: key,
    })),
    fc.constantFrom<unknown>(null, 0, 5, 'status', true, [], [1]).map((v) => ({ value: () => v, path: [], name: `filter ${String(v)}` })),
  );

const badTextArgArb = notTextArb; // channel / threadTs may be empty, so '' is valid there

const invalidCallArb: fc.Arbitrary<InvalidCall> = fc.oneof(
  // Ids of the wrong type, empty, or with NUL / lone surrogates.
  fc
    .tuple(
      fc.constantFrom<[Extract<keyof Store, string>, unknown[]]>(
        ['getTask', []],
        ['updateTaskStatus', ['running']],
        ['completeTask', [{}]],
        ['getApproval', []],
        ['deleteApproval', []],
        ['getSessionContext', []],
        ['touchSessionContext', []],
        ['getDeadLetter', []],
        ['incrementRetry', [5]],
        ['resolveDeadLetter', []],
      ),
      badIdArb,
    )
    .map(([[method, rest], id]) => ({ describe: `${method}(${String(id)})`, method, args: () => [id, ...rest] })),
  // Thread keys (channel, threadTs) that are not text.
  fc
    .tuple(fc.constantFrom<Extract<keyof Store, string>>('getThreadSession', 'touchThreadSession', 'getSessionContextByThread'), badTextArgArb, fc.boolean())
    .map(([method, bad, first]) => ({
      describe: `${method} with a bad ${first ? 'channel' : 'threadTs'}: ${String(bad)}`,
      method,
      args: () => (first ? [bad, '1.1'] : ['C1', bad]),
    })),
  // Statuses, outcomes, timestamps and limits, addressed at rows that exist.
  badStatusArb.map((s) => ({ describe: `updateTaskStatus(seed, ${String(s)})`, method: 'updateTaskStatus' as const, args: () => ['seed-running', s] })),
  fc
    .oneof(
      fc.constantFrom<unknown>(null, 0, 'done', true, []).map((o) => ({ value: () => o, path: [] as (string | number)[], name: String(o) })),
      badJsonArb.map((b) => ({ value: () => ({ result: b.value() }), path: ['result', ...b.path], name: `result ${b.name}` })),
      notTextArb.map((e) => ({ value: () => ({ error: e }), path: ['error'], name: `error ${String(e)}` })),
      fc.constantFrom('status', 'completedAt', 'extra').map((k) => ({ value: () => ({ [k]: 1 }), path: [] as (string | number)[], name: `unknown key ${k}` })),
    )
    .map((o) => ({ describe: `completeTask(seed, ${o.name})`, method: 'completeTask' as const, args: () => ['seed-running', o.value()], path: o.path })),
  badTimestampArb.map((t) => ({ describe: `incrementRetry(seed, ${String(t)})`, method: 'incrementRetry' as const, args: () => ['seed', t] })),
  fc
    .oneof(badTimestampArb, fc.constant(undefined))
    .map((t) => ({ describe: `listExpiredApprovals(${String(t)})`, method: 'listExpiredApprovals' as const, args: () => [t] })),
  badLimitArb.map((l) => ({ describe: `listRetryable(${String(l)})`, method: 'listRetryable' as const, args: () => [l] })),
  // Filters: bad limits, bad field values, unknown keys, not objects.
  fc
    .tuple(
      fc.constantFrom<[Extract<keyof Store, string>, Record<string, fc.Arbitrary<unknown>>]>(
        ['listTasks', { limit: badLimitArb, status: badStatusArb, callerId: notTextArb }],
        ['listApprovals', { limit: badLimitArb, taskId: notTextArb, callerId: notTextArb }],
        ['listSessionContexts', { limit: badLimitArb, channel: notTextArb, userId: notTextArb }],
        ['listThreadSessions', { limit: badLimitArb, channel: notTextArb }],
        ['listDeadLetters', { limit: badLimitArb, state: fc.constantFrom('DUE', 'pending', 'retryable', '', null, 1) }],
        ['listAudit', { limit: badLimitArb, userId: notTextArb, action: notTextArb, since: badTimestampArb, until: badTimestampArb }],
        ['runRetention', { tasks: badTimestampArb, auditLog: fc.constantFrom(true, -1, 1.5, 'never', null) }],
      ),
    )
    .chain(([[method, known]]) =>
      badFilterArb(known).map((f) => ({ describe: `${method}(${f.name})`, method, args: () => [f.value()], path: f.path, unknownKey: f.unknownKey })),
    ),
);

function defineInvalidCalls(target: PropertyTarget): void {
  describe('invalid arguments to every operation are rejected with ValidationError and change nothing', () => {
    let store: Store;
    beforeAll(async () => {
      store = await seededStore(target);
    });
    afterAll(async () => {
      await store.close();
    });

    it('ids, thread keys, statuses, outcomes, timestamps, limits and filters', async () => {
      await fc.assert(
        fc.asyncProperty(invalidCallArb, (invalid) =>
          expectRefusedUnchanged(store, { ...invalid, input: invalid.args }, (args) => callWith(store, invalid.method, ...(args as unknown[]))),
        ),
        { numRuns: 300 },
      );
    });

    it('every list operation refuses every fixed bad limit and changes nothing', async () => {
      const badLimits: [string, unknown][] = [
        ['0', 0],
        ['-1', -1],
        ['-0', -0],
        ['1.5', 1.5],
        ['NaN', NaN],
        ['Infinity', Infinity],
        ['2^53', 2 ** 53],
        ['a string', '5'],
        ['null', null],
      ];
      const lists: (Extract<keyof Store, string>)[] = ['listTasks', 'listApprovals', 'listSessionContexts', 'listThreadSessions', 'listDeadLetters', 'listAudit'];
      for (const [name, limit] of badLimits) {
        for (const method of lists) {
          await expectRefusedUnchanged(store, { describe: `${method}({ limit: ${name} })`, input: () => ({ limit }), path: ['limit'] }, (filter) =>
            callWith(store, method, filter),
          );
        }
        await expectRefusedUnchanged(store, { describe: `listRetryable(${name})`, input: () => limit }, (l) => callWith(store, 'listRetryable', l));
      }
    });

    it('the seeded rows the calls above address are all still there, as seeded', async () => {
      expect(await store.getTask('seed')).toStrictEqual({ ...SEED.task, status: 'pending' });
      expect((await store.getTask('seed-running'))?.status).toBe('running');
      expect(await store.getApproval('seed')).toStrictEqual(SEED.approval);
      expect(await store.getSessionContext('seed')).toStrictEqual(SEED.context);
      expect(await store.getThreadSession('C1', '1.1')).toStrictEqual({ ...SEED.thread, sessionKey: 'agent:main:slack-C1-1.1' });
      expect(await store.getDeadLetter('seed')).toStrictEqual({ ...SEED.letter, retryCount: 0 });
      expect(await store.listAudit()).toStrictEqual([{ ...SEED.audit, id: 1 }]);
    });
  });
}

function defineBomText(target: PropertyTarget): void {
  describe('text that starts with U+FEFF (a byte order mark) keeps it', () => {
    // A found case, kept as an example: SQLite stores the bytes EF BB BF, but a UTF-8 decoder that
    // skips a leading BOM would hand back the text without its first character.
    const B = '\uFEFF';

    it('in every text column of every record type, also after exportImage → reopen', async () => {
      const store = await target.open(() => 1);
      try {
        const task = await store.saveTask({ id: `${B}t`, command: B, params: `${B}p`, callerId: `${B}U`, responseChannel: `${B}C`, error: `${B}e` });
        const approval = await store.saveApproval({ requestId: `${B}r`, taskId: B, callerId: B, permission: B, action: B, resource: `${B}res`, channelId: B, threadTs: B });
        const context = await store.saveSessionContext({ sessionId: `${B}s`, channel: `${B}C`, threadTs: `${B}1`, userId: `${B}U` });
        const thread = await store.saveThreadSession({ channel: `${B}C`, threadTs: `${B}1`, sessionKey: `${B}key` });
        const letter = await store.saveDeadLetter({ id: `${B}d`, targetChannel: B, targetThread: B, message: `${B}m`, error: B });
        const auditId = await store.appendAudit({ userId: `${B}U`, action: B, resource: B, result: `${B}ok` });
        const reopened = await target.reopen(store, () => 1);
        try {
          for (const s of [store, reopened]) {
            expect.soft(await s.getTask(`${B}t`), 'task').toStrictEqual(task);
            expect.soft(await s.getApproval(`${B}r`), 'approval').toStrictEqual(approval);
            expect.soft(await s.getSessionContext(`${B}s`), 'session context').toStrictEqual(context);
            expect.soft(await s.getThreadSession(`${B}C`, `${B}1`), 'thread session').toStrictEqual(thread);
            expect.soft(await s.getDeadLetter(`${B}d`), 'dead letter').toStrictEqual(letter);
            expect.soft(await s.listAudit(), 'audit').toStrictEqual([{ id: auditId, userId: `${B}U`, action: B, resource: B, result: `${B}ok`, createdAt: 1 }]);
          }
        } finally {
          await reopened.close();
        }
      } finally {
        await store.close();
      }
    });
  });
}

/** Defines the property tests on `target`, under `properties on <name>`. */
export function definePropertySuite(name: string, target: PropertyTarget): void {
  describe(`properties on ${name}`, () => {
    defineRoundTrips(target);
    defineInvalidRecords(target);
    defineInvalidCalls(target);
    defineBomText(target);
  });
}
