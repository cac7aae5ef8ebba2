/**
 * The file-system adapter (Node only). For a database at `path` it keeps:
 *
 * | file                                  | what                                                                |
 * | ------------------------------------- | ------------------------------------------------------------------- |
 * | `path`                                | the image: always a plain, complete SQLite file (`sqlite3 path` reads it) |
 * | `${path}.pa-journal`                  | the journal: records appended since the image (only the store parses them) |
 * | `${path}.pa-lock`                     | the lock: JSON naming the owning process (`pid`, `host`, `token`, `since`, `start`) |
 * | `${path}.pa-lock.takeover`            | a directory, for an instant, while a stale lock is taken over       |
 * | `${path}.pa-tmp-<pid>-<random>`       | a checkpoint's new image until it is renamed over `path`, or a trimmed journal until it is renamed over the journal |
 *
 * None of the suffixes is one SQLite gives meaning to (`-journal`, `-wal`, `-shm`, `-mj…`): opening
 * the image with `sqlite3` never mistakes our journal for a hot rollback journal of its own.
 * Every file the adapter creates has mode 0600; a checkpoint's new image keeps the mode (and, when
 * run as root, the owner) of the image it replaces. Symbolic links to the image or its directory are
 * resolved first, so all of these files sit next to the real image.
 *
 * The lock is taken over when its process is gone: no such pid, a zombie, or the pid reused by a
 * process that started at another time (Linux `/proc`). A lock written on another host (another
 * machine sharing the directory, or another container with its own host name) is never taken
 * over: this host cannot tell whether that process lives. Delete the lock file once it is gone.
 *
 * Durability is `fdatasync`/`fsync` (plus an `fsync` of the directory after a file is created or
 * renamed). On macOS those reach the drive's cache, not its platter: durable across a crash of the
 * process or of the system, not necessarily across a power cut (Node exposes no `F_FULLFSYNC`).
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { imageCapacity, newImageBuffer, type LoadedState, type LockHolder, type PersistenceAdapter } from '../src/persistence.js';
// The one runtime import from the core: SQLite's header rules, pure (no environment, no state).
import { checkSqliteFile } from '../src/sqlite-file.js';

/** Options of {@link createFileAdapter}. */
export interface FileAdapterOptions {
  /**
   * The database file (the image). Its directory must exist; the file itself is created by the
   * first checkpoint. A relative path is resolved against the working directory once, when the
   * adapter is created. The adapter's other files sit next to it (see {@link fileAdapterPaths}).
   * @example '/var/lib/agent/agent.db'
   */
  path: string;
  /**
   * When the adapter starts a new database instead of opening one:
   * - `'if-missing'`: when there is no file at `path` (the first checkpoint creates it);
   * - `'if-empty'`: also when the file has zero bytes (one made by `touch` or `mktemp`);
   * - `'never'`: the database must exist: a missing file is refused with `NOT_FOUND`.
   *
   * A zero-byte file is otherwise refused (`CORRUPT`, reason `EMPTY`): it is what a truncated file
   * or a failed copy looks like, and starting over there would hide the loss.
   * @default 'if-missing'
   */
  create?: 'if-missing' | 'if-empty' | 'never';
}

/** Where the file adapter keeps a database's files (see {@link fileAdapterPaths}). */
export interface FileAdapterPaths {
  /** The image: a complete SQLite file, `path` itself. */
  readonly image: string;
  /** The journal: `${path}.pa-journal`. */
  readonly journal: string;
  /** The lock file: `${path}.pa-lock`. */
  readonly lock: string;
  /** The directory that serializes takeovers of a stale lock: `${path}.pa-lock.takeover`. */
  readonly takeover: string;
  /** The prefix of checkpoint temp files, `${path}.pa-tmp-` (then `<pid>-<random>`). */
  readonly tempPrefix: string;
  /** SQLite's write-ahead log of the database, `${path}-wal` (the adapter never writes it; it refuses a database that has one with content). */
  readonly sqliteWal: string;
  /** SQLite's WAL index, `${path}-shm` (while it exists a SQLite program may have the database open: writing is refused). */
  readonly sqliteShm: string;
  /** SQLite's rollback journal, `${path}-journal` (a hot one, with content, is refused). */
  readonly sqliteJournal: string;
}

/**
 * The files the adapter uses for the database at `path`, named the same way the adapter names them
 * (`path` is not resolved: a relative path gives relative names).
 * @example
 * fileAdapterPaths('/data/agent.db').journal // '/data/agent.db.pa-journal'
 */
export function fileAdapterPaths(path: string): FileAdapterPaths {
  return {
    image: path,
    journal: `${path}.pa-journal`,
    lock: `${path}.pa-lock`,
    takeover: `${path}.pa-lock.takeover`,
    tempPrefix: `${path}.pa-tmp-`,
    sqliteWal: `${path}-wal`,
    sqliteShm: `${path}-shm`,
    sqliteJournal: `${path}-journal`,
  };
}

