/**
 * Hand-made SVG charts: stacked bars (tasks per hour), lines (dead-letter backlog, the queue over
 * time, sizes). Labels and legends are text; colours come from CSS classes, so the page's theme
 * applies.
 */
import type { DeadLetter, Task, TaskStatus, TaskTransition, TransitionEntry } from '../src/index.js';
import type { QueueHistory } from './data.js';
import { el, svg, type Child } from './dom.js';
import { formatDay, formatHour, HOUR, hourOf, QUEUE_HOURS, STATUSES } from './format.js';


/** The largest of `values` (`fallback` when none): a loop, since `Math.max(...values)` overflows the stack on large arrays. */
function maxOf(values: Iterable<number>, fallback = 0): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return max === -Infinity ? fallback : max;
}

/** The smallest of `values` (`fallback` when none); see {@link maxOf}. */
function minOf(values: Iterable<number>, fallback = 0): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min === Infinity ? fallback : min;
}

/** Tasks created per hour and status, over `hours` hours ending with the newest task's hour. */
export interface TaskHistogram {
  /** The start of each hour, oldest first. */
  readonly hours: readonly number[];
  /** Per status, the count per hour (aligned with `hours`). */
  readonly counts: Readonly<Record<TaskStatus, readonly number[]>>;
}

/**
 * Counts `tasks` per creation hour and status. The window ends at the newest task's hour, not the
 * wall clock, so an old file still shows its last two days. `undefined` when there are no tasks.
 */
export function tasksPerHour(tasks: readonly Task[], hours = 48): TaskHistogram | undefined {
  if (tasks.length === 0) return undefined;
  let newest = 0;
  for (const t of tasks) newest = Math.max(newest, t.createdAt);
  const first = hourOf(newest) - (hours - 1) * HOUR;
  const counts = Object.fromEntries(STATUSES.map((s) => [s, new Array<number>(hours).fill(0)])) as Record<TaskStatus, number[]>;
  for (const t of tasks) {
    const i = Math.floor((t.createdAt - first) / HOUR);
    if (i >= 0 && i < hours) counts[t.status][i]! += 1;
  }
  return { hours: Array.from({ length: hours }, (_, i) => first + i * HOUR), counts };
}

/**
 * Unresolved dead letters at the end of each of `hours` hours ending with `lastHour`: a letter
 * counts at `t` when it was created by `t` and not resolved by then.
 */
export function backlogPerHour(letters: readonly DeadLetter[], lastHour: number, hours = 48): { at: number[]; count: number[] } {
  const at = Array.from({ length: hours }, (_, i) => lastHour - (hours - 1 - i) * HOUR + HOUR);
  const count = at.map((t) => letters.filter((d) => d.createdAt <= t && (d.resolvedAt === undefined || d.resolvedAt > t)).length);
  return { at, count };
}


/** The states the queue chart counts: a task pending after a failed attempt is `retrying`. */
export const QUEUE_STATES = ['pending', 'retrying', 'running', 'awaiting_approval'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** The queue state a transition leaves its task in; `undefined` once it has ended. */
function queueState(t: TaskTransition): QueueState | undefined {
  if (t.to === 'pending') return (t.attempt ?? 0) > 0 ? 'retrying' : 'pending';
  return t.to === 'running' || t.to === 'awaiting_approval' ? t.to : undefined;
}

/**
 * How many tasks were in each queue state at the end of each of `hours` hours ending with
 * `lastHour`, from their transitions: at `t` a task is in the state its latest transition by `t`
 * left it in (the latest `at`; of equal times, the one written last: the highest `id`). One walk
 * through the transitions in that order, each moving its task from one state's count to another's.
 */
export function queuePerHour(transitions: readonly TransitionEntry[], lastHour: number, hours = QUEUE_HOURS): { at: number[]; counts: Record<QueueState, number[]> } {
  const at = Array.from({ length: hours }, (_, i) => lastHour - (hours - 1 - i) * HOUR + HOUR);
  const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, new Array<number>(hours).fill(0)])) as Record<QueueState, number[]>;
  // listTransitions' order already; sorted again so that any list counts the same.
  const sorted = [...transitions].sort((a, b) => a.at - b.at || a.id - b.id);
  const state = new Map<string, QueueState | undefined>();
  const now = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as Record<QueueState, number>;
  let k = 0;
  at.forEach((t, i) => {
    for (; k < sorted.length && (sorted[k] as TransitionEntry).at <= t; k++) {
      const transition = sorted[k] as TransitionEntry;
      const before = state.get(transition.taskId);
      const after = queueState(transition);
      if (before) now[before] -= 1;
      if (after) now[after] += 1;
      state.set(transition.taskId, after);
    }
    for (const s of QUEUE_STATES) counts[s][i] = now[s];
  });
  return { at, counts };
}

