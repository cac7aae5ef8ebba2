/**
 * `store.query(sql, params)`: one ad-hoc read, refused before it runs when it could write.
 *
 * No engine gives a JavaScript caller `sqlite3_stmt_readonly` (sql.js and node:sqlite do not expose
 * it; D1 runs what it is given), and `PRAGMA query_only` is refused by D1. So the check is SQLite's
 * own, read off `EXPLAIN`, which every engine allows and which compiles without running: a program
 * that opens a write transaction (`Transaction` with `p2 ≠ 0`, the rule `sqlite3_stmt_readonly`
 * applies) or writes outside one (`Vacuum`, `JournalMode`…). Before that, the text itself: one
 * statement, a query (`SELECT`, `WITH`, `VALUES`), no function or pragma table that acts on its
 * own, positional parameters that match. The text comes first because some statements act while
 * they compile (a `PRAGMA foreign_keys = OFF` changes the connection even under `EXPLAIN`). Engines
 * that can also have SQLite refuse writes while the query runs (sql.js, node:sqlite) offer
 * `allReadOnly`, which the query runs through.
 */
import type { Context } from './context.js';
import { ValidationError } from './errors.js';
import type { SqlPort, SqlRow, SqlValue } from './sql-port.js';

/** Functions that act outside the query's result: loading code, registering a tokenizer, touching files (the shell's). */
const ACTING_FUNCTIONS: ReadonlySet<string> = new Set(['load_extension', 'fts3_tokenizer', 'writefile', 'readfile', 'edit', 'lsdir']);
/** What `ATTACH` and `DETACH` compile to: they change the connection, and `sqlite3_stmt_readonly` calls them read-only. */
const CONNECTION_FUNCTIONS: ReadonlySet<string> = new Set(['sqlite_attach', 'sqlite_detach']);

/**
 * The pragmas a query may read as a table (`SELECT * FROM pragma_table_info('tasks')`). Any other
 * `pragma_*` is refused: some run a pragma that writes (`pragma_optimize` runs `ANALYZE`), and
 * `EXPLAIN` shows a pragma table only as an opaque virtual table.
 */
const READABLE_PRAGMAS: ReadonlySet<string> = new Set(
  [
    'application_id',
    'auto_vacuum',
    'cache_size',
    'collation_list',
    'compile_options',
    'data_version',
    'database_list',
    'encoding',
    'foreign_key_check',
    'foreign_key_list',
    'foreign_keys',
    'freelist_count',
    'function_list',
    'index_info',
    'index_list',
    'index_xinfo',
    'integrity_check',
    'journal_mode',
    'module_list',
    'page_count',
    'page_size',
    'pragma_list',
    'quick_check',
    'schema_version',
    'table_info',
    'table_list',
    'table_xinfo',
    'user_version',
  ].map((name) => `pragma_${name}`),
);

/** Opcodes that write whatever their operands: SQLite's `sqlite3_stmt_readonly` counts them as writes too. */
const WRITING_OPCODES: ReadonlySet<string> = new Set([
  'OpenWrite',
  'VUpdate',
  'VCreate',
  'VDestroy',
  'CreateBtree',
  'Destroy',
  'Clear',
  'DropTable',
  'DropIndex',
  'DropTrigger',
  'ParseSchema',
  'SetCookie',
  'Vacuum',
  'IncrVacuum',
  'JournalMode',
  'Checkpoint',
]);

/** What {@link scanSql} learnt of a statement's text. */
export interface ScannedSql {
  /** The first keyword, upper-case (`SELECT`). */
  readonly keyword: string;
  /** How many positional parameters it binds (`?` and `?NNN`, as SQLite numbers them). */
  readonly parameters: number;
}

const refuse = (message: string, path: (string | number)[] = ['sql']): ValidationError =>
  new ValidationError('query', [{ code: 'custom', message, path, input: undefined } as ValidationError['issues'][number]]);

const isIdentifierStart = (c: string): boolean => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentifierPart = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/**
 * Reads a statement's text as SQLite's tokenizer would, far enough to check it: comments, string
 * literals and quoted identifiers are skipped whole, so a `;` or a name inside them counts for
 * nothing. Throws a `ValidationError` for more than one statement, a statement that is not a query,
 * an acting function or pragma table, or a named parameter.
 */
