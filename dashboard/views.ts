/** The views: tables, counts and the task detail panel, rebuilt from data on every refresh. */
import type { AuditEntry, DeadLetter, PendingApproval, QueueEntry, SessionContext, Task, TaskTransition, ThreadSession } from '../src/index.js';
import { el, type Child } from './dom.js';
import { DEAD_LETTER_STATES, formatAge, formatJson, formatJsonShort, formatTime, STATUSES } from './format.js';
import type { Model, TaskQueueView } from './data.js';

/** The most rows a table renders; more would make the page slow without helping anyone read them. */
export const MAX_ROWS = 500;

const td = (text: Child, cls?: string) => el('td', cls ? { class: cls } : {}, text);
const status = (s: Task['status']) => el('span', { class: `status s-${s}`, 'data-status': s }, s.replace('_', ' '));

/** Fills the task table with the first {@link MAX_ROWS} of `tasks` and says how many matched. */
export function renderTasks(body: HTMLTableSectionElement, count: HTMLElement, tasks: readonly Task[], selectedId: string | undefined): void {
  const rows = tasks.slice(0, MAX_ROWS).map((t) =>
    el(
      'tr',
      { 'data-task-id': t.id, class: t.id === selectedId ? 'selected' : undefined, tabindex: 0, 'aria-selected': t.id === selectedId ? 'true' : 'false' },
      td(t.id, 'mono'),
      td(status(t.status)),
      td(t.command, 'mono'),
      td(t.callerId),
      td(formatTime(t.createdAt), 'time'),
      td(formatTime(t.completedAt ?? t.updatedAt), 'time'),
      td(t.error ?? '', 'error-text'),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', { class: 'none' }, el('td', { colspan: 7 }, 'No task matches these filters.')));
  body.replaceChildren(...rows);
  count.textContent = tasks.length > MAX_ROWS ? `showing ${MAX_ROWS} of ${tasks.length}` : `${tasks.length} ${tasks.length === 1 ? 'task' : 'tasks'}`;
  count.dataset.total = String(tasks.length);
}

/** Who holds a queue entry and until when, as text. */
function holder(entry: QueueEntry, now: number): string {
  if (entry.workerId === undefined) return 'nobody';
  if (entry.leaseUntil === undefined) return entry.workerId;
  return `${entry.workerId}, lease until ${formatTime(entry.leaseUntil)}${entry.leaseUntil <= now ? ' (expired)' : ''}`;
}

/** A task's queue entry and its timeline (every transition), or a note saying why there is none. */
function queueSection(queue: TaskQueueView | undefined, now: number): HTMLElement[] {
  if (queue === undefined) return [el('h4', {}, 'timeline'), el('p', { class: 'muted', 'data-testid': 'detail-timeline-note' }, 'Reading the timeline…')];
  const { entry, history } = queue;
  const field = (name: string, value: Child) => [el('dt', {}, name), el('dd', { 'data-queue-field': name }, value ?? '—')];
  const entryPart: HTMLElement[] = entry
    ? [
        el('h4', {}, 'queue'),
        el(
          'dl',
          { 'data-testid': 'detail-queue' },
          ...field('run at', formatTime(entry.runAt)),
          ...field('attempts', `${entry.attempts} of ${entry.maxAttempts}`),
          ...field('held by', holder(entry, now)),
          ...field('replay of', entry.replayOf),
          ...field('last error', entry.lastError),
        ),
      ]
    : [];
  const note = (text: string) => el('p', { class: 'muted', 'data-testid': 'detail-timeline-note' }, text);
  if (history === undefined) return [el('h4', {}, 'timeline'), note('No timeline: this database is at schema v1 (read where it cannot be upgraded), so it has no task history.')];
  if (history.length === 0) return [...entryPart, el('h4', {}, 'timeline'), note('No transitions recorded: the task was written before schema v2 (by an agent at v1).')];
  // A list, not a table: the panel is narrow. Each transition: its time and statuses, then who and why.
  const item = (t: TaskTransition) =>
    el(
      'li',
      { 'data-at': t.at, 'data-from': t.from, 'data-to': t.to, 'data-attempt': t.attempt, 'data-worker': t.workerId },
      el('div', { class: 'when' }, el('span', { class: 'time' }, formatTime(t.at)), ' ', el('span', { class: 'transition' }, t.from === undefined ? null : status(t.from), t.from === undefined ? null : ' → ', status(t.to))),
      t.attempt === undefined && t.workerId === undefined && t.error === undefined
        ? null
        : el(
            'div',
            { class: 'who' },
            t.attempt === undefined ? null : el('span', { 'data-part': 'attempt' }, `attempt ${t.attempt}`),
            t.workerId === undefined ? null : el('span', { class: 'mono', 'data-part': 'worker' }, t.workerId),
            t.error === undefined ? null : el('span', { class: 'error-text', 'data-part': 'error' }, t.error),
          ),
    );
  return [
    ...entryPart,
    el('h4', {}, `timeline (${history.length} ${history.length === 1 ? 'transition' : 'transitions'})`),
    el('ol', { class: 'timeline', 'data-testid': 'detail-timeline' }, ...history.map(item)),
  ];
}

/**
 * Shows every field of `task` (params and result as indented JSON), its queue entry and timeline
 * (`queue`: `undefined` while they are read), or hides the panel.
 */
export function renderTaskDetail(panel: HTMLElement, id: string | undefined, task: Task | undefined, queue?: TaskQueueView, now = Date.now()): void {
  if (id === undefined) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  panel.hidden = false;
  const close = el('button', { type: 'button', class: 'quiet close', 'data-action': 'close-detail', 'aria-label': 'Close' }, '×');
  if (!task) {
    panel.replaceChildren(el('header', {}, el('h3', {}, id), close), el('p', { class: 'muted' }, 'This task is no longer in the database.'));
    return;
  }
  const field = (name: string, value: Child) => [el('dt', {}, name), el('dd', { 'data-field': name }, value ?? '—')];
  panel.dataset.taskId = task.id;
  panel.replaceChildren(
    el('header', {}, el('h3', { class: 'mono', 'data-testid': 'detail-id' }, task.id), close),
    el(
      'dl',
      {},
      ...field('status', status(task.status)),
      ...field('command', task.command),
      ...field('callerId', task.callerId),
      ...field('responseChannel', task.responseChannel),
      ...field('responseThread', task.responseThread),
      ...field('createdAt', formatTime(task.createdAt)),
      ...field('updatedAt', formatTime(task.updatedAt)),
      ...field('completedAt', formatTime(task.completedAt)),
      ...field('error', task.error),
    ),
    el('h4', {}, 'params'),
    el('pre', { 'data-testid': 'detail-params' }, formatJson(task.params)),
    el('h4', {}, 'result'),
    el('pre', { 'data-testid': 'detail-result' }, formatJson(task.result)),
    ...queueSection(queue?.id === task.id ? queue : undefined, now),
  );
}

/** The summary cards: tasks per status, approvals, dead letters per state, sessions. */
export function renderSummary(model: Model, now: number): void {
  const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
  for (const t of model.tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  byTestId('count-tasks').textContent = String(model.tasks.length);
  byTestId('status-counts').replaceChildren(
    ...STATUSES.map((s) => el('li', {}, el('span', { class: `label` }, el('span', { class: `dot s-${s}` }), s.replace('_', ' ')), el('span', { 'data-testid': `count-status-${s}` }, counts.get(s) ?? 0))),
  );
  byTestId('count-approvals').textContent = String(model.approvals.length);
  const oldest = model.approvals.at(-1);
  byTestId('oldest-approval').textContent = oldest ? `oldest waiting ${formatAge(now - oldest.createdAt)}` : 'none waiting';
  byTestId('dead-letter-counts').replaceChildren(
    ...DEAD_LETTER_STATES.map(([state, heading]) => el('li', {}, el('span', { class: 'label' }, heading.toLowerCase()), el('span', { 'data-testid': `count-dead-${state}` }, model.deadLetters[state].length))),
  );
  byTestId('count-sessions').textContent = String(model.sessions.length);
  byTestId('count-threads').textContent = String(model.threads.length);
}

function byTestId(id: string): HTMLElement {
  const node = document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!node) throw new Error(`dashboard: the page has no [data-testid="${id}"]`);
  return node;
}

function fill(body: HTMLTableSectionElement, rows: HTMLTableRowElement[], columns: number, empty: string): void {
  if (rows.length === 0) rows.push(el('tr', { class: 'none' }, el('td', { colspan: columns }, empty)));
  body.replaceChildren(...rows);
}

/** Approvals waiting, newest first, with how long each has waited. */
export function renderApprovals(body: HTMLTableSectionElement, approvals: readonly PendingApproval[], now: number): void {
  const rows = approvals.slice(0, MAX_ROWS).map((a) =>
    el(
      'tr',
      { 'data-request-id': a.requestId },
      td(a.requestId, 'mono'),
      td(a.taskId, 'mono'),
      td(a.callerId),
      td(a.permission),
      td(a.action),
      td(a.resource),
      td(a.channelId ?? ''),
      el('td', { class: 'age', 'data-testid': 'approval-age' }, formatAge(now - a.createdAt)),
      td(formatTime(a.createdAt), 'time'),
    ),
  );
  fill(body, rows, 9, 'No approval is waiting.');
}

/** Session contexts, most recently used first. */
export function renderSessions(body: HTMLTableSectionElement, sessions: readonly SessionContext[]): void {
  const rows = sessions
    .slice(0, MAX_ROWS)
    .map((s) => el('tr', { 'data-session-id': s.sessionId }, td(s.sessionId, 'mono'), td(s.channel), td(s.threadTs, 'mono'), td(s.userId ?? ''), td(formatTime(s.createdAt), 'time'), td(formatTime(s.lastUsed), 'time')));
  fill(body, rows, 6, 'No session contexts.');
}

/** Thread sessions. */
export function renderThreads(body: HTMLTableSectionElement, threads: readonly ThreadSession[]): void {
  const rows = threads
    .slice(0, MAX_ROWS)
    .map((t) => el('tr', {}, td(t.channel), td(t.threadTs, 'mono'), td(t.sessionKey, 'mono'), td(formatTime(t.createdAt), 'time'), td(formatTime(t.lastMessageAt), 'time')));
  fill(body, rows, 5, 'No thread sessions.');
}

/** The dead-letter queue in four groups: due now, waiting, given up, resolved. */
export function renderDeadLetters(container: HTMLElement, letters: Model['deadLetters']): void {
  const head = el('thead', {}, el('tr', {}, ...['id', 'channel', 'thread', 'message', 'error', 'retries', 'next retry', 'created', 'resolved'].map((h) => el('th', {}, h))));
  container.replaceChildren(
    ...DEAD_LETTER_STATES.map(([state, heading]) => {
      const list = letters[state];
      const rows = list
        .slice(0, MAX_ROWS)
        .map((d: DeadLetter) =>
          el(
            'tr',
            { 'data-dead-letter-id': d.id },
            td(d.id, 'mono'),
            td(d.targetChannel),
            td(d.targetThread ?? '', 'mono'),
            td(d.message, 'wrap'),
            td(d.error, 'error-text'),
            td(d.retryCount, 'num'),
            td(formatTime(d.nextRetryAt), 'time'),
            td(formatTime(d.createdAt), 'time'),
            td(formatTime(d.resolvedAt), 'time'),
          ),
        );
      const body = el('tbody');
      fill(body, rows, 9, 'None.');
      return el(
        'section',
        { class: `group dl-${state}`, 'data-testid': `dead-letters-${state}` },
        el('h3', {}, heading, ' ', el('span', { class: 'badge', 'data-testid': `dead-letters-${state}-count` }, list.length), list.length > MAX_ROWS ? el('span', { class: 'muted note' }, ` showing ${MAX_ROWS}`) : null),
        el('div', { class: 'table-wrap' }, el('table', {}, head.cloneNode(true), body)),
      );
    }),
  );
}

/** Audit entries, newest first, with how many matched. */
export function renderAudit(body: HTMLTableSectionElement, count: HTMLElement, entries: readonly AuditEntry[]): void {
  const rows = entries
    .slice(0, MAX_ROWS)
    .map((a) =>
      el(
        'tr',
        { 'data-audit-id': a.id },
        td(a.id, 'num'),
        td(formatTime(a.createdAt), 'time'),
        td(a.userId),
        td(a.action),
        td(a.resource ?? ''),
        td(a.result),
        el('td', { class: 'mono details', title: a.details === undefined ? undefined : formatJsonShort(a.details, 2000) }, formatJsonShort(a.details)),
      ),
    );
  fill(body, rows, 7, 'No audit entry matches these filters.');
  count.textContent = entries.length > MAX_ROWS ? `showing ${MAX_ROWS} of ${entries.length}` : `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}`;
  count.dataset.total = String(entries.length);
}
