/**
 * `agent-store serve` as a process: what it serves (the page, a live snapshot, events) and what it
 * refuses (other methods, other paths, foreign Host headers, requests without its token).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { tempDir, type TempDir } from '../helpers/go-db.js';
import { cli, saveWithWriter, startCli, type Child } from './run.js';

let tmp: TempDir;
let db: string;
const children: Child[] = [];

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A raw HTTP request: the path is sent as given (no URL normalisation), headers as given. */
function send(origin: string, path: string, { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers, setHost: !('host' in headers) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(args: readonly string[]): Promise<{ origin: string; url: string; child: Child }> {
  const child = startCli(['serve', ...args]);
  children.push(child);
  const line = await child.waitFor(/^dashboard: /);
  const url = line.slice('dashboard: '.length);
  return { url, origin: new URL(url).origin, child };
}

function tasksIn(bytes: Buffer): number {
  const file = tmp.file(`snapshot-${Math.random().toString(36).slice(2)}.db`);
  writeFileSync(file, bytes);
  const sqlite = new Database(file, { readonly: true });
  try {
    return (sqlite.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  } finally {
    sqlite.close();
  }
}

beforeAll(async () => {
  ensureBuilt();
  tmp = tempDir('pa-serve-');
  db = tmp.file('agent.db');
  const ran = await cli(['demo', db, '--days', '2', '--per-day', '100']);
  expect(ran.code, ran.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop('SIGTERM')));
  tmp?.remove();
});

describe('serve on loopback', () => {
  let origin: string;
  let url: string;
  beforeAll(async () => {
    ({ origin, url } = await serve([db, '--port', '0']));
  });

  it('prints a loopback URL and serves the page with a CSP without inline scripts', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await send(origin, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("default-src 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body.toString()).toContain('<script type="module" src="./app.js"');
    expect(page.body.toString()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script has a src
    expect((await send(origin, '/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await send(origin, '/sql-wasm.wasm')).headers['content-type']).toBe('application/wasm');
  });

  it('serves the database it was started with as a snapshot, and its status', async () => {
    const snapshot = await send(origin, '/api/snapshot');
    expect(snapshot.status).toBe(200);
    expect(snapshot.headers['content-type']).toBe('application/vnd.sqlite3');
    expect(snapshot.body.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    const sqlite = new Database(db, { readonly: true });
    const n = (sqlite.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    sqlite.close();
    expect(tasksIn(snapshot.body)).toBe(n);
    const status = JSON.parse((await send(origin, '/api/status')).body.toString()) as Record<string, unknown>;
    expect(status).toMatchObject({ source: 'serve', database: 'agent.db', instance: expect.stringMatching(/^[0-9a-f]{16}$/), version: expect.any(Number), imageBytes: expect.any(Number), sizes: expect.any(Array) });
    // The snapshot names the server process and version it belongs to (a restarted server counts from 1 again).
    expect(snapshot.headers['x-snapshot-instance']).toBe(status.instance);
  });

  it('refuses every method but GET, and changes nothing', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
      for (const path of ['/', '/api/snapshot', '/api/status']) {
        const reply = await send(origin, path, { method });
        expect(reply.status, `${method} ${path}`).toBe(405);
        expect(reply.headers.allow).toBe('GET');
      }
    }
  });

  it('serves no other path: traversal, encoded traversal, other files, query parameters naming files', async () => {
    for (const path of ['/../package.json', '/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/app.js/../../package.json', '//etc/passwd', '/dist/index.js', '/agent.db', '/api/snapshot/../../agent.db', '/index.html%00.js', '/api', '/api/', '/style.css/', '/.env']) {
      const reply = await send(origin, path);
      expect([400, 404], path).toContain(reply.status);
      expect(reply.body.toString()).not.toContain('root:');
    }
    // A query cannot pick another database or file: the snapshot stays the one it was started with.
    const other = tmp.file('other.db');
    copyFileSync(db, other);
    const plain = await send(origin, '/api/snapshot');
    const asked = await send(origin, `/api/snapshot?path=${encodeURIComponent(other)}&db=/etc/passwd`);
    expect(asked.status).toBe(200);
    expect(asked.body.equals(plain.body)).toBe(true);
  });

  it('refuses a Host header that is not its own (DNS rebinding)', async () => {
    const port = new URL(origin).port;
    expect((await send(origin, '/api/snapshot', { headers: { host: `evil.example:${port}` } })).status).toBe(403);
    expect((await send(origin, '/', { headers: { host: 'evil.example' } })).status).toBe(403);
    expect((await send(origin, '/', { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });

  it('tells the page about a write by another process through server-sent events, with a new snapshot', async () => {
    const { hostname, port } = new URL(origin);
    const events: string[] = [];
    const req = request({ host: hostname, port, path: '/api/events' });
    const first = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        res.on('data', (chunk: Buffer) => {
          events.push(...chunk.toString().split('\n\n').filter((e) => e.includes('event: snapshot')));
          resolve();
        });
      });
      req.on('error', reject);
    });
    req.end();
    try {
      await first;
      const version = (e: string) => (JSON.parse(e.split('data: ')[1] as string) as { version: number }).version;
      const before = version(events[0] as string);
      await saveWithWriter(db, { id: 'from-elsewhere', command: 'restart', params: { service: 'api' } });
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !events.some((e) => version(e) > before)) await new Promise((r) => setTimeout(r, 50));
      expect(events.some((e) => version(e) > before)).toBe(true);
      const snapshot = await send(origin, '/api/snapshot');
      expect(Number(snapshot.headers['x-snapshot-version'])).toBeGreaterThan(before);
      const file = tmp.file('after.db');
      writeFileSync(file, snapshot.body);
      const sqlite = new Database(file, { readonly: true });
      expect(sqlite.prepare("SELECT command FROM tasks WHERE id = 'from-elsewhere'").get()).toEqual({ command: 'restart' });
      sqlite.close();
    } finally {
      req.destroy();
    }
  });
});

describe('serve with a token', () => {
  const token = 'a-test-token-0123456789abcdef';

  it('refuses a non-loopback address without a token (exit 2), and a short token', async () => {
    const open = await cli(['serve', db, '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('pass --token');
    expect((await cli(['serve', db, '--token', 'short', '--port', '0'])).code).toBe(2);
  });

  it('on 0.0.0.0 checks the token on every request: header, cookie, or once in the URL', async () => {
    const { url, child } = await serve([db, '--host', '0.0.0.0', '--port', '0', '--token', token]);
    expect(url).toBe(`${url.split('?')[0]}?token=${token}`);
    const origin = `http://127.0.0.1:${new URL(url).port}`;
    for (const path of ['/', '/app.js', '/api/snapshot', '/api/status', '/api/events']) {
      expect((await send(origin, path)).status, path).toBe(401);
      expect((await send(origin, path, { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } })).status, path).toBe(401);
      expect((await send(origin, path, { headers: { cookie: 'agent_store_token=wrong' } })).status, path).toBe(401);
    }
    expect((await send(origin, '/api/snapshot', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // The printed URL sets an HttpOnly, SameSite=Strict cookie and drops the token from the address.
    const entry = await send(origin, `/?token=${token}`);
    expect(entry.status).toBe(303);
    expect(entry.headers.location).toBe('/');
    const cookie = String(entry.headers['set-cookie']);
    expect(cookie).toMatch(/^agent_store_token=.+; HttpOnly; SameSite=Strict; Path=\//);
    expect((await send(origin, '/api/status', { headers: { cookie: cookie.split(';')[0] as string } })).status).toBe(200);
    // A token-protected server answers any Host name (it is meant for the network).
    expect((await send(origin, '/api/status', { headers: { authorization: `Bearer ${token}`, host: 'agent.internal:1' } })).status).toBe(200);
    // A malformed cookie is no token, and takes nothing down.
    expect((await send(origin, '/api/status', { headers: { cookie: 'agent_store_token=%E0%A4%A' } })).status).toBe(401);
    expect((await send(origin, '/api/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Methods are refused before anything else.
    expect((await send(origin, '/', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
    await child.stop('SIGTERM');
  });

  it('takes the token from AGENT_STORE_TOKEN (not visible in ps)', async () => {
    const child = startCli(['serve', db, '--port', '0'], { AGENT_STORE_TOKEN: token });
    children.push(child);
    const url = (await child.waitFor(/^dashboard: /)).slice('dashboard: '.length);
    expect(url).toContain(`?token=${token}`);
    const origin = new URL(url).origin;
    expect((await send(origin, '/api/status')).status).toBe(401);
    expect((await send(origin, '/api/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('npm start: demo --if-empty --live --serve', () => {
  it('seeds an empty database, keeps a simulated agent writing, serves the dashboard, and closes cleanly on Ctrl-C', async () => {
    const file = tmp.file('start.db');
    const child = startCli(['demo', file, '--days', '1', '--per-day', '50', '--if-empty', '--live', '--serve', '--port', '0']);
    children.push(child);
    const url = (await child.waitFor(/^dashboard: /)).slice('dashboard: '.length);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const origin = new URL(url).origin;
    const status = async () => JSON.parse((await send(origin, '/api/status')).body.toString()) as { version: number };
    const first = (await status()).version;
    // The simulated agent writes every 1.5 s or so; the server sees it.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await status()).version <= first) await new Promise((r) => setTimeout(r, 200));
    expect((await status()).version).toBeGreaterThan(first);
    expect((await send(origin, '/')).status).toBe(200);
    expect(await child.stop('SIGINT')).toBe(0);
    // Closed cleanly: the journal folded into the image, every check passes, the live tasks are there.
    const check = await cli(['check', file, '--json']);
    expect(check.code, check.stdout).toBe(0);
    const sqlite = new Database(file, { readonly: true });
    const live = (sqlite.prepare("SELECT count(*) AS n FROM tasks WHERE id LIKE 'live-%'").get() as { n: number }).n;
    sqlite.close();
    expect(live).toBeGreaterThan(0);
    // A second start keeps the database (no second seeding).
    const again = await cli(['demo', file, '--if-empty', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ filled: false });
  });
});