/** Where SQLite's own journal of the database at `paths.image` holds writes the file itself does not (see {@link sqliteJournalOf}). */
export interface SqliteJournalFound {
  /** The journal file. */
  readonly path: string;
  /** A write-ahead log with content, a hot rollback journal, or (for writers only) a WAL index of a program that may be running. */
  readonly kind: 'wal' | 'rollback' | 'shm';
  /** Its size in bytes. */
  readonly bytes: number;
}

/**
 * Looks for SQLite's own journal beside a database: a `-wal` with content (a SQLite program, the Go
 * agent, has the database open in WAL mode, or crashed with it open: committed pages in the log
 * are not in the file yet), or a hot `-journal` (a rollback journal whose header is not zeroed: a
 * transaction that crashed half-written into the file). `forWriting` also counts a `-shm` on its
 * own: a SQLite program may be running on the database, and would never see what a writer here
 * does. One rule for the adapter and the `agent-store` command.
 */
export function sqliteJournalOf(paths: Pick<FileAdapterPaths, 'sqliteWal' | 'sqliteShm' | 'sqliteJournal'>, forWriting: boolean): SqliteJournalFound | undefined {
  const size = (file: string): number | undefined => {
    try {
      return fs.statSync(file).size;
    } catch (e) {
      if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  };
  const wal = size(paths.sqliteWal);
  if (wal !== undefined && wal > 0) return { path: paths.sqliteWal, kind: 'wal', bytes: wal };
  const journal = size(paths.sqliteJournal);
  if (journal !== undefined && journal > 0 && firstByte(paths.sqliteJournal) !== 0) return { path: paths.sqliteJournal, kind: 'rollback', bytes: journal };
  if (forWriting) {
    const shm = size(paths.sqliteShm);
    if (shm !== undefined) return { path: paths.sqliteShm, kind: 'shm', bytes: shm };
  }
  return undefined;
}

// SQLite takes a rollback journal for hot only when its first byte is not zero (journal_mode=PERSIST
// zeroes the header at commit instead of deleting the file).
function firstByte(path: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const one = new Uint8Array(1);
    return fs.readSync(fd, one, 0, 1, 0) === 1 ? one[0] : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** What to tell about SQLite's journal `found` beside the database `image`, and what to do about it. */
export function sqliteJournalMessage(image: string, found: SqliteJournalFound): string {
  const what =
    found.kind === 'wal'
      ? `SQLite's write-ahead log ${found.path} (${found.bytes} bytes) is beside it: a SQLite program (the Go agent, the sqlite3 shell) has it open in WAL mode, or crashed with it open, and committed writes in that log are not in the file yet`
      : found.kind === 'rollback'
        ? `a hot SQLite rollback journal ${found.path} (${found.bytes} bytes) is beside it: a SQLite transaction crashed half-written into the file, which only SQLite can roll back`
        : `SQLite's WAL index ${found.path} is beside it: a SQLite program (the Go agent, the sqlite3 shell) may have it open, and would not see what this store writes`;
  const fix =
    found.kind === 'shm'
      ? `Stop that program first; if none runs (it crashed), open the file once with sqlite3 (sqlite3 ${image} "PRAGMA wal_checkpoint(TRUNCATE)"), which removes it`
      : `Stop that program first; if none runs, open the file once with sqlite3 (sqlite3 ${image} "PRAGMA wal_checkpoint(TRUNCATE)"), which folds the journal into it`;
  return `${image} cannot be ${found.kind === 'shm' ? 'written safely' : 'read whole'}: ${what}. ${fix}. Nothing was read or changed`;
}

function sqliteJournalError(image: string, found: SqliteJournalFound): Error & { code: 'SQLITE_JOURNAL' } {
  return Object.assign(codedError('SQLITE_JOURNAL', sqliteJournalMessage(image, found)), { path: found.path, kind: found.kind, bytes: found.bytes });
}

const FILE_MODE = 0o600;
// Above this, a journal write goes through the thread pool instead of blocking the event loop.
const SYNC_WRITE_LIMIT = 1024 * 1024;
// An append's fdatasync runs on the event loop (see syncAppend) unless one there took longer than
// SYNC_ON_LOOP_MS in the last OFF_LOOP_FOR_MS, and goes through the thread pool at least every
// YIELD_EVERY_MS, so that appends awaited one after another still give the loop its turns.
const SYNC_ON_LOOP_MS = 2;
const OFF_LOOP_FOR_MS = 1000;
const YIELD_EVERY_MS = 5;
// How far ahead of the journal's records append() writes zeros when it reaches the file's end.
const JOURNAL_AHEAD_MIN_BYTES = 64 * 1024;
const JOURNAL_AHEAD_MAX_BYTES = 1024 * 1024;
// A checkpoint's image is written and synced in pieces of this size (see replaceImage).
const IMAGE_SYNC_BYTES = 8 * 1024 * 1024;
// A lock file that does not parse may be one being written right now; after this it is debris.
const UNPARSABLE_LOCK_STALE_MS = 5_000;
// A takeover holds its directory for microseconds; one this old was left by a crash inside it.
const TAKEOVER_STALE_MS = 10_000;
// How long lock() waits for another process's takeover to finish before reporting LOCKED.
const TAKEOVER_WAIT_MS = 2_000;
const LOCK_ATTEMPTS = 10;

type ErrnoError = NodeJS.ErrnoException;

/** What the lock file (`agent.db.pa-lock`) holds. */
export interface LockContent {
  pid: number;
  host: string;
  token: string;
  since: string;
  /** The process's start time in clock ticks after boot (`/proc/<pid>/stat` field 22), on Linux. */
  start?: number;
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as ErrnoError).code : undefined;
}

function codedError<C extends string>(code: C, message: string): Error & { code: C } {
  return Object.assign(new Error(message), { code });
}

function lockedError(image: string, holder: LockHolder): Error & { code: 'LOCKED'; holder: LockHolder } {
  return Object.assign(codedError('LOCKED', `${image} is locked by ${holder.description}`), { holder });
}

// Promise wrappers over the callback API: lighter than fs/promises' FileHandle on the append path,
// where one fdatasync is the whole cost of a durable write.
function settle<T>(resolvePromise: (value: T) => void, reject: (e: unknown) => void) {
  return (e: ErrnoError | null, value: T): void => (e ? reject(e) : resolvePromise(value));
}
const fdatasync = (fd: number) => new Promise<void>((ok, ko) => fs.fdatasync(fd, (e) => (e ? ko(e) : ok())));
const fsync = (fd: number) => new Promise<void>((ok, ko) => fs.fsync(fd, (e) => (e ? ko(e) : ok())));
const ftruncate = (fd: number, length: number) => new Promise<void>((ok, ko) => fs.ftruncate(fd, length, (e) => (e ? ko(e) : ok())));
const closeFd = (fd: number) => new Promise<void>((ok, ko) => fs.close(fd, (e) => (e ? ko(e) : ok())));
const fchmod = (fd: number, mode: number) => new Promise<void>((ok, ko) => fs.fchmod(fd, mode, (e) => (e ? ko(e) : ok())));
const fchown = (fd: number, uid: number, gid: number) => new Promise<void>((ok, ko) => fs.fchown(fd, uid, gid, (e) => (e ? ko(e) : ok())));
const fstat = (fd: number) => new Promise<fs.Stats>((ok, ko) => fs.fstat(fd, settle(ok, ko)));
const openFd = (path: string, flags: string | number, mode?: number) =>
  new Promise<number>((ok, ko) => fs.open(path, flags, mode, settle(ok, ko)));
const writeAt = (fd: number, bytes: Uint8Array, offset: number, length: number, position: number) =>
  new Promise<number>((ok, ko) => fs.write(fd, bytes, offset, length, position, settle(ok, ko)));
const readAt = (fd: number, bytes: Uint8Array, offset: number, length: number, position: number) =>
  new Promise<number>((ok, ko) => fs.read(fd, bytes, offset, length, position, settle(ok, ko)));

/** Writes all of `bytes` at `position`, looping on short writes, off the event loop. */
async function writeAllAsync(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    done += await writeAt(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** The same, on the event loop: cheaper for the small writes of a journal append. */
function writeAllSync(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

const PAGE_BYTES = 4096;
// The errors of a disk with no room for the zeros ahead: the record is then written without them.
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const ZERO_PAGE = new Uint8Array(PAGE_BYTES);

/**
 * Writes `length` zeros at `position`, one page at a time. Not in one write: Linux gives the page
 * cache of a file written in large writes large folios (up to 2 MiB), and a later small write into
 * one marks the whole folio dirty, so every append's fdatasync wrote the folio it fell in: 1 MiB of
 * zeros written at once made each ~1.7 KB append write 1 MiB to the disk (ext4, Linux 6.18;
 * `/proc/self/io` write_bytes). Written a page at a time, the folios stay a page each. About 2.5 ms
 * for 1 MiB, on the event loop, once per many appends.
 */
function writeZerosSync(fd: number, position: number, length: number): void {
  const end = position + length;
  for (let at = position; at < end; ) {
    const upTo = Math.min(end, (Math.floor(at / PAGE_BYTES) + 1) * PAGE_BYTES);
    at += fs.writeSync(fd, ZERO_PAGE, 0, upTo - at, at);
  }
}

/** Makes a directory entry (a created or renamed file) survive a crash of the machine. */
async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; its file system orders metadata itself.
  if (process.platform === 'win32') return;
  const fd = await openFd(dir, 'r');
  try {
    await fsync(fd);
  } catch (e) {
    // Some file systems (network ones, some FUSE) refuse fsync on a directory; SQLite ignores that too.
    if (errorCode(e) !== 'EINVAL' && errorCode(e) !== 'ENOTSUP') throw e;
  } finally {
    await closeFd(fd);
  }
}

/** A process's state letter and start time from `/proc/<pid>/stat`, where there is one (Linux). */
function procStat(pid: number): { state: string; start: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (the command name) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = Number(fields[19]); // field 22; `fields` starts at field 3
  return state !== undefined && Number.isSafeInteger(start) ? { state, start } : undefined;
}

/** A lock file's content, or `undefined` when it is not a whole lock (being written, or debris). */
export function parseLock(raw: string): LockContent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.pid) || (v.pid as number) <= 0) return undefined;
  if (typeof v.host !== 'string' || typeof v.token !== 'string' || typeof v.since !== 'string') return undefined;
  if (v.start !== undefined && !Number.isSafeInteger(v.start)) return undefined;
  return v as unknown as LockContent;
}

