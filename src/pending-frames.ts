/**
 * The frames waiting for the journal, in commit order: records, and the markers of checkpoints
 * (headers naming the image that ends before them). The write path appends them in batches (group
 * commit), puts a failed batch back in front for the retry, and drops what a durable image holds.
 */

/** A frame waiting for the journal: a record, or a checkpoint's marker (a header). */
export interface PendingFrame {
  readonly bytes: Uint8Array;
  /** The record's sequence; for a marker, the sequence of the last record its image holds. */
  readonly sequence: number;
  readonly marker: boolean;
}

/** Frames waiting for the journal, with their total size. */
export class PendingFrames {
  #frames: PendingFrame[] = [];
  #bytes = 0;

  /** How many frames wait. */
  get length(): number {
    return this.#frames.length;
  }

  /** Queues `frame` after the others. */
  push(frame: PendingFrame): void {
    this.#frames.push(frame);
    this.#bytes += frame.bytes.length;
  }

  /** Whether `frame` (this very object) waits. */
  includes(frame: PendingFrame): boolean {
    return this.#frames.includes(frame);
  }

  /** Takes every frame (for an append, or for a checkpoint that covers them all), leaving none. */
  take(): { frames: PendingFrame[]; bytes: number } {
    const taken = { frames: this.#frames, bytes: this.#bytes };
    this.#frames = [];
    this.#bytes = 0;
    return taken;
  }

  /** Puts frames taken by `take()` back in front, in order (their append or checkpoint failed). */
  restore(taken: { frames: PendingFrame[]; bytes: number }): void {
    this.#frames = taken.frames.concat(this.#frames);
    this.#bytes += taken.bytes;
  }

  /** Drops every frame whose sequence is at most `sequence` (a durable image holds them). */
  dropThrough(sequence: number): void {
    const keep = this.#frames.filter((f) => f.sequence > sequence);
    if (keep.length === this.#frames.length) return;
    this.#frames = keep;
    this.#bytes = keep.reduce((n, f) => n + f.bytes.length, 0);
  }
}

/**
 * The frames as one byte run, `header` first when given, and where `marker` lands in it (offset
 * `at` onwards, as the journal will hold it), if it is among them.
 */
export function joinFrames(frames: readonly PendingFrame[], bytes: number, at: number, header?: Uint8Array, marker?: PendingFrame): { joined: Uint8Array; markerAt?: number } {
  const total = (header?.length ?? 0) + bytes;
  const parts = header ? [header, ...frames.map((f) => f.bytes)] : frames.map((f) => f.bytes);
  let joined: Uint8Array;
  if (parts.length === 1) joined = parts[0] as Uint8Array;
  else {
    joined = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
  }
  if (marker === undefined) return { joined };
  let offset = at + (header?.length ?? 0);
  for (const frame of frames) {
    if (frame === marker) return { joined, markerAt: offset };
    offset += frame.bytes.length;
  }
  return { joined };
}
