import { CorruptDatabaseError } from './errors.js';
import type { JournalingEngine } from './engine.js';
import type { JournalRecord, ParsedJournal } from './journal.js';
import type { SqlRow, SqlStatement, SqlValue } from './sql-port.js';

/** The key in the Go schema's `meta` table under which an image records its last journal sequence. */
export const SEQUENCE_KEY = 'store_journal_sequence';
/** The `meta` key of an image's own id, new at every checkpoint; the journal after it names it. */
export const IMAGE_ID_KEY = 'store_image_id';
/** The `meta` key of the id of the image a checkpoint replaced (its journal may still lie beside the new one after a crash). */
export const IMAGE_PARENT_KEY = 'store_image_parent';
/**
 * The `meta` key under which an image says how the checkpoint that wrote it went, as JSON
 * {@link CheckpointStamp} (read by `agent-store info`; the live figures are in `store.health()`).
 */
export const CHECKPOINT_KEY = 'store_checkpoint';

/** What an image records about the checkpoint that wrote it (under {@link CHECKPOINT_KEY}). */
export interface CheckpointStamp {
  /** When its export completed (Unix ms, the store's clock). */
  readonly at: number;
  /** How long the export took (ms). */
  readonly exportMs: number;
  /** The journal's size when the checkpoint started (bytes). */
  readonly journalBytes: number;
  /** How long the checkpoint before it took, export to durable image (ms), when there was one since the store opened. */
  readonly previousMs?: number;
}

/** What an image records about itself in `meta`, for the journal beside it. */
export interface ImageMeta {
  /** The sequence of the last journal record the image holds (0 for a database never written by this store). */
  readonly sequence: number;
  /** The image's id; `undefined` for an image written before ids existed (or by the Go agent). */
  readonly id?: string;
  /** The id of the image this one replaced, when there was one. */
  readonly parent?: string;
}

/** Reads the image's {@link ImageMeta} from its `meta` table (an image without one holds nothing of the journal). */
export function readImageMeta(engine: { allSync(sql: string, params?: readonly SqlValue[]): SqlRow[] }): ImageMeta {
  if (engine.allSync("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'meta'").length === 0) return { sequence: 0 };
  const values = new Map<string, string>();
  for (const row of engine.allSync('SELECT key, value FROM meta WHERE key IN (?, ?, ?)', [SEQUENCE_KEY, IMAGE_ID_KEY, IMAGE_PARENT_KEY])) {
    if (row.value !== null && row.value !== undefined) values.set(String(row.key), String(row.value));
  }
  const text = values.get(SEQUENCE_KEY);
  if (text !== undefined && (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text)))) {
    throw new CorruptDatabaseError(`the image's meta.${SEQUENCE_KEY} is ${JSON.stringify(text)}, not a sequence number`);
  }
  const id = values.get(IMAGE_ID_KEY);
  const parent = values.get(IMAGE_PARENT_KEY);
  return { sequence: text === undefined ? 0 : Number(text), ...(id ? { id } : {}), ...(parent ? { parent } : {}) };
}

/**
 * Exports `engine`'s database as an image that says what it holds: the journal sequence `sequence`
 * (every record it contains) and the id `id` (the exporting store's own, never one a checkpoint
 * wrote, so exports of the same state are the same bytes), so that a journal beside the place it
 * is copied to is never replayed onto it: that journal names another image, or, should it continue
 * an earlier export of this store, another sequence. The stamp goes into the copy alone where the
 * engine exports in steps; elsewhere the engine's own `meta` rows are put back as they were before
 * it returns (synchronously: nothing runs in between).
 */
export function exportStamped(engine: JournalingEngine, sequence: number, id: string): Uint8Array {
  // (No checkpoint wrote an export: it carries no checkpoint's stamp.)
  const keys = [SEQUENCE_KEY, IMAGE_ID_KEY, IMAGE_PARENT_KEY, CHECKPOINT_KEY];
  const before = engine.allSync('SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?)', keys);
  // A database the store never wrote (a Go agent's file, opened and exported) is exported as it is.
  if (sequence === 0 && !before.some((row) => row.key === IMAGE_ID_KEY)) return engine.exportImageSync();
  // (A database no write of this store reached keeps the Go store's meta rows but for the id.)
  const stamp: SqlStatement[] = [
    sequence > 0 ? { sql: 'INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', params: [SEQUENCE_KEY, String(sequence)] } : { sql: 'DELETE FROM meta WHERE key = ?', params: [SEQUENCE_KEY] },
    { sql: 'INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', params: [IMAGE_ID_KEY, id] },
    { sql: 'DELETE FROM meta WHERE key IN (?, ?)', params: [IMAGE_PARENT_KEY, CHECKPOINT_KEY] },
  ];
  const inSteps = engine.beginImageExport?.();
  if (inSteps) {
    try {
      for (;;) {
        const image = inSteps.step(2 ** 30, () => stamp);
        if (image) return image;
      }
    } finally {
      inSteps.abort();
    }
  }
  try {
    for (const s of stamp) engine.runSync(s.sql, s.params);
    return engine.exportImageSync();
  } finally {
    engine.runSync('DELETE FROM meta WHERE key IN (?, ?, ?, ?)', keys);
    for (const row of before) engine.runSync('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)', [String(row.key), String(row.value)]);
  }
}

