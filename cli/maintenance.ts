/**
 * The maintenance commands: `check`, `retention`, `checkpoint`, `migrate`, `backup` and `restore`.
 * Those that write take ownership of the database (a running agent makes them fail with LOCKED);
 * `check`, `backup` and `retention --dry-run` read, so they work while the agent runs.
 */
import { closeSync, existsSync, fsyncSync, lstatSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { createFileAdapter, fileAdapterPaths, journalRecords } from '../adapters/fs.js';
import { createMemoryAdapter } from '../adapters/memory.js';
import {
  CorruptDatabaseError,
  createSqlJsEngine,
  LockError,
  DEFAULT_RETENTION,
  IMAGE_ID_KEY,
  IMAGE_PARENT_KEY,
  journalContinuation,
  migrate,
  newImageId,
  openStore,
  parseJournal,
  readImageMeta,
  readSchemaVersion,
  SCHEMA_VERSION,
  SchemaVersionError,
  SEQUENCE_KEY,
  SqliteJournalError,
  StoreError,
  type ImageMeta,
  type RetentionPolicy,
  type RetentionResult,
  type ReclaimSpaceReport,
  type SqlPort,
} from '../src/index.js';
import type { Command } from './command.js';
import { backupNatively, refuseIfForeign, fileSchemaVersion, fileSizes, inspectNatively, lockHolder, nativeStore, readsNatively, refuseSqliteJournal, requireFile, rowCounts, snapshot, syncReader, withImage, writing } from './database.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { bytes, parseDuration, table } from './format.js';

/** The outcome of one check of `check`. */
interface CheckOutcome {
  readonly name: string;
  readonly ok: boolean;
  /** What was found; for a failed check, what is wrong. */
  readonly detail: string;
  /** A failure that means damage (exit 5) rather than a difference (exit 1). */
  readonly damage?: boolean;
  /** The typed refusal's `reason`, as the other commands give it (`CORRUPT`'s `EMPTY`, `NOT_AGENT_DATABASE`…). */
  readonly reason?: string;
}

async function integrity(engine: SqlPort): Promise<string[]> {
  const rows = await engine.all('PRAGMA integrity_check');
  const messages = rows.map((r) => String(Object.values(r)[0]));
  return messages.length === 1 && messages[0] === 'ok' ? [] : messages;
}

// The schema objects (tables, indices) as SQLite stores them, whitespace normalised.
async function schemaObjects(engine: SqlPort): Promise<Map<string, string>> {
  const rows = await engine.all("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY type, name");
  return new Map(rows.map((r) => [`${String(r.type)} ${String(r.name)}`, String(r.sql).replace(/\s+/g, ' ').trim()]));
}

const check: Command = {
  name: 'check',
  usage: '<db>',
  summary: 'integrity check, schema check and journal check (read-only; works while the agent runs)',
  details:
    `Exit 0 when every check passes, 1 when the schema differs from v${SCHEMA_VERSION}, 5 when the image, the journal or the replayed database is damaged. A torn journal tail (a crash in the middle of an append, or an append in progress now) is a note, not a failure: the next open drops it.`,
  options: {},
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    requireFile(path);
    // SQLite's own journal is not damage: the file is not this store's to read whole now.
    refuseSqliteJournal(path, { forWriting: false });
    let { outcomes, notes, engine } = await runChecks(path);
    // A running agent appends and checkpoints while the files are read: damage seen then may be a
    // moment between two of its writes. Look once more before calling it damage.
    const owner = lockHolder(path);
    if (outcomes.some((o) => o.damage) && owner !== undefined && !owner.stale) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      ({ outcomes, notes, engine } = await runChecks(path));
    }
    const failed = outcomes.filter((o) => !o.ok);
    const exitCode = failed.some((o) => o.damage) ? EXIT.CORRUPT : failed.length > 0 ? EXIT.FAILED : EXIT.OK;
    const text = [
      table(outcomes, [
        { title: 'check', value: (o) => o.name },
        { title: 'result', value: (o) => (o.ok ? 'ok' : 'FAILED') },
        { title: 'detail', value: (o) => o.detail, max: 120 },
      ]),
      ...notes.map((n) => `note: ${n}`),
      failed.length === 0 ? 'all checks passed' : `${failed.length} check(s) failed`,
    ].join('\n');
    return { json: { database: path, ok: failed.length === 0, engine, checks: outcomes, notes }, text, exitCode };
  },
};

