/**
 * The Web Locks API for Node tests (Node 20 has none): exclusive locks per name, granted in request
 * order, `ifAvailable`, `signal`, `query()`. Real Chromium runs the same adapter on the real API
 * (test/browser). `crash(client)` drops everything a client holds, as the browser does for a tab
 * that dies; `revoke(name)` takes a held lock away without telling its holder (a lost lock).
 */

interface Waiter {
  readonly client: string;
  readonly grant: () => void;
  granted?: () => void;
}

export interface FakeLocks {
  /** A `LockManager` for one client (a tab). */
  manager(client: string): LockManager;
  /** Releases every lock `client` holds and drops its waiting requests, as when its tab crashes. */
  crash(client: string): void;
  /** Hands `name` to the next waiter without the holder knowing (a frozen tab, a stolen lock). */
  revoke(name: string): void;
  /** Which client holds `name`. */
  holder(name: string): string | undefined;
}

export function createFakeLocks(): FakeLocks {
  const held = new Map<string, { client: string; release: () => void }>();
  const queues = new Map<string, Waiter[]>();
  const crashed = new Set<string>();

  const grantNext = (name: string): void => {
    if (held.has(name)) return;
    const queue = queues.get(name) ?? [];
    const next = queue.shift();
    next?.granted?.();
    next?.grant();
  };

  const manager = (client: string): LockManager => {
    const request = (name: string, optionsOrCallback: LockOptions | LockGrantedCallback<unknown>, maybeCallback?: LockGrantedCallback<unknown>): Promise<unknown> => {
      const options: LockOptions = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback;
      const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as LockGrantedCallback<unknown>;
      if (crashed.has(client)) return new Promise(() => {});
      return new Promise((resolve, reject) => {
        const run = (lock: Lock | null): void => {
          let result: unknown;
          try {
            result = callback(lock);
          } catch (e) {
            result = Promise.reject(e);
          }
          Promise.resolve(result).then(
            (value) => {
              if (lock) release();
              resolve(value);
            },
            (e: unknown) => {
              if (lock) release();
              reject(e);
            },
          );
        };
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          if (held.get(name)?.client === client && held.get(name)?.release === release) held.delete(name);
          grantNext(name);
        };
        const grant = (): void => {
          held.set(name, { client, release });
          run({ name, mode: 'exclusive' } as Lock);
        };
        if (options.ifAvailable) {
          if (held.has(name) || (queues.get(name)?.length ?? 0) > 0) run(null);
          else grant();
          return;
        }
        const waiter: Waiter = { client, grant };
        const queue = queues.get(name) ?? [];
        queues.set(name, queue);
        queue.push(waiter);
        const onAbort = (): void => {
          const i = queue.indexOf(waiter);
          if (i >= 0) {
            queue.splice(i, 1);
            reject(options.signal?.reason ?? new DOMException('aborted', 'AbortError'));
          }
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        waiter.granted = () => options.signal?.removeEventListener('abort', onAbort);
        grantNext(name);
      });
    };
    const query = async (): Promise<LockManagerSnapshot> => ({
      held: [...held].map(([name, h]) => ({ name, mode: 'exclusive' as const, clientId: h.client })),
      pending: [...queues].flatMap(([name, q]) => q.map((w) => ({ name, mode: 'exclusive' as const, clientId: w.client }))),
    });
    return { request, query } as unknown as LockManager;
  };

  return {
    manager,
    crash(client) {
      crashed.add(client);
      for (const queue of queues.values()) {
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]?.client === client) queue.splice(i, 1);
      }
      for (const [, h] of [...held]) if (h.client === client) h.release();
    },
    revoke(name) {
      held.get(name)?.release();
    },
    holder(name) {
      return held.get(name)?.client;
    },
  };
}
