#!/usr/bin/env node
/**
 * `agent-store`: see and repair the platform agent's database from a shell. Every command has
 * `--help` and `--json`; exit codes are in `EXIT` (cli/errors.ts) and docs/cli.md.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SCHEMA_VERSION } from '../src/index.js';
import type { Command, CommandContext, OptionSpec } from './command.js';
import { openForWriting } from './database.js';
import { DemoInterrupted, seedDemo, startLiveAgent } from './demo.js';
import { classify, CliError, EXIT, UsageError } from './errors.js';
import { parsePositiveInt, parseTime, Progress, safeJson, safeText, terminalText } from './format.js';
import { JSONL_COMMANDS } from './jsonl.js';
import { MAINTENANCE_COMMANDS } from './maintenance.js';
import { QUEUE_COMMANDS } from './queue-commands.js';
import { READ_COMMANDS } from './read-commands.js';
import { startDashboardServer } from './serve.js';

const SERVE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  port: { type: 'string', arg: '<port>', help: 'the port (0 picks a free one; default 8765)' },
  host: { type: 'string', arg: '<host>', help: 'the address to bind (default 127.0.0.1; any other needs --token)' },
  token: { type: 'string', arg: '<secret>', help: 'require this token on every request (or set AGENT_STORE_TOKEN, which ps does not show)' },
};

function serveSettings(ctx: CommandContext) {
  const port = typeof ctx.options.port === 'string' ? parsePositiveInt(ctx.options.port, '--port', { allowZero: true }) : 8765;
  if (port > 65535) throw new UsageError('--port must be at most 65535');
  const token = typeof ctx.options.token === 'string' ? ctx.options.token : process.env.AGENT_STORE_TOKEN || undefined;
  return { port, host: typeof ctx.options.host === 'string' ? ctx.options.host : '127.0.0.1', ...(token !== undefined ? { token } : {}) };
}

// Set while a long-running command waits for Ctrl-C; any other command ends at once on it.
let stopsCleanly = false;

// Long-running commands print their URL, then run until Ctrl-C (or SIGTERM) and close cleanly.
function untilInterrupted(ctx: CommandContext): Promise<void> {
  stopsCleanly = true;
  return new Promise((resolve) => {
    if (ctx.interrupted.aborted) return resolve();
    ctx.interrupted.addEventListener('abort', () => resolve(), { once: true });
  });
}

// The URL goes to stdout even with --json, as the first line there: tools wait for it.
function printUrl(ctx: CommandContext, server: { url: string; port: number }): void {
  ctx.stdout.write(ctx.json ? `${JSON.stringify({ url: server.url, port: server.port })}\n` : `dashboard: ${server.url}\n`);
}

const serve: Command = {
  name: 'serve',
  usage: '<db> [--port <port>] [--host <host>] [--token <secret>]',
  summary: 'serves the dashboard and a live, read-only snapshot of the database (works while the agent runs)',
  details:
    'Prints the URL, then serves until Ctrl-C. Read-only: GET only, no route writes or runs SQL, only <db> is served. Binds to 127.0.0.1; another --host needs --token (checked on every request; open the printed URL once, the page then keeps it in a cookie).',
  options: SERVE_OPTIONS,
  positionals: [1, 1],
  async run(ctx) {
    const server = await startDashboardServer({ path: ctx.args[0] as string, ...serveSettings(ctx), onWarning: ctx.onWarning, onProblem: ctx.note });
    printUrl(ctx, server);
    await untilInterrupted(ctx);
    await server.close();
    return { json: undefined };
  },
};

const demo: Command = {
  name: 'demo',
  usage: '<db> [--days <n>] [--per-day <n>] [--seed <n>] [--end <time>] [--if-empty] [--live [--serve …]]',
  summary: 'fills a database with a realistic agent history (and with --live keeps a simulated agent writing)',
  details:
    'Creates <db> when missing. A database that already holds tasks is refused unless --if-empty (then it is left as it is). --live keeps a simulated agent writing until Ctrl-C; --serve also serves the dashboard (with serve\'s --port, --host, --token). `npm start` runs: demo agent.db --if-empty --live --serve.',
  options: {
    days: { type: 'string', arg: '<n>', help: 'days of history, ending now (default 14)' },
    'per-day': { type: 'string', arg: '<n>', help: 'tasks per day on average (default 300)' },
    seed: { type: 'string', arg: '<n>', help: 'the random seed (default 42)' },
    end: { type: 'string', arg: '<time>', help: 'when the history ends: a date, Unix ms or a duration ago (default now); one seed and end give the same history' },
    'if-empty': { type: 'boolean', help: 'fill only an empty database; leave one with tasks as it is' },
    live: { type: 'boolean', help: 'then keep a simulated agent writing until Ctrl-C' },
    serve: { type: 'boolean', help: 'with --live: serve the dashboard too' },
    ...SERVE_OPTIONS,
  },
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    const num = (name: string, fallback: number) => (typeof ctx.options[name] === 'string' ? parsePositiveInt(ctx.options[name] as string, `--${name}`) : fallback);
    const days = num('days', 14);
    const perDay = num('per-day', 300);
    const seed = num('seed', 42);
    const end = typeof ctx.options.end === 'string' ? parseTime(ctx.options.end, '--end', Date.now()) : Date.now();
    if (end > Date.now()) throw new UsageError('--end must not be in the future');
    if (ctx.options.serve === true && ctx.options.live !== true) throw new UsageError('--serve goes with --live');
    const settings = ctx.options.serve === true ? serveSettings(ctx) : undefined;
    let now = Date.now();
    const simulated = { active: true };
    const store = await openForWriting(path, ctx.onWarning, { create: true, clock: () => (simulated.active ? now : Date.now()) });
    let summary: Awaited<ReturnType<typeof seedDemo>> | undefined;
    try {
      const existing = (await store.listTasks({ limit: 1 })).length;
      if (existing > 0 && ctx.options['if-empty'] !== true) {
        throw new CliError(EXIT.FAILED, 'NOT_EMPTY', `${path} already holds tasks; demo fills only an empty database (pass --if-empty to keep it as it is)`);
      }
      if (existing === 0) {
        ctx.note(`filling ${path} with ${days} day${days === 1 ? "" : "s"} of agent history…`);
        // Ctrl-C stops the fill after the day being written (a transaction each): the days before it stay.
        stopsCleanly = true;
        let progress: Progress | undefined;
        let shown = 0;
        try {
          summary = await seedDemo(store, (ms) => (now = ms), {
            days,
            perDay,
            seed,
            end,
            signal: ctx.interrupted,
            onProgress: (done, total) => {
              progress ??= new Progress(ctx.stderr, 'demo', ctx.json ? 0 : total);
              progress.tick(done - shown);
              shown = done;
            },
          });
        } catch (e) {
          if (!(e instanceof DemoInterrupted)) throw e;
          throw new CliError(
            EXIT.INTERRUPTED,
            'INTERRUPTED',
            `interrupted: ${path} keeps the ${e.wrote.tasks} of ${e.planned} tasks written before Ctrl-C or SIGTERM (each day of history is one transaction: the days before it are whole, the one it stopped is not there); delete the file for a whole history`,
          );
        } finally {
          progress?.finish();
        }
        // The image then holds the whole history (sqlite3 agent.db shows it while the agent runs).
        await store.checkpoint();
        stopsCleanly = false;
        // Interrupted after the last day, or during the checkpoint: everything is written; stop here.
        if (ctx.interrupted.aborted) throw new CliError(EXIT.INTERRUPTED, 'INTERRUPTED', `interrupted: ${path} keeps the whole history (${summary.tasks} tasks); nothing more was done`);
        ctx.note(`wrote ${summary.tasks} tasks, ${summary.approvals} waiting approvals, ${summary.sessions} sessions, ${summary.threads} threads, ${summary.deadLetters} dead letters, ${summary.audit} audit entries`);
      } else {
        ctx.note(`${path} already holds tasks; keeping them`);
      }
      simulated.active = false;
      if (ctx.options.live !== true) return { json: { database: path, filled: summary !== undefined, ...(summary ? { wrote: summary } : {}) }, text: summary ? `demo history in ${path}` : `${path} left as it was` };
      await store.failStuckTasks();
      const agent = startLiveAgent(store, { onStep: ctx.json ? undefined : (line) => ctx.note(`agent: ${safeText(line)}`) });
      const server = settings ? await startDashboardServer({ path, ...settings, onWarning: ctx.onWarning, onProblem: ctx.note }).catch(async (e: unknown) => {
        await agent.stop();
        throw e;
      }) : undefined;
      if (server) printUrl(ctx, server);
      ctx.note(`a simulated agent is writing to ${path}; Ctrl-C stops it`);
      await untilInterrupted(ctx);
      await server?.close();
      await agent.stop();
      return { json: undefined, text: `stopped after ${agent.steps} steps; ${path} is closed and complete` };
    } finally {
      stopsCleanly = false;
      await store.close();
    }
  },
};

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [...READ_COMMANDS, ...QUEUE_COMMANDS, ...MAINTENANCE_COMMANDS, ...JSONL_COMMANDS, serve, demo];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'agent-store: see and repair the platform agent\'s database (agent.db)',
    '',
    'usage: agent-store <command> [arguments] [--json] [--help]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json (one JSON document on stdout) and --help.',
    'Reading commands open the database read-only and work while the agent runs; writing commands need it closed.',
    'exit codes: 0 ok · 1 failed (check found problems, an output or task id exists) · 2 usage · 3 not found · 4 locked · 5 corrupt · 6 schema too new · 7 I/O · 8 invalid input',
    `schema: v${SCHEMA_VERSION} (the Go store's v1 tables and the task engine's); version ${version()}`,
  ].join('\n');
}

function commandHelp(c: Command): string {
  const options = Object.entries({ ...c.options, json: { type: 'boolean', help: 'print one JSON document on stdout' } as OptionSpec, help: { type: 'boolean', help: 'this help' } as OptionSpec });
  const width = Math.max(...options.map(([n, o]) => n.length + (o.arg ? o.arg.length + 1 : 0)));
  return [
    `usage: agent-store ${c.name} ${c.usage}`,
    '',
    c.summary,
    ...(c.details ? ['', c.details] : []),
    '',
    'options:',
    ...options.map(([n, o]) => `  --${`${n}${o.arg ? ` ${o.arg}` : ''}`.padEnd(width)}  ${o.help}${o.multiple ? ' (repeatable)' : ''}`),
  ].join('\n');
}

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; interrupted: AbortSignal }): Promise<number> {
  const { stdout, stderr } = io;
  const json = argv.includes('--json');
  const name = argv.find((a) => !a.startsWith('-'));
  const fail = (error: unknown, command?: Command): number => {
    const { exitCode, code, message, reason } = classify(error);
    if (json) stdout.write(`${safeJson({ error: { code, ...(reason === undefined ? {} : { reason }), exitCode, message, ...(error instanceof CliError && error.details !== undefined ? { details: error.details } : {}) } })}\n`);
    stderr.write(`${terminalText(`agent-store${command ? ` ${command.name}` : ''}: ${message}`)}\n`);
    if (error instanceof UsageError) stderr.write(command ? `usage: agent-store ${command.name} ${command.usage} (see --help)\n` : 'run agent-store --help for the commands\n');
    return exitCode;
  };
  if (argv.includes('--version') && name === undefined) {
    stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  if (name === undefined && json && !argv.includes('--help')) return fail(new UsageError('no command given'));
  if (name === undefined || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === argv[argv.indexOf('help') + 1]) : undefined;
    stdout.write(`${topic ? commandHelp(topic) : mainHelp()}\n`);
    return name === undefined && !argv.includes('--help') && !argv.includes('-h') ? EXIT.USAGE : EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return fail(new UsageError(`unknown command "${name}"`));
  const rest = argv.filter((a, i) => i !== argv.indexOf(name));
  if (rest.includes('--help') || rest.includes('-h')) {
    stdout.write(`${commandHelp(command)}\n`);
    return EXIT.OK;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest as string[],
      options: { ...Object.fromEntries(Object.entries(command.options).map(([n, o]) => [n, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])), json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return fail(new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, '')), command);
  }
  const [min, max] = command.positionals;
  if (parsed.positionals.length < min) return fail(new UsageError(`missing argument${min - parsed.positionals.length > 1 ? 's' : ''}`), command);
  if (parsed.positionals.length > max) return fail(new UsageError(`unexpected argument "${parsed.positionals[max]}"`), command);
  const warned = new Set<string>();
  const ctx: CommandContext = {
    args: parsed.positionals,
    options: parsed.values as CommandContext['options'],
    json,
    say: (line) => {
      if (!json) stdout.write(`${terminalText(line)}\n`);
    },
    note: (line) => stderr.write(`${terminalText(line)}\n`),
    onWarning: (w: { readonly code: string; readonly message: string }) => {
      const line = `warning (${w.code}): ${w.message.replace(/^\[@platform-agent\/store\] /, '')}`;
      if (!warned.has(line)) stderr.write(`${terminalText(line)}\n`);
      warned.add(line);
    },
    stdout,
    stderr,
    interrupted: io.interrupted,
  };
  try {
    const result = await command.run(ctx);
    if (json) {
      if (result.json !== undefined) stdout.write(`${safeJson(result.json)}\n`);
    } else if (result.text !== undefined) {
      stdout.write(`${terminalText(result.text)}\n`);
    }
    return result.exitCode ?? EXIT.OK;
  } catch (e) {
    return fail(e, command);
  }
}

// node:sqlite (Node 22) warns on every load that it is experimental. The command chose it knowingly
// (docs/cli.md says which engine reads what): its users get their output, not that line on stderr.
// Every other warning is printed as before.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : (warning as Error | undefined)?.message;
  if (typeof text === 'string' && text.startsWith('SQLite is an experimental feature')) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

const interrupted = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // The first Ctrl-C stops cleanly (the store closes, complete); a second one exits at once.
  process.on(signal, () => {
    // A short command stops at once: what it wrote is all or nothing (a transaction, a renamed
    // temp file), and a store that is not closed leaves its journal, which the next open replays.
    if (interrupted.signal.aborted || !stopsCleanly) process.exit(130);
    interrupted.abort();
  });
}
// `agent-store export db | head`: the reader is gone, so is the point of writing on.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, interrupted: interrupted.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`agent-store: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT.FAILED;
  },
);
