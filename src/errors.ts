import type { z } from 'zod/mini';

const PREFIX = '[@platform-agent/store]';

/** Every error code the store throws. Match on `code`, not on the message text. */
export type StoreErrorCode =
  | 'CLOSED'
  | 'NOT_FOUND'
  | 'VALIDATION'
  | 'SCHEMA_VERSION'
  | 'CORRUPT'
  | 'UNSUPPORTED'
  | 'TRANSACTION'
  | 'SQL'
  | 'CLOCK'
  | 'LOCKED'
  | 'PERSISTENCE'
  | 'READ_ONLY'
  | 'SQLITE_JOURNAL'
  | 'LEASE_LOST'
  | 'CONFLICT';

/** Who holds a database's exclusive ownership, as far as an adapter can tell. */
export interface LockHolder {
  /** The holder's process id, when the adapter can know it. */
  readonly pid?: number;
  /** The holder's host name, when the adapter can know it. */
  readonly host?: string;
  /** A description for messages, e.g. `process 4242 on host a1 since 2026-11-27T10:00:00.000Z`. */
  readonly description: string;
}

/**
 * Marks the store's error classes, so `instanceof` also knows an error made by another copy of this
 * module: the ESM and the CJS entry, or the `./browser` bundle beside a bundled app, each carry
 * their own classes. `Symbol.for` is one symbol across all of them.
 */
const BRAND: unique symbol = Symbol.for('@platform-agent/store.error-class');

/**
 * Gives an error class its `name` as a literal: minifiers and bundlers rename classes (`e`,
 * `_ValidationError`), so `new.target.name` would not survive a user's build. On the prototype, as
 * the built-in errors have it, so `String(err)` and the stack start with it.
 */
function named(cls: abstract new (...args: never[]) => StoreError, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  Object.defineProperty(cls.prototype, BRAND, { value: name });
}

/** Options accepted by every {@link StoreError} constructor. */
export interface StoreErrorOptions {
  /** The underlying error, chained as the standard `cause`. */
  cause?: unknown;
}

/**
 * The base of every error this package throws. `code` is stable; the message names the thing.
 * Every error the store throws is one of its subclasses (see {@link AnyStoreError}); to narrow on
 * `code`, use {@link isStoreError}.
 * @example
 * try { await store.updateTaskStatus('t1', 'running'); }
 * catch (e) { if (e instanceof StoreError && e.code === 'NOT_FOUND') ... }
 */
export class StoreError<C extends StoreErrorCode = StoreErrorCode> extends Error {
  static {
    named(this, 'StoreError');
  }

  /** A stable, machine-readable code. */
  readonly code: C;

  constructor(code: C, message: string, options: StoreErrorOptions = {}) {
    super(message.startsWith(PREFIX) ? message : `${PREFIX} ${message}`, { cause: options.cause });
    this.code = code;
  }

  /**
   * `instanceof` by class, then by brand: an error of the same class from another copy of this
   * package (its CJS entry, its browser bundle) is an instance too. A subclass of your own is
   * checked by its class alone.
   */
  static [Symbol.hasInstance]<T extends abstract new (...args: never[]) => unknown>(this: T, value: unknown): value is InstanceType<T> {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const prototype = this.prototype as Record<symbol, unknown>;
    if (typeof value !== 'object' || value === null || !Object.hasOwn(prototype, BRAND)) return false;
    for (let p: object | null = Object.getPrototypeOf(value) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
      if (Object.hasOwn(p, BRAND) && (p as Record<symbol, unknown>)[BRAND] === prototype[BRAND]) return true;
    }
    return false;
  }
}

/** The store (or a transaction handle) was used after `close()` (or after the transaction ended). */
export class ClosedError extends StoreError<'CLOSED'> {
  static {
    named(this, 'ClosedError');
  }

  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** An update addressed a row that does not exist. */
export class NotFoundError extends StoreError<'NOT_FOUND'> {
  static {
    named(this, 'NotFoundError');
  }

