/**
 * The devtools dashboard: the store's WASM core in the page, reading the agent's database from
 * `agent-store serve`, from a browser app's IndexedDB store, or from a dropped `.db` file, and
 * showing tasks, approvals, sessions, dead letters, the audit log and a few charts.
 *
 * Every refresh reads the data first and only then touches the DOM, in one synchronous pass that
 * leaves the filter inputs alone: a live update keeps the user's filters, selected task and
 * scroll positions.
 */
import type { AuditEntry, AuditFilter, Store, Task, TaskStatus } from '../src/index.js';
import { backlogPerHour, lineChart, queueChart, taskChart, tasksPerHour } from './charts.js';
import { loadModel, loadTaskQueue, queryTasks, splitDeadLetters, type Model, type TaskFilters, type TaskQueueView } from './data.js';
import { byId } from './dom.js';
import { formatBytes, formatDay, formatHour, formatTime, hourOf, parseLocalDateTime } from './format.js';
import {
  describeError,
  detectServer,
  errorCode,
  openFileSource,
  openIndexedDbSource,
  openServerSource,
  type Source,
  type SourceListener,
  type SourceState,
  watchOpenStores,
} from './sources.js';
import { renderApprovals, renderAudit, renderDeadLetters, renderSessions, renderSummary, renderTaskDetail, renderTasks, renderThreads } from './views.js';

const ui = {
  status: byId('source-status'),
  label: byId('source-label'),
  version: byId('source-version'),
  updated: byId('source-updated'),
  error: byId('source-error'),
  problem: byId('source-problem'),
  empty: byId('empty'),
  main: byId('main'),
  picker: byId<HTMLFormElement>('source-picker'),
  idbName: byId<HTMLInputElement>('idb-name'),
  fileInput: byId<HTMLInputElement>('file-input'),
  taskFilters: byId<HTMLFormElement>('task-filters'),
  filterStatus: byId<HTMLSelectElement>('filter-status'),
  filterCaller: byId<HTMLInputElement>('filter-caller'),
  filterCommand: byId<HTMLInputElement>('filter-command'),
  filterFrom: byId<HTMLInputElement>('filter-from'),
  filterTo: byId<HTMLInputElement>('filter-to'),
  tasksBody: byId<HTMLTableElement>('tasks-table').tBodies[0]!,
  tasksCount: byId('tasks-count'),
  taskDetail: byId('task-detail'),
  approvalsBody: byId<HTMLTableElement>('approvals-table').tBodies[0]!,
  sessionsBody: byId<HTMLTableElement>('sessions-table').tBodies[0]!,
  threadsBody: byId<HTMLTableElement>('threads-table').tBodies[0]!,
  deadLetters: byId('dead-letter-groups'),
  auditFilters: byId<HTMLFormElement>('audit-filters'),
  auditUser: byId<HTMLInputElement>('audit-user'),
  auditAction: byId<HTMLInputElement>('audit-action'),
  auditSince: byId<HTMLInputElement>('audit-since'),
  auditUntil: byId<HTMLInputElement>('audit-until'),
  auditBody: byId<HTMLTableElement>('audit-table').tBodies[0]!,
  auditCount: byId('audit-count'),
  chartTasks: byId('chart-tasks'),
  chartTasksRange: byId('chart-tasks-range'),
  chartBacklog: byId('chart-backlog'),
  chartQueue: byId('chart-queue'),
  chartSizes: byId('chart-sizes'),
};

let source: Source | undefined;
let sourceState: { state: SourceState; detail?: string } = { state: 'connecting' };
// Why what is shown is older than the database (from the source), while it is.
let sourceProblem: string | undefined;
let model: Model | undefined;
let filteredTasks: readonly Task[] = [];
let selectedTaskId: string | undefined;
// The selected task's queue entry and timeline, as read last (for another task: not read yet).
let selectedQueue: TaskQueueView | undefined;

// ---- header ------------------------------------------------------------------------------------

const STATE_TEXT: Record<SourceState | 'stale', string> = {
  connecting: 'connecting…',
  live: 'live',
  stale: 'stale',
  reconnecting: 'offline · reconnecting',
  loaded: 'loaded',
  error: 'error',
};

function showState(state: SourceState, detail?: string): void {
  // Connected but behind the database (the server cannot snapshot it, a download failed): "live"
  // would be a lie, so the pill says "stale" and the banner says why.
  const shown = state === 'live' && sourceProblem !== undefined ? 'stale' : state;
  ui.status.dataset.state = shown;
  ui.status.textContent = STATE_TEXT[shown];
  ui.status.title = shown === 'stale' ? (sourceProblem ?? '') : (detail ?? '');
}