/** What a journal adds to its image: the records to replay, and where the next append goes. */
export interface Continuation {
  /** The records after the image's sequence, in order. */
  readonly records: JournalRecord[];
  /** The records the image already holds (a crash after a checkpoint, before the journal was emptied). */
  readonly covered: number;
  /**
   * Where the next append goes: after the last intact byte when the journal continues this image,
   * 0 when everything in it is already in the image (it is overwritten from its start, header and all).
   */
  readonly journalLength: number;
}

function mismatch(message: string): CorruptDatabaseError {
  return new CorruptDatabaseError(`${message}. Nothing was read or changed: the journal belongs with another copy of the database (restore the image it belongs to, or move the journal away to open the image as it is)`, {
    reason: 'JOURNAL_MISMATCH',
  });
}

/**
 * Checks that a parsed journal belongs to this image and continues it, and says what to replay.
 *
 * A journal is one or more segments, each opened by a header naming the image its records continue
 * (see `journal.ts`). The store replays from the last segment whose header names this image: that
 * header must hold the image's sequence, and every segment after it must name the one before it
 * as its parent (a checkpoint's marker whose image was not written, or not yet, when the journal
 * was read). The segments before it, each the parent of the next, hold nothing the image lacks:
 * checkpoints whose image was written, by a process that crashed before it dropped the journal
 * before their marker. A journal with no header naming this image, but one naming the image this
 * one replaced, is the old journal of a checkpoint that crashed before emptying it (or before its
 * marker was appended): everything in it must be in the image.
 *
 * Any other journal (another database's, an older or newer copy's) is refused with a
 * `JOURNAL_MISMATCH` {@link CorruptDatabaseError}, also when its sequence numbers happen to line
 * up. A journal without a header (written before headers existed) is replayed only onto an image
 * without an id, as before; records it adds must start right after the image's sequence.
 */
export function journalContinuation(parsed: ParsedJournal, image: ImageMeta): Continuation {
  const { headers } = parsed;
  const newer = parsed.records.filter((r) => r.sequence > image.sequence);
  const covered = parsed.records.length - newer.length;
  const first = headers[0];
  if (first !== undefined) {
    if (first.offset !== 0) throw mismatch(`the journal's first segment, at byte ${first.offset}, follows records that no header names an image for`);
    // Each segment after the first continues the one before it.
    for (let i = 1; i < headers.length; i++) {
      const header = headers[i] as (typeof headers)[number];
      const before = headers[i - 1] as (typeof headers)[number];
      if (header.parent !== before.imageId) {
        throw mismatch(`the journal's segment at byte ${header.offset} continues image ${header.imageId} after image ${String(header.parent)}, but the segment before it continues image ${before.imageId}`);
      }
    }
    let from = -1;
    for (let i = headers.length - 1; i >= 0; i--) {
      if ((headers[i] as (typeof headers)[number]).imageId === image.id) {
        from = i;
        break;
      }
    }
    if (from >= 0) {
      const header = headers[from] as (typeof headers)[number];
      if (header.sequence !== image.sequence) {
        throw mismatch(`the journal continues image ${header.imageId} from record ${header.sequence}, but that image holds records up to ${image.sequence}`);
      }
      return { records: newer, covered, journalLength: parsed.validLength };
    }
    if (image.parent === undefined || !headers.some((h) => h.imageId === image.parent)) {
      throw mismatch(
        `the journal continues image ${first.imageId}, not this one (${image.id === undefined ? 'an image without an id' : image.id}), whatever its sequence numbers say`,
      );
    }
    // The image this one replaced, in the chain: everything in the journal must be in this image.
    if (newer.length > 0) {
      throw mismatch(`the journal of the image before this one (${image.parent}) holds records ${newer[0]?.sequence}…${newer[newer.length - 1]?.sequence} that this image (up to ${image.sequence}) does not`);
    }
    return { records: [], covered, journalLength: 0 };
  }
  if (newer.length === 0) return { records: [], covered, journalLength: 0 };
  if (image.id !== undefined) {
    throw mismatch(`the journal has no header (it was written by an older version of this package, or for another database) and records ${newer[0]?.sequence}…${newer[newer.length - 1]?.sequence} that image ${image.id} does not hold`);
  }
  const firstRecord = newer[0] as JournalRecord;
  if (firstRecord.sequence !== image.sequence + 1) {
    throw mismatch(`the journal does not continue the image: the image holds writes up to ${image.sequence}, the journal resumes at ${firstRecord.sequence}. Was the image replaced by an older copy?`);
  }
  return { records: newer, covered, journalLength: parsed.validLength };
}
