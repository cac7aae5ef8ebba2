export * from './errors.js';
export * from './json.js';
export * from './records.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, readSchemaVersion, type Migration } from './migrations.js';
export { SCHEMA_V1 } from './schema-v1.js';
export { SCHEMA_V2 } from './schema-v2.js';
export { SCHEMA_V3 } from './schema-v3.js';
export { backoffDelay, DEFAULT_IDEMPOTENCY_TTL_MS, readQueueStats } from './queue.js';
export { DEFAULT_RETENTION } from './retention.js';
export { DEFAULT_RECLAIM, type ReclaimSpaceOptions, type ReclaimSpaceReport, type SpaceUse } from './space.js';
export type { SqlPort, SqlRow, SqlRunResult, SqlStatement, SqlValue } from './sql-port.js';
export { imageCapacity, newImageBuffer, type LoadedState, type PersistenceAdapter } from './persistence.js';
export { SyncEngine, isEmbeddedEngine, isJournaling, type CommitListener, type EmbeddedEngine, type EmbeddedOpenOptions, type Engine, type ImageExport, type JournalingEngine } from './engine.js';
export { CHECKPOINT_IMAGE_FRACTION, checkpointThreshold, MIN_CHECKPOINT_BYTES, SEQUENCE_KEY, type ChangeMessage, type Durability, type StoreHealth, type StoreWarning } from './durability.js';
export {
  crc32,
  encodeJournalHeader,
  encodeRecord,
  MAX_RECORD_PAYLOAD,
  newImageId,
  parseJournal,
  RECORD_HEADER_BYTES,
  type JournalHeader,
  type JournalRecord,
  type ParsedJournal,
} from './journal.js';
export { CHECKPOINT_KEY, IMAGE_ID_KEY, IMAGE_PARENT_KEY, journalContinuation, readImageMeta, type CheckpointStamp, type Continuation, type ImageMeta } from './image-meta.js';
export { checkSqliteFile, type SqliteHeader } from './sqlite-file.js';
export { createSqlJsEngine, SqlJsEngine, type SqlJsEngineOptions } from './sqljs-engine.js';
export { loadSqlJs, wasmHeapBytes, type WasmSource } from './sqljs-loader.js';
export { openStore } from './open.js';
export { Store, StoreOperations, type StoreOptions, type StoreRole, type Reads, type TransactionHandle, type WhenLocked } from './store.js';
export { createSqlJsEmbeddedEngine, type SqlJsEmbeddedOptions } from './sqljs-engine.js';