/** What one run of the checks found, and which engine read the file. */
interface Checked {
  readonly outcomes: CheckOutcome[];
  readonly notes: string[];
  readonly engine: 'node:sqlite' | 'sql.js';
}

/**
 * The checks of `check`, once: on the file itself through node:sqlite where the command reads it so
 * (Node 22, no journal records, no live sql.js owner: see `readsNatively`), else on sql.js copies
 * of the image and of the image with the journal replayed.
 */
function runChecks(path: string): Promise<Checked> {
  const native = readsNatively(path);
  return native ? runChecksNatively(path, native) : runChecksOnCopies(path);
}

/**
 * The checks on node:sqlite: SQLite reads the pages itself (no copy of the file in memory, a
 * running agent's `-wal` included). With no journal records the database the store opens is the
 * image as it is, so one integrity check covers both. A file at another schema version (a Go
 * agent's, which a store upgrades in memory to read it) goes the sql.js way, as do files
 * node:sqlite cannot read.
 */
async function runChecksNatively(path: string, native: { readOnly: true; immutable: boolean }): Promise<Checked> {
  const outcomes: CheckOutcome[] = [];
  const notes: string[] = [];
  const size = statSync(path).size;
  let version: number;
  try {
    version = await inspectNatively(path, native, (engine) => readSchemaVersion(engine));
  } catch {
    return runChecksOnCopies(path);
  }
  if (version !== SCHEMA_VERSION) {
    if (version > SCHEMA_VERSION) throw new SchemaVersionError(String(version), SCHEMA_VERSION);
    return runChecksOnCopies(path);
  }
  const damage = (name: string, e: unknown): CheckOutcome => ({ name, ok: false, damage: true, detail: e instanceof Error ? e.message.replace(/^\[@platform-agent\/store\] /, '') : String(e) });
  // The store opens it first (read-only, as a command does: the replay is the image itself). When
  // it cannot be opened so any more (an agent opened it meanwhile), the copies are checked.
  let opened: { close(): Promise<void> } | undefined;
  let openFailure: unknown;
  try {
    opened = await nativeStore(path);
    if (!opened) return runChecksOnCopies(path);
  } catch (e) {
    if (e instanceof SchemaVersionError) throw e;
    // Busy or taken (a store or the agent opened it meanwhile) is no damage: read it as copies.
    const code = (e as { code?: unknown }).code;
    if (e instanceof LockError || code === 'LOCKED' || code === 'BUSY' || /\b(database is locked|SQLITE_BUSY)\b/i.test(String((e as Error)?.message))) return runChecksOnCopies(path);
    openFailure = e;
  }
  await opened?.close();
  await inspectNatively(path, native, async (engine) => {
    let problems: string[];
    try {
      problems = await integrity(engine);
      const imageMeta = readImageMeta(syncReader(engine));
      const holds = `holds journal records up to ${imageMeta.sequence}${imageMeta.id ? `, image id ${imageMeta.id}` : ' (no image id yet)'}`;
      outcomes.push(problems.length === 0 ? { name: 'image', ok: true, detail: `SQLite file of ${bytes(size)}, integrity ok, ${holds}` } : { name: 'image', ok: false, damage: true, detail: problems.slice(0, 10).join('; ') });
    } catch (e) {
      // What SQLite cannot even read (a page it calls malformed) is damage, as on sql.js, where
      // the replay then fails too.
      outcomes.push(damage('image', e), { name: 'journal', ok: true, detail: 'empty (everything is in the image)' }, damage('replay', openFailure ?? e));
      return;
    }
    outcomes.push({ name: 'journal', ok: true, detail: 'empty (everything is in the image)' });
    if (openFailure !== undefined) {
      outcomes.push(damage('replay', openFailure));
      return;
    }
    const counts = await rowCounts(engine);
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    outcomes.push(problems.length === 0 ? { name: 'replay', ok: true, detail: `opens as the store opens it; integrity ok; ${rows} rows` } : { name: 'replay', ok: false, damage: true, detail: problems.slice(0, 10).join('; ') });
    outcomes.push(await schemaOutcome(engine, version, notes));
  });
  return { outcomes, notes, engine: 'node:sqlite' };
}