/**
 * Whether the process a lock file names may still exist. Anything uncertain counts as alive. The one
 * liveness rule: the adapter's takeover and the node:sqlite engine (which respects a sql.js store's
 * lock) both use it.
 */
export function holderAlive(content: LockContent): boolean {
  if (content.host !== hostname()) return true; // its pid means nothing here
  if (content.pid !== process.pid) {
    try {
      process.kill(content.pid, 0);
    } catch (e) {
      if (errorCode(e) === 'ESRCH') return false; // EPERM: it exists, under another user
    }
  }
  const stat = procStat(content.pid);
  if (stat === undefined) return true; // no /proc: kill(0) is all there is to go on
  if (stat.state === 'Z' || stat.state === 'X') return false; // exited, not yet reaped
  // The same pid with another start time is another process: the holder died and its pid was reused
  // (also our own pid, after a container restart).
  return content.start === undefined || content.start === stat.start;
}

function describeHolder(content: LockContent): string {
  return `process ${content.pid} on host ${content.host} since ${content.since}`;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await fs.promises.readFile(path);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads the image into memory the store may keep (see `imageOwned`), or `undefined` when there is none. */
async function readImage(path: string, journalSize: number): Promise<Uint8Array | undefined> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw codedError(stat.isDirectory() ? 'EISDIR' : 'EINVAL', `${path} is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}, not a database file`);
    }
    const { size } = stat;
    if (size > 0) {
      // Refused from its header before the whole file is read (an image cut short costs no copy).
      const head = new Uint8Array(Math.min(size, 100));
      await handle.read(head, 0, head.length, 0);
      checkSqliteFile(head, path, size);
    }
    const bytes = new Uint8Array(newImageBuffer(imageCapacity(size, journalSize)), 0, size);
    // The image is only ever replaced by rename, never written in place: this fd's file is stable.
    for (let at = 0; at < size; ) {
      const { bytesRead } = await handle.read(bytes, at, Math.min(size - at, 64 * 1024 * 1024), at);
      if (bytesRead === 0) throw Object.assign(new Error(`${path} ended at byte ${at} of ${size} while it was read`), { code: 'EIO' });
      at += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/**
 * Where the records of journal bytes end: before the zeros the fs adapter writes ahead of them. A
 * record never ends with a zero byte (its payload is JSON), so the zeros after the last nonzero byte
 * are never part of one.
 */
function recordsEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

/**
 * Journal bytes without the zeros the fs adapter writes ahead of its records (a view, no copy): what
 * `parseJournal` is given, for tools that read the journal file themselves.
 */
export function journalRecords(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(0, recordsEnd(bytes));
}

// Where the records of the journal file open as `fd` (of `size` bytes) end, read from the end (the
// zeros ahead of them are at most ~1 MiB, read in 64 KiB pieces).
function recordsEndOfFile(fd: number, size: number): number {
  const chunk = new Uint8Array(64 * 1024);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const within = recordsEnd(chunk.subarray(0, n));
    if (within > 0) return start + within;
    end = start;
  }
  return 0;
}

