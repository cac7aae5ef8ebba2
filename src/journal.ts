import { CorruptDatabaseError } from './errors.js';
import type { SqlStatement, SqlValue } from './sql-port.js';

/**
 * The journal's record format. Every committed write (one statement, one atomic batch or one
 * transaction) becomes one record; adapters store the bytes and never parse them.
 *
 * A record, little-endian:
 *
 * | offset | size | field                                                      |
 * | -----: | ---: | ---------------------------------------------------------- |
 * |      0 |    4 | magic `PAJ1`                                               |
 * |      4 |    4 | payload length `L` in bytes                                |
 * |      8 |    4 | CRC-32 (IEEE) of bytes 12 … 20+L (sequence and payload)    |
 * |     12 |    8 | sequence number (unsigned 64-bit; at most 2^53 − 1)        |
 * |     20 |    L | payload: UTF-8 JSON `[[sql, [param, …]], …]`               |
 *
 * Sequences are consecutive: each record's is one more than the one before it. The image records
 * the sequence of the last record it contains (`meta.store_journal_sequence`).
 *
 * A journal begins with a **header**: a record framed the same way, whose sequence is the image's
 * (so it is one before the first write) and whose payload is a JSON object
 * `{"image":"<id>"}` naming the image it continues (`meta.store_image_id`). A journal for another
 * image, another database's or an older copy's, is refused instead of replayed onto this one.
 * (Readers that predate the header skip it: its sequence is one the image already holds.)
 * Journals written before headers existed have none and open as before.
 *
 * **Segments.** A checkpoint that runs while writes go on marks where its image ends with another
 * header, `{"image":"<new id>","parent":"<id>"}`, at the record boundary after the last record the
 * new image holds: its sequence repeats that record's, `image` names the new image and `parent` the
 * image the segment before it continues. Records after it continue the new image. Once the new image
 * is durable, the journal before the marker is dropped, so the journal then begins with it. A
 * journal is therefore one or more segments, each opened by a header; the store replays from the
 * segment that continues the image it loaded (see `journalContinuation`).
 */

/** The size of a record's fixed header. */
export const RECORD_HEADER_BYTES = 20;
/**
 * The largest payload a record may have; a longer length field is damage, not data. A write unit
 * whose statements are larger is not journaled: the store writes a checkpoint for it instead.
 */
export const MAX_RECORD_PAYLOAD = 16 * 1024 * 1024;
const MAGIC = 0x314a4150; // "PAJ1" read little-endian

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib) of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes one record: `statements` committed together, as sequence `sequence`. Throws a
 * `RangeError` for a payload over {@link MAX_RECORD_PAYLOAD} (the store then writes a checkpoint
 * instead of a record).
 */
export function encodeRecord(sequence: number, statements: readonly SqlStatement[]): Uint8Array {
  const payload = encoder.encode(JSON.stringify(statements.map((s) => [s.sql, s.params ?? []])));
  if (payload.length > MAX_RECORD_PAYLOAD) throw new RangeError(`a journal record of ${payload.length} bytes is over the ${MAX_RECORD_PAYLOAD}-byte limit`);
  return frame(sequence, payload);
}

function frame(sequence: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, payload.length, true);
  view.setUint32(12, sequence % 0x1_0000_0000, true);
  view.setUint32(16, Math.floor(sequence / 0x1_0000_0000), true);
  bytes.set(payload, RECORD_HEADER_BYTES);
  view.setUint32(8, crc32(bytes, 12), true);
  return bytes;
}

const IMAGE_ID = /^[0-9a-f]{32}$/;

/** A new random image id: 32 hex digits (Web Crypto, so it runs everywhere). */
export function newImageId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const b of bytes) id += b.toString(16).padStart(2, '0');
  return id;
}

/**
 * Encodes a journal header: the records that follow continue image `imageId`, which holds writes up
 * to `imageSequence`. A header that opens a later segment (a checkpoint's marker) also names
 * `parent`, the image the segment before it continues.
 */
