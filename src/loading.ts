/**
 * Loading a database from its adapter into an embedded engine: the adapter's refusals as typed
 * errors, the checks before SQLite sees the bytes, the replay of the journal the image does not
 * hold, and the migrations.
 */
import type { DurabilitySettings, OpenedState } from './durability.js';
import type { EmbeddedEngine, JournalingEngine } from './engine.js';
import { CorruptDatabaseError, LockError, NotFoundError, PersistenceError, SqliteJournalError, StoreError, ValidationError, type CorruptReason, type LockHolder } from './errors.js';
import { journalContinuation, readImageMeta } from './image-meta.js';
import { parseJournal } from './journal.js';
import { migrate, readSchemaVersion, refuseForeign } from './migrations.js';
import type { LoadedState, PersistenceAdapter } from './persistence.js';

/** An engine opened from the adapter's state, migrated. */
export interface Opened extends Loaded {
  /** Whether a migration ran (the image on disk is then behind: the owner writes a new one). */
  readonly migrated: boolean;
}

export function lockFailure(adapter: Pick<PersistenceAdapter, 'name'>, e: unknown): StoreError {
  const err = e as { code?: unknown; holder?: Partial<LockHolder> } | undefined;
  if (err?.code === 'LOCKED') {
    const description = typeof err.holder?.description === 'string' ? err.holder.description : 'another owner';
    const holder: LockHolder = { description, ...(typeof err.holder?.pid === 'number' ? { pid: err.holder.pid } : {}), ...(typeof err.holder?.host === 'string' ? { host: err.holder.host } : {}) };
    return new LockError(`the ${adapter.name} database`, holder, { cause: e });
  }
  return refusal(e) ?? new PersistenceError(`taking ownership of the ${adapter.name} database failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

const CORRUPT_REASONS: readonly CorruptReason[] = ['EMPTY', 'NOT_SQLITE', 'TRUNCATED', 'TRAILING_BYTES', 'DAMAGED', 'JOURNAL_DAMAGED', 'JOURNAL_MISMATCH', 'NOT_AGENT_DATABASE'];

/**
 * An adapter's refusal of what it finds (see `PersistenceAdapter.load`), as the store's typed error:
 * `SQLITE_JOURNAL` (SQLite's own journal beside the database), `CORRUPT` (with a `reason`),
 * `NOT_FOUND`. `undefined` for any other failure.
 */
export function refusal(e: unknown): StoreError | undefined {
  if (e instanceof StoreError) return e;
  const err = e as { code?: unknown; message?: unknown; path?: unknown; kind?: unknown; bytes?: unknown; reason?: unknown } | null | undefined;
  if (typeof err !== 'object' || err === null) return undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  if (err.code === 'SQLITE_JOURNAL' && typeof err.path === 'string' && (err.kind === 'wal' || err.kind === 'rollback' || err.kind === 'shm')) {
    return new SqliteJournalError(message, { path: err.path, kind: err.kind, bytes: typeof err.bytes === 'number' ? err.bytes : 0 }, { cause: e });
  }
  if (err.code === 'CORRUPT') {
    const reason = CORRUPT_REASONS.find((r) => r === err.reason) ?? 'DAMAGED';
    return new CorruptDatabaseError(message, { cause: e, reason });
  }
  if (err.code === 'NOT_FOUND') return new NotFoundError('database', typeof err.path === 'string' ? err.path : message);
  return undefined;
}

/** Replays the journal records the image does not contain; returns where the store stands. */
function replay(engine: JournalingEngine, journal: Uint8Array | undefined, settings: DurabilitySettings, imageBytes: number): OpenedState {
  const image = readImageMeta(engine);
  const parsed = parseJournal(journal ?? new Uint8Array(0));
  // Checked before anything is applied: a journal of another image is refused whole.
  const { records, journalLength } = journalContinuation(parsed, image);
  if (parsed.tornBytes > 0) {
    settings.onWarning({
      code: 'TORN_TAIL',
      message: `dropped the journal's last ${parsed.tornBytes} bytes: a last record cut short by a crash during its append (so never acknowledged), or, for a read-only open, one still being written`,
    });
  }
  for (const record of records) {
    const statements = record.decodeStatements(); // one record decoded at a time
    try {
      engine.applySync(statements);
    } catch (e) {
      throw new CorruptDatabaseError(`journal record ${record.sequence} does not apply to the image (${e instanceof Error ? e.message : String(e)}); nothing was changed`, {
        cause: e,
        reason: 'JOURNAL_DAMAGED',
      });
    }
  }
  return {
    imageSequence: image.sequence,
    imageId: image.id,
    // The journal goes on after its last segment (a checkpoint's marker whose image may never have
    // been written); a journal that is overwritten starts again from the image.
    segmentImageId: journalLength > 0 ? (parsed.headers[parsed.headers.length - 1]?.imageId ?? image.id) : image.id,
    lastSequence: records[records.length - 1]?.sequence ?? image.sequence,
    // A journal the image covers entirely (a crash after a checkpoint replaced the image and before
    // it emptied the journal, or records the checkpoint held before they were appended) is
    // overwritten from its start: the next record must follow the image, not the stale records.
    journalLength,
    imageBytes,
  };
}