// The drawing area inside each chart's viewBox.
const W = 440;
const H = 180;
const M = { left: 44, right: 10, top: 10, bottom: 24 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

/** 1, 2 or 5 × 10ⁿ at or above `v`, so the axis reads in round numbers. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(label: string, yTicks: readonly { value: number; text: string }[], yMax: number): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart-svg', preserveAspectRatio: 'xMidYMid meet' });
  for (const tick of yTicks) {
    const y = M.top + PLOT_H - (tick.value / yMax) * PLOT_H;
    root.appendChild(svg('line', { x1: M.left, x2: W - M.right, y1: y, y2: y, class: 'grid' }));
    root.appendChild(svg('text', { x: M.left - 6, y: y + 3, class: 'axis', 'text-anchor': 'end' }, tick.text));
  }
  root.appendChild(svg('line', { x1: M.left, x2: W - M.right, y1: M.top + PLOT_H, y2: M.top + PLOT_H, class: 'baseline' }));
  return root;
}

function xLabel(x: number, text: string, anchor: 'start' | 'middle' | 'end' = 'middle'): SVGTextElement {
  return svg('text', { x, y: H - 6, class: 'axis', 'text-anchor': anchor }, text);
}

/** A legend as an HTML list of swatches and names. */
function legend(items: readonly { cls: string; label: string; extra?: Child }[]): HTMLUListElement {
  return el('ul', { class: 'legend' }, ...items.map((i) => el('li', {}, el('span', { class: `swatch ${i.cls}` }), i.label, i.extra)));
}

/** The stacked bar chart of a {@link TaskHistogram}, with its legend. */
export function taskChart(histogram: TaskHistogram | undefined): Node[] {
  if (!histogram) return [el('p', { class: 'muted chart-empty' }, 'No tasks yet.')];
  const { hours, counts } = histogram;
  const totals = hours.map((_, i) => STATUSES.reduce((sum, s) => sum + (counts[s][i] ?? 0), 0));
  const yMax = niceCeil(maxOf(totals));
  const root = frame('Tasks per hour by status', [0, yMax / 2, yMax].map((v) => ({ value: v, text: String(v) })), yMax);
  const slot = PLOT_W / hours.length;
  hours.forEach((hour, i) => {
    let top = M.top + PLOT_H;
    const x = M.left + i * slot + slot * 0.12;
    for (const status of STATUSES) {
      const n = counts[status][i] ?? 0;
      if (n === 0) continue;
      const h = (n / yMax) * PLOT_H;
      top -= h;
      root.appendChild(
        svg(
          'rect',
          { x, y: top, width: slot * 0.76, height: h, class: `bar s-${status}`, 'data-status': status, 'data-hour': hour, 'data-count': n },
          svg('title', {}, `${formatDay(hour)} ${formatHour(hour)}: ${n} ${status}`),
        ),
      );
    }
    if (new Date(hour).getHours() % 12 === 0) root.appendChild(xLabel(M.left + i * slot + slot / 2, `${formatDay(hour)} ${formatHour(hour)}`));
  });
  const sums = Object.fromEntries(STATUSES.map((s) => [s, counts[s].reduce((a, b) => a + b, 0)]));
  return [root, legend(STATUSES.map((s) => ({ cls: `s-${s}`, label: s.replace('_', ' '), extra: el('span', { class: 'muted' }, ` ${sums[s]}`) })))];
}

/** A series of a line chart. */
export interface LineSeries {
  readonly label: string;
  /** CSS class giving the colour, e.g. `s-image`. */
  readonly cls: string;
  readonly points: readonly { x: number; y: number }[];
  /** Draw a marker per point, carrying its value (`data-count`). */
  readonly markers?: boolean;
  /** Text after the label in the legend (a current value). */
  readonly extra?: string;
}

/** A line chart over time; `formatY` labels the axis, `formatX` the three time labels; `empty` says why there are no points. */
export function lineChart(label: string, series: readonly LineSeries[], formatY: (v: number) => string, formatX: (ms: number) => string, empty = 'No samples yet.'): Node[] {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return [el('p', { class: 'muted chart-empty' }, empty)];
  const xs = all.map((p) => p.x);
  const xMin = minOf(xs);
  const xMax = maxOf(xs);
  let x0 = xMin;
  let x1 = xMax;
  if (x1 === x0) {
    // One sample: centre it instead of dividing by zero.
    x0 -= 1;
    x1 += 1;
  }
  const yMax = niceCeil(maxOf(all.map((p) => p.y)));
  const root = frame(label, [0, yMax / 2, yMax].map((v) => ({ value: v, text: formatY(v) })), yMax);
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * PLOT_W;
  const py = (y: number) => M.top + PLOT_H - (y / yMax) * PLOT_H;
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    root.appendChild(svg('path', { d, class: `line ${s.cls}` }));
    if (s.markers) {
      for (const p of s.points) {
        root.appendChild(
          svg('circle', { cx: px(p.x), cy: py(p.y), r: 2.2, class: `marker ${s.cls}`, 'data-at': p.x, 'data-count': p.y }, svg('title', {}, `${formatX(p.x)}: ${formatY(p.y)}`)),
        );
      }
    }
  }
  root.appendChild(xLabel(M.left, formatX(xMin), 'start'));
  if (xMax !== xMin) root.appendChild(xLabel(W - M.right, formatX(xMax), 'end'));
  return [root, legend(series.map((s) => ({ cls: s.cls, label: s.label, ...(s.extra === undefined ? {} : { extra: el('span', { class: 'muted' }, s.extra) }) })))];
}