  /** The table the row was looked up in, e.g. `tasks`. */
  readonly entity: string;
  /** The key that was looked up. */
  readonly key: string;

  constructor(entity: string, key: string) {
    super('NOT_FOUND', `${entity} ${JSON.stringify(key)} not found`);
    this.entity = entity;
    this.key = key;
  }
}

/** A record or argument failed validation; nothing was written. `issues` are zod's, with field paths. */
export class ValidationError extends StoreError<'VALIDATION'> {
  static {
    named(this, 'ValidationError');
  }

  /** zod's issues: each has a `path` into the input and a `message`. */
  readonly issues: z.core.$ZodIssue[];

  constructor(what: string, issues: z.core.$ZodIssue[], options: StoreErrorOptions = {}) {
    const detail = issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    super('VALIDATION', `invalid ${what}: ${detail}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ''}`, options);
    this.issues = issues;
  }

  /** A validation error about one thing that zod did not check (an option, a callback). */
  static of(what: string, message: string, options: StoreErrorOptions = {}): ValidationError {
    return new ValidationError(what, [{ code: 'custom', message, path: [], input: undefined } as z.core.$ZodIssue], options);
  }
}

/** The database's `meta.schema_version` is newer than this code knows (or unreadable); it was left untouched. */
export class SchemaVersionError extends StoreError<'SCHEMA_VERSION'> {
  static {
    named(this, 'SchemaVersionError');
  }

  /** The version found in the file, as stored. */
  readonly found: string;
  /** The newest version this code can open. */
  readonly supported: number;

  constructor(found: string, supported: number) {
    super(
      'SCHEMA_VERSION',
      `database schema_version ${JSON.stringify(found)} is not one this code can open (it knows up to ${supported}); upgrade @platform-agent/store`,
    );
    this.found = found;
    this.supported = supported;
  }
}

/**
 * What is wrong with a database a {@link CorruptDatabaseError} refuses:
 * - `EMPTY`: the file (image) has zero bytes: a truncated file or a failed copy, not a database;
 * - `NOT_SQLITE`: its first bytes are not SQLite's header (`SQLite format 3`);
 * - `TRUNCATED`: it is shorter than its header says (page count × page size): pages are missing;
 * - `TRAILING_BYTES`: it is longer than its header says: something was written past its end;
 * - `DAMAGED`: SQLite finds it damaged (a malformed page, an unreadable header field);
 * - `JOURNAL_DAMAGED`: the store's journal is damaged (a bad checksum with intact records after
 *   it, a last record whole but failing its checksum, a sequence gap, a record that does not apply);
 * - `JOURNAL_MISMATCH`: the journal belongs to another image (another database, or an older or
 *   newer copy of this one), or holds records and there is no image;
 * - `NOT_AGENT_DATABASE`: it is a sound SQLite database, but someone else's: it has tables and no
 *   schema version, and none of the agent's tables. The store adds its schema only to an empty
 *   database or an agent database, never into another program's file.
 */
export type CorruptReason = 'EMPTY' | 'NOT_SQLITE' | 'TRUNCATED' | 'TRAILING_BYTES' | 'DAMAGED' | 'JOURNAL_DAMAGED' | 'JOURNAL_MISMATCH' | 'NOT_AGENT_DATABASE';

/** Options of {@link CorruptDatabaseError}. */
export interface CorruptDatabaseErrorOptions extends StoreErrorOptions {
  /** What is wrong. @default 'DAMAGED' */
  reason?: CorruptReason;
}

/**
 * The bytes are not a SQLite database, or the database or its journal is damaged. Nothing was
 * read into the store and nothing was written: every byte is as it was. `reason` says what.
 */
export class CorruptDatabaseError extends StoreError<'CORRUPT'> {
  static {
    named(this, 'CorruptDatabaseError');
  }

  /** What is wrong (see {@link CorruptReason}). */
  readonly reason: CorruptReason;

