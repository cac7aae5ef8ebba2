/**
 * Exporting an engine's image for a checkpoint: in steps where the engine can (the event loop runs
 * between them, and the steps adapt to take about 8 ms each), at once elsewhere, stamped with the
 * bookkeeping the image records about itself, between transactions.
 */
import type { ImageExport, JournalingEngine } from './engine.js';
import { ClosedError } from './errors.js';
import type { SqlStatement } from './sql-port.js';

// An export step aims at this long on the event loop; the pages per step adapt to it.
const EXPORT_STEP_MS = 8;
const EXPORT_FIRST_PAGES = 256;

export const clockMs: () => number = typeof globalThis.performance?.now === 'function' ? () => globalThis.performance.now() : () => Date.now();

// Lets the event loop run (timers, I/O completions: the appends of writes going on meanwhile).
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** What an exported image holds: the bookkeeping rows written into it. */
export interface ExportedImage {
  readonly image: Uint8Array;
  /** The last write unit it holds. */
  readonly sequence: number;
  /** Its id (new when it holds writes the last image lacks, or when the last had none). */
  readonly id: string;
  /** How long the export took (ms). */
  readonly exportMs: number;
}


/** The bookkeeping an image gets at the moment its copy completes: what it holds, and the statements that say so. */
export interface Stamp {
  readonly sequence: number;
  readonly id: string;
  readonly statements: readonly SqlStatement[];
}

/** What {@link exportImage} needs from the store around it. */
export interface ExportContext {
  readonly engine: JournalingEngine;
  /** Settles when the open interactive transaction ends (an image is exported between transactions). */
  transactionsEnded(): Promise<void>;
  /** Whether the store stopped (the export gives up). */
  stopped(): boolean;
  /** Tells the store the export in steps running, or `undefined` once it ended (the store aborts it when it stops). */
  running(exported: ImageExport | undefined): void;
}

/**
 * Exports the image in steps (with `stepped`, where the engine can), or at once, between
 * transactions, stamped by `stamp` with what it holds. With steps the stamp goes into the copy (and
 * then into the engine's own meta rows, as an export at once leaves them). `onStamped` runs
 * synchronously with the copy's completion (no write can commit in between), so that what it does
 * with the records waiting for the journal splits them exactly: those the image holds, and the rest.
 */
export async function exportImage(ctx: ExportContext, stepped: boolean, stamp: (startedAt: number) => Stamp, onStamped: (exported: ExportedImage) => void): Promise<ExportedImage> {
  const { engine } = ctx;
  const started = clockMs();
  while (engine.inTransaction) await ctx.transactionsEnded();
  if (ctx.stopped()) throw new ClosedError('the store');
  const inSteps = stepped ? engine.beginImageExport?.() : undefined;
  if (inSteps) {
    ctx.running(inSteps);
    try {
      let pages = EXPORT_FIRST_PAGES;
      for (;;) {
        while (engine.inTransaction) await ctx.transactionsEnded();
        if (ctx.stopped()) throw new ClosedError('the store');
        let stamped: Stamp | undefined;
        const at = clockMs();
        const image = inSteps.step(pages, () => {
          stamped = stamp(started);
          return stamped.statements;
        });
        if (image && stamped) {
          for (const s of stamped.statements) engine.runSync(s.sql, s.params);
          const exported = { image, sequence: stamped.sequence, id: stamped.id, exportMs: clockMs() - started };
          onStamped(exported);
          return exported;
        }
        const took = clockMs() - at;
        pages = Math.max(16, Math.min(65_536, Math.round(took > 0.5 ? (pages * EXPORT_STEP_MS) / took : pages * 2)));
        await yieldToLoop();
      }
    } finally {
      inSteps.abort();
      ctx.running(undefined);
    }
  }
  // At once, between transactions: the stamp goes into the engine's own meta rows, so the image
  // holds exactly the write units up to its sequence and records it in itself.
  while (engine.inTransaction) await ctx.transactionsEnded();
  const stamped = stamp(started);
  for (const s of stamped.statements) engine.runSync(s.sql, s.params);
  const exported = { image: engine.exportImageSync(), sequence: stamped.sequence, id: stamped.id, exportMs: clockMs() - started };
  onStamped(exported);
  return exported;
}
