import { CorruptDatabaseError, SchemaVersionError } from './errors.js';
import { SCHEMA_V1 } from './schema-v1.js';
import { SCHEMA_V2 } from './schema-v2.js';
import { SCHEMA_V3 } from './schema-v3.js';
import type { SqlPort } from './sql-port.js';
import { foreignDatabase, TABLE_NAMES_SQL } from './foreign.js';

/** One schema step. Steps after 1 only add (columns, tables, indices), never change or drop. */
export interface Migration {
  /** The `meta.schema_version` this step brings the database to. */
  readonly version: number;
  /** What the step adds, for logs. */
  readonly description: string;
  /** The statements, run as one atomic batch together with the version update. */
  readonly statements: readonly string[];
}

/** Every migration this code knows, in order. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "the Go store's schema v1", statements: SCHEMA_V1 },
  { version: 2, description: "the task engine: task_queue, task_history, task_idempotency and the triggers that keep them in step with tasks", statements: SCHEMA_V2 },
  { version: 3, description: 'a claim in one statement: the trigger pa_queue_claimed on task_queue', statements: SCHEMA_V3 },
];

/** The newest schema version this code can open. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Reads `meta.schema_version`: 0 for a database without one (new, or not yet migrated).
 * Throws {@link SchemaVersionError} when the stored value is not a version number.
 */
export async function readSchemaVersion(port: SqlPort): Promise<number> {
  const meta = await port.all("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (meta.length === 0) return 0;
  const rows = await port.all("SELECT value FROM meta WHERE key = 'schema_version'");
  const raw = rows[0]?.value;
  if (raw === undefined || raw === null) return 0;
  const text = String(raw);
  if (!/^[0-9]{1,9}$/.test(text)) throw new SchemaVersionError(text, SCHEMA_VERSION);
  return Number(text);
}

/** Refuses a database at version 0 that is someone else's (see {@link foreignDatabase}) with `CORRUPT` (`NOT_AGENT_DATABASE`). */
export async function refuseForeign(port: SqlPort): Promise<void> {
  const why = foreignDatabase((await port.all(TABLE_NAMES_SQL)).map((r) => String(r.name)));
  if (why) throw new CorruptDatabaseError(why, { reason: 'NOT_AGENT_DATABASE' });
}

/**
 * Brings the database to the newest version, one migration per atomic batch, each gated on the
 * stored version. A database newer than `migrations` knows is refused before anything is written.
 * @returns the version found and the version now stored.
 */
export async function migrate(
  port: SqlPort,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ from: number; to: number }> {
  const from = await readSchemaVersion(port);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  if (from > latest) throw new SchemaVersionError(String(from), latest);
  let version = from;
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    await port.batch([
      ...migration.statements.map((sql) => ({ sql })),
      {
        sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
        params: [String(migration.version)],
      },
    ]);
    version = migration.version;
  }
  return { from, to: version };
}
