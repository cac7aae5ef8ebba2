/**
 * Following another store's commits: a store that another store owns (or a read-only store on an
 * adapter that passes messages) applies the owner's durable records as they are published,
 * reloads when it falls behind, and takes over when ownership comes.
 */
import { DurabilityManager, type ChangeMessage, type DurabilitySettings } from './durability.js';
import type { JournalingEngine } from './engine.js';
import { ClosedError, CorruptDatabaseError, type LockHolder } from './errors.js';
import { parseJournal } from './journal.js';
import type { Opened } from './loading.js';
import type { PersistenceAdapter } from './persistence.js';

/** Messages the adapter delivered, and how the store stops them. */
export interface Mailbox {
  readonly messages: unknown[];
  notify: () => void;
  unsubscribe: () => void;
}

/** A mailbox listening to `adapter` (which must have `subscribe`), before anything is loaded. */
export function openMailbox(adapter: PersistenceAdapter): Mailbox {
  const box: Mailbox = { messages: [], notify: () => {}, unsubscribe: () => {} };
  box.unsubscribe = (adapter.subscribe as NonNullable<PersistenceAdapter['subscribe']>)((message) => {
    box.messages.push(message);
    box.notify();
  });
  return box;
}

/** What openStore hands a store that follows another owner. */
export interface FollowSetup {
  readonly mode: 'follow' | 'wait';
  readonly holder: LockHolder;
  readonly settings: DurabilitySettings;
  readonly sequence: number;
  readonly imageBytes: number;
  readonly mailbox: Mailbox;
  /** Opens the adapter's current state in a new engine (`asOwner`: the lock is held). */
  readonly load: (asOwner: boolean) => Promise<Opened>;
  readonly onChange: (() => void) | undefined;
}

/** What a follower needs of the store it runs in. */
export interface FollowerHost {
  readonly adapter: PersistenceAdapter;
  readonly readOnly: boolean;
  readonly now: () => number;
  /** Whether the store is closing (a follower then stops at its next step). */
  readonly closing: boolean;
  /** Whether an interactive transaction is open; `transactionEnded()` settles when it ends. */
  readonly inTransaction: boolean;
  transactionEnded(): Promise<void>;
  /** The engine the store reads from now (the follower applies the owner's records to it). */
  readonly engine: JournalingEngine;
  /** Runs the store on another engine (a reload, a takeover) from now on. */
  swap(engine: JournalingEngine, durability: DurabilityManager | undefined): void;
  /** This follower took over: the store owns the database from now on. */
  tookOver(follower: Follower): void;
  /** Whether this follower is still the store's. */
  follows(follower: Follower): boolean;
}

// Messages a follower queues before it gives them up for one reload.
const MAILBOX_LIMIT = 10_000;

function isChangeMessage(message: unknown): message is ChangeMessage {
  const m = message as Partial<Record<string, unknown>> | null;
  if (typeof m !== 'object' || m === null) return false;
  if (m.kind === 'pa-store/records') return m.bytes instanceof Uint8Array;
  return m.kind === 'pa-store/image' && typeof m.sequence === 'number' && Number.isSafeInteger(m.sequence) && m.sequence >= 0;
}

/**
 * A store that another store owns follows it (`whenLocked: 'follow'`/`'wait'`, or a read-only store
 * on an adapter that passes messages): it applies the owner's durable records as they are
 * published, reloads the adapter's state when it falls behind, and takes over when ownership comes
 * (never, for a read-only store). One worker does one step at a time.
 */
export class Follower {
  readonly mode: 'follow' | 'wait';
  readonly holder: LockHolder;
  readonly settings: DurabilitySettings;
  /** The sequence of the last durable record this store holds. */
  sequence: number;
  /** The size of the last image it loaded. */
  imageBytes: number;
  /** Settles when this store owns the database (rejects when it closes first). */
  readonly owned: Promise<void>;
  readonly #setup: FollowSetup;
  readonly #host: FollowerHost;
  #resolveOwned: () => void = () => {};
  #rejectOwned: (e: unknown) => void = () => {};
  #reloadDue = false;
  #takeoverDue = false;
  // The worker's run (stop() awaits it), and whether one runs (set before it starts: a run with
  // nothing to do ends before its promise could be stored).
  #work: Promise<void> | undefined;
  #working = false;
  // Failed attempts in a row, for the backoff: following (apply, reload) and taking over, apart.
  #followFailures = 0;
  #takeoverFailures = 0;
  // The pending retries, apart, so that one never cancels the other.
  #followTimer: ReturnType<typeof setTimeout> | undefined;
  #lockTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #abort = new AbortController();

