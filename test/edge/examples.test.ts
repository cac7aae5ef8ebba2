/**
 * The two Worker examples (examples/worker/kv, examples/worker/d1) built from the package's dist as a
 * Worker's bundler would, and run in workerd through miniflare with their bindings.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot } from '../helpers/go-db.js';
import { bundleWorker, startWorker } from './workers.js';

let dir: string;
const running: Miniflare[] = [];

async function bundle(example: string): Promise<string> {
  return bundleWorker(`examples/worker/${example}/worker.js`, join(dir, example));
}

function start(out: string, bindings: { kvNamespaces?: string[]; d1Databases?: string[] }): Miniflare {
  const mf = startWorker(out, bindings);
  running.push(mf);
  return mf;
}

async function call(mf: Miniflare, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await mf.dispatchFetch(`http://worker${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: response.status, json: await response.json() };
}

beforeAll(() => {
  ensureBuilt();
  mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
  dir = mkdtempSync(join(repoRoot, 'test-output/examples-'));
}, 120_000);

afterAll(async () => {
  for (const mf of running) await mf.dispose().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the Worker examples, in workerd', () => {
  it('examples/worker/kv: tasks saved in one request are listed by the next (Workers KV)', async () => {
    const mf = start(await bundle('kv'), { kvNamespaces: ['KV'] });
    expect((await call(mf, 'POST', '/tasks', { id: 't1', command: 'deploy', params: { env: 'edge' } })).status).toBe(201);
    expect((await call(mf, 'POST', '/tasks', { id: 't2', command: 'rollback' })).status).toBe(201);
    const listed = await call(mf, 'GET', '/tasks');
    expect(listed.status).toBe(200);
    expect((listed.json as { id: string }[]).map((t) => t.id).sort()).toEqual(['t1', 't2']);
    // Concurrent requests take turns in the isolate (KV has no locks): none is lost.
    const concurrent = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((id) => call(mf, 'POST', '/tasks', { id, command: 'deploy' })));
    expect(concurrent.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(((await call(mf, 'GET', '/tasks')).json as { id: string }[]).map((t) => t.id).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 't1', 't2']);
    const bad = await call(mf, 'POST', '/tasks', { id: '', command: 'x' });
    expect(bad).toMatchObject({ status: 400, json: { error: 'VALIDATION' } });
  });

  it('examples/worker/d1: the same API on D1, across requests', async () => {
    const mf = start(await bundle('d1'), { d1Databases: ['DB'] });
    expect((await call(mf, 'POST', '/tasks', { id: 'a', command: 'deploy' })).status).toBe(201);
    const completed = await call(mf, 'POST', '/tasks/a/complete', { result: { pods: 3 } });
    expect(completed).toMatchObject({ status: 200, json: { id: 'a', status: 'completed', result: { pods: 3 } } });
    expect(await call(mf, 'POST', '/tasks/nope/complete', {})).toMatchObject({ status: 404, json: { error: 'NOT_FOUND' } });
    expect(((await call(mf, 'GET', '/tasks')).json as { id: string }[]).map((t) => t.id)).toEqual(['a']);
  });
});
