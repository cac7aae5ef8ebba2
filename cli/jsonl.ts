/**
 * `export` and `import`: the database as JSON Lines, one record a line, in the API's shapes (the
 * same fields `--json` prints). The first line is a header; every other line is
 * `{"kind": "task" | "approval" | "sessionContext" | "threadSession" | "deadLetter" | "audit", "record": {…}}`.
 * Import checks every line before it writes anything, then writes all of them in one transaction.
 */
import { createReadStream, createWriteStream, existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { z } from 'zod/mini';
import {
  AuditEntrySchema,
  DeadLetterInputSchema,
  PendingApprovalInputSchema,
  SCHEMA_VERSION,
  SessionContextInputSchema,
  TaskInputSchema,
  ThreadSessionInputSchema,
  readSchemaVersion,
  type SqlRow,
  type SqlValue,
  type TransactionHandle,
} from '../src/index.js';
import type { Command } from './command.js';
import { readsNatively, reading, requireFile, writing } from './database.js';
import { createNodeSqliteEngine } from '../engines/node-sqlite.js';
import { APPROVAL_COLUMNS, rowToApproval } from '../src/approvals.js';
import { AUDIT_COLUMNS, rowToAuditEntry } from '../src/audit.js';
import { DEAD_LETTER_COLUMNS, rowToDeadLetter } from '../src/dead-letters.js';
import { CONTEXT_COLUMNS, rowToSessionContext, rowToThreadSession, THREAD_COLUMNS } from '../src/sessions.js';
import { rowToTask, TASK_COLUMNS } from '../src/tasks.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { Progress } from './format.js';

/** The `format` of the header line. */
export const JSONL_FORMAT = 'agent-store-jsonl';

const KINDS = {
  task: { schema: TaskInputSchema, save: (tx: TransactionHandle, r: never) => tx.saveTask(r) },
  approval: { schema: PendingApprovalInputSchema, save: (tx: TransactionHandle, r: never) => tx.saveApproval(r) },
  sessionContext: { schema: SessionContextInputSchema, save: (tx: TransactionHandle, r: never) => tx.saveSessionContext(r) },
  threadSession: { schema: ThreadSessionInputSchema, save: (tx: TransactionHandle, r: never) => tx.saveThreadSession(r) },
  deadLetter: { schema: DeadLetterInputSchema, save: (tx: TransactionHandle, r: never) => tx.saveDeadLetter(r) },
  // Audit ids are SQLite's: an imported entry gets a new one (entries keep their order and times).
  audit: {
    schema: AuditEntrySchema,
    save: (tx: TransactionHandle, r: never) => {
      const { id: _id, ...entry } = r as z.infer<typeof AuditEntrySchema>;
      return tx.appendAudit(entry);
    },
  },
} as const;

type Kind = keyof typeof KINDS;

function formatOf(options: Readonly<Record<string, unknown>>): void {
  const format = options.format;
  if (format !== undefined && format !== 'jsonl') throw new UsageError(`--format must be jsonl (the only format), not "${String(format)}"`);
}

const exportCommand: Command = {
  name: 'export',
  usage: '<db> [--format jsonl] [--out <file>]',
  summary: 'every record as JSON Lines, oldest first (works while the agent runs)',
  details: 'Writes to stdout, or to <file> with --out. On a terminal a progress bar shows on stderr.',
  options: {
    format: { type: 'string', arg: 'jsonl', help: 'the output format (jsonl, the default and only one)' },
    out: { type: 'string', arg: '<file>', help: 'write to this file instead of stdout (it must not exist)' },
  },
  positionals: [1, 1],
  async run(ctx) {
    formatOf(ctx.options);
    const path = ctx.args[0] as string;
    const out = typeof ctx.options.out === 'string' ? ctx.options.out : undefined;
    if (out !== undefined && existsSync(out)) throw new CliError(EXIT.FAILED, 'EXISTS', `${out} exists; choose another file`);
    // Where node:sqlite reads the file, the records are read a page at a time as they are written
    // out (memory stays flat); else from the lists of a store on a snapshot, all at once.
    const native = readsNatively(path);
    const source = (native && (await pagedSource(path, native))) || (await wholeSource(path, ctx.onWarning));
    const { counts } = source;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const stream = out !== undefined ? createWriteStream(out, { flags: 'wx', mode: 0o600 }) : ctx.stdout;
    // A failed write (no such directory, a full disk) ends the export with its error, and a file
    // left half written is removed (it would look like an export and block the next try).
    let failure: Error | undefined;
    const failed = new Promise<never>((_, reject) => {
      stream.on('error', (e: Error) => {
        failure ??= e;
        reject(e);
      });
    });
    failed.catch(() => undefined);
    const progress = new Progress(ctx.stderr, 'export', out !== undefined || !ctx.stdout.isTTY ? total : 0);
    const write = (line: string): Promise<void> => {
      if (failure) return Promise.reject(failure);
      return stream.write(`${line}\n`) ? Promise.resolve() : Promise.race([new Promise<void>((r) => stream.once('drain', () => r())), failed]);
    };
    try {
      await write(JSON.stringify({ kind: 'header', format: JSONL_FORMAT, version: 1, schemaVersion: SCHEMA_VERSION, database: basename(path), exportedAt: Date.now(), counts }));
      for (const kind of Object.keys(KINDS) as Kind[]) {
        for await (const record of source.records(kind)) {
          await write(JSON.stringify({ kind, record }));
          progress.tick();
        }
      }
      progress.finish();
      if (out !== undefined) await Promise.race([new Promise<void>((resolve) => (stream as NodeJS.WritableStream).end(() => resolve())), failed]);
    } catch (e) {
      // Not a file someone else created meanwhile (then the exclusive open itself failed).
      if (out !== undefined && (failure as NodeJS.ErrnoException | undefined)?.code !== 'EEXIST') rmSync(out, { force: true });
      throw e;
    } finally {
      await source.close();
    }
    // With the records on stdout, the summary goes to stderr (and --json prints nothing more there).
    const summary = `exported ${total} records (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')})${out !== undefined ? ` to ${out}` : ''}`;
    if (out === undefined) {
      ctx.note(summary);
      return { json: undefined };
    }
    return { json: { database: path, out, counts, engine: source.engine }, text: summary };
  },
};

/** Where `export` reads the records from: how many of each kind, then each kind's, oldest first. */
interface RecordSource {
  readonly engine: 'node:sqlite' | 'sql.js';
  readonly counts: Record<Kind, number>;
  records(kind: Kind): AsyncIterable<unknown> | Iterable<unknown>;
  close(): Promise<void>;
}

/** The lists of a read-only store (see `reading`), all at once: what sql.js reads from a snapshot. */
async function wholeSource(path: string, onWarning: Parameters<typeof reading>[1]): Promise<RecordSource> {
  const data = await reading(path, onWarning, async (store) => ({
    task: (await store.listTasks()).reverse(),
    approval: (await store.listApprovals()).reverse(),
    sessionContext: (await store.listSessionContexts()).reverse(),
    threadSession: (await store.listThreadSessions()).reverse(),
    deadLetter: (await store.listDeadLetters()).reverse(),
    audit: (await store.listAudit()).reverse(),
  }));
  const counts = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.length])) as Record<Kind, number>;
  return { engine: 'sql.js', counts, records: (kind) => data[kind], close: async () => undefined };
}

