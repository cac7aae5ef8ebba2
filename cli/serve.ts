/**
 * `agent-store serve`: the dashboard and a read-only, live snapshot of one database.
 *
 * What it will do is fixed: it answers GET for a closed list of paths (the page's own files and
 * three read-only API routes) and nothing else. No route writes, runs SQL, or names a file: the
 * database is the one it was started with. It binds to 127.0.0.1 unless told otherwise; another
 * address needs a token, checked on every request. Without a token it checks the Host header too,
 * so a web page cannot reach it through DNS rebinding.
 *
 * Live: it polls the database's files (the image and the journal) and, when they change, takes a
 * new snapshot (a read-only open: image plus journal, as the store opens them) and tells every
 * page through server-sent events.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileAdapterPaths } from '../adapters/fs.js';
import type { WarningSink } from './database.js';
import { fileSizes, requireFile, snapshot } from './database.js';
import { CliError, EXIT, UsageError } from './errors.js';

/** The page's Content-Security-Policy: its own scripts only, no inline code, WASM allowed. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COOKIE = 'agent_store_token';
const POLL_MS = 250;
const MAX_SAMPLES = 1000;
const MAX_EVENT_STREAMS = 64;

/** Options of {@link startDashboardServer}. */
export interface DashboardServerOptions {
  /** The database file to serve. */
  readonly path: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8765 */
  readonly port?: number;
  /** Required on a non-loopback host: every request must carry it. */
  readonly token?: string;
  /** Where the dashboard's built files are. @default the `dashboard/` beside this command's bundle */
  readonly dashboardDir?: string;
  readonly onWarning: WarningSink;
  /** Hears problems taking a snapshot (the last good one keeps being served). */
  readonly onProblem?: (message: string) => void;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The page's URL (with `?token=` when there is a token). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Whether `host` is a loopback address (or `localhost`). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// The files of the page, by URL path: a closed list, so no URL can name any other file.
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.js.map': { file: 'app.js.map', type: 'application/json; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  // The package's one copy of the binary, beside dashboard/ in dist/: the page asks for ../sql-wasm.wasm.
  '/sql-wasm.wasm': { file: '../sql-wasm.wasm', type: 'application/wasm' },
};

interface Sample {
  readonly at: number;
  readonly imageBytes: number;
  readonly journalBytes: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined; // a malformed cookie is no token
    }
  }
  return undefined;
}