function showProblem(text: string | undefined): void {
  sourceProblem = text;
  ui.problem.hidden = text === undefined;
  ui.problem.textContent = text ?? '';
  showState(sourceState.state, sourceState.detail);
}

function showSource(current: Source | undefined): void {
  if (!current) {
    ui.status.dataset.state = 'none';
    ui.status.textContent = 'no source';
    ui.label.textContent = '—';
    ui.version.textContent = '';
    return;
  }
  showState(sourceState.state, sourceState.detail);
  ui.label.textContent = current.label;
  ui.version.textContent = current.version === undefined ? '' : `snapshot v${current.version}`;
  ui.version.dataset.version = current.version === undefined ? '' : String(current.version);
}

// What the error banner shows: a failed read of the current source (cleared by the next read that
// works), or a source that could not be opened (it stays until another source opens).
let errorKind: 'read' | 'open' | undefined;

function showError(message: string | undefined, code?: string, kind: 'read' | 'open' = 'open'): void {
  errorKind = message === undefined ? undefined : kind;
  ui.error.hidden = message === undefined;
  ui.error.textContent = message ?? '';
  ui.error.dataset.code = code ?? '';
}

// ---- reading and rendering ---------------------------------------------------------------------

function taskFilters(): TaskFilters {
  return {
    status: (ui.filterStatus.value || undefined) as TaskStatus | undefined,
    callerId: ui.filterCaller.value.trim() || undefined,
    command: ui.filterCommand.value.trim() || undefined,
    from: parseLocalDateTime(ui.filterFrom.value),
    to: parseLocalDateTime(ui.filterTo.value),
  };
}

function auditFilter(): AuditFilter {
  const since = parseLocalDateTime(ui.auditSince.value);
  const until = parseLocalDateTime(ui.auditUntil.value);
  return {
    ...(ui.auditUser.value.trim() ? { userId: ui.auditUser.value.trim() } : {}),
    ...(ui.auditAction.value.trim() ? { action: ui.auditAction.value.trim() } : {}),
    ...(since !== undefined ? { since } : {}),
    // `until` is exclusive; the whole minute the input names is included.
    ...(until !== undefined ? { until: until + 60_000 } : {}),
  };
}

let refreshing: Promise<void> | undefined;
let refreshAgain = false;
let sampleDue = false;

/**
 * Re-reads everything from the current store and re-renders. Calls made while one runs are folded
 * into one more pass, so a burst of commits costs two reads, not one per commit.
 */
function refresh(sample = false): Promise<void> {
  sampleDue ||= sample;
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      await refreshOnce();
    } while (refreshAgain);
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

async function refreshOnce(): Promise<void> {
  const current = source;
  if (!current) return;
  if (sampleDue) {
    sampleDue = false;
    await current.sample().catch(() => undefined);
  }
  // Read after the await: a server source may have swapped in a newer snapshot meanwhile.
  const store: Store = current.store;
  try {
    const selected = selectedTaskId;
    const [nextModel, tasks, audit, queue] = await Promise.all([
      loadModel(store),
      queryTasks(store, taskFilters()),
      store.listAudit(auditFilter()),
      selected === undefined ? undefined : loadTaskQueue(store, selected),
    ]);
    // A source switched meanwhile: its own refresh renders it.
    if (current !== source) return;
    model = nextModel;
    filteredTasks = tasks;
    if (queue) selectedQueue = queue;
    render(current, nextModel, tasks, audit);
    if (errorKind === 'read') showError(undefined);
  } catch (e) {
    if (current !== source) return;
    // The snapshot read was replaced (and closed) under this pass: read the new one.
    if (current.store !== store) refreshAgain = true;
    else showError(`Cannot read ${current.label}: ${describeError(e)}`, errorCode(e), 'read');
  }
}

function render(current: Source, m: Model, tasks: readonly Task[], audit: readonly AuditEntry[]): void {
  const now = Date.now();
  ui.empty.hidden = true;
  ui.main.hidden = false;
  showSource(current);
  ui.updated.textContent = `updated ${formatTime(now).slice(11)}`;
  renderSummary(m, now);
  renderTasks(ui.tasksBody, ui.tasksCount, tasks, selectedTaskId);
  renderTaskDetail(ui.taskDetail, selectedTaskId, selectedTaskId === undefined ? undefined : m.tasks.find((t) => t.id === selectedTaskId), selectedQueue, now);
  renderApprovals(ui.approvalsBody, m.approvals, now);
  renderSessions(ui.sessionsBody, m.sessions);
  renderThreads(ui.threadsBody, m.threads);
  renderDeadLetters(ui.deadLetters, m.deadLetters);
  renderAudit(ui.auditBody, ui.auditCount, audit);
  renderCharts(current, m);
}