export function encodeJournalHeader(imageId: string, imageSequence: number, parent?: string): Uint8Array {
  for (const id of parent === undefined ? [imageId] : [imageId, parent]) {
    if (!IMAGE_ID.test(id)) throw new RangeError(`an image id is 32 hex digits, not ${JSON.stringify(id)}`);
  }
  return frame(imageSequence, encoder.encode(JSON.stringify(parent === undefined ? { image: imageId } : { image: imageId, parent })));
}

/** A header: which image the records after it continue. */
export interface JournalHeader {
  /** The id of the image the records after it continue (`meta.store_image_id`). */
  readonly imageId: string;
  /** The sequence that image holds (the header's own sequence). */
  readonly sequence: number;
  /** The header's size in bytes. */
  readonly size: number;
  /** Where the header starts in the journal, in bytes. */
  readonly offset: number;
  /** For a header that opens a later segment: the image the segment before it continues. */
  readonly parent?: string;
}

/** One record, checked (length, checksum, sequence); its statements are decoded on demand. */
export interface JournalRecord {
  /** Its sequence number. */
  readonly sequence: number;
  /**
   * Decodes the statements, to apply together as one atomic batch (each call decodes again: replay
   * holds one record decoded at a time, not the whole journal). Throws a `CorruptDatabaseError` for
   * a payload that is not a list of statements although its checksum is valid.
   */
  decodeStatements(): readonly SqlStatement[];
  /** Where the record starts in the journal, in bytes. */
  readonly offset: number;
  /** Its size in bytes, header included. */
  readonly size: number;
}

/** The journal as read back. */
export interface ParsedJournal {
  /** The header naming the image the journal continues; `undefined` for a journal written before headers existed (or an empty one). */
  readonly header?: JournalHeader;
  /** Every header, in order: the first is `header`; later ones open the segments checkpoints marked. */
  readonly headers: readonly JournalHeader[];
  /** The intact records, in order (the header is not one of them). */
  readonly records: JournalRecord[];
  /** Bytes up to the end of the last intact record: where the next append goes. */
  readonly validLength: number;
  /** Bytes after `validLength`: a last record cut short by a crash during its append (never acknowledged), or 0. */
  readonly tornBytes: number;
}

type Frame = { ok: true; sequence: number; size: number; payloadAt: number; payloadLength: number } | { ok: false; reason: string };

function readFrame(bytes: Uint8Array, view: DataView, at: number): Frame {
  const remaining = bytes.length - at;
  if (remaining < RECORD_HEADER_BYTES) return { ok: false, reason: `only ${remaining} bytes of a record header` };
  if (view.getUint32(at, true) !== MAGIC) return { ok: false, reason: 'no record marker' };
  const length = view.getUint32(at + 4, true);
  if (length > MAX_RECORD_PAYLOAD) return { ok: false, reason: `an impossible length (${length})` };
  if (remaining < RECORD_HEADER_BYTES + length) return { ok: false, reason: `cut short (${remaining} of ${RECORD_HEADER_BYTES + length} bytes)` };
  const high = view.getUint32(at + 16, true);
  if (high > 0x1f_ffff) return { ok: false, reason: 'an impossible sequence number' };
  const end = at + RECORD_HEADER_BYTES + length;
  if (crc32(bytes, at + 12, end) !== view.getUint32(at + 8, true)) return { ok: false, reason: 'a checksum mismatch' };
  return { ok: true, sequence: high * 0x1_0000_0000 + view.getUint32(at + 12, true), size: RECORD_HEADER_BYTES + length, payloadAt: at + RECORD_HEADER_BYTES, payloadLength: length };
}

function isSqlValue(v: unknown): v is SqlValue {
  return v === null || typeof v === 'string' || typeof v === 'number';
}