/** Starts the server; resolves once it listens (after the first snapshot, so a bad database fails here). */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const { path, host = '127.0.0.1', port = 8765, token, onWarning, onProblem = () => {} } = options;
  if (token !== undefined && token.length < 16) throw new UsageError('--token must be at least 16 characters (use a random one: openssl rand -hex 16)');
  if (!isLoopback(host) && token === undefined) {
    throw new UsageError(`serving on ${host} shows the agent's data to the network: pass --token <secret> (or AGENT_STORE_TOKEN), or keep the default 127.0.0.1`);
  }
  requireFile(path);
  const dir = options.dashboardDir ?? fileURLToPath(new URL('../dashboard/', import.meta.url));
  const files = new Map<string, Buffer>();
  for (const [route, { file }] of Object.entries(FILES)) {
    try {
      files.set(route, readFileSync(`${dir}${dir.endsWith('/') ? '' : '/'}${file}`));
    } catch (e) {
      if (file === 'app.js.map') continue;
      throw new CliError(EXIT.NOT_FOUND, 'NOT_FOUND', `the dashboard's ${file} is missing in ${dir} (run npm run build)`, { cause: e });
    }
  }
  const expected = token === undefined ? undefined : digest(token);
  const journalPath = fileAdapterPaths(path).journal;

  // The current snapshot; a new one replaces it whole, so a response never mixes two.
  let image = await snapshot(path, onWarning);
  let version = 1;
  // Versions count from 1 in every server process: a page compares the instance too, so a restarted
  // server's version 1 is not taken for the one it already shows.
  const instance = randomBytes(8).toString('hex');
  const samples: Sample[] = [{ at: Date.now(), ...fileSizes(path) }];
  let problem: string | undefined;
  const streams = new Set<ServerResponse>();

  const status = () => {
    const last = samples[samples.length - 1] as Sample;
    return { source: 'serve', database: basename(path), instance, version, at: last.at, imageBytes: last.imageBytes, journalBytes: last.journalBytes, snapshotBytes: image.byteLength, ...(problem ? { problem } : {}) };
  };
  // What an event says: the status without what never changes.
  const event = () => {
    const { source: _s, database: _d, ...rest } = status();
    return `event: snapshot\ndata: ${JSON.stringify(rest)}\n\n`;
  };
  const broadcast = () => {
    const message = event();
    for (const res of streams) res.write(message);
  };

  // Polls the files' size, time and inode; a change gives a new snapshot (one at a time).
  const fingerprint = () => {
    const one = (file: string) => {
      try {
        const s = statSync(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    };
    return `${one(path)}|${one(journalPath)}`;
  };
  let seen = fingerprint();
  let busy = false;
  // A snapshot costs a read-only open (image plus journal). On a large database under steady writes,
  // the gap after one is 4× its duration, so snapshots take at most a fifth of a core.
  let notBefore = 0;
  const poll = setInterval(() => {
    if (busy || Date.now() < notBefore) return;
    const now = fingerprint();
    if (now === seen) return;
    busy = true;
    const started = Date.now();
    snapshot(path, onWarning)
      .then((next) => {
        seen = now;
        image = next;
        version++;
        problem = undefined;
        samples.push({ at: Date.now(), ...fileSizes(path) });
        if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
        broadcast();
      })
      .catch((e: unknown) => {
        seen = now; // retried at the next change, not in a loop
        const message = e instanceof Error ? e.message : String(e);
        if (problem !== message) onProblem(`could not refresh the snapshot (still serving version ${version}): ${message}`);
        problem = message;
        broadcast();
      })
      .finally(() => {
        busy = false;
        notBefore = Date.now() + 4 * (Date.now() - started);
      });
  }, POLL_MS);
  poll.unref();

  const headers = (type: string, extra: Record<string, string> = {}) => ({
    'content-type': type,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
    ...extra,
  });
  const refuse = (res: ServerResponse, code: number, text: string, extra: Record<string, string> = {}) => {
    res.writeHead(code, headers('text/plain; charset=utf-8', extra));
    res.end(`${text}\n`);
  };

  let boundPort = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET') return refuse(res, 405, 'method not allowed: this server is read-only', { allow: 'GET' });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return refuse(res, 400, 'bad request');
    }
    if (expected === undefined) {
      // Loopback without a token: only requests addressed to this server by a loopback name.
      const hostHeader = (req.headers.host ?? '').toLowerCase();
      const allowed = ['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${boundPort}`);
      if (!allowed.includes(hostHeader) && !(isLoopback(host) && hostHeader === `${host}:${boundPort}`)) return refuse(res, 403, 'forbidden: unexpected Host header');
    } else {
      const given = req.headers.authorization?.replace(/^Bearer /i, '') ?? cookieValue(req.headers.cookie, COOKIE) ?? url.searchParams.get('token') ?? undefined;
      if (given === undefined || !timingSafeEqual(digest(given), expected)) return refuse(res, 401, 'unauthorized: this server needs its token', { 'www-authenticate': 'Bearer' });
      if (url.searchParams.has('token') && url.pathname === '/') {
        // The token moves from the address bar into a cookie only this origin's requests carry.
        res.writeHead(303, headers('text/plain; charset=utf-8', { location: '/', 'set-cookie': `${COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/` }));
        return res.end();
      }
    }
    const file = FILES[url.pathname];
    if (file) {
      const body = files.get(url.pathname);
      if (!body) return refuse(res, 404, 'not found');
      res.writeHead(200, headers(file.type, { 'content-length': String(body.byteLength) }));
      return res.end(body);
    }
    switch (url.pathname) {
      case '/api/status':
        res.writeHead(200, headers('application/json; charset=utf-8'));
        return res.end(JSON.stringify({ ...status(), sizes: samples }));
      case '/api/snapshot': {
        const body = image;
        res.writeHead(200, headers('application/vnd.sqlite3', { 'content-length': String(body.byteLength), 'x-snapshot-version': String(version), 'x-snapshot-instance': instance, 'content-disposition': `attachment; filename="${basename(path).replace(/[^\w.-]/g, '_')}"` }));
        return res.end(body);
      }
      case '/api/events': {
        if (streams.size >= MAX_EVENT_STREAMS) return refuse(res, 503, 'too many open event streams');
        res.writeHead(200, headers('text/event-stream; charset=utf-8', { connection: 'keep-alive' }));
        streams.add(res);
        res.write(`retry: 2000\n${event()}`);
        req.on('close', () => streams.delete(res));
        return;
      }
      default:
        return refuse(res, 404, 'not found');
    }
  };

  // Loaded here, not at start-up: importing node:http builds its exports, fetch's client among
  // them (~30 ms every command would pay).
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      // No request may take the server down; answer it as bad and go on.
      if (!res.headersSent) refuse(res, 400, 'bad request');
      else res.destroy();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(poll);
      clearInterval(heartbeat);
      if (e.code === 'EADDRINUSE') reject(new CliError(EXIT.IO, 'EADDRINUSE', `port ${port} on ${host} is in use; pick another with --port (0 picks a free one)`, { cause: e }));
      else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
  boundPort = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${boundPort}/${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`,
    port: boundPort,
    async close() {
      clearInterval(poll);
      clearInterval(heartbeat);
      for (const res of streams) res.end();
      streams.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // keep-alive connections would hold close() open
      await closed;
    },
  };
}
