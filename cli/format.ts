/**
 * How the command prints: tables for people, JSON for scripts, and a progress bar on a terminal.
 * Text from the database (Slack messages, task params) is untrusted: printed for people, its control
 * characters are escaped so a stored escape sequence cannot drive the terminal.
 */
import stringWidth from 'string-width';
import { UsageError } from './errors.js';

/** Makes untrusted text safe for a terminal: control characters (ESC, CR, BEL…) become `\x1b`-style escapes. */
export function safeText(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * Makes a whole text safe for a terminal: like {@link safeText}, but line breaks stay. Everything
 * the command prints for people goes through it (ids, names and messages come from the database).
 */
export function terminalText(text: string): string {
  return text.split('\n').map(safeText).join('\n');
}

/**
 * JSON for `--json`: `JSON.stringify` leaves the C1 control characters (U+0080–U+009F, which some
 * terminals obey) and U+2028/U+2029 raw; they become `\u` escapes, so the output stays valid JSON
 * and safe to print.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A column of {@link table}: its title and how a row shows in it. */
export interface Column<T> {
  readonly title: string;
  readonly value: (row: T) => unknown;
  /** Longest shown width, in terminal columns; longer values end in `…`. @default 48 */
  readonly max?: number;
  /** Shows the title upper-cased (`false` for SQL column names, shown as they are). @default true */
  readonly upper?: boolean;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * How many terminal columns `text` takes: a CJK character or an emoji two, a combining mark none
 * (string-width, by Unicode's East Asian Width and emoji data). `.length` counts UTF-16 units, so
 * tables of such text went out of line.
 */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

/** `text` cut to at most `max` terminal columns, ending in `…` when cut; never inside a grapheme (an emoji sequence, a letter and its marks). */
export function truncateToWidth(text: string, max: number): string {
  if (stringWidth(text) <= max) return text;
  let out = '';
  let width = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = stringWidth(segment);
    if (width + w > max - 1) break;
    out += segment;
    width += w;
  }
  return `${out}…`;
}

/** Rows as an aligned text table (every value through {@link safeText}), columns measured in terminal columns. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => truncateToWidth(safeText(c.value(row)), c.max ?? 48)));
  const titles = columns.map((c) => (c.upper === false ? safeText(c.title) : c.title.toUpperCase()));
  const widths = columns.map((_, i) => Math.max(displayWidth(titles[i] as string), ...cells.map((r) => displayWidth(r[i] ?? ''))));
  const line = (values: readonly string[]) => values.map((v, i) => v + ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(v)))).join('  ').trimEnd();
  return [line(titles), ...cells.map(line)].join('\n');
}

/** `1.5 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** A Unix-ms time as `2026-11-27 17:40:02Z`, or `-` when absent. */
export function time(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return '-';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration in ms as `3d 4h`, `12m`, `40s`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses a duration (`90s`, `15m`, `36h`, `7d`, `2w`, or plain ms) for option `name`. */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${name} must be a duration such as 90s, 15m, 36h, 7d or 2w, not "${text}"`);
  const value = Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1);
  if (!Number.isSafeInteger(value)) throw new UsageError(`${name} is too large: "${text}"`);
  return value;
}

/**
 * Parses a point in time for option `name`: an ISO date or date-time (`2026-11-27`,
 * `2026-11-27T09:00Z`), Unix ms, or a duration meaning that long before `now` (`24h`).
 */
export function parseTime(text: string, name: string, now: number): number {
  const t = text.trim();
  if (/^\d{11,}$/.test(t)) return Number(t);
  if (/^\d+(ms|s|m|h|d|w)$/.test(t)) return now - parseDuration(t, name);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`${name} must be a date (2026-11-27, 2026-11-27T09:00Z), Unix ms, or a duration ago (24h, 7d), not "${text}"`);
}

/** Parses a positive integer for option `name`. */
export function parsePositiveInt(text: string, name: string, { allowZero = false } = {}): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, not "${text}"`);
  return n;
}

/** A progress bar on a terminal stream; does nothing when the stream is not a terminal. */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #label: string;
  readonly #total: number;
  readonly #active: boolean;
  #done = 0;
  #lastDraw = 0;

  constructor(stream: NodeJS.WriteStream, label: string, total: number) {
    this.#stream = stream;
    this.#label = label;
    this.#total = total;
    this.#active = stream.isTTY === true && total > 0;
  }

  /** Counts `n` more units done; redraws at most every 50 ms. */
  tick(n = 1): void {
    this.#done += n;
    if (!this.#active) return;
    const now = Date.now();
    if (now - this.#lastDraw < 50 && this.#done < this.#total) return;
    this.#lastDraw = now;
    this.#draw();
  }

  /** Draws the finished bar and ends its line. */
  finish(): void {
    if (!this.#active) return;
    this.#draw();
    this.#stream.write('\n');
  }

  #draw(): void {
    const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - this.#label.length - 30));
    const share = Math.min(1, this.#done / this.#total);
    const filled = Math.round(share * width);
    this.#stream.write(`\r${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${this.#done}/${this.#total}`);
  }
}