function decodePayload(bytes: Uint8Array, frame: Extract<Frame, { ok: true }>, at: number): SqlStatement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes.subarray(frame.payloadAt, frame.payloadAt + frame.payloadLength)));
  } catch (e) {
    throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} has an unreadable payload`, { cause: e, reason: 'JOURNAL_DAMAGED' });
  }
  if (!Array.isArray(parsed)) throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} is not a list of statements`, { reason: 'JOURNAL_DAMAGED' });
  return parsed.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1]) || !(entry[1] as unknown[]).every(isSqlValue)) {
      throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} holds a malformed statement`, { reason: 'JOURNAL_DAMAGED' });
    }
    return { sql: entry[0], params: entry[1] as SqlValue[] };
  });
}

/**
 * Reads a journal's framing. A last record cut short (a crash during its append, never
 * acknowledged) is a torn tail: reported in `tornBytes` and left out, and so is a last append whose
 * sectors reached the disk out of order (zeros where a sector was never written, intact records of
 * the same append after them: see `unwrittenBetween`). Other damage with intact records
 * after it, sequences out of order, a later header that does not repeat the sequence before it or
 * names no parent, and a last record that is
 * whole but damaged (its checksum fails although every byte is there and none is an unwritten
 * zero, or it checks out behind a damaged marker or length) throw a {@link CorruptDatabaseError}
 * (`JOURNAL_DAMAGED`): that is not a crash, and nothing may be guessed. Payloads are decoded by
 * each record's `decodeStatements()`, which throws for one that is unreadable behind a valid
 * checksum.
 */
export function parseJournal(bytes: Uint8Array): ParsedJournal {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: JournalRecord[] = [];
  const headers: JournalHeader[] = [];
  let at = 0;
  let last: number | undefined;
  const damaged = (message: string) => new CorruptDatabaseError(message, { reason: 'JOURNAL_DAMAGED' });
  while (at < bytes.length) {
    const frame = readFrame(bytes, view, at);
    if (!frame.ok) {
      const later = findIntactRecord(bytes, view, at + 1, last);
      if (later !== undefined && !unwrittenBetween(bytes, at, later)) {
        throw damaged(
          `the journal is damaged at byte ${at} (${frame.reason}${last === undefined ? '' : `, after record ${last}`}), and intact records follow at byte ${later}; it was left untouched`,
        );
      }
      const whole = later === undefined ? damagedWholeRecord(bytes, view, at) : undefined;
      if (whole !== undefined) {
        throw damaged(`the journal's last record, at byte ${at}${last === undefined ? '' : ` after record ${last}`}, is whole but damaged (${whole}): not a crash during its append; it was left untouched`);
      }
      return withHeaders(headers, { records, validLength: at, tornBytes: bytes.length - at });
    }
    const offset = at;
    // A header's payload is an object (a record's is a list). The first frame may be one; a later
    // one is a checkpoint's marker: it repeats the sequence before it and names its parent.
    const isHeader = frame.payloadLength > 0 && bytes[frame.payloadAt] === 0x7b; /* '{' */
    if (isHeader) {
      const { image, parent } = decodeHeader(bytes, frame, at);
      if (at > 0) {
        if (frame.sequence !== last) throw damaged(`the journal's header at byte ${at} has sequence ${frame.sequence} after ${String(last)}; the journal was left untouched`);
        if (parent === undefined) throw damaged(`the journal's header at byte ${at} opens a segment but names no parent image; the journal was left untouched`);
      }
      headers.push({ imageId: image, sequence: frame.sequence, size: frame.size, offset, ...(parent === undefined ? {} : { parent }) });
    } else {
      if (last !== undefined && frame.sequence !== last + 1) {
        throw damaged(`journal record at byte ${at} has sequence ${frame.sequence} after ${last}; the journal was left untouched`);
      }
      records.push({ sequence: frame.sequence, decodeStatements: () => decodePayload(bytes, frame, offset), offset, size: frame.size });
    }
    last = frame.sequence;
    at += frame.size;
  }
  return withHeaders(headers, { records, validLength: at, tornBytes: 0 });
}

function withHeaders(headers: JournalHeader[], rest: Omit<ParsedJournal, 'header' | 'headers'>): ParsedJournal {
  const first = headers[0];
  return { ...(first?.offset === 0 ? { header: first } : {}), headers, ...rest };
}

