/** Formatting of times, ages, sizes and JSON for display (all of it plain text). */

const pad = (n: number) => String(n).padStart(2, '0');

/** One hour in ms. */
export const HOUR = 3_600_000;

/**
 * The start of the local hour `ms` falls in. Local, as the labels are: in a zone half an hour off UTC
 * (India, +5:30) a UTC hour would straddle two labelled hours. Local hours start one `HOUR` apart
 * (a DST change skips or repeats a label, not a length), so the buckets after it step by `HOUR`;
 * only zones whose offset changes by less than an hour (Lord Howe Island) would drift by that.
 */
export function hourOf(ms: number): number {
  const d = new Date(ms);
  d.setMinutes(0, 0, 0);
  return d.getTime();
}

/** The hours the queue chart shows. */
export const QUEUE_HOURS = 48;

/** `2026-11-20 14:03:07` in the viewer's local time; `—` for no time. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `14:00` (local) for axis labels. */
export function formatHour(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `Nov 20` (local) for axis labels. */
export function formatDay(ms: number): string {
  return new Date(ms).toLocaleDateString('en', { month: 'short', day: 'numeric' });
}

/** A duration, human readable and at most two units: `45 s`, `12 min`, `3 h 12 min`, `4 d 2 h`. */
export function formatAge(ms: number): string {
  if (ms < 0) return 'in the future';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `512 B`, `1.4 KiB`, `12.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A JSON value indented for a `<pre>`; `—` when the field is absent. */
export function formatJson(value: unknown): string {
  if (value === undefined) return '—';
  return JSON.stringify(value, null, 2);
}

/** A JSON value on one line, cut at `max` characters, for table cells. */
export function formatJsonShort(value: unknown, max = 80): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A `datetime-local` input's value as Unix ms (local time), or `undefined` when empty/invalid. */
export function parseLocalDateTime(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** Task statuses in display order. */
export const STATUSES = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'] as const;

/** Dead-letter states in display order, with their headings. */
export const DEAD_LETTER_STATES = [
  ['due', 'Due now'],
  ['waiting', 'Waiting'],
  ['given_up', 'Given up'],
  ['resolved', 'Resolved'],
] as const;
