/**
 * When persisting fails: the episode of failures (since when, how many attempts, the last error),
 * the retries with exponential backoff, and the errors writes and durable reads get meanwhile.
 */
import { ClosedError, PersistenceError } from './errors.js';
import type { DurabilitySettings, StoreHealth } from './durability-types.js';

/** An error's code and message in one line, for messages. */
export function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/** The wait before retry number `attempts` (1 for the first): doubling from `retryMinMs`, at most `retryMaxMs`. */
export function retryDelay(settings: Pick<DurabilitySettings, 'retryMinMs' | 'retryMaxMs'>, attempts: number): number {
  return Math.min(settings.retryMaxMs, settings.retryMinMs * 2 ** Math.min(attempts - 1, 20));
}

/** A store's persistence failures: degraded from the first until a step succeeds again. */
export class Degradation {
  readonly #adapterName: string;
  readonly #settings: DurabilitySettings;
  readonly #now: () => number;
  // Runs the next persistence step (the retry).
  readonly #retry: () => void;
  #failure: { error: PersistenceError; since: number; attempts: number; nextRetryAt?: number } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(adapterName: string, settings: DurabilitySettings, now: () => number, retry: () => void) {
    this.#adapterName = adapterName;
    this.#settings = settings;
    this.#now = now;
    this.#retry = retry;
  }

  /** The episode's error, while degraded. */
  get error(): PersistenceError | undefined {
    return this.#failure?.error;
  }

  /** Throws when a write must not start: the store is degraded. */
  refuseWrite(): void {
    if (this.#failure) {
      throw new PersistenceError(
        `the store is degraded: persisting to the ${this.#adapterName} adapter failed (${describe(this.#failure.error.cause)}); writes are refused until a retry succeeds (see store.health())`,
        { cause: this.#failure.error.cause },
      );
    }
  }

  /** The error a read that saw writes not yet durable gets (`reads: 'durable'`) while degraded, or `undefined`. */
  refusedRead(): PersistenceError | undefined {
    if (!this.#failure) return undefined;
    return new PersistenceError(
      `the read saw writes that are not durable, and persisting to the ${this.#adapterName} adapter fails (${describe(this.#failure.error.cause)}); with reads: 'durable' it is refused until a retry succeeds (see store.health())`,
      { cause: this.#failure.error.cause },
    );
  }

  /** A persistence step failed with `e`: the episode goes on (a warning at its start), a retry is scheduled; returns the error for the step's callers. */
  failed(e: unknown): PersistenceError {
    const failure = this.#failure;
    const error =
      e instanceof PersistenceError
        ? e
        : new PersistenceError(
            `persisting to the ${this.#adapterName} adapter failed (${describe(e)}); the write is applied in memory but not durable and not acknowledged. The store retries in the background and refuses new writes meanwhile (see store.health()); do not repeat the write: store.flush() resolves once it is durable`,
            { cause: e, applied: true },
          );
    const attempts = (failure?.attempts ?? 0) + 1;
    this.#failure = { error, since: failure?.since ?? this.#now(), attempts };
    if (!failure) this.#settings.onWarning({ code: 'DEGRADED', message: error.message, cause: e });
    // A closed engine cannot be exported again: retrying would fail forever.
    if (!(e instanceof ClosedError)) this.#schedule();
    return error;
  }

  #schedule(): void {
    const failure = this.#failure;
    if (!failure || this.#stopped || this.#timer !== undefined) return;
    const delay = retryDelay(this.#settings, failure.attempts);
    failure.nextRetryAt = this.#now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#retry();
    }, delay);
    // In 'write' mode every write not yet durable was refused, so a retry need not keep a process
    // alive (Node); with 'deferred' it holds acknowledged writes, so it does. Runtimes may lack unref.
    if (this.#settings.mode !== 'deferred') (this.#timer as { unref?: () => void }).unref?.();
  }

  /** A persistence step succeeded: the episode is over. */
  recovered(): void {
    if (!this.#failure) return;
    this.#failure = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** No more retries (the store is closing). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** What `health()` says of the episode. */
  health(): Pick<StoreHealth, 'lastError' | 'degradedSince' | 'nextRetryAt'> {
    const failure = this.#failure;
    if (!failure) return {};
    return { lastError: failure.error, degradedSince: failure.since, ...(failure.nextRetryAt === undefined ? {} : { nextRetryAt: failure.nextRetryAt }) };
  }
}
