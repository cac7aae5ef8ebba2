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
  /** The intact records, in order. */
  readonly records: JournalRecord[];
  /** Bytes up to the end of the last intact record: where the next append goes. */
  readonly validLength: number;
  /** Bytes after `validLength`: a last record that is cut short or damaged (a crash during its append), or 0. */
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
    throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} has an unreadable payload`, { cause: e });
  }
  if (!Array.isArray(parsed)) throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} is not a list of statements`);
  return parsed.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1]) || !(entry[1] as unknown[]).every(isSqlValue)) {
      throw new CorruptDatabaseError(`journal record ${frame.sequence} at byte ${at} holds a malformed statement`);
    }
    return { sql: entry[0], params: entry[1] as SqlValue[] };
  });
}

/**
 * Reads a journal's framing. A damaged or cut-short record with no intact record after it is a torn
 * tail: a crash during an append, never acknowledged; it is reported in `tornBytes` and left out.
 * Damage with intact records after it, or sequences out of order, throw a
 * {@link CorruptDatabaseError}: that is not a crash, and nothing may be guessed. Payloads are decoded
 * by each record's `decodeStatements()`, which throws for one that is unreadable behind a valid
 * checksum.
 */
export function parseJournal(bytes: Uint8Array): ParsedJournal {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: JournalRecord[] = [];
  let at = 0;
  let last: number | undefined;
  while (at < bytes.length) {
    const frame = readFrame(bytes, view, at);
    if (!frame.ok) {
      const later = findIntactRecord(bytes, view, at + 1, last);
      if (later !== undefined) {
        throw new CorruptDatabaseError(
          `the journal is damaged at byte ${at} (${frame.reason}${last === undefined ? '' : `, after record ${last}`}), and intact records follow at byte ${later}; it was left untouched`,
        );
      }
      return { records, validLength: at, tornBytes: bytes.length - at };
    }
    if (last !== undefined && frame.sequence !== last + 1) {
      throw new CorruptDatabaseError(`journal record at byte ${at} has sequence ${frame.sequence} after ${last}; the journal was left untouched`);
    }
    const offset = at;
    records.push({ sequence: frame.sequence, decodeStatements: () => decodePayload(bytes, frame, offset), offset, size: frame.size });
    last = frame.sequence;
    at += frame.size;
  }
  return { records, validLength: at, tornBytes: 0 };
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