function decodeHeader(bytes: Uint8Array, frame: Extract<Frame, { ok: true }>, at: number): { image: string; parent?: string } {
  let parsed: unknown;
  const where = at === 0 ? "the journal's header" : `the journal's header at byte ${at}`;
  try {
    parsed = JSON.parse(decoder.decode(bytes.subarray(frame.payloadAt, frame.payloadAt + frame.payloadLength)));
  } catch (e) {
    throw new CorruptDatabaseError(`${where} is unreadable; the journal was left untouched`, { cause: e, reason: 'JOURNAL_DAMAGED' });
  }
  const { image, parent } = (parsed ?? {}) as { image?: unknown; parent?: unknown };
  if (typeof image !== 'string' || !IMAGE_ID.test(image)) {
    throw new CorruptDatabaseError(`${where} names no image id; the journal was left untouched`, { reason: 'JOURNAL_DAMAGED' });
  }
  if (parent !== undefined && (typeof parent !== 'string' || !IMAGE_ID.test(parent))) {
    throw new CorruptDatabaseError(`${where} names a parent that is not an image id; the journal was left untouched`, { reason: 'JOURNAL_DAMAGED' });
  }
  return parent === undefined ? { image } : { image, parent };
}

// A crash during an append leaves its last record cut short: the file ends inside it, or the part
// the disk never wrote reads as zeros. A last record that is all there (its checksum fails though
// every byte was written, or its bytes check out behind a damaged marker or length) was damaged
// after it was written, and may have been acknowledged: that is damage, never a torn tail.
function damagedWholeRecord(bytes: Uint8Array, view: DataView, at: number): string | undefined {
  const end = bytes.length;
  if (end - at < RECORD_HEADER_BYTES) return undefined;
  const stored = view.getUint32(at + 8, true);
  if (crc32(bytes, at + 12, end) === stored) return 'its checksum holds for every byte to the end, so its marker or length is what changed';
  const length = view.getUint32(at + 4, true);
  if (view.getUint32(at, true) !== MAGIC || at + RECORD_HEADER_BYTES + length !== end) return undefined;
  for (let i = at, zeros = 0; i < end; i++) {
    zeros = bytes[i] === 0 ? zeros + 1 : 0;
    if (zeros >= 8) return undefined;
  }
  if (bytes[end - 1] === 0) return undefined;
  return 'a checksum mismatch in a record whose every byte is there';
}

// A disk sector: the least a write that never reached the disk leaves as it was.
const SECTOR_BYTES = 512;

// Whether the damage from a record's start `at` up to an intact record at `later` is an append the
// disk wrote only in part, out of order: an append that writes inside the file (over the zeros the
// fs adapter writes ahead of its records) can reach the disk in any order of its sectors, so a crash
// can leave a later record of it whole behind an earlier sector never written, zeros still. That
// append was never acknowledged (its fdatasync did not return), and nothing after it was written:
// it is a torn tail, intact records after the gap included. The sign is the zeros: the bytes from
// `at` to the end of its sector, or a whole sector between the two, all zero. A record never holds
// so many zeros (its payload is JSON), and damage to an acknowledged record that is not a run of
// zeros stays damage.
function unwrittenBetween(bytes: Uint8Array, at: number, later: number): boolean {
  const zeros = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
    return true;
  };
  const sectorEnd = Math.min(later, (Math.floor(at / SECTOR_BYTES) + 1) * SECTOR_BYTES);
  // (At least the record's 4-byte marker, zero.)
  if (sectorEnd - at >= 4 && zeros(at, sectorEnd)) return true;
  // (sectorEnd is a sector boundary whenever a whole sector fits before `later`.)
  for (let sector = sectorEnd; sector + SECTOR_BYTES <= later; sector += SECTOR_BYTES) {
    if (zeros(sector, sector + SECTOR_BYTES)) return true;
  }
  return false;
}

// Looks for a whole, checksummed record starting anywhere from `from` (only after damage was found).
function findIntactRecord(bytes: Uint8Array, view: DataView, from: number, last: number | undefined): number | undefined {
  for (let at = from; at + RECORD_HEADER_BYTES <= bytes.length; at++) {
    if (bytes[at] !== 0x50 || view.getUint32(at, true) !== MAGIC) continue;
    const frame = readFrame(bytes, view, at);
    if (frame.ok && (last === undefined || frame.sequence > last)) return at;
  }
  return undefined;
}