/**
 * The bytes of the records in the journal file at `journalPath` (0 when there is none): its size
 * less the zeros the fs adapter writes ahead of its records, found from the end. For tools that
 * report the journal's size without reading it all.
 */
export function journalRecordBytes(journalPath: string): number {
  let fd: number;
  try {
    fd = fs.openSync(journalPath, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return 0;
    throw e;
  }
  try {
    return recordsEndOfFile(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
}

// A plain Uint8Array over the same memory (a Buffer is one too, but its methods differ: slice shares).
function plain(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function isDetached(bytes: Uint8Array): boolean {
  if (bytes.byteLength !== 0) return false;
  try {
    new Uint8Array(bytes.buffer);
    return false;
  } catch {
    return true;
  }
}

/**
 * Keeps the database in files: the image at `path`, a plain SQLite file any SQLite reads, and next
 * to it a journal of the writes since, so a durable write appends a few hundred bytes (one
 * `fdatasync`) instead of rewriting the database. A checkpoint writes a new image beside the old one
 * and renames it over it, so the old image is complete until the new one is. An owner lock file
 * keeps a second writer out, in this process or another on the same host; the lock of a process
 * that died is taken over. Persistent, so the store's default durability with it is `'write'`.
 * @example
 * import { createFileAdapter } from '@platform-agent/store/adapters/fs';
 * const store = await openStore({ adapter: createFileAdapter({ path: '/var/lib/agent/agent.db' }) });
 */
export function createFileAdapter(options: FileAdapterOptions): PersistenceAdapter {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw Object.assign(new TypeError('createFileAdapter needs a non-empty `path`'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const create = options.create ?? 'if-missing';
  if (create !== 'if-missing' && create !== 'if-empty' && create !== 'never') {
    throw Object.assign(new TypeError(`createFileAdapter's create must be 'if-missing', 'if-empty' or 'never', not ${String(create)}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const given = resolve(options.path);
  let paths = fileAdapterPaths(given);
  let dir = dirname(given);
  let tempName = basename(paths.tempPrefix);
  let located = false;

  /**
   * Resolves symbolic links once, as SQLite does: the files sit next to the real image, so a store
   * opened through a link and one opened through the target share one lock, and a checkpoint
   * replaces the target instead of turning the link into a file.
   */
  async function locate(): Promise<void> {
    if (located) return;
    let real: string;
    try {
      real = await fs.promises.realpath(given);
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
      try {
        real = join(await fs.promises.realpath(dirname(given)), basename(given));
      } catch (e2) {
        if (errorCode(e2) === 'ENOENT') return; // no directory (yet): the operation reports it
        throw e2;
      }
    }
    paths = fileAdapterPaths(real);
    dir = dirname(real);
    tempName = basename(paths.tempPrefix);
    located = true;
  }

  let closed = false;
  let token: string | undefined; // set while we hold the lock
  let journalFd: number | undefined;
  let journalSize: number | undefined; // where the journal's records end; undefined: fstat before trusting it
  // The journal file's size: its records, then zeros written ahead of them (see append). Known
  // whenever journalSize is.
  let journalAllocated = 0;

  const usable = (): void => {
    if (closed) throw codedError('CLOSED', `the fs adapter for ${paths.image} is closed`);
  };

  /** Creates the lock file with our content; false when one exists already. */
  async function tryCreateLock(content: LockContent): Promise<boolean> {
    let fd: number;
    try {
      fd = await openFd(paths.lock, 'wx', FILE_MODE);
    } catch (e) {
      if (errorCode(e) === 'EEXIST') return false;
      throw e;
    }
    try {
      writeAllSync(fd, new TextEncoder().encode(JSON.stringify(content)), 0);
    } catch (e) {
      fs.closeSync(fd);
      await fs.promises.unlink(paths.lock).catch(() => undefined);
      throw e;
    }
    await closeFd(fd);
    return true;
  }

  /** Whether a lock file's content (as read) shows a live holder; throws LOCKED when it does. */
  async function judge(raw: string): Promise<void> {
    const content = parseLock(raw);
    if (content !== undefined) {
      if (holderAlive(content)) throw lockedError(paths.image, { pid: content.pid, host: content.host, description: describeHolder(content) });
      return;
    }
    // Gone meanwhile: nothing holds it (the takeover looks again before replacing anything).
    const age = await fs.promises.stat(paths.lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => Infinity,
    );
    if (age < UNPARSABLE_LOCK_STALE_MS) {
      throw lockedError(paths.image, {
        description: `an unreadable lock file ${paths.lock} (${Math.round(age)} ms old; it may be being written right now)`,
      });
    }
  }

  /**
   * Replaces the stale lock whose content was `raw` by ours, serialized with every other process
   * doing the same by the takeover directory. Resolves false when the lock changed meanwhile
   * (the caller looks again).
   */
  async function takeOver(raw: string, content: LockContent): Promise<boolean> {
    const waitUntil = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      try {
        await fs.promises.mkdir(paths.takeover, { mode: 0o700 });
        break;
      } catch (e) {
        if (errorCode(e) !== 'EEXIST') throw e;
      }
      const since = await fs.promises.stat(paths.takeover).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      if (since !== undefined && Date.now() - since > TAKEOVER_STALE_MS) {
        await fs.promises.rmdir(paths.takeover).catch(() => undefined);
      } else if (Date.now() > waitUntil) {
        throw lockedError(paths.image, { description: `another process taking over a stale lock (${paths.takeover} exists)` });
      } else {
        await sleep(5 + Math.random() * 10);
      }
    }
    try {
      // Look again inside the mutex: someone may have taken over (or unlocked) since we read it.
      const now = await readIfExists(paths.lock);
      if (now === undefined || now.toString('utf8') !== raw) return false;
      await judge(raw);
      await fs.promises.unlink(paths.lock).catch((e: unknown) => {
        if (errorCode(e) !== 'ENOENT') throw e;
      });
      return await tryCreateLock(content);
    } finally {
      await fs.promises.rmdir(paths.takeover).catch(() => undefined);
    }
  }

  /**
   * Removes the temp files of checkpoints that crashed (only the owner may: one may be in progress).
   * Best effort: debris costs disk space, not correctness, and must not keep the database shut.
   */
  async function removeLeftoverTemps(): Promise<void> {
    const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith(tempName)) await fs.promises.rm(join(dir, name), { force: true, recursive: true }).catch(() => undefined);
    }
  }

  /** The journal's fd, opened (and created) on first use. */
  async function journal(create: boolean): Promise<number | undefined> {
    usable();
    if (journalFd !== undefined) return journalFd;
    let created = false;
    let fd: number;
    try {
      fd = await openFd(paths.journal, fs.constants.O_RDWR);
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
      if (!create) return undefined;
      try {
        fd = await openFd(paths.journal, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, FILE_MODE);
        created = true;
      } catch (e2) {
        if (errorCode(e2) !== 'EEXIST') throw e2;
        fd = await openFd(paths.journal, fs.constants.O_RDWR);
      }
    }
    if (created) {
      try {
        await syncDirectory(dir);
      } catch (e) {
        await closeFd(fd).catch(() => undefined);
        throw e;
      }
    }
    if (closed) {
      // close() ran while the file was being opened: nothing may keep it open now.
      await closeFd(fd).catch(() => undefined);
      usable();
    }
    journalFd = fd;
    journalSize = undefined;
    return fd;
  }

  async function unlock(): Promise<void> {
    if (token === undefined) return;
    const ours = token;
    token = undefined;
    const raw = await readIfExists(paths.lock);
    // Another owner may have taken over a lock it judged stale (say, our host was renamed).
    if (raw !== undefined && parseLock(raw.toString('utf8'))?.token === ours) {
      await fs.promises.unlink(paths.lock).catch((e: unknown) => {
        if (errorCode(e) !== 'ENOENT') throw e;
      });
    }
  }

  // While an image is written, an append's fdatasync can wait behind its data (see replaceImage):
  // it then runs off the event loop. Otherwise it runs on it, as long as it stays quick: handing a
  // ~0.15 ms fdatasync to the thread pool and back costs another ~0.06 ms, a third of a durable
  // write. One that took longer than SYNC_ON_LOOP_MS sends the next ones off the loop for a while.
  // Appends awaited one after another with every sync on the loop would never give the loop a turn
  // (each continues in a microtask), so at least every YIELD_EVERY_MS one goes off it.
  let imageWrites = 0;
  let offLoopUntil = 0;
  let lastTurn = 0;
  // For a second, the syncs go through the thread pool, where a wait behind the disk's other work
  // holds up the appends but never the event loop: after a sync on the loop was slow, and after a
  // file's blocks are freed (an old image replaced, the journal truncated or replaced: the file
  // system is busy with them for a while; freeing a 256 MiB file took ~50 ms here, on a disk
  // mounted with `discard`).
  function stayOffLoop(): void {
    offLoopUntil = performance.now() + OFF_LOOP_FOR_MS;
  }

  async function syncAppend(fd: number): Promise<void> {
    const now = performance.now();
    if (imageWrites > 0 || now < offLoopUntil || now - lastTurn > YIELD_EVERY_MS) {
      await fdatasync(fd);
      lastTurn = performance.now();
      return;
    }
    fs.fdatasyncSync(fd);
    if (performance.now() - now > SYNC_ON_LOOP_MS) stayOffLoop();
  }

  /** Writes `image` beside the image and renames it over it: atomic, durable once it resolves. */
  async function replaceImage(image: Uint8Array): Promise<void> {
    usable();
    imageWrites++;
    try {
      await writeImageFile(image);
    } finally {
      imageWrites--;
      stayOffLoop();
    }
  }

  async function writeImageFile(image: Uint8Array): Promise<void> {
    if (isDetached(image)) throw new TypeError(`cannot checkpoint ${paths.image}: the image's buffer is detached`);
    await locate();
    const old = await fs.promises.stat(paths.image).catch((e: unknown) => {
      if (errorCode(e) === 'ENOENT') return undefined;
      throw e;
    });
    const mode = old === undefined ? FILE_MODE : old.mode & 0o7777;
    const temp = `${paths.tempPrefix}${process.pid}-${randomBytes(6).toString('hex')}`;
    let fd: number | undefined;
    let renamed = false;
    try {
      fd = await openFd(temp, 'wx', mode);
      if (old !== undefined) {
        // open() applies the umask: set the old image's mode exactly, and (as root) its owner,
        // so a checkpoint by root does not lock the database's owner out of it.
        await fchmod(fd, mode);
        if (process.getuid?.() === 0 && (old.uid !== 0 || old.gid !== 0)) await fchown(fd, old.uid, old.gid).catch(() => undefined);
      }
      // In pieces, each synced before the next is written: the journal's appends go on meanwhile,
      // and on a file system that orders data before metadata (ext4's default) an append's
      // fdatasync commits the file system's journal, which first writes out every dirty data
      // block of the image being written. Written whole, a 256 MiB image made appends wait up to
      // ~140 ms; in 8 MiB pieces, ~30 ms (bench/checkpoint-stalls).
      for (let at = 0; at < image.length; at += IMAGE_SYNC_BYTES) {
        await writeAllAsync(fd, image.subarray(at, Math.min(image.length, at + IMAGE_SYNC_BYTES)), at);
        if (at + IMAGE_SYNC_BYTES < image.length) await fdatasync(fd);
      }
      await fsync(fd);
      const written = fd;
      fd = undefined;
      await closeFd(written);
      await fs.promises.rename(temp, paths.image);
      renamed = true;
      await syncDirectory(dir);
    } catch (e) {
      if (fd !== undefined) await closeFd(fd).catch(() => undefined);
      if (!renamed) await fs.promises.unlink(temp).catch(() => undefined);
      throw e;
    }
  }

  return {
    name: 'fs',
    persistent: true,

    async lock(): Promise<void> {
      usable();
      await locate();
      if (token !== undefined) return;
      // A SQLite program on the same file would never see this store's writes, nor it its.
      const sqlite = sqliteJournalOf(paths, true);
      if (sqlite) throw sqliteJournalError(paths.image, sqlite);
      const content: LockContent = {
        pid: process.pid,
        host: hostname(),
        token: randomBytes(16).toString('hex'),
        since: new Date().toISOString(),
      };
      const start = procStat(process.pid)?.start;
      if (start !== undefined) content.start = start;
      for (let attempt = 0; ; attempt++) {
        if (attempt === LOCK_ATTEMPTS) {
          throw lockedError(paths.image, { description: `a lock file that kept changing while it was read (${paths.lock})` });
        }
        if (await tryCreateLock(content)) break;
        const raw = await readIfExists(paths.lock);
        if (raw === undefined) continue; // released meanwhile
        await judge(raw.toString('utf8'));
        if (await takeOver(raw.toString('utf8'), content)) break;
      }
      token = content.token;
      // Looked for again now that the lock is ours: the node:sqlite engine creates its -shm when it
      // opens, before it looks for this lock, so a store of each kind opening at the same moment
      // cannot both miss the other.
      const opened = sqliteJournalOf(paths, true);
      if (opened) {
        await unlock();
        throw sqliteJournalError(paths.image, opened);
      }
      await removeLeftoverTemps();
    },

    async load(): Promise<LoadedState> {
      usable();
      await locate();
      // A missing file is a new database; a missing directory is a mistake (a wrong path, a volume
      // not mounted) that must not look like one.
      await fs.promises.stat(dir);
      const sqlite = sqliteJournalOf(paths, false);
      if (sqlite) throw sqliteJournalError(paths.image, sqlite);
      // The journal first: a checkpoint by a writer between the two reads then gives an image
      // newer than the journal (whose records it covers), never a journal newer than the image.
      const journalFile = await readIfExists(paths.journal);
      // Zeros written ahead of the records (see append) are not part of the journal.
      const journalBytes = journalFile?.subarray(0, recordsEnd(journalFile));
      let image = await readImage(paths.image, journalBytes?.length ?? 0);
      if (image === undefined && create === 'never') {
        throw Object.assign(codedError('NOT_FOUND', `there is no database at ${paths.image} (create: 'never')`), { path: paths.image });
      }
      if (image !== undefined && image.byteLength === 0) {
        if (create !== 'if-empty') {
          throw Object.assign(
            codedError(
              'CORRUPT',
              `${paths.image} is empty (0 bytes): a truncated file or a failed copy, not a database. Restore it from a backup; to start a new database there, delete it or pass create: 'if-empty'. Nothing was changed`,
            ),
            { reason: 'EMPTY' },
          );
        }
        image = undefined; // asked for: a new database
      }
      return {
        // Read into memory of its own, with room to grow, which the store may keep without a copy.
        ...(image === undefined ? {} : { image, imageOwned: true }),
        ...(journalBytes === undefined ? {} : { journal: plain(journalBytes) }),
      };
    },

    async append(bytes: Uint8Array, at: number): Promise<void> {
      usable();
      const outside = (size: number) => new RangeError(`append at ${at} is outside the journal ${paths.journal} (${size} bytes)`);
      if (!Number.isSafeInteger(at) || at < 0) throw outside(journalSize ?? 0);
      try {
        await locate();
        // Created only for a write at 0: a rejected append leaves no file behind.
        const fd = await journal(at === 0);
        if (fd === undefined) throw outside(0);
        if (journalSize === undefined) {
          // Not known (the first append since the file was opened, or after a failure): read from
          // the file, where the records end before the zeros written ahead of them.
          const size = (await fstat(fd)).size;
          const records = recordsEndOfFile(fd, size);
          if (at > records) throw outside(records);
          // What follows `at` goes: a torn tail, a failed attempt, and the zeros, written ahead again
          // a page at a time (load() read them back in large page-cache folios; see writeZerosSync).
          if (size > at) {
            await ftruncate(fd, at);
            stayOffLoop();
          }
          journalSize = journalAllocated = at;
        }
        if (at > journalSize) throw outside(journalSize);
        if (at < journalSize) {
          // A failed attempt being retried: it was never acknowledged. (Zeros written ahead go
          // with it: what follows the records must be zeros only.)
          await ftruncate(fd, at);
          stayOffLoop();
          journalSize = journalAllocated = at;
        }
        const end = at + bytes.length;
        // The record first: on a disk about to fill up, it gets the room before the zeros do.
        if (bytes.length > SYNC_WRITE_LIMIT) await writeAllAsync(fd, bytes, at);
        else writeAllSync(fd, bytes, at);
        if (end > journalAllocated) {
          // Zeros ahead of the records, so that the appends after this one write inside the file
          // instead of growing it: an fdatasync that must also record a new file size costs the
          // file system a journal commit of its own (a third or more of a durable write on ext4).
          // As much again as the file holds, from 64 KiB up to 1 MiB at a time, after the record;
          // synced by this append's own fdatasync; load() leaves them out. Only a help: where they
          // do not fit (a full disk), what was written of them stays (zeros) and the append goes on.
          const ahead = Math.min(JOURNAL_AHEAD_MAX_BYTES, Math.max(JOURNAL_AHEAD_MIN_BYTES, journalAllocated));
          try {
            writeZerosSync(fd, end, ahead);
            journalAllocated = end + ahead;
          } catch (e) {
            if (!NO_ROOM.has(errorCode(e) ?? '')) throw e;
            journalAllocated = Math.max(end, (await fstat(fd)).size);
          }
        }
        journalSize = end;
        await syncAppend(fd);
      } catch (e) {
        journalSize = undefined;
        throw e;
      }
    },

    async checkpoint(image: Uint8Array): Promise<void> {
      await replaceImage(image);
      // Only now is the new image durable; the journal's records are all in it.
      try {
        const jfd = await journal(false);
        if (jfd !== undefined) {
          journalSize = undefined;
          await ftruncate(jfd, 0);
          stayOffLoop();
          await fdatasync(jfd);
          journalSize = journalAllocated = 0;
        }
      } catch (e) {
        journalSize = undefined;
        throw e;
      }
    },

    writeImage: replaceImage,

    async trimJournal(from: number): Promise<void> {
      usable();
      const outside = (size: number) => new RangeError(`trimming at ${from} is outside the journal ${paths.journal} (${size} bytes)`);
      if (!Number.isSafeInteger(from) || from < 0) throw outside(journalSize ?? 0);
      try {
        await locate();
        const fd = await journal(false);
        if (fd === undefined) {
          if (from === 0) return;
          throw outside(0);
        }
        const size = journalSize ?? recordsEndOfFile(fd, (await fstat(fd)).size);
        if (from > size) throw outside(size);
        if (from === 0) return;
        if (from === size) {
          // Nothing kept: emptied in place (a truncation is all or nothing).
          journalSize = undefined;
          await ftruncate(fd, 0);
          stayOffLoop();
          await fdatasync(fd);
          journalSize = journalAllocated = 0;
          return;
        }
        // What is kept goes to a new file that replaces the journal whole: a crash leaves the old
        // journal or the new one.
        const kept = new Uint8Array(size - from);
        for (let done = 0; done < kept.length; ) {
          const n = await readAt(fd, kept, done, kept.length - done, from + done);
          if (n === 0) throw new Error(`${paths.journal} ended at ${from + done} bytes while ${size} were expected`);
          done += n;
        }
        const mode = (await fstat(fd)).mode & 0o7777;
        const temp = `${paths.tempPrefix}${process.pid}-${randomBytes(6).toString('hex')}`;
        // Read and write: it becomes the journal (appends, and the next trim's reads).
        let tfd: number | undefined = await openFd(temp, 'wx+', mode);
        let renamed = false;
        try {
          await fchmod(tfd, mode);
          await writeAllAsync(tfd, kept, 0);
          await fdatasync(tfd);
          await fs.promises.rename(temp, paths.journal);
          renamed = true;
          // Appends go to the new file from now on.
          journalFd = tfd;
          tfd = undefined;
          journalSize = journalAllocated = kept.length;
          await closeFd(fd).catch(() => undefined);
          stayOffLoop();
          // Trimmed now: a crash before the directory reaches the disk brings back the whole journal,
          // which is as good (the store replays it from the marker), so a failure here is no failure.
          await syncDirectory(dir).catch(() => undefined);
        } finally {
          if (tfd !== undefined) await closeFd(tfd).catch(() => undefined);
          if (!renamed) await fs.promises.unlink(temp).catch(() => undefined);
        }
      } catch (e) {
        journalSize = undefined;
        throw e;
      }
    },

    unlock,

    async close(): Promise<void> {

      if (closed) return;
      closed = true;
      let failure: unknown;
      if (journalFd !== undefined) {
        const fd = journalFd;
        journalFd = undefined;
        await closeFd(fd).catch((e: unknown) => (failure ??= e));
      }
      await unlock().catch((e: unknown) => (failure ??= e));
      if (failure !== undefined) throw failure;
    },
  };
}