  constructor(setup: FollowSetup, host: FollowerHost) {
    this.#setup = setup;
    this.#host = host;
    this.mode = setup.mode;
    this.holder = setup.holder;
    this.settings = setup.settings;
    this.sequence = setup.sequence;
    this.imageBytes = setup.imageBytes;
    this.owned = new Promise<void>((resolve, reject) => {
      this.#resolveOwned = resolve;
      this.#rejectOwned = reject;
    });
    this.owned.catch(() => undefined);
  }

  /** Starts following (and, unless read-only, waiting for ownership). */
  start(): void {
    const { mailbox } = this.#setup;
    mailbox.notify = () => {
      // Far behind (a reload failing, a flood): a reload makes the queued records unnecessary.
      if (mailbox.messages.length > MAILBOX_LIMIT) {
        mailbox.messages.length = 0;
        this.#reloadDue = true;
      }
      this.#followWork();
    };
    this.#followWork();
    if (!this.#host.readOnly) this.#awaitOwnership();
  }

  /** Stops everything (the store closes): no step runs after the one running, which it awaits. */
  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#followTimer);
    clearTimeout(this.#lockTimer);
    this.#setup.mailbox.unsubscribe();
    this.#rejectOwned(new ClosedError('the store'));
    await this.#work?.catch(() => undefined);
  }

  #current(): boolean {
    return this.#host.follows(this) && !this.#host.closing;
  }

