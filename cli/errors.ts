/**
 * What the `agent-store` command exits with, and how a failure becomes a message and a code.
 * The codes are part of the command's interface (docs/cli.md): scripts branch
 * on them, so a code never changes meaning.
 */
import { StoreError } from '../src/index.js';

/** The exit codes of `agent-store`. */
export const EXIT = {
  /** Done; for `check`, no problem found. */
  OK: 0,
  /**
   * `check` found problems, the command would overwrite or duplicate something that exists (an
   * output file, a task id: `EXISTS`, `CONFLICT`), or an unexpected failure.
   */
  FAILED: 1,
  /** The command line is wrong (unknown command or option, a missing or invalid argument). */
  USAGE: 2,
  /** The database (or another input file) does not exist. */
  NOT_FOUND: 3,
  /**
   * Another program holds the database: a running store owns it and the command writes, or SQLite's
   * own journal is beside it (a `-wal` with content, a hot `-journal`; for writing, a `-shm`): a
   * SQLite program such as the Go agent has it open, or crashed with it open.
   */
  LOCKED: 4,
  /** The file is not SQLite, or the database or its journal is damaged. */
  CORRUPT: 5,
  /** The database's schema is newer than this version of the package knows. */
  SCHEMA_TOO_NEW: 6,
  /** Reading or writing a file failed (permissions, a full disk, an I/O error). */
  IO: 7,
  /** The input (an `import` file, a record) is invalid; nothing was written. */
  INVALID_INPUT: 8,
  /** Stopped by Ctrl-C or SIGTERM (128 + SIGINT's 2, as shells report it); the message says what was kept. */
  INTERRUPTED: 130,
} as const;

/** A failure the command reports with its own message and exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  /** What `--json` prints as `error.code`. */
  readonly code: string;
  readonly details?: unknown;

  constructor(exitCode: number, code: string, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
    this.details = options.details;
  }
}

/** A wrong command line: the message says what, the usage follows it. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.USAGE, 'USAGE', message);
    this.name = 'UsageError';
  }
}

const STORE_CODES: Readonly<Record<string, number>> = {
  NOT_FOUND: EXIT.NOT_FOUND,
  LOCKED: EXIT.LOCKED,
  SQLITE_JOURNAL: EXIT.LOCKED,
  CORRUPT: EXIT.CORRUPT,
  SCHEMA_VERSION: EXIT.SCHEMA_TOO_NEW,
  PERSISTENCE: EXIT.IO,
  VALIDATION: EXIT.INVALID_INPUT,
  READ_ONLY: EXIT.FAILED,
  // A task id that is taken (`replay --id`), a task that has ended: like an output that exists.
  CONFLICT: EXIT.FAILED,
};

const FILE_CODES = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EIO', 'EROFS', 'EISDIR', 'ENOTDIR', 'EEXIST', 'EMFILE', 'EDQUOT', 'EBUSY']);

/**
 * The exit code and `--json` code of any error a command threw, and for a damaged database or a
 * failed file operation its `reason` (`TRUNCATED`, `JOURNAL_MISMATCH`, `EISDIR`, …).
 */
export function classify(error: unknown): { exitCode: number; code: string; message: string; reason?: string } {
  if (error instanceof CliError) return { exitCode: error.exitCode, code: error.code, message: error.message };
  if (error instanceof StoreError) {
    const reason = (error as { reason?: unknown }).reason;
    return { exitCode: STORE_CODES[error.code] ?? EXIT.FAILED, code: error.code, message: stripPrefix(error.message), ...(typeof reason === 'string' ? { reason } : {}) };
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code === 'ENOENT') return { exitCode: EXIT.NOT_FOUND, code, message: (error as Error).message };
  if (typeof code === 'string' && FILE_CODES.has(code)) return { exitCode: EXIT.IO, code, message: (error as Error).message };
  return { exitCode: EXIT.FAILED, code: 'ERROR', message: error instanceof Error ? error.message : String(error) };
}

// The store's messages start with the package name; the command names itself instead.
function stripPrefix(message: string): string {
  return message.replace(/^\[@platform-agent\/store\] /, '');
}