const QUEUE_EMPTY = {
  'no-tasks': 'No tasks yet.',
  unsupported: 'No task history: the database is at schema v1 (read where it cannot be upgraded).',
  unrecorded: 'No transitions recorded: the tasks were written before schema v2 (by an agent at v1).',
} as const;

const QUEUE_LABELS: Readonly<Record<QueueState, string>> = { pending: 'pending', retrying: 'retrying', running: 'running', awaiting_approval: 'awaiting approval' };

/** The queue over time: tasks per queue state at the end of each hour, a line each, or why there is nothing to draw. */
export function queueChart(queue: QueueHistory): Node[] {
  if (queue.kind !== 'transitions') return lineChart('Queue over time', [], String, String, QUEUE_EMPTY[queue.kind]);
  const { at, counts } = queuePerHour(queue.transitions, queue.lastHour);
  return lineChart(
    'Queue over time',
    QUEUE_STATES.map((s) => ({
      label: QUEUE_LABELS[s],
      cls: `s-${s}`,
      points: at.map((x, i) => ({ x, y: counts[s][i] ?? 0 })),
      markers: true,
      extra: ` ${counts[s].at(-1) ?? 0}`,
    })),
    (v) => String(Math.round(v)),
    (ms) => `${formatDay(ms)} ${formatHour(ms)}`,
  );
}