/** Whether `engine`'s schema is this package's, as a check's outcome (with notes on what is extra or older). */
async function schemaOutcome(engine: SqlPort, fileVersion: number, notes: string[]): Promise<CheckOutcome> {
  const expected = await createSqlJsEngine();
  try {
    await migrate(expected);
    const want = await schemaObjects(expected);
    const have = await schemaObjects(engine);
    const missing = [...want.keys()].filter((k) => !have.has(k));
    const different = [...want.keys()].filter((k) => have.has(k) && have.get(k) !== want.get(k));
    const extra = [...have.keys()].filter((k) => !want.has(k));
    if (extra.length > 0) notes.push(`objects that are not part of schema v${SCHEMA_VERSION}: ${extra.join(', ')}`);
    // A file at an earlier version is an agent database all the same (the Go agent's migration
    // writes 1 back whenever it opens the file): the store upgrades it when it opens it.
    if (fileVersion > 0 && fileVersion < SCHEMA_VERSION) {
      notes.push(`the file says schema v${fileVersion} (the Go agent writes 1 whenever it opens it); a store upgrades it to v${SCHEMA_VERSION} when it opens it, agent-store migrate does it now`);
    }
    return fileVersion === 0
      ? { name: 'schema', ok: false, detail: `the file has no agent schema: agent-store migrate brings it to v${SCHEMA_VERSION}` }
      : missing.length + different.length === 0
      ? { name: 'schema', ok: true, detail: `v${SCHEMA_VERSION}: every table, index and trigger (v1's as the Go store creates them, and the task engine's)` }
      : { name: 'schema', ok: false, detail: [missing.length ? `missing: ${missing.join(', ')}` : '', different.length ? `defined differently: ${different.join(', ')}` : ''].filter(Boolean).join('; ') };
  } finally {
    await expected.close();
  }
}