  constructor(message: string, options: CorruptDatabaseErrorOptions = {}) {
    super('CORRUPT', message, options);
    this.reason = options.reason ?? 'DAMAGED';
  }
}

/** The engine cannot do what was asked (for example, an interactive transaction on an engine with only batches). */
export class UnsupportedError extends StoreError<'UNSUPPORTED'> {
  static {
    named(this, 'UnsupportedError');
  }

  constructor(message: string, options: StoreErrorOptions = {}) {
    super('UNSUPPORTED', message, options);
  }
}

/** SQLite reported an error that is none of the above (a constraint, a full heap). */
export class SqlError extends StoreError<'SQL'> {
  static {
    named(this, 'SqlError');
  }

  constructor(message: string, options: StoreErrorOptions = {}) {
    super('SQL', message, options);
  }
}

/**
 * A transaction could not go on or commit: transactions do not nest, one of its statements failed
 * (so it can only roll back), or the image was exported while it was open.
 */
export class TransactionError extends StoreError<'TRANSACTION'> {
  static {
    named(this, 'TransactionError');
  }

  constructor(message: string, options: StoreErrorOptions = {}) {
    super('TRANSACTION', message, options);
  }
}

/** The injected clock returned something that is not Unix milliseconds (a non-negative integer); nothing was written. */
export class ClockError extends StoreError<'CLOCK'> {
  static {
    named(this, 'ClockError');
  }

  constructor(message: string, options: StoreErrorOptions = {}) {
    super('CLOCK', message, options);
  }
}

/**
 * Another live owner holds the database for writing (another store, in this process or another).
 * Nothing was read or written. Open it with `readOnly: true`, or close the other store first.
 */
export class LockError extends StoreError<'LOCKED'> {
  static {
    named(this, 'LockError');
  }

  /** Who holds it (`pid` for a process on this machine). */
  readonly holder: LockHolder;

  constructor(location: string, holder: LockHolder, options: StoreErrorOptions = {}) {
    super('LOCKED', `${location} is locked by ${holder.description}; open it readOnly or close that store first`, options);
    this.holder = holder;
  }
}

/** Options of {@link PersistenceError}. */
export interface PersistenceErrorOptions extends StoreErrorOptions {
  /** Whether the write this error rejects was applied in memory (its flush failed). @default false */
  applied?: boolean;
}

/**
 * Writing to the persistence adapter failed (a full disk, an I/O error, no permission, a quota).
 * When `applied` is true, the write this error rejects was applied in memory but is **not durable
 * and not acknowledged**: its outcome is unknown, like a commit whose connection dropped. The
 * store keeps retrying in the background, so it is persisted once a retry succeeds, or lost if
 * the process ends first: do not repeat it (a second `appendAudit` would add a second row);
 * `await store.flush()` resolves once it is durable. When `applied` is false, the write was
 * refused before it ran (the store is degraded) and nothing happened: it is safe to repeat. Until
 * a flush succeeds, new writes are refused and `store.health().state` is `'degraded'`; reads keep
 * working.
 */
export class PersistenceError extends StoreError<'PERSISTENCE'> {
  static {
    named(this, 'PersistenceError');
  }

  /**
   * What failed, when the adapter said: the `code` of the adapter's error (for example `ENOSPC` or
   * `EACCES` from the file system; `QUOTA_EXCEEDED`, `DATABASE_DELETED`, `DATABASE_BLOCKED`,
   * `INDEXEDDB_UNAVAILABLE`, `INDEXEDDB_ERROR`, `WEB_LOCKS_UNAVAILABLE` or `OWNERSHIP_LOST` from IndexedDB), found along the `cause` chain.
   */
  readonly reason: string | undefined;
  /**
   * `true`: the rejected write is applied in memory, and will be durable once a retry succeeds (do
   * not repeat it; `store.flush()` tells when). `false`: nothing was applied.
   */
  readonly applied: boolean;

