/**
 * The durability contract: what the store reports of its write path (warnings, health), what an
 * owner tells its followers, the settings `openStore` resolves, where a loaded database stands, and
 * when a checkpoint is due. The write path itself is `durability.ts`.
 */
import type { Durability } from './persistence.js';
import type { StoreError } from './errors.js';

export type { Durability };

/** Something the store wants you to know that is not an error (delivered to `onWarning`). */
export interface StoreWarning {
  /**
   * `TORN_TAIL`: a last journal record cut short or damaged by a crash was dropped (at open);
   * `SIZE`: the image passed `sizeWarningBytes`; `CHECKPOINT`: a checkpoint (one that writes went on
   * during, or the one at `close()`) failed, but nothing was lost (the journal holds every write;
   * it is retried later, or replayed at the next open); `DEGRADED`: an append or checkpoint failed: writes
   * are refused while the store retries (once per failure episode); `FOLLOW`: a following store
   * (`whenLocked: 'follow'`/`'wait'`) could not refresh or take over, and retries; `DURABILITY`: the
   * adapter chose the durability (`'deferred'` on Cloudflare KV), once per adapter kind and realm.
   */
  readonly code: 'TORN_TAIL' | 'SIZE' | 'CHECKPOINT' | 'DEGRADED' | 'FOLLOW' | 'DURABILITY';
  /** A sentence for people. */
  readonly message: string;
  /** The error behind it, if any. */
  readonly cause?: unknown;
}

/** What `store.health()` reports. */
export interface StoreHealth {
  /**
   * `'degraded'` while persistence fails (writes are refused, reads work); `'read-only'` for a
   * read-only store; `'following'` while another store owns the database and this one follows its
   * commits (`whenLocked: 'follow'`/`'wait'`).
   */
  readonly state: 'ok' | 'degraded' | 'read-only' | 'following' | 'closed';
  /** The durability mode in force. */
  readonly durability: Durability;
  /** Whether writes go to a journal (`false`: the whole image is written per flush). */
  readonly journal: boolean;
  /** Write units committed in memory and not yet durable. */
  readonly pendingWrites: number;
  /** The sequence number of the last committed write unit. */
  readonly lastSequence: number;
  /** The sequence number of the last durable write unit. */
  readonly durableSequence: number;
  /** The size of the last image loaded or written, in bytes. */
  readonly imageBytes: number;
  /** The journal's size, in bytes. */
  readonly journalBytes: number;
  /** When the last checkpoint completed (Unix ms, the store's clock), if one did since opening. */
  readonly lastCheckpointAt?: number;
  /** How long the last checkpoint took, from the start of its export until its image was durable (ms). */
  readonly lastCheckpointMs?: number;
  /** Whether a checkpoint is running now. */
  readonly checkpointing: boolean;
  /** The journal size at which the next checkpoint starts (see `StoreOptions.checkpointBytes`). */
  readonly checkpointThresholdBytes: number;
  /** The last persistence failure, while degraded. */
  readonly lastError?: StoreError;
  /** When the store became degraded (Unix ms). */
  readonly degradedSince?: number;
  /** When the next retry runs (Unix ms), while degraded. */
  readonly nextRetryAt?: number;
}

/**
 * What an owning store tells the stores that follow it (through the adapter's `publish`), once it
 * is durable: the journal records it appended, or the sequence a new image holds.
 */
export type ChangeMessage =
  | { readonly kind: 'pa-store/records'; readonly bytes: Uint8Array }
  | { readonly kind: 'pa-store/image'; readonly sequence: number };

/** The durability settings `openStore` resolves. */
export interface DurabilitySettings {
  readonly mode: Durability;
  readonly useJournal: boolean;
  readonly flushIntervalMs: number;
  /** A fixed checkpoint threshold, or `undefined` to adapt it to the image (see {@link checkpointThreshold}). */
  readonly checkpointBytes: number | undefined;
  readonly sizeWarningBytes: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly onWarning: (warning: StoreWarning) => void;
}

/** Where the persisted state stood when the store opened. */
export interface OpenedState {
  /** The sequence the image contains. */
  readonly imageSequence: number;
  /** The sequence of the last record replayed (≥ imageSequence). */
  readonly lastSequence: number;
  /** Where the next journal append goes. */
  readonly journalLength: number;
  /** The image's size in bytes. */
  readonly imageBytes: number;
  /** The image's id (`meta.store_image_id`), which a journal after it names; `undefined` for an image from before ids. */
  readonly imageId?: string | undefined;
  /**
   * The image the journal's last segment continues, when it is not the image loaded (a checkpoint's
   * marker whose image was never written): the next marker names it as its parent.
   */
  readonly segmentImageId?: string | undefined;
}

/** The smallest journal that starts a checkpoint when `checkpointBytes` is not set. */
export const MIN_CHECKPOINT_BYTES = 16 * 2 ** 20;
/**
 * With the adaptive threshold, a checkpoint starts once the journal holds an eighth of the image:
 * the bytes checkpoints write stay at most eight times those the writes journaled.
 */
export const CHECKPOINT_IMAGE_FRACTION = 8;

/**
 * The journal size at which a checkpoint starts: `checkpointBytes` when set; otherwise the larger of
 * 16 MiB and an eighth of the image, so that checkpoints write at most eight bytes of image for
 * every byte of journal, whatever the database's size (a fixed threshold would rewrite a 256 MiB
 * image for every 16 MiB of writes).
 */
export function checkpointThreshold(checkpointBytes: number | undefined, imageBytes: number): number {
  return checkpointBytes ?? Math.max(MIN_CHECKPOINT_BYTES, Math.ceil(imageBytes / CHECKPOINT_IMAGE_FRACTION));
}

