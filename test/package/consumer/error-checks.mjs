// Shared by the consumer's scripts (Node ESM and CJS, Vite's app, the ./browser page): what every
// error class of one loaded copy of the package looks like. Plain JavaScript, run as users run it.

/** Arguments to build each class with. A class the package exports without an entry here is reported. */
export const ARGS = {
  StoreError: ['SQL', 'base'],
  ClosedError: ['the store'],
  NotFoundError: ['tasks', 't1'],
  ValidationError: ['task', [{ code: 'custom', message: 'bad', path: ['id'], input: '' }]],
  SchemaVersionError: ['9', 1],
  CorruptDatabaseError: ['not a database', { reason: 'NOT_SQLITE' }],
  UnsupportedError: ['no'],
  TransactionError: ['transactions do not nest'],
  SqlError: ['constraint'],
  ClockError: ['the clock returned NaN'],
  LockError: ['agent.db', { pid: 42, description: 'process 42' }],
  PersistenceError: ['disk full'],
  ReadOnlyError: [],
  SqliteJournalError: ['a -wal beside it', { path: 'agent.db-wal', kind: 'wal', bytes: 8 }],
  LeaseLostError: ['t1', 'w1', 'its lease expired'],
  ConflictError: ['a task with id "t1" exists already'],
};

/** The exported classes that are errors, by export name. */
export function errorClasses(mod) {
  return Object.entries(mod).filter(([, value]) => typeof value === 'function' && (value === mod.StoreError || value.prototype instanceof Error));
}

/** One instance of each exported error class, and what it says of itself. */
export function describeErrors(mod) {
  const out = {};
  for (const [exported, cls] of errorClasses(mod)) {
    const args = ARGS[exported];
    if (!args) {
      out[exported] = { missing: 'no constructor arguments in error-checks.mjs' };
      continue;
    }
    const error = new cls(...args);
    out[exported] = {
      name: error.name,
      prefix: String(error).slice(0, String(error).indexOf(':')),
      stackStart: String(error.stack).split('\n')[0] === String(error),
      code: error.code,
      instanceOfOwn: error instanceof cls,
      instanceOfStoreError: error instanceof mod.StoreError,
      instanceOfError: error instanceof Error,
      isStoreError: mod.isStoreError(error),
    };
  }
  return out;
}

/** For each error class: whether an instance made by copy `a` is an instance of copy `b`'s class, and of none other of `b`'s. */
export function crossInstanceof(a, b) {
  const out = {};
  for (const [exported, cls] of errorClasses(a)) {
    if (!ARGS[exported]) continue;
    const error = new cls(...ARGS[exported]);
    const others = errorClasses(b)
      .filter(([name, other]) => error instanceof other && name !== exported && name !== 'StoreError')
      .map(([name]) => name);
    out[exported] = { sameClass: error instanceof b[exported], storeError: error instanceof b.StoreError, isStoreError: b.isStoreError(error), alsoInstanceOf: others };
  }
  return out;
}

/** Opens a store, writes a task and reads it back, then returns the real ValidationError of a task without an id. */
export async function apiValidationError(mod, options = {}) {
  const store = await mod.openStore(options);
  try {
    await store.saveTask({ id: 'ok', command: 'deploy', params: { service: 'api' } });
    if ((await store.listTasks()).length !== 1) throw new Error('the task written is not read back');
    await store.saveTask({ id: '', command: 'deploy', params: {} });
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await store.close();
  }
}