/** The checks on sql.js: the image file, its journal, and the two replayed as the store opens them. */
async function runChecksOnCopies(path: string): Promise<Checked> {
  const outcomes: CheckOutcome[] = [];
  const notes: string[] = [];
  const { journal: journalPath } = fileAdapterPaths(path);

  // The journal is read before the image, as the store loads them: a checkpoint by a running agent
  // between the two reads then gives an image newer than the journal (whose records it holds),
  // never a journal that seems to skip records.
  let journal: Uint8Array | undefined;
  try {
    // Without the zeros the fs adapter writes ahead of its records.
    journal = journalRecords(new Uint8Array(readFileSync(journalPath)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }

  // 1. The image file on its own, as the sqlite3 shell sees it (an empty file is no database: the
  // store writes a whole image before anything else).
  let imageMeta: ImageMeta | undefined;
  let fileVersion = SCHEMA_VERSION;
  const raw = new Uint8Array(readFileSync(path));
  try {
    if (raw.byteLength === 0) throw new CorruptDatabaseError(`${path} is empty (0 bytes): a truncated file or a failed copy, not a database`, { reason: 'EMPTY' });
    await withImage(raw, async (engine) => {
      const problems = await integrity(engine);
      imageMeta = readImageMeta(engine);
      const version = await readSchemaVersion(engine);
      if (version > SCHEMA_VERSION) throw new SchemaVersionError(String(version), SCHEMA_VERSION);
      fileVersion = version;
      const holds = `holds journal records up to ${imageMeta.sequence}${imageMeta.id ? `, image id ${imageMeta.id}` : ' (no image id yet)'}`;
      outcomes.push(problems.length === 0 ? { name: 'image', ok: true, detail: `SQLite file of ${bytes(raw.byteLength)}, integrity ok, ${holds}` } : { name: 'image', ok: false, damage: true, detail: problems.slice(0, 10).join('; ') });
    });
  } catch (e) {
    if (e instanceof SchemaVersionError) throw e;
    outcomes.push({ name: 'image', ok: false, damage: true, detail: e instanceof Error ? e.message.replace(/^\[@platform-agent\/store\] /, '') : String(e) });
  }

  // 2. The journal's framing and sequence numbers, and whether it belongs to this image.
  if (!journal || journal.byteLength === 0) {
    outcomes.push({ name: 'journal', ok: true, detail: 'empty (everything is in the image)' });
  } else {
    try {
      const parsed = parseJournal(journal);
      for (const record of parsed.records) record.decodeStatements();
      // Without a readable image the journal's framing is all there is to check.
      const { records: newer, covered } = imageMeta ? journalContinuation(parsed, imageMeta) : { records: [], covered: 0 };
      const first = newer[0];
      outcomes.push({
        name: 'journal',
        ok: true,
        detail: `${parsed.records.length} records in ${bytes(parsed.validLength)}${parsed.header ? ` after a header naming image ${parsed.header.imageId}` : ''}${newer.length > 0 ? `, ${newer.length} to replay (${first?.sequence}…${newer[newer.length - 1]?.sequence})` : ''}${covered > 0 ? `, ${covered} already in the image` : ''}`,
      });
      if (parsed.tornBytes > 0) notes.push(`the journal ends in ${parsed.tornBytes} bytes of an unfinished record (a crash in the middle of an append, or an append in progress now); the next open drops them`);
    } catch (e) {
      outcomes.push({ name: 'journal', ok: false, damage: true, detail: e instanceof Error ? e.message.replace(/^\[@platform-agent\/store\] /, '') : String(e) });
    }
  }

  // 3. Image and journal replayed together, as the store opens them, and the schema it ends with.
  const warnings: { code: string; message: string }[] = [];
  let replayed: Uint8Array | undefined;
  try {
    replayed = await snapshot(path, (w) => warnings.push(w));
  } catch (e) {
    if (e instanceof SchemaVersionError || e instanceof SqliteJournalError) throw e;
    if (!(e instanceof CorruptDatabaseError || e instanceof StoreError)) throw e;
    outcomes.push({ name: 'replay', ok: false, damage: true, detail: e.message.replace(/^\[@platform-agent\/store\] /, ''), ...(e instanceof CorruptDatabaseError ? { reason: e.reason } : {}) });
  }
  if (replayed) {
    await withImage(replayed, async (engine) => {
      const problems = await integrity(engine);
      // A store upgrades an older agent database when it opens it (in memory when it only reads it
      // on sql.js; node:sqlite reads it as it is): the copy is upgraded the same way, whichever read it.
      const replayedVersion = await readSchemaVersion(engine);
      if (problems.length === 0 && replayedVersion >= 1 && replayedVersion < SCHEMA_VERSION) {
        try {
          await migrate(engine);
        } catch (e) {
          // As a store that cannot upgrade it when it opens it: the replay fails.
          outcomes.push({ name: 'replay', ok: false, damage: true, detail: `upgrading it from v${replayedVersion} failed: ${e instanceof Error ? e.message.replace(/^\[@platform-agent\/store\] /, '') : String(e)}` });
          return;
        }
      }
      const counts = await rowCounts(engine);
      outcomes.push(problems.length === 0 ? { name: 'replay', ok: true, detail: `opens as the store opens it; integrity ok; ${Object.values(counts).reduce((a, b) => a + b, 0)} rows` } : { name: 'replay', ok: false, damage: true, detail: problems.slice(0, 10).join('; ') });
      outcomes.push(await schemaOutcome(engine, fileVersion, notes));
    });
  }
  for (const w of warnings) notes.push(`${w.code}: ${w.message}`);
  return { outcomes, notes, engine: 'sql.js' };
}

const RETENTION_TABLES = Object.keys(DEFAULT_RETENTION) as (keyof RetentionResult)[];

function parsePolicy(values: readonly string[]): RetentionPolicy {
  const policy: Record<string, number | false> = {};
  for (const item of values) {
    const [table, value] = item.split('=');
    if (!table || value === undefined || !RETENTION_TABLES.includes(table as keyof RetentionResult)) {
      throw new UsageError(`--max-age takes <table>=<age|off> with a table among ${RETENTION_TABLES.join(', ')}, not "${item}"`);
    }
    policy[table] = value === 'off' ? false : parseDuration(value, `--max-age ${table}`);
  }
  return policy as RetentionPolicy;
}

function reclaimText(r: ReclaimSpaceReport): string {
  if (r.vacuumed && r.before && r.after) return `space: rebuilt without its free pages in ${Math.round(r.ms)} ms, ${bytes(r.before.fileBytes)} → ${bytes(r.after.fileBytes)} (${bytes(r.before.freeBytes)} given back)`;
  if (r.reason === 'below-threshold' && r.before) return `space: ${bytes(r.before.freeBytes)} free of ${bytes(r.before.fileBytes)}, under the limits for a rebuild (a quarter of the file and 1 MiB)`;
  return 'space: this engine keeps its own storage';
}

function retentionText(result: RetentionResult, policy: RetentionPolicy, dryRun: boolean): string {
  const rows = RETENTION_TABLES.map((t) => ({ t, n: result[t], keep: policy[t] === false ? 'kept (off)' : `${Math.round(((policy[t] as number | undefined) ?? DEFAULT_RETENTION[t]) / 3_600_000)}h` }));
  const total = rows.reduce((a, r) => a + r.n, 0);
  return `${table(rows, [
    { title: 'table', value: (r) => r.t },
    { title: 'max age', value: (r) => r.keep },
    { title: dryRun ? 'would delete' : 'deleted', value: (r) => r.n },
  ])}\n${dryRun ? `dry run: ${total} rows would be deleted; nothing was changed` : `${total} rows deleted`}`;
}

const retention: Command = {
  name: 'retention',
  usage: '<db> [--dry-run] [--max-age <table>=<age|off>]…',
  summary: "deletes old rows with the Go agent's ages (or shows what it would delete)",
  details: `Tables and default ages: ${RETENTION_TABLES.map((t) => `${t} ${DEFAULT_RETENTION[t] / 3_600_000}h`).join(', ')}. --dry-run reads a snapshot and works while the agent runs; without it the database must not be open in a running store.`,
  options: {
    'dry-run': { type: 'boolean', help: 'count what would be deleted; change nothing' },
    'max-age': { type: 'string', multiple: true, arg: '<table>=<age|off>', help: 'another age for a table (auditLog=90d), or off to keep it' },
  },
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    const policy = parsePolicy((ctx.options['max-age'] as string[] | undefined) ?? []);
    const dryRun = ctx.options['dry-run'] === true;
    let result: RetentionResult;
    let reclaimed: ReclaimSpaceReport | undefined;
    if (dryRun) {
      const image = await snapshot(path, ctx.onWarning);
      const scratch = await openStore({ adapter: createMemoryAdapter({ image }), onWarning: ctx.onWarning });
      try {
        result = await scratch.runRetention(policy);
      } finally {
        await scratch.close();
      }
    } else {
      // The rows, then the space they held: a rebuild when enough of the file is free (reclaimSpace's defaults).
      result = await writing(path, ctx.onWarning, async (store) => {
        const deleted = await store.runRetention(policy);
        reclaimed = await store.reclaimSpace();
        return deleted;
      });
    }
    const text = retentionText(result, policy, dryRun) + (reclaimed ? `\n${reclaimText(reclaimed)}` : '');
    return { json: { database: path, dryRun, deleted: result, ...(reclaimed ? { reclaimed } : {}) }, text };
  },
};

const checkpoint: Command = {
  name: 'checkpoint',
  usage: '<db>',
  summary: 'writes the journal into a new image (the database must not be open in a running store)',
  options: {},
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    const before = fileSizes(path);
    await writing(path, ctx.onWarning, (store) => store.checkpoint());
    const after = fileSizes(path);
    return {
      json: { database: path, before, after },
      text: `checkpointed ${path}: image ${bytes(before.imageBytes)} → ${bytes(after.imageBytes)}, journal ${bytes(before.journalBytes)} → ${bytes(after.journalBytes)}`,
    };
  },
};