function renderCharts(current: Source, m: Model): void {
  const histogram = tasksPerHour(m.tasks);
  ui.chartTasks.replaceChildren(...taskChart(histogram));
  const first = histogram?.hours[0];
  const last = histogram?.hours.at(-1);
  ui.chartTasksRange.textContent = first !== undefined && last !== undefined ? `${formatDay(first)} ${formatHour(first)} – ${formatDay(last)} ${formatHour(last + 3_600_000)}` : '';

  const letters = Object.values(m.deadLetters).flat();
  // The backlog ends with the data too: the newest task or dead-letter event, whichever is later.
  // A loop, not Math.max(...): a spread of a large queue's times overflows the call stack.
  let latest = m.tasks[0]?.createdAt ?? 0;
  for (const d of letters) latest = Math.max(latest, d.createdAt, d.resolvedAt ?? 0);
  if (letters.length === 0) {
    ui.chartBacklog.replaceChildren(...lineChart('Dead-letter backlog', [], String, String));
  } else {
    const backlog = backlogPerHour(letters, hourOf(latest));
    const points = backlog.at.map((x, i) => ({ x, y: backlog.count[i] ?? 0 }));
    ui.chartBacklog.replaceChildren(
      ...lineChart('Dead-letter backlog', [{ label: 'unresolved letters, hourly', cls: 's-backlog', points, markers: true }], (v) => String(Math.round(v)), (ms) => `${formatDay(ms)} ${formatHour(ms)}`),
    );
  }

  ui.chartQueue.replaceChildren(...queueChart(m.queue));

  const sizes = current.sizes();
  ui.chartSizes.replaceChildren(
    ...lineChart(
      'Database and journal size',
      [
        { label: 'database image', cls: 's-image', points: sizes.map((s) => ({ x: s.at, y: s.imageBytes })), markers: sizes.length < 60 },
        { label: 'journal', cls: 's-journal', points: sizes.map((s) => ({ x: s.at, y: s.journalBytes })), markers: sizes.length < 60 },
      ],
      formatBytes,
      (ms) => formatTime(ms).slice(11),
    ),
  );
}

/**
 * Re-renders the task table and detail from what was read last (a selection needs no read but the
 * selected task's timeline, which {@link readSelectedQueue} brings).
 */
function renderSelection(): void {
  if (!model) return;
  renderTasks(ui.tasksBody, ui.tasksCount, filteredTasks, selectedTaskId);
  renderTaskDetail(ui.taskDetail, selectedTaskId, selectedTaskId === undefined ? undefined : model.tasks.find((t) => t.id === selectedTaskId), selectedQueue);
}

/** Reads the selected task's queue entry and timeline, then shows them (if it is still the one selected). */
async function readSelectedQueue(): Promise<void> {
  const current = source;
  const id = selectedTaskId;
  if (!current || id === undefined || selectedQueue?.id === id) return;
  const store = current.store;
  try {
    const queue = await loadTaskQueue(store, id);
    if (current !== source || current.store !== store || id !== selectedTaskId) return;
    selectedQueue = queue;
    renderSelection();
  } catch {
    // The snapshot was replaced (and closed) meanwhile, or the read failed: a whole refresh reads
    // it again, and says why if it fails.
    void refresh();
  }
}

// ---- sources -----------------------------------------------------------------------------------

let attempts = 0;

/**
 * Opens a source and makes it the active one once its first data is read. When it fails, the
 * previous source stays, and the error is shown.
 */
async function switchSource(label: string, initial: SourceState, open: (listener: SourceListener) => Promise<Source>, failure: (e: unknown) => string): Promise<void> {
  const attempt = ++attempts;
  let opened: Source | undefined;
  let pending: typeof sourceState = { state: initial };
  let pendingProblem: string | undefined;
  const listener: SourceListener = {
    update: () => {
      if (opened && opened === source) void refresh(true);
    },
    state: (state, detail) => {
      if (opened && opened === source) {
        sourceState = { state, detail };
        showState(state, detail);
      } else pending = { state, detail };
    },
    problem: (text) => {
      if (opened && opened === source) showProblem(text);
      else pendingProblem = text;
    },
  };
  if (!source) {
    ui.label.textContent = label;
    showState('connecting');
  }
  try {
    opened = await open(listener);
  } catch (e) {
    if (attempt !== attempts) return;
    showError(failure(e), errorCode(e));
    if (!source) {
      showState('error', describeError(e));
      ui.empty.hidden = false;
    }
    return;
  }
  if (attempt !== attempts) {
    await opened.close();
    return;
  }
  const previous = source;
  source = opened;
  sourceState = pending;
  showProblem(pendingProblem);
  showError(undefined);
  await refresh(true);
  await previous?.close().catch(() => undefined);
}