  // Asks the adapter for ownership; when it comes, the follower takes over (in its work queue).
  #awaitOwnership(): void {
    const adapter = this.#host.adapter;
    const waitForLock = adapter.waitForLock?.bind(adapter);
    if (!waitForLock || !this.#current()) return;
    waitForLock(this.#abort.signal).then(
      () => {
        this.#takeoverDue = true;
        this.#followWork();
      },
      (e: unknown) => {
        if (this.#abort.signal.aborted || !this.#current()) return;
        this.#retryOwnership(e, 'waiting for ownership');
      },
    );
  }

  #retryOwnership(e: unknown, what: string): void {
    const delay = this.#warn(e, what, ++this.#takeoverFailures);
    if (delay === undefined) return;
    clearTimeout(this.#lockTimer);
    this.#lockTimer = setTimeout(() => {
      this.#lockTimer = undefined;
      this.#awaitOwnership();
    }, delay);
  }

  // Warns, and says how long to wait before the next attempt (undefined: the store is closing).
  #warn(e: unknown, what: string, failures: number): number | undefined {
    if (!this.#current()) return undefined;
    const { retryMinMs, retryMaxMs } = this.settings;
    const delay = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures - 1, 20));
    this.settings.onWarning({
      code: 'FOLLOW',
      message: `${what} on the ${this.#host.adapter.name} database failed (${e instanceof Error ? e.message : String(e)}); retrying in ${delay} ms`,
      cause: e,
    });
    return delay;
  }

  #changed(): void {
    const onChange = this.#setup.onChange;
    if (!onChange) return;
    // After the reactions already queued (writes waiting for a takeover run first), and a listener
    // that throws breaks nothing.
    queueMicrotask(() => {
      if (this.#host.closing) return;
      try {
        onChange();
      } catch {
        /* ignored, like onWarning's */
      }
    });
  }

  // One worker applies messages, reloads and takes over, one step at a time.
  #followWork(): void {
    if (this.#working || !this.#current()) return;
    if (this.#followTimer !== undefined) {
      // Waiting out a failure: only a takeover does not wait (it loads everything anyway).
      if (!this.#takeoverDue) return;
      clearTimeout(this.#followTimer);
      this.#followTimer = undefined;
    }
    this.#working = true;
    const work = (async () => {
      try {
        for (;;) {
          if (!this.#current()) return;
          if (this.#takeoverDue) {
            this.#takeoverDue = false;
            await this.#takeOver();
            continue;
          }
          if (this.#reloadDue) {
            this.#reloadDue = false;
            await this.#reload();
            this.#followFailures = 0;
            continue;
          }
          const message = this.#setup.mailbox.messages.shift();
          if (message === undefined) return;
          await this.#apply(message);
        }
      } catch (e) {
        this.#reloadDue = true;
        const delay = this.#warn(e, 'following the owner', ++this.#followFailures);
        if (delay !== undefined) {
          this.#followTimer = setTimeout(() => {
            this.#followTimer = undefined;
            this.#followWork();
          }, delay);
        }
      } finally {
        // Cleared in the same step the loop ends in, so no wake-up falls between the two.
        this.#working = false;
        this.#work = undefined;
      }
    })();
    if (this.#working) this.#work = work;
  }

  // Waits until no transaction is open; the caller then runs synchronously, before one can start.
  async #transactionsEnded(): Promise<void> {
    while (this.#host.inTransaction) await this.#host.transactionEnded();
  }

  // Applies the owner's durable records in order; anything out of order means a reload.
  async #apply(message: unknown): Promise<void> {
    if (!isChangeMessage(message)) return;
    if (message.kind === 'pa-store/image') {
      if (message.sequence > this.sequence) this.#reloadDue = true;
      return;
    }
    let applied = false;
    try {
      const parsed = parseJournal(message.bytes);
      if (parsed.tornBytes > 0) throw new CorruptDatabaseError('a published record was cut short');
      for (const record of parsed.records) {
        if (record.sequence <= this.sequence) continue;
        if (record.sequence !== this.sequence + 1) {
          this.#reloadDue = true;
          return;
        }
        const statements = record.decodeStatements();
        await this.#transactionsEnded();
        if (!this.#current()) return;
        // Synchronous from here: no operation of this store runs in between.
        this.#host.engine.applySync(statements);
        this.sequence = record.sequence;
        applied = true;
      }
    } catch {
      // A record that does not parse or apply: the adapter's state is the truth; load it.
      this.#reloadDue = true;
    } finally {
      if (applied) this.#changed();
    }
  }

  async #reload(): Promise<void> {
    const next = await this.#setup.load(false);
    await this.#transactionsEnded();
    if (!this.#current()) {
      await next.engine.close().catch(() => undefined);
      return;
    }
    this.#host.swap(next.engine, undefined);
    this.sequence = next.opened.lastSequence;
    this.imageBytes = next.opened.imageBytes;
    this.#changed();
  }

  // Ownership came: load everything durable (the lock is held, so it is final), and become the owner.
  async #takeOver(): Promise<void> {
    const host = this.#host;
    let next: Opened;
    try {
      next = await this.#setup.load(true);
    } catch (e) {
      await host.adapter.unlock().catch(() => undefined);
      this.#retryOwnership(e, 'taking over');
      return;
    }
    const durability = new DurabilityManager(next.engine, host.adapter, this.settings, next.opened, host.now, () => host.transactionEnded());
    await this.#transactionsEnded();
    if (!this.#current()) {
      durability.stop();
      await next.engine.close().catch(() => undefined);
      return;
    }
    this.#setup.mailbox.unsubscribe();
    clearTimeout(this.#followTimer);
    this.#followTimer = undefined;
    host.swap(next.engine, durability);
    // A new or migrated database is written at once, as at open (a failure degrades and retries).
    // The store still counts as a follower meanwhile, so writes keep queueing behind owned().
    if (!next.hasImage || next.migrated) await durability.checkpoint().catch(() => undefined);
    durability.checkSize();
    if (!host.follows(this)) return; // closed meanwhile: close() finishes the rest
    host.tookOver(this);
    // Writes that waited for ownership run now, in the order they were made (promise reactions),
    // before anything made from here on.
    this.#resolveOwned();
    this.#changed();
  }
}