const migrateCommand: Command = {
  name: 'migrate',
  usage: '<db>',
  summary: `brings the database to schema v${SCHEMA_VERSION} (the database must not be open in a running store)`,
  options: {},
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    requireFile(path);
    const from = await fileSchemaVersion(path);
    if (from > SCHEMA_VERSION) throw new SchemaVersionError(String(from), SCHEMA_VERSION);
    await writing(path, ctx.onWarning, async () => {}); // opening migrates and writes the new image
    const to = await fileSchemaVersion(path);
    return { json: { database: path, from, to, migrated: from !== to }, text: from === to ? `${path} is already at schema v${to}` : `migrated ${path} from schema v${from} to v${to}` };
  },
};

/** Writes `data` to `out` atomically and durably: a temp file, fsync, rename, fsync of the directory. */
/** A name for a new file beside `out`, hidden, that nothing else uses. */
function tempBeside(out: string): string {
  return join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function writeFileAtomic(out: string, data: Uint8Array): void {
  const temp = tempBeside(out);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    for (let at = 0; at < data.byteLength; ) at += writeSync(fd, data, at, data.byteLength - at);
  } catch (e) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw e;
  }
  closeSync(fd);
  moveIntoPlace(temp, out);
}

/**
 * Syncs `temp` and renames it to `out` (then syncs the directory): `out` is the old file or the
 * whole new one. SQLite's files of the `out` it replaces go first: a `-wal` left beside the new
 * file would be replayed onto it by the next program that opens it.
 */
