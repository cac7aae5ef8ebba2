/**
 * Input that throws while it is read (a hostile Proxy, a throwing getter) or answers differently
 * the second time: every operation rejects with a ValidationError and changes nothing, and what is
 * stored is exactly what was validated.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, ValidationError, type Store } from '../../src/index.js';
import { snapshot } from '../api/suite.js';

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
});

async function seeded(): Promise<Store> {
  const store = await openStore({ onWarning: () => undefined });
  opened.push(store);
  await store.saveTask({ id: 't1', command: 'deploy', params: { env: 'prod' } });
  await store.saveApproval({ requestId: 'r1', taskId: 't1', callerId: 'U1', permission: 'p', action: 'a', resource: 'r', channelId: 'C1', threadTs: '1.1' });
  await store.saveDeadLetter({ id: 'd1', targetChannel: 'C1', message: 'm', error: 'e' });
  await store.appendAudit({ userId: 'U1', action: 'x', result: 'ok' });
  return store;
}

/** Throws on every way of reading it. */
function hostile(): object {
  const boom = (): never => {
    throw new Error('hostile read');
  };
  return new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom });
}

describe('input that throws while it is read', () => {
  const calls: readonly [string, (store: Store, bad: never) => Promise<unknown>][] = [
    ['saveTask', (s, bad) => s.saveTask(bad)],
    ['saveTask params', (s, bad) => s.saveTask({ id: 't2', command: 'c', params: bad })],
    ['saveTask result', (s, bad) => s.saveTask({ id: 't2', command: 'c', params: {}, result: bad })],
    ['completeTask outcome', (s, bad) => s.completeTask('t1', bad)],
    ['listTasks filter', (s, bad) => s.listTasks(bad)],
    ['saveApproval', (s, bad) => s.saveApproval(bad)],
    ['listApprovals filter', (s, bad) => s.listApprovals(bad)],
    ['saveSessionContext', (s, bad) => s.saveSessionContext(bad)],
    ['saveThreadSession', (s, bad) => s.saveThreadSession(bad)],
    ['listThreadSessions filter', (s, bad) => s.listThreadSessions(bad)],
    ['saveDeadLetter', (s, bad) => s.saveDeadLetter(bad)],
    ['listDeadLetters filter', (s, bad) => s.listDeadLetters(bad)],
    ['appendAudit', (s, bad) => s.appendAudit(bad)],
    ['appendAudit details', (s, bad) => s.appendAudit({ userId: 'U1', action: 'a', result: 'ok', details: bad })],
    ['listAudit filter', (s, bad) => s.listAudit(bad)],
    ['runRetention policy', (s, bad) => s.runRetention(bad)],
    ['getTask id', (s, bad) => s.getTask(bad)],
    ['updateTaskStatus status', (s, bad) => s.updateTaskStatus('t1', bad)],
    ['transaction', (s, bad) => s.transaction(async (tx) => tx.saveTask(bad))],
  ];

  it.each(calls)('%s: a ValidationError naming the failure, nothing changed', async (_name, call) => {
    const store = await seeded();
    const before = await snapshot(store);
    const error = await call(store, hostile() as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('VALIDATION');
    expect((error as Error).message).toMatch(/threw: hostile read|is not|Invalid option/);
    expect(await snapshot(store)).toEqual(before);
    expect(store.health().state).toBe('ok');
  });

  it('openStore options that throw while read: a ValidationError, nothing opened', async () => {
    const error = await openStore(hostile() as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('reading them threw: hostile read');
    const getter = await openStore({
      get durability(): never {
        throw new Error('getter');
      },
    } as never).catch((e: unknown) => e);
    expect(getter).toBeInstanceOf(ValidationError);
  });
});

describe('input that answers differently the second time it is read', () => {
  it('a value that is valid JSON when checked and NaN when read again is stored as checked', async () => {
    const store = await seeded();
    let reads = 0;
    const changing = new Proxy({ n: 1 }, { get: (target, key) => (key === 'n' && ++reads > 1 ? Number.NaN : Reflect.get(target, key)) });
    const saved = await store.saveTask({ id: 't2', command: 'c', params: changing });
    expect(reads).toBe(1);
    expect(saved.params).toEqual({ n: 1 });
    expect((await store.getTask('t2'))?.params).toEqual({ n: 1 });
  });

  it('a getter that throws only on its second read cannot fail the write after validation', async () => {
    const store = await seeded();
    let reads = 0;
    const params = {
      get env() {
        if (++reads > 1) throw new Error('second read');
        return 'prod';
      },
    };
    await store.saveTask({ id: 't3', command: 'c', params });
    expect((await store.getTask('t3'))?.params).toEqual({ env: 'prod' });
  });

  it('a key named __proto__ is stored as a key, as JSON.parse reads it', async () => {
    const store = await seeded();
    const params = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    await store.saveTask({ id: 't4', command: 'c', params: params as never });
    const read = (await store.getTask('t4'))?.params as Record<string, unknown>;
    expect(Object.keys(read)).toEqual(['__proto__', 'a']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
  });
});