/**
 * Each kind's table, in the order its list method's reverse gives (oldest first: its time column,
 * then its rowid), with the list's own columns and row mapping. `paged`: the time column has an
 * index (v1's `idx_tasks_created`, `idx_audit_created`), so each page is a range of it; the other
 * tables (without one, and kept small by retention) are read in one query, as their list does.
 */
const TABLES: Record<Kind, { table: string; columns: string; order: string; paged: boolean; map: (row: SqlRow) => unknown }> = {
  task: { table: 'tasks', columns: TASK_COLUMNS, order: 'created_at', paged: true, map: rowToTask },
  approval: { table: 'pending_approvals', columns: APPROVAL_COLUMNS, order: 'created_at', paged: false, map: rowToApproval },
  sessionContext: { table: 'session_contexts', columns: CONTEXT_COLUMNS, order: 'last_used', paged: false, map: rowToSessionContext },
  threadSession: { table: 'thread_sessions', columns: THREAD_COLUMNS, order: 'last_message_at', paged: false, map: rowToThreadSession },
  deadLetter: { table: 'dead_letters', columns: DEAD_LETTER_COLUMNS, order: 'created_at', paged: false, map: rowToDeadLetter },
  audit: { table: 'audit_log', columns: AUDIT_COLUMNS, order: 'created_at', paged: true, map: rowToAuditEntry },
};

/** Rows per page of {@link pagedSource}. */
const PAGE_ROWS = 1000;

/**
 * The records read through node:sqlite on the file itself, a page at a time (keyset pages: after
 * the last page's time and rowid). Each page is its own read, not one transaction for the whole
 * export: a reader that takes its time (`export db | less`) must not hold a lock that keeps the
 * agent from writing or its `-wal` from being checkpointed. So with an agent writing meanwhile, a
 * record is exported as it was when its page was read (never torn, never twice: the pages follow
 * the time order), and the header's counts are those at the start. `undefined` (and nothing left
 * open) for a file the store would not read so (no agent schema, or a newer one): the lists then say why.
 */
