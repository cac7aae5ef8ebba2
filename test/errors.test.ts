/**
 * The error classes as users meet them: each has its own `name`, even minified; `code` narrows in
 * TypeScript after `isStoreError`; `instanceof` holds across two copies of the module (the ESM and
 * CJS entries, the browser bundle next to an app's bundle). The built package is tested the same
 * way in test/package/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { isStoreError, LockError, StoreError, ValidationError, type AnyStoreError, type StoreErrorCode } from '../src/errors.js';

type Errors = typeof errors;

const holder = { pid: 42, description: 'process 42 on host a1' };

/** One instance of every class, made with a given copy of the module, with the name and code it must carry. */
function samples(e: Errors): Array<[name: string, code: StoreErrorCode, error: StoreError]> {
  return [
    ['ClosedError', 'CLOSED', new e.ClosedError('the store')],
    ['NotFoundError', 'NOT_FOUND', new e.NotFoundError('tasks', 't1')],
    ['ValidationError', 'VALIDATION', e.ValidationError.of('options', 'bad')],
    ['SchemaVersionError', 'SCHEMA_VERSION', new e.SchemaVersionError('9', 1)],
    ['CorruptDatabaseError', 'CORRUPT', new e.CorruptDatabaseError('not a database', { reason: 'NOT_SQLITE' })],
    ['UnsupportedError', 'UNSUPPORTED', new e.UnsupportedError('no')],
    ['TransactionError', 'TRANSACTION', new e.TransactionError('transactions do not nest')],
    ['SqlError', 'SQL', new e.SqlError('constraint')],
    ['ClockError', 'CLOCK', new e.ClockError('the clock returned NaN')],
    ['LockError', 'LOCKED', new e.LockError('agent.db', holder)],
    ['PersistenceError', 'PERSISTENCE', new e.PersistenceError('disk full', { cause: Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }) })],
    ['ReadOnlyError', 'READ_ONLY', new e.ReadOnlyError()],
    ['SqliteJournalError', 'SQLITE_JOURNAL', new e.SqliteJournalError('a -wal beside it', { path: 'agent.db-wal', kind: 'wal', bytes: 8 })],
    ['LeaseLostError', 'LEASE_LOST', new e.LeaseLostError('t1', 'w1', 'its lease expired')],
    ['ConflictError', 'CONFLICT', new e.ConflictError('a task with id "t1" exists already')],
  ];
}

// Compile-time: every code has its class in AnyStoreError (tsc fails here when one is missing).
const everyCodeHasAClass: [Exclude<StoreErrorCode, AnyStoreError['code']>] extends [never] ? true : false = true;

describe('error classes', () => {
  it('every code has exactly one class, and the union names them all', () => {
    expect(everyCodeHasAClass).toBe(true);
    const codes = samples(errors).map(([, code]) => code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it.each(samples(errors))('%s: its own name, its code, String(err) and the stack start with the name', (name, code, error) => {
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(String(error)).toMatch(new RegExp(`^${name}: \\[@platform-agent/store\\] `));
    expect(error.stack?.split('\n')[0]).toBe(String(error));
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toBeInstanceOf((errors as unknown as Record<string, typeof StoreError>)[name]);
    expect(isStoreError(error)).toBe(true);
  });

  it('isStoreError is false for other errors and non-errors', () => {
    for (const value of [new Error('x'), new TypeError('x'), { code: 'LOCKED' }, 'LockError', null, undefined]) expect(isStoreError(value), String(value)).toBe(false);
  });

  it('after isStoreError, a check of code narrows to the class (typed: tsc checks this file)', () => {
    const caught: unknown = new LockError('agent.db', holder);
    let seen: string | undefined;
    if (isStoreError(caught) && caught.code === 'LOCKED') seen = caught.holder.description;
    if (isStoreError(caught) && caught.code === 'VALIDATION') seen = String(caught.issues.length);
    expect(seen).toBe('process 42 on host a1');
    const code: 'LOCKED' = new LockError('agent.db', holder).code;
    expect(code).toBe('LOCKED');
  });

  it('a subclass of your own is checked by its class alone', () => {
    class AppError extends StoreError<'SQL'> {}
    const mine = new AppError('SQL', 'mine');
    expect(mine).toBeInstanceOf(AppError);
    expect(mine).toBeInstanceOf(StoreError);
    expect(mine.name).toBe('StoreError');
    expect(new errors.SqlError('x')).not.toBeInstanceOf(AppError);
  });
});

describe('instanceof across two copies of the module (minified, as a bundle inlines it)', () => {
  let dir: string;
  let copy: Errors;

  beforeAll(async () => {
    mkdirSync('test-output', { recursive: true });
    dir = mkdtempSync(join('test-output', 'errors-copy-'));
    const outfile = join(dir, 'errors.mjs');
    await build({ entryPoints: ['src/errors.ts'], bundle: true, format: 'esm', platform: 'neutral', minify: true, outfile, logLevel: 'silent' });
    copy = (await import(pathToFileURL(join(process.cwd(), outfile)).href)) as Errors;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the copy is another class, as in a dual-package install', () => {
    expect(copy.StoreError).not.toBe(StoreError);
    expect(Function.prototype[Symbol.hasInstance].call(StoreError, new copy.SqlError('x'))).toBe(false);
  });

  it.each(samples(errors).map(([name]) => name))('%s from either copy is an instance of its class in both, and of no other class', (name) => {
    const ours = samples(errors).find(([n]) => n === name)![2];
    const theirs = samples(copy).find(([n]) => n === name)![2];
    expect(theirs.name).toBe(name); // minified: the literal name survived
    for (const [error, other] of [
      [ours, copy],
      [theirs, errors],
    ] as const) {
      expect(error).toBeInstanceOf(other.StoreError);
      expect(error).toBeInstanceOf((other as unknown as Record<string, typeof StoreError>)[name]);
      expect(other.isStoreError(error)).toBe(true);
      for (const [otherName] of samples(errors)) {
        if (otherName !== name) expect(error, `${name} is no ${otherName}`).not.toBeInstanceOf((other as unknown as Record<string, typeof StoreError>)[otherName]);
      }
    }
    expect(new Error('plain')).not.toBeInstanceOf(copy.StoreError);
    expect(copy.ValidationError.of('x', 'y')).not.toBeInstanceOf(LockError);
    expect(copy.ValidationError.of('x', 'y')).toBeInstanceOf(ValidationError);
  });
});