function openIndexedDb(name: string): Promise<void> {
  const url = new URL(location.href);
  url.searchParams.set('idb', name);
  history.replaceState(null, '', url);
  // The source says whether it follows the owner ('live') or cannot ('loaded').
  return switchSource(`IndexedDB · ${name}`, 'connecting', (listener) => openIndexedDbSource(name, listener), (e) =>
    errorCode(e) === 'NOT_FOUND'
      ? `There is no IndexedDB store named "${name}" on this origin (${location.origin}). ${describeError(e)}`
      : `Cannot open the IndexedDB store "${name}": ${describeError(e)}`,
  );
}

function openFile(file: File): Promise<void> {
  return switchSource(`file · ${file.name}`, 'loaded', () => openFileSource(file), (e) => `Cannot open "${file.name}": ${describeError(e)}`);
}

// ---- wiring ------------------------------------------------------------------------------------

function debounce(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

const refreshSoon = debounce(() => void refresh(), 150);
for (const form of [ui.taskFilters, ui.auditFilters]) {
  form.addEventListener('input', refreshSoon);
  form.addEventListener('change', refreshSoon);
  form.addEventListener('submit', (e) => e.preventDefault());
  // `reset` fires before the inputs are cleared.
  form.addEventListener('reset', () => setTimeout(() => void refresh(), 0));
}

function selectRow(target: EventTarget | null): void {
  const row = (target as Element | null)?.closest?.('tr[data-task-id]');
  if (!(row instanceof HTMLTableRowElement)) return;
  selectedTaskId = row.dataset.taskId;
  renderSelection();
  void readSelectedQueue();
}
ui.tasksBody.addEventListener('click', (e) => selectRow(e.target));
ui.tasksBody.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    selectRow(e.target);
  }
});
ui.taskDetail.addEventListener('click', (e) => {
  if ((e.target as Element).closest('[data-action="close-detail"]')) {
    selectedTaskId = undefined;
    renderSelection();
  }
});

// tsconfig's lib has no DOM.Iterable: NodeLists are turned into arrays.
const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('[role="tab"]'));
for (const tab of tabs) {
  tab.addEventListener('click', () => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      byId(`view-${other.dataset.tab}`).hidden = !on;
    }
  });
}

ui.picker.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ui.idbName.value.trim();
  if (name) void openIndexedDb(name);
});
ui.fileInput.addEventListener('change', () => {
  const file = ui.fileInput.files?.[0];
  // Cleared so that picking the same file again is a change too.
  ui.fileInput.value = '';
  if (file) void openFile(file);
});

// Drop anywhere: without preventDefault on dragover the browser would navigate to the file.
let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dragging');
});
document.addEventListener('dragover', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('drop', (e) => {
  dragDepth = 0;
  document.body.classList.remove('dragging');
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  e.preventDefault();
  void openFile(file);
});

// What depends on the clock moves with it even when the data does not (a file, a quiet agent):
// ages of waiting approvals, and dead letters whose retry time passed (waiting → due). From what
// was read last, without reading the database again.
const CLOCK_MS = 15_000;
setInterval(() => {
  if (!model) return;
  const now = Date.now();
  const letters = splitDeadLetters(model.deadLetters, now);
  if (letters) {
    model = { ...model, deadLetters: letters };
    renderDeadLetters(ui.deadLetters, letters);
  }
  renderSummary(model, now);
  renderApprovals(ui.approvalsBody, model.approvals, now);
}, CLOCK_MS);

// For tests: how many stores the sources hold open (a replaced snapshot must be closed).
watchOpenStores((count) => {
  document.documentElement.dataset.openStores = String(count);
});

async function start(): Promise<void> {
  const name = new URLSearchParams(location.search).get('idb');
  if (name) {
    ui.idbName.value = name;
    await openIndexedDb(name);
    return;
  }
  const status = await detectServer();
  if (status) {
    await switchSource(`server · ${status.database}`, 'connecting', (listener) => openServerSource(status, listener), (e) => `Cannot load the server's snapshot: ${describeError(e)}`);
    return;
  }
  showSource(undefined);
  ui.empty.hidden = false;
}

document.documentElement.dataset.ready = 'starting';
void start().finally(() => {
  // Tests and screenshots wait for this: the first source (if any) is shown.
  document.documentElement.dataset.ready = 'true';
});