async function pagedSource(path: string, native: { readOnly: true; immutable: boolean }): Promise<RecordSource | undefined> {
  const engine = createNodeSqliteEngine({ path, ...native });
  try {
    const version = await readSchemaVersion(engine);
    if (version < 1 || version > SCHEMA_VERSION) {
      await engine.close();
      return undefined;
    }
    const counts = {} as Record<Kind, number>;
    for (const kind of Object.keys(TABLES) as Kind[]) counts[kind] = Number((await engine.all(`SELECT count(*) AS n FROM ${TABLES[kind].table}`))[0]?.n ?? 0);
    return {
      engine: 'node:sqlite',
      counts,
      async *records(kind) {
        const { table, columns, order, paged, map } = TABLES[kind];
        if (!paged) {
          for (const row of await engine.all(`SELECT ${columns} FROM ${table} ORDER BY ${order} ASC, rowid ASC`)) yield map(row);
          return;
        }
        let after: [SqlValue, SqlValue] | undefined;
        for (;;) {
          const rows = await engine.all(
            `SELECT rowid AS pa_rowid, ${columns} FROM ${table}${after ? ` WHERE (${order}, rowid) > (?, ?)` : ''} ORDER BY ${order} ASC, rowid ASC LIMIT ${PAGE_ROWS}`,
            after ?? [],
          );
          for (const row of rows) yield map(row);
          const last = rows[rows.length - 1];
          if (!last || rows.length < PAGE_ROWS) return;
          after = [last[order] as SqlValue, last.pa_rowid as SqlValue];
        }
      },
      async close() {
        await engine.close();
      },
    };
  } catch (e) {
    await engine.close();
    throw e;
  }
}

interface Parsed {
  readonly kind: Kind;
  readonly record: unknown;
}

const importCommand: Command = {
  name: 'import',
  usage: '<file> <db> [--format jsonl]',
  summary: 'writes the records of a JSON Lines export into a database (created when missing), all or nothing',
  details:
    'Every line is checked first; one bad line stops the import with exit 8 and nothing is written. Records replace those with the same key (as save… does); audit entries are appended with new ids. The database must not be open in a running store.',
  options: { format: { type: 'string', arg: 'jsonl', help: 'the input format (jsonl, the default and only one)' } },
  positionals: [2, 2],
  async run(ctx) {
    formatOf(ctx.options);
    const [file, path] = ctx.args as [string, string];
    requireFile(file, 'import file');
    const records: Parsed[] = [];
    const problems: string[] = [];
    let lineNo = 0;
    let header = false;
    // Loaded here, not at start-up: every other command would pay for it.
    const { createInterface } = await import('node:readline');
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      if (problems.length >= 20) break;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        problems.push(`line ${lineNo}: not JSON (${(e as Error).message})`);
        continue;
      }
      const item = value as { kind?: unknown; record?: unknown; format?: unknown; schemaVersion?: unknown };
      if (item?.kind === 'header') {
        if (item.format !== JSONL_FORMAT) problems.push(`line ${lineNo}: a header of another format (${String(item.format)})`);
        else if (typeof item.schemaVersion === 'number' && item.schemaVersion > SCHEMA_VERSION) problems.push(`line ${lineNo}: exported from schema v${item.schemaVersion}, newer than v${SCHEMA_VERSION}`);
        header = true;
        continue;
      }
      if (typeof item?.kind !== 'string' || !Object.hasOwn(KINDS, item.kind)) {
        problems.push(`line ${lineNo}: "kind" must be one of ${Object.keys(KINDS).join(', ')}`);
        continue;
      }
      const kind = item.kind as Kind;
      const checked = KINDS[kind].schema.safeParse(item.record);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        problems.push(`line ${lineNo}: ${kind} ${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`);
        continue;
      }
      records.push({ kind, record: item.record });
    }
    if (!header && problems.length === 0 && records.length === 0) problems.push('the file holds no records (an export starts with a header line)');
    if (problems.length > 0) {
      throw new CliError(EXIT.INVALID_INPUT, 'VALIDATION', `${file} is not a valid export; nothing was written:\n  ${problems.join('\n  ')}`, { details: problems });
    }
    const progress = new Progress(ctx.stderr, 'import', records.length);
    const counts: Partial<Record<Kind, number>> = {};
    try {
      await writing(
        path,
        ctx.onWarning,
        (store) =>
          store.transaction(async (tx) => {
            for (const { kind, record } of records) {
              await KINDS[kind].save(tx, record as never);
              counts[kind] = (counts[kind] ?? 0) + 1;
              progress.tick();
            }
          }),
        { create: true },
      );
    } finally {
      progress.finish();
    }
    return { json: { database: path, file, imported: records.length, counts }, text: `imported ${records.length} records into ${path} (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})` };
  },
};

/** `export` and `import`. */
export const JSONL_COMMANDS: readonly Command[] = [exportCommand, importCommand];