export function scanSql(sql: string): ScannedSql {
  let keyword: string | undefined;
  let parameters = 0;
  let ended = false; // a `;` ended the statement: only blanks, comments and `;` may follow
  // The previous word and whether it was quoted (a call is a word followed by `(`).
  let word: string | undefined;
  const n = sql.length;
  let i = 0;
  const name = (text: string): void => {
    if (ended) throw refuse('holds more than one statement; query() runs exactly one');
    keyword ??= text.toUpperCase();
    const lower = text.toLowerCase();
    if (lower.startsWith('pragma_') && !READABLE_PRAGMAS.has(lower)) throw refuse(`reads ${text}, a pragma that may act; query() reads only pragmas that report (pragma_table_info, pragma_index_list, pragma_page_count…: see docs/api.md)`);
    word = lower;
  };
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (c === ';') {
      ended = true;
      word = undefined;
      i++;
      continue;
    }
    if (ended) throw refuse('holds more than one statement; query() runs exactly one');
    if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      let text = '';
      for (;;) {
        const k = sql.indexOf(close, j);
        if (k === -1) throw refuse(`has an unterminated ${c === "'" ? 'string' : 'quoted name'}`);
        text += sql.slice(j, k);
        // A doubled quote is the quote itself (not inside [...]).
        if (close !== ']' && sql[k + 1] === close) {
          text += close;
          j = k + 2;
          continue;
        }
        i = k + 1;
        break;
      }
      if (c === "'") {
        if (keyword === undefined) throw refuse('does not start with a keyword');
        word = undefined;
      } else name(text);
      continue;
    }
    if (isIdentifierStart(c)) {
      let j = i + 1;
      while (j < n && isIdentifierPart(sql[j] as string)) j++;
      name(sql.slice(i, j));
      i = j;
      continue;
    }
    if (keyword === undefined) throw refuse('does not start with a keyword');
    if (c === '(') {
      if (word !== undefined && ACTING_FUNCTIONS.has(word)) throw refuse(`calls ${word}(), which acts beyond the query; query() refuses it`);
      word = undefined;
      i++;
      continue;
    }
    if (c === '?') {
      let j = i + 1;
      while (j < n && /[0-9]/.test(sql[j] as string)) j++;
      parameters = j > i + 1 ? Math.max(parameters, Number(sql.slice(i + 1, j))) : parameters + 1;
      word = undefined;
      i = j;
      continue;
    }
    if (c === ':' || c === '@' || c === '$') throw refuse(`has a named parameter at ${JSON.stringify(sql.slice(i, i + 16))}; bind positionally, with ?`);
    word = undefined;
    i++;
  }
  if (keyword === undefined) throw refuse('is empty; give one SELECT');
  if (keyword !== 'SELECT' && keyword !== 'WITH' && keyword !== 'VALUES') {
    throw refuse(`is a ${keyword} statement; query() runs only a query (SELECT, WITH … SELECT, VALUES), never one that writes or changes the connection`);
  }
  return { keyword, parameters };
}

/** One row of SQLite's `EXPLAIN`: an instruction of the compiled program. */
interface Instruction {
  readonly opcode: string;
  readonly p2: number;
  readonly p4: SqlValue;
}

/**
 * Why a compiled program (the rows of `EXPLAIN <statement>`) could write, or `undefined` when it
 * cannot: it opens a write transaction (as `sqlite3_stmt_readonly` decides), has an opcode that
 * writes, or calls a function that acts.
 */
export function programWrites(rows: readonly SqlRow[]): string | undefined {
  for (const row of rows as readonly Partial<Instruction>[]) {
    const opcode = String(row.opcode);
    if (opcode === 'Transaction' && Number(row.p2) !== 0) return 'opens a write transaction';
    if (WRITING_OPCODES.has(opcode)) return `writes (SQLite's ${opcode})`;
    if ((opcode === 'Function' || opcode === 'PureFunc') && typeof row.p4 === 'string') {
      const called = row.p4.replace(/\(.*$/, '').toLowerCase();
      if (ACTING_FUNCTIONS.has(called) || CONNECTION_FUNCTIONS.has(called)) return `calls ${called}(), which acts beyond the query`;
    }
  }
  return undefined;
}

/** Reads `params` once into the values to bind; a `ValidationError` for anything but strings, finite numbers and null. */
function checkedParams(params: unknown, expected: number): SqlValue[] {
  if (params === undefined) params = [];
  if (!Array.isArray(params)) throw refuse(`must be an array of values (string, number, null), not ${params === null ? 'null' : typeof params}`, ['params']);
  let length: number;
  const out: SqlValue[] = [];
  try {
    length = params.length;
    for (let i = 0; i < length; i++) {
      const v: unknown = params[i];
      if (v === null || typeof v === 'string') out.push(v);
      else if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw refuse(`must be a finite number, not ${v}`, ['params', i]);
        out.push(v);
      } else if (typeof v === 'bigint') {
        throw refuse(`is a BigInt; pass a number${Number.isSafeInteger(Number(v)) ? '' : ' (this one is beyond 2^53, which SQLite values read back as numbers cannot hold)'}`, ['params', i]);
      } else throw refuse(`must be a string, a number or null, not ${v === undefined ? 'undefined' : typeof v}`, ['params', i]);
    }
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw ValidationError.of('query', `reading params threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (out.length !== expected) throw refuse(`has ${out.length} value${out.length === 1 ? '' : 's'}; the statement binds ${expected}`, ['params']);
  return out;
}

/** The port's read that SQLite itself keeps from writing, where the engine has one. */
function reader(port: SqlPort): (sql: string, params: readonly SqlValue[]) => Promise<SqlRow[]> {
  return port.allReadOnly ? (sql, params) => (port.allReadOnly as NonNullable<SqlPort['allReadOnly']>)(sql, params) : (sql, params) => port.all(sql, params);
}

/**
 * Runs one read-only statement with positional `params` and resolves with its rows. Anything that
 * could write is refused with a `ValidationError` before it runs (see the module's comment).
 */
export async function query(ctx: Context, sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
  if (typeof sql !== 'string') throw refuse(`must be a string, not ${sql === null ? 'null' : typeof sql}`);
  const { parameters } = scanSql(sql);
  const values = checkedParams(params, parameters);
  const read = reader(ctx.port);
  const why = programWrites(await read(`EXPLAIN ${sql}`, values));
  if (why !== undefined) throw refuse(`${why}; query() runs only statements that read`);
  return read(sql, values);
}
