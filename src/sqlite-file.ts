import { CorruptDatabaseError } from './errors.js';

/**
 * What the first 100 bytes of a SQLite database file say about the whole file (SQLite's file
 * format, section 1.3: https://www.sqlite.org/fileformat.html#the_database_header).
 */
export interface SqliteHeader {
  /** The page size in bytes (512 … 65536). */
  readonly pageSize: number;
  /**
   * The page count the header records, when SQLite vouches for it (the "in-header database size"
   * is valid only while the "version-valid-for" number equals the change counter; SQLite before
   * 3.7.0 did not keep it). `undefined`: the file's length is the only measure.
   */
  readonly pageCount: number | undefined;
  /** Whether the header marks the file as a WAL database (read and write versions 2). */
  readonly wal: boolean;
}

const MAGIC = 'SQLite format 3\0';
const HEADER_BYTES = 100;

function u16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

function u32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

function startsLikeSqlite(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.byteLength, MAGIC.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) return false;
  return true;
}

/**
 * Checks that `bytes` can be a whole SQLite database file, from its header alone, before SQLite
 * sees it: SQLite's header, a valid page size, and a length of exactly the header's page count
 * times the page size (or, where the header does not vouch for a count, whole pages). A file cut
 * short by a failed copy, or one a byte short, is refused here: SQLite itself would open it and
 * fail only when it reads a missing page, or never, and a writer would make the damage permanent.
 * Throws a {@link CorruptDatabaseError} whose `reason` says what is wrong; returns the header.
 * `what` names the bytes in messages (`/data/agent.db`, `the image`). `length` is the whole file's
 * length when `bytes` holds only its start (at least its first 100 bytes), so a file can be
 * checked before it is read.
 */
export function checkSqliteFile(bytes: Uint8Array, what = 'the image', length = bytes.byteLength): SqliteHeader {
  if (length === 0) {
    throw new CorruptDatabaseError(`${what} is empty (0 bytes): a truncated file or a failed copy, not a database`, { reason: 'EMPTY' });
  }
  if (!startsLikeSqlite(bytes)) {
    throw new CorruptDatabaseError(`${what} (${length} bytes) is not a SQLite database: its header is not "SQLite format 3"`, { reason: 'NOT_SQLITE' });
  }
  if (length < HEADER_BYTES) {
    throw new CorruptDatabaseError(`${what} is cut short: ${length} bytes, less than SQLite's 100-byte header`, { reason: 'TRUNCATED' });
  }
  const rawPageSize = u16(bytes, 16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new CorruptDatabaseError(`${what} has a damaged header: page size ${rawPageSize} is not a power of two from 512 to 65536`, { reason: 'DAMAGED' });
  }
  const headerPages = u32(bytes, 28);
  const pageCount = headerPages > 0 && u32(bytes, 92) === u32(bytes, 24) ? headerPages : undefined;
  if (pageCount !== undefined) {
    const expected = pageCount * pageSize;
    if (length < expected) {
      throw new CorruptDatabaseError(
        `${what} is cut short: ${length} bytes, but its header says ${pageCount} pages of ${pageSize} bytes (${expected} bytes); pages are missing`,
        { reason: 'TRUNCATED' },
      );
    }
    if (length > expected) {
      throw new CorruptDatabaseError(
        `${what} is ${length} bytes, longer than the ${pageCount} pages of ${pageSize} bytes (${expected} bytes) its header says: something was written past its end`,
        { reason: 'TRAILING_BYTES' },
      );
    }
  } else if (length % pageSize !== 0) {
    throw new CorruptDatabaseError(`${what} is ${length} bytes, not a whole number of ${pageSize}-byte pages: its last page is cut short`, { reason: 'TRUNCATED' });
  }
  return { pageSize, pageCount, wal: bytes[18] === 2 || bytes[19] === 2 };
}
