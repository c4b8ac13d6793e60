import { Level } from 'level'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { type Db, Store } from './store.ts'

export { type Db, LAYOUT, type Op } from './keys.ts'
export { Store, type StoreOpenOptions } from './store.ts'
export { type GroupBook, MAX_GROUPS } from './groups.ts'
export { groupConversation } from './keys.ts'
export { FINAL_STATUSES, type TransferRecord, type TransferStatus, Transfers } from './transfers.ts'
export type * from './types.ts'
export { isTransferEntry } from './types.ts'
export type * from './voice-types.ts'
export { newDbId, secretFingerprint, type StoreId, type StoreIdState } from './integrity.ts'

/**
 * LevelDB's block cache (default 8 MiB). Reads of a chat node are the newest messages of a conversation and its
 * search index, which the OS page cache holds anyway; LevelDB's cache only saves decoding a block again.
 */
export const LEVEL_CACHE_BYTES = 2 * 1024 * 1024
/**
 * LevelDB's memtable (default 4 MiB; up to two are in memory while one is written out). 1 MiB is ~2,500 chat
 * messages with their index entries between flushes; a message flood made the defaults' 12 MiB resident for good.
 */
export const LEVEL_WRITE_BUFFER_BYTES = 1024 * 1024
/**
 * LevelDB's table cache holds max_open_files − 10 tables open (default 1000: every table of the database). An open
 * table keeps its index block decoded on the heap and its whole file mmapped, and every page a read or compaction
 * touched stays in RSS, so a growing database grew the node (heaptrack after a flood: Table::Open's index blocks the
 * largest live native allocation). 74 is LevelDB's floor (64 tables, in 16 LRU shards).
 */
export const LEVEL_MAX_OPEN_FILES = 74

export interface OpenStoreOptions {
  /** Create the database if `path` holds none. @default true */
  create?: boolean
  /** Migrate a store of an earlier layout at once (see Store.open). @default true */
  upgrade?: boolean
}

/**
 * Open the node's LevelDB store at `path`. Throws P2pError LEVEL_LOCKED when another process has it open, and
 * STORE_DAMAGED (details `{file, problem}`) when LevelDB finds it missing (with `create: false`) or corrupt.
 */
export async function openStore(path: string, secret: Uint8Array, options: OpenStoreOptions = {}): Promise<Store> {
  // Checked here too: a Level instance starts opening (and creating files) as soon as it is constructed.
  if (secret.byteLength < 16) throw new TypeError('secret must be at least 16 bytes')
  const db = new Level<string, string>(path, {
    createIfMissing: options.create ?? true,
    cacheSize: LEVEL_CACHE_BYTES,
    writeBufferSize: LEVEL_WRITE_BUFFER_BYTES,
    maxOpenFiles: LEVEL_MAX_OPEN_FILES
  }) as unknown as Db
  try {
    return await Store.open(db, secret, { upgrade: options.upgrade })
  } catch (err) {
    throw levelOpenError(path, err)
  }
}

/**
 * A LevelDB read that found the database damaged (a bad block, a table gone) as STORE_DAMAGED naming it, with the
 * recovery hint; a value the codec could not read as the codec's error; any other error as it is.
 */
export function levelReadError(err: unknown, path: string): unknown {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  // A value the codec cannot read (a version or kind unknown to it): its own error says what and why.
  if (e?.code === 'LEVEL_DECODE_ERROR' && isP2pError(e.cause)) return e.cause
  const corrupt = [e, e.cause].find((x) => x?.code === 'LEVEL_CORRUPTION' || x?.code === 'LEVEL_IO_ERROR')
  if (corrupt == null) return err
  return new P2pError(ErrorCode.STORE_DAMAGED, `the database ${path} is damaged: ${corrupt.message ?? ''}`, {
    details: { file: path, problem: 'corrupt' },
    cause: err
  })
}

/** LevelDB's "Database failed to open", with its cause, said as what is wrong with which file. */
function levelOpenError(path: string, err: unknown): unknown {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  const text = cause?.message ?? ''
  if (/does not exist \(create_if_missing is false\)/.test(text)) {
    return new P2pError(ErrorCode.STORE_DAMAGED, `the database ${path} is missing`, {
      details: { file: path, problem: 'missing' },
      cause: err
    })
  }
  if (cause?.code === 'LEVEL_CORRUPTION' || cause?.code === 'LEVEL_IO_ERROR') {
    // LevelDB names the file when it can ("1 missing files; e.g.: /x/db/000005.ldb"), else the database.
    const file = /(\/\S+)/.exec(text.replace(/^[^:]*:\s*/, ''))?.[1]?.replace(/:$/, '') ?? path
    return new P2pError(ErrorCode.STORE_DAMAGED, `the database ${path} is damaged: ${text}`, {
      details: { file, problem: 'corrupt' },
      cause: err
    })
  }
  return err
}
export { VoiceNotes } from './voice-notes.ts'
