import type { Engine } from '../src/engine.js';
import type { SqlRow, SqlRunResult, SqlStatement, SqlValue } from '../src/sql-port.js';

/**
 * The store on Cloudflare D1: the same migrations and the same domain queries, through the core's
 * SQL port, on D1's replicated SQLite. `openStore({ engine: createD1Engine(env.DB) })`.
 *
 * D1 has no interactive transactions: every multi-statement write of the store is one `batch()`,
 * which D1 runs atomically, and `store.transaction()` is refused with an `UnsupportedError`. There is
 * no image to export or checkpoint (D1 keeps its own storage), and every write is durable when it
 * resolves.
 */

/** The part of a D1 prepared statement the engine uses. */
export interface D1PreparedStatementLike {
  bind(...values: unknown[]): D1PreparedStatementLike;
  all(): Promise<{ results?: unknown[]; meta?: { changes?: number; size_after?: number } }>;
  run(): Promise<{ meta?: { changes?: number; size_after?: number } }>;
}

/** The part of a D1 database binding (`env.DB`) the engine uses. */
export interface D1DatabaseLike {
  prepare(sql: string): D1PreparedStatementLike;
  batch(statements: D1PreparedStatementLike[]): Promise<{ results?: unknown[]; meta?: { changes?: number } }[]>;
}

/** Queries change nothing (D1 may still report a count); every other statement reports D1's own. */
const QUERY = /^\s*SELECT\b/i;
/**
 * Statements whose count of changed rows the store reads. D1's `meta.changes` also counts the rows
 * triggers changed (schema v2 keeps its tables in step with triggers), where SQLite's `changes()`
 * counts the statement's own: so each is followed, in the same batch, by `SELECT changes()`.
 */
const DML = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;
const CHANGES = 'SELECT changes() AS changes';

function changesOf(sql: string, meta: { changes?: number } | undefined): number {
  return QUERY.test(sql) ? 0 : Number(meta?.changes ?? 0);
}

function changesRow(result: { results?: unknown[] } | undefined): number {
  return Number((result?.results?.[0] as { changes?: unknown } | undefined)?.changes ?? 0);
}

function toValue(value: unknown): SqlValue {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value === undefined) return null;
  // The store's schema holds no blobs; anything else is reported as text rather than dropped.
  return String(value);
}

function toRow(row: unknown): SqlRow {
  const out: SqlRow = {};
  for (const [column, value] of Object.entries(row as Record<string, unknown>)) out[column] = toValue(value);
  return out;
}

/**
 * An engine on a D1 database binding. It has no `transaction()`: `store.transaction(fn)` rejects with
 * `UNSUPPORTED`; use single operations (multi-statement ones, such as retention, are atomic batches).
 */
export function createD1Engine(db: D1DatabaseLike): Engine & { sizeBytes(): Promise<number> } {
  if (typeof db !== 'object' || db === null || typeof db.prepare !== 'function' || typeof db.batch !== 'function') {
    throw new TypeError('createD1Engine() needs a D1 database binding (env.DB): an object with prepare() and batch()');
  }
  let closed = false;
  const usable = (): void => {
    if (closed) throw Object.assign(new Error('the D1 engine is closed'), { code: 'CLOSED' });
  };
  const statement = (sql: string, params: readonly SqlValue[] = []): D1PreparedStatementLike => {
    const prepared = db.prepare(sql);
    return params.length > 0 ? prepared.bind(...params) : prepared;
  };
  return {
    name: 'D1',
    durable: true,
    async run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
      usable();
      if (DML.test(sql)) {
        const [, counted] = await db.batch([statement(sql, params), statement(CHANGES)]);
        return { changes: changesRow(counted) };
      }
      const result = await statement(sql, params).run();
      return { changes: changesOf(sql, result.meta) };
    },
    async all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
      usable();
      const result = await statement(sql, params).all();
      return (result.results ?? []).map(toRow);
    },
    async batch(statements: readonly SqlStatement[]): Promise<SqlRunResult[]> {
      usable();
      if (statements.length === 0) return [];
      // Each write followed by its own count (see DML above), in the one atomic batch.
      const prepared: D1PreparedStatementLike[] = [];
      const counted: (number | undefined)[] = [];
      for (const s of statements) {
        prepared.push(statement(s.sql, s.params));
        if (DML.test(s.sql)) {
          counted.push(prepared.length);
          prepared.push(statement(CHANGES));
        } else counted.push(undefined);
      }
      const results = await db.batch(prepared);
      let at = 0;
      return statements.map((s, i) => {
        const count = counted[i];
        const own = results[at];
        at += count === undefined ? 1 : 2;
        return { changes: count === undefined ? changesOf(s.sql, own?.meta) : changesRow(results[count]) };
      });
    },
    /** The database's size as D1 reports it after a statement (D1 forbids the page pragmas). */
    async sizeBytes(): Promise<number> {
      usable();
      const result = await statement('SELECT 1').all();
      return Number(result.meta?.size_after ?? 0);
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
