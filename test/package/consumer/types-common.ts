// Compiled by tsc against the installed package (test/package/): the error types narrow as the
// README says. Shared by the node16 (ESM and CJS) and bundler consumers.
import { isStoreError, LockError, openStore, StoreError, ValidationError, type AnyStoreError, type StoreErrorCode, type Task } from '@platform-agent/store';

export function describe(e: unknown): string {
  if (isStoreError(e) && e.code === 'LOCKED') return `${e.holder.description} ${e.holder.pid ?? ''}`;
  if (isStoreError(e) && e.code === 'VALIDATION') return e.issues.map((issue) => issue.message).join('; ');
  if (isStoreError(e) && e.code === 'CORRUPT') return e.reason;
  if (isStoreError(e)) {
    // @ts-expect-error holder is a LockError's alone: without the check of code, it is not there
    return e.holder.description;
  }
  if (e instanceof LockError) {
    const code: 'LOCKED' = e.code;
    return code;
  }
  if (e instanceof ValidationError) return e.issues.length.toString();
  if (e instanceof StoreError) {
    const code: StoreErrorCode = e.code;
    return code;
  }
  return String(e);
}

// Every code has its class in the union.
export const everyCode: [Exclude<StoreErrorCode, AnyStoreError['code']>] extends [never] ? true : false = true;

export async function firstTask(): Promise<Task | undefined> {
  const store = await openStore();
  await store.saveTask({ id: 't1', command: 'deploy', params: {} });
  const [task] = await store.listTasks();
  await store.close();
  return task;
}