function moveIntoPlace(temp: string, out: string): void {
  try {
    const fd = openSync(temp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${out}${suffix}`, { force: true });
    renameSync(temp, out);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  const dir = openSync(dirname(out), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * Refuses `out` when it is one of the database's own files (the image, its journal, lock or temp
 * files, SQLite's -wal/-shm/-journal), or exists and is not a regular file (a device, a directory,
 * a link): replacing either would lose data or more.
 */
function refuseOwnFile(db: string, out: string, what: string): void {
  const paths = fileAdapterPaths(db);
  const own = [paths.image, paths.journal, paths.lock, `${db}-wal`, `${db}-shm`, `${db}-journal`];
  if (own.some((f) => samePath(f, out)) || resolve(out).startsWith(resolve(paths.tempPrefix))) throw new UsageError(`${what} cannot be one of ${db}'s own files (${out})`);
  let info;
  try {
    info = lstatSync(out);
  } catch {
    return;
  }
  if (!info.isFile()) throw new UsageError(`${out} exists and is not a regular file; ${what} replaces only regular files`);
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

const backup: Command = {
  name: 'backup',
  usage: '<db> <out> [--force]',
  summary: 'a consistent snapshot of everything acknowledged so far, as one SQLite file (works while the agent runs)',
  details: 'The backup is a plain SQLite file (no journal beside it) that the sqlite3 shell, the Go agent and `agent-store restore` open.',
  options: { force: { type: 'boolean', help: 'replace <out> if it exists' } },
  positionals: [2, 2],
  async run(ctx) {
    const [path, out] = ctx.args as [string, string];
    requireFile(path);
    refuseOwnFile(path, out, 'the backup');
    if (existsSync(out) && ctx.options.force !== true) throw new CliError(EXIT.FAILED, 'EXISTS', `${out} exists; pass --force to replace it`);
    const native = readsNatively(path);
    // Another program's database is refused as everywhere (a store's open refuses it below).
    if (native) await inspectNatively(path, native, refuseIfForeign);
    if (native) {
      // SQLite's own backup, page by page, checked with quick_check (the b-trees and their pages;
      // `check` runs the full integrity check), then moved into place like the copy below.
      const temp = tempBeside(out);
      // Made here, readable by its owner only (as the copy below), for SQLite to fill.
      closeSync(openSync(temp, 'wx', 0o600));
      try {
        if (await backupNatively(path, native, temp)) {
          const tables = await inspectNatively(temp, { readOnly: true, immutable: false }, async (engine) => {
            let messages: string[];
            try {
              messages = (await engine.all('PRAGMA quick_check')).map((r) => String(Object.values(r)[0]));
            } catch (e) {
              // A page SQLite cannot even read fails the check too.
              messages = [e instanceof Error ? e.message.replace(/^\[[^\]]+\] /, '') : String(e)];
            }
            if (!(messages.length === 1 && messages[0] === 'ok')) throw new CorruptDatabaseError(`the copy of ${path} failed its check (${messages[0]}); no backup was written`);
            return rowCounts(engine);
          });
          const size = statSync(temp).size;
          moveIntoPlace(temp, out);
          return { json: { database: path, backup: out, bytes: size, tables }, text: `backed up ${path} to ${out} (${bytes(size)}, ${Object.values(tables).reduce((a, b) => a + b, 0)} rows)` };
        }
      } catch (e) {
        rmSync(temp, { force: true });
        throw e;
      }
      // This Node has no backup(): the copy below.
      rmSync(temp, { force: true });
    }
    const image = await snapshot(path, ctx.onWarning);
    const tables = await withImage(image, async (engine) => {
      const problems = await integrity(engine);
      if (problems.length > 0) throw new CorruptDatabaseError(`the snapshot of ${path} failed its integrity check (${problems[0]}); no backup was written`);
      return rowCounts(engine);
    });
    writeFileAtomic(out, image);
    return { json: { database: path, backup: out, bytes: image.byteLength, tables }, text: `backed up ${path} to ${out} (${bytes(image.byteLength)}, ${Object.values(tables).reduce((a, b) => a + b, 0)} rows)` };
  },
};

const restore: Command = {
  name: 'restore',
  usage: '<backup> <db> [--force]',
  summary: 'replaces the database with a backup (the database must not be open in a running store)',
  details: 'The backup is checked first (SQLite, integrity, schema version); the database is then replaced atomically and its journal emptied. --force is needed when <db> already holds data.',
  options: { force: { type: 'boolean', help: 'replace a database that holds data' } },
  positionals: [2, 2],
  async run(ctx) {
    const [from, path] = ctx.args as [string, string];
    requireFile(from, 'backup');
    refuseSqliteJournal(from, { forWriting: false });
    requireFile(path, 'database', { missingOk: true });
    refuseOwnFile(from, path, 'the restored database');
    const image = new Uint8Array(readFileSync(from));
    const unusable = (why: string, cause?: unknown) => new CorruptDatabaseError(`${from} is not a usable backup: ${why}; nothing was restored`, cause === undefined ? {} : { cause });
    if (image.byteLength === 0) throw unusable('it is empty');
    // A store's database (schema v1 or later), not just any SQLite file.
    const version = await withImage(image, (engine) => readSchemaVersion(engine)).catch((e: unknown) => {
      if (e instanceof SchemaVersionError) throw e;
      throw unusable(e instanceof Error ? e.message.replace(/^\[@platform-agent\/store\] /, '') : String(e), e);
    });
    if (version > SCHEMA_VERSION) throw new SchemaVersionError(String(version), SCHEMA_VERSION);
    if (version < 1) throw unusable('it is not an agent database (it has no meta.schema_version)');
    // The backup must open as the store opens a database (SQLite, a schema it knows, intact).
    const probe = await openStore({ adapter: createMemoryAdapter({ image }), readOnly: true, onWarning: ctx.onWarning }).catch((e: unknown) => {
      if (e instanceof CorruptDatabaseError) throw unusable(e.message.replace(/^\[@platform-agent\/store\] /, ''), e);
      throw e;
    });
    await probe.close();
    const { tables, restored } = await withImage(image, async (engine) => {
      const problems = await integrity(engine);
      if (problems.length > 0) throw new CorruptDatabaseError(`${from} failed its integrity check (${problems[0]}); nothing was restored`);
      return { tables: await rowCounts(engine), restored: readImageMeta(engine).sequence };
    });
    const existing = fileSizes(path);
    if ((existing.imageBytes > 0 || existing.journalBytes > 0) && ctx.options.force !== true) {
      throw new CliError(EXIT.FAILED, 'EXISTS', `${path} holds a database; pass --force to replace it with ${from}`);
    }
    refuseSqliteJournal(path);
    const adapter = createFileAdapter({ path });
    try {
      await adapter.lock();
    } catch (e) {
      const holder = (e as { holder?: { description?: string } }).holder;
      if ((e as { code?: unknown }).code === 'LOCKED') throw new CliError(EXIT.LOCKED, 'LOCKED', `${path} is locked by ${holder?.description ?? 'another store'}; stop it first`, { cause: e });
      throw e;
    }
    try {
      // A crash after the new image is renamed in but before the old journal is emptied must not
      // replay the old journal onto it: the new image claims every sequence the old journal used.
      // It also gets an id of its own, and names the image it replaces as its parent: that image's
      // journal is then read as one the restored image covers, never as one that continues it.
      let sequence = restored;
      let parent: string | undefined;
      const state = await adapter.load();
      if (state.image && state.image.byteLength > 0) {
        const current = await withImage(state.image, async (engine) => readImageMeta(engine)).catch(() => undefined);
        sequence = Math.max(sequence, current?.sequence ?? 0);
        parent = current?.id;
      }
      if (state.journal && state.journal.byteLength > 0) {
        try {
          const records = parseJournal(state.journal).records;
          sequence = Math.max(sequence, records[records.length - 1]?.sequence ?? 0);
        } catch {
          // A damaged journal: the checkpoint below empties it; should a crash come first, the
          // next open refuses it (CORRUPT) rather than replay any of it.
        }
      }
      const final = await withImage(image, async (engine) => {
        await engine.run('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
        await engine.run('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [SEQUENCE_KEY, String(sequence)]);
        await engine.run('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [IMAGE_ID_KEY, newImageId()]);
        if (parent === undefined) await engine.run('DELETE FROM meta WHERE key = ?', [IMAGE_PARENT_KEY]);
        else await engine.run('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [IMAGE_PARENT_KEY, parent]);
        return engine.exportImage();
      });
      await adapter.checkpoint(final);
    } finally {
      await adapter.unlock().catch(() => undefined);
      await adapter.close();
    }
    return { json: { database: path, backup: from, bytes: image.byteLength, tables }, text: `restored ${path} from ${from} (${bytes(image.byteLength)}, ${Object.values(tables).reduce((a, b) => a + b, 0)} rows)` };
  },
};

/** The maintenance commands. */
export const MAINTENANCE_COMMANDS: readonly Command[] = [check, retention, checkpoint, migrateCommand, backup, restore];

export { writeFileAtomic };