/** An engine opened from the adapter's state. */
interface Loaded {
  readonly engine: JournalingEngine;
  readonly opened: OpenedState;
  readonly hasImage: boolean;
}

/** Loads the adapter's state into a new engine and replays the journal; closes the engine on failure. */
async function loadAndReplay(adapter: PersistenceAdapter, settings: DurabilitySettings, embedded: EmbeddedEngine, mustExist: boolean): Promise<Loaded> {
  let state: LoadedState | undefined;
  try {
    state = await adapter.load();
  } catch (e) {
    throw refusal(e) ?? new PersistenceError(`loading from the ${adapter.name} adapter failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let image = state.image;
  const journal = state.journal;
  const imageOwned = state.imageOwned === true;
  state = undefined;
  if (image !== undefined && !(image instanceof Uint8Array)) {
    throw ValidationError.of('image', `the ${adapter.name} adapter loaded something that is not a Uint8Array`);
  }
  if (journal !== undefined && !(journal instanceof Uint8Array)) {
    throw ValidationError.of('journal', `the ${adapter.name} adapter loaded a journal that is not a Uint8Array`);
  }
  // Before SQLite sees the bytes: a zero-byte image (a truncated file, a failed copy) is not a new
  // database, and one shorter or longer than its header says is damaged (checked in the engine).
  if (image !== undefined && image.byteLength === 0) {
    throw new CorruptDatabaseError(`the ${adapter.name} adapter's database is empty (0 bytes): a truncated file or a failed copy, not a database; nothing was changed`, { reason: 'EMPTY' });
  }
  const hasImage = image !== undefined;
  if (!hasImage && journal !== undefined && journal.byteLength > 0) {
    const parsed = parseJournal(journal);
    if (parsed.header !== undefined || parsed.records.length > 0) {
      throw new CorruptDatabaseError(`the ${adapter.name} adapter holds journal records but no image; nothing was changed`, { reason: 'JOURNAL_MISMATCH' });
    }
  }
  if (mustExist && !hasImage && (journal?.byteLength ?? 0) === 0) {
    throw new NotFoundError('database', `in the ${adapter.name} adapter (readOnly opens an existing one)`);
  }
  const imageBytes = image?.byteLength ?? 0;
  const engine = await embedded.open({ ...(image ? { image, imageOwned } : {}) });
  // The engine holds its own copy; the loaded bytes can go (large images).
  image = undefined;
  try {
    const opened = replay(engine, journal, settings, imageBytes);
    return { engine, opened, hasImage };
  } catch (e) {
    await engine.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Loads the adapter's state into a new, migrated engine. Without the lock (`asOwner` false) another
 * store may write meanwhile: a journal emptied and appended again during the read looks damaged,
 * so it reads again (a real damage stays a CORRUPT error). `mustExist`: no state at all is
 * `NOT_FOUND` (a read-only open).
 */
export async function loadMigrated(adapter: PersistenceAdapter, settings: DurabilitySettings, embedded: EmbeddedEngine, asOwner: boolean, mustExist: boolean): Promise<Opened> {
  let loaded: Loaded | undefined;
  for (let attempt = 1; !loaded; attempt++) {
    try {
      loaded = await loadAndReplay(adapter, settings, embedded, mustExist);
    } catch (e) {
      // Only a journal can look damaged for a moment (an image is only ever replaced whole).
      const passing = !asOwner && e instanceof CorruptDatabaseError && (e.reason === 'JOURNAL_DAMAGED' || e.reason === 'JOURNAL_MISMATCH');
      if (!passing || attempt >= 3) throw e;
      await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
    }
  }
  try {
    // An adapter's file is the store's alone (its image is replaced whole at every checkpoint):
    // another program's database there is refused, not given the agent's tables. (An engine's
    // database, node:sqlite's or D1's, may be the application's too: the store's tables go beside.)
    if ((await readSchemaVersion(loaded.engine)) === 0) await refuseForeign(loaded.engine);
    const { from, to } = await migrate(loaded.engine);
    return { ...loaded, migrated: from !== to };
  } catch (e) {
    await loaded.engine.close().catch(() => undefined);
    throw e;
  }
}
