import type { SqlPort, SqlRow, SqlValue } from './sql-port.js';

/** What every domain operation gets: the SQL port and the clock. */
export interface Context {
  /** The port to run statements on (the store's, or an open transaction's). */
  readonly port: SqlPort;
  /** The current time in Unix ms, from the store's injectable clock. */
  now(): number;
}

/** `LIMIT ?` takes -1 for "no limit", so one statement text serves both. */
export function limitParam(limit: number | undefined): number {
  return limit ?? -1;
}

/** Reads a NOT NULL text column. */
export function text(row: SqlRow, column: string): string {
  const v = row[column];
  return typeof v === 'string' ? v : String(v ?? '');
}

/** Reads a nullable text column: NULL is `undefined`. */
export function optionalText(row: SqlRow, column: string): string | undefined {
  const v = row[column];
  return v === null || v === undefined ? undefined : typeof v === 'string' ? v : String(v);
}

/** Reads a NOT NULL integer column. */
export function int(row: SqlRow, column: string): number {
  return Number(row[column] ?? 0);
}

/** Reads a nullable integer column: NULL is `undefined`. */
export function optionalInt(row: SqlRow, column: string): number | undefined {
  const v = row[column];
  return v === null || v === undefined ? undefined : Number(v);
}

/** `undefined` becomes SQL NULL. */
export function orNull(v: string | number | undefined): SqlValue {
  return v === undefined ? null : v;
}

/** Builds `WHERE a = ? AND b = ?` from the conditions that apply. */
export function where(conditions: readonly (readonly [clause: string, param: SqlValue] | undefined)[]): {
  sql: string;
  params: SqlValue[];
} {
  const present = conditions.filter((c): c is readonly [string, SqlValue] => c !== undefined);
  return {
    sql: present.length === 0 ? '' : ` WHERE ${present.map((c) => c[0]).join(' AND ')}`,
    params: present.map((c) => c[1]),
  };
}

/** A copy without `undefined`-valued keys, so a returned record has exactly the keys a read gives. */
export function compact<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out as T;
}