  constructor(message: string, options: PersistenceErrorOptions = {}) {
    super('PERSISTENCE', message, options);
    this.reason = reasonOf(options.cause);
    this.applied = options.applied === true;
  }
}

function reasonOf(cause: unknown): string | undefined {
  for (let e = cause, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PersistenceError) return e.reason;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
  }
  return undefined;
}

/**
 * SQLite's own journal sits beside the database file with content in it: a write-ahead log
 * (`-wal`) or a hot rollback journal (`-journal`). Its writes are part of the database only for
 * SQLite itself: a SQLite program (the Go agent, the `sqlite3` shell) has the file open, or
 * crashed with it open. This store reads the file alone, so it would miss them (and a writer
 * would later have them replayed onto its image and damage it): nothing was read or written.
 * Close that program; after a crash, open the file once with SQLite (`sqlite3 agent.db
 * 'PRAGMA wal_checkpoint(TRUNCATE)'`), which folds the journal in.
 */
export class SqliteJournalError extends StoreError<'SQLITE_JOURNAL'> {
  static {
    named(this, 'SqliteJournalError');
  }

  /** The journal file found, e.g. `/data/agent.db-wal`. */
  readonly path: string;
  /** `'wal'` for a write-ahead log, `'rollback'` for a hot rollback journal, `'shm'` for a live WAL index. */
  readonly kind: 'wal' | 'rollback' | 'shm';
  /** The journal's size in bytes when it was found. */
  readonly bytes: number;

  constructor(message: string, details: { path: string; kind: 'wal' | 'rollback' | 'shm'; bytes: number }, options: StoreErrorOptions = {}) {
    super('SQLITE_JOURNAL', message, options);
    this.path = details.path;
    this.kind = details.kind;
    this.bytes = details.bytes;
  }
}

/** A write was attempted on a store opened with `readOnly: true`. Nothing changed. */
export class ReadOnlyError extends StoreError<'READ_ONLY'> {
  static {
    named(this, 'ReadOnlyError');
  }

  constructor(what = 'this store') {
    super('READ_ONLY', `${what} was opened readOnly; writes are refused`);
  }
}

/**
 * A worker acted on a task it no longer holds: its lease expired (and the task may be another
 * worker's now), the task left `running`, or (with a fence) a later claim took it. Nothing changed.
 */
export class LeaseLostError extends StoreError<'LEASE_LOST'> {
  static {
    named(this, 'LeaseLostError');
  }

  /** The task. */
  readonly taskId: string;
  /** The worker that asked. */
  readonly workerId: string;

  constructor(taskId: string, workerId: string, why: string) {
    super('LEASE_LOST', `worker ${JSON.stringify(workerId)} does not hold task ${JSON.stringify(taskId)}: ${why}; nothing was changed`);
    this.taskId = taskId;
    this.workerId = workerId;
  }
}

/** The write conflicts with what is stored (a task id taken, a task already ended). Nothing changed. */
export class ConflictError extends StoreError<'CONFLICT'> {
  static {
    named(this, 'ConflictError');
  }

  constructor(message: string, options: StoreErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/**
 * Every error the store throws, one class per {@link StoreErrorCode}: after {@link isStoreError},
 * a check of `code` narrows to its class.
 */
export type AnyStoreError =
  | ClosedError
  | NotFoundError
  | ValidationError
  | SchemaVersionError
  | CorruptDatabaseError
  | UnsupportedError
  | TransactionError
  | SqlError
  | ClockError
  | LockError
  | PersistenceError
  | ReadOnlyError
  | SqliteJournalError
  | LeaseLostError
  | ConflictError;

/**
 * Whether `value` is an error of this package (from this copy of it or another: see
 * `StoreError[Symbol.hasInstance]`), typed so that `code` narrows to the class.
 * @example
 * catch (e) { if (isStoreError(e) && e.code === 'LOCKED') console.log(e.holder.description); }
 */
export function isStoreError(value: unknown): value is AnyStoreError {
  return value instanceof StoreError;
}
