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
  type TransactionHandle,
} from '../src/index.js';
import type { Command } from './command.js';
import { reading, requireFile, writing } from './database.js';
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
    const data = await reading(path, ctx.onWarning, async (store) => ({
      task: (await store.listTasks()).reverse(),
      approval: (await store.listApprovals()).reverse(),
      sessionContext: (await store.listSessionContexts()).reverse(),
      threadSession: (await store.listThreadSessions()).reverse(),
      deadLetter: (await store.listDeadLetters()).reverse(),
      audit: (await store.listAudit()).reverse(),
    }));
    const counts = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.length])) as Record<Kind, number>;
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
        for (const record of data[kind]) {
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
    }
    // With the records on stdout, the summary goes to stderr (and --json prints nothing more there).
    const summary = `exported ${total} records (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')})${out !== undefined ? ` to ${out}` : ''}`;
    if (out === undefined) {
      ctx.note(summary);
      return { json: undefined };
    }
    return { json: { database: path, out, counts }, text: summary };
  },
};

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
