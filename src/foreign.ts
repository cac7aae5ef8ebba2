/**
 * Telling another program's SQLite database from the agent's, before anything is written to it:
 * in an adapter's file (the store's alone) the store adds its schema only to an empty database or
 * an agent database; the `agent-store` command reads and writes only those.
 */

/**
 * The names of a database's own tables, in order: what {@link foreignDatabase} judges. Not
 * SQLite's (`sqlite_`) nor Cloudflare D1's (`_cf_`, such as `_cf_METADATA`, in every D1 database).
 */
export const TABLE_NAMES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name";

/**
 * Why a database with these tables is someone else's, or `undefined`: it has tables and no
 * `tasks` (the agent's first table: the Go schema and the store's own create it before `meta`, in
 * one batch; a `meta` table alone is a common name, no sign). An empty database, or one with the
 * agent's tables and no version yet, is the store's to migrate.
 */
export function foreignDatabase(tables: readonly string[]): string | undefined {
  if (tables.length === 0 || tables.includes('tasks')) return undefined;
  const shown = tables.length > 5 ? `${tables.slice(0, 5).join(', ')} and ${tables.length - 5} more` : tables.join(', ');
  return `this SQLite database is not an agent database: it has tables (${shown}) but none of the agent's and no schema version; the store adds its tables only to an empty or an agent database, so nothing was changed`;
}
