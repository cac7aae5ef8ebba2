/**
 * The tasks the browser-durable pages and workers save: deterministic (a seeded PRNG), so every
 * subject saves the same sequence. Browser code only (no Node built-ins): bundled by esbuild.
 */
import type { TaskInput } from '../../src/index.js';

/** The PRNG seed of the tasks the subjects save: every subject saves the same sequence. */
export const SAVES_SEED = 0xd0_4ab1e;

/** mulberry32, as bench/harness.ts's Prng (which imports Node built-ins, so cannot be bundled here). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['deploy', 'service', 'error', 'timeout', 'retry', 'cluster', 'node', 'pod', 'restart', 'latency', 'request', 'config', 'rollback', 'version', 'queue', 'worker'];
const COMMANDS = ['deploy', 'restart_service', 'scale', 'rollback', 'run_query', 'fetch_logs'];
const ENVS = ['prod', 'staging', 'dev'];

/** Deterministic tasks: the seeds' history (params of a few KB) and the small tasks the subjects save. */
export class Tasks {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = prng(seed);
  }
  #int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }
  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }
  #hex(length: number): string {
    let s = '';
    while (s.length < length) s += Math.floor(this.#next() * 0x100000000).toString(16).padStart(8, '0');
    return s.slice(0, length);
  }
  #words(length: number): string {
    const parts: string[] = [];
    for (let n = 0; n < length; ) {
      const w = this.#pick(WORDS);
      parts.push(w);
      n += w.length + 1;
    }
    return parts.join(' ');
  }
  #id(): string {
    const h = this.#hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** A new pending task as the agent saves it: a command with a few parameters. */
  newTask(): TaskInput {
    return {
      id: this.#id(),
      command: this.#pick(COMMANDS),
      params: { service: `svc-${this.#int(0, 39)}`, env: this.#pick(ENVS), version: `v${this.#int(1, 9)}.${this.#int(0, 40)}.${this.#int(0, 200)}`, replicas: this.#int(1, 12) },
      callerId: `U${this.#hex(10).toUpperCase()}`,
      responseChannel: `C${this.#hex(10).toUpperCase()}`,
      responseThread: `${1_700_000_000 + this.#int(0, 9_999_999)}.${String(this.#int(0, 999_999)).padStart(6, '0')}`,
    };
  }

  /** A finished task of a seed's history: params of about 2–4 KB (a reason and a plan) and a result. */
  pastTask(now: number): TaskInput {
    const createdAt = now - this.#int(60_000, 30 * 86_400_000);
    const task = this.newTask();
    return {
      ...task,
      params: {
        ...(task.params as Record<string, unknown>),
        reason: this.#words(this.#int(800, 2000)),
        plan: Array.from({ length: this.#int(3, 8) }, () => ({ step: this.#pick(WORDS), target: this.#hex(12), note: this.#words(this.#int(40, 160)) })),
      },
      status: 'completed',
      result: { ok: true, output: this.#words(this.#int(30, 200)) },
      createdAt,
      updatedAt: createdAt + 1_000,
      completedAt: createdAt + 1_000,
    };
  }
}

