import { Level } from 'level'
import { ErrorCode, P2pError } from '../errors.ts'
import { type Db, Store } from './store.ts'

export type { Db, Op, OutboxEntry } from './store.ts'
export { Store } from './store.ts'
export { FINAL_STATUSES, type TransferRecord, type TransferStatus, Transfers } from './transfers.ts'
export type * from './types.ts'
export { newDbId, secretFingerprint, type StoreId, type StoreIdState } from './integrity.ts'

export interface OpenStoreOptions {
  /** Create the database if `path` holds none. @default true */
  create?: boolean
}

/**
 * Open the node's LevelDB store at `path`. Throws P2pError LEVEL_LOCKED when another process has it open, and
 * STORE_DAMAGED (details `{file, problem}`) when LevelDB finds it missing (with `create: false`) or corrupt.
 */
export async function openStore(path: string, secret: Uint8Array, options: OpenStoreOptions = {}): Promise<Store> {
  // Checked here too: a Level instance starts opening (and creating files) as soon as it is constructed.
  if (secret.byteLength < 16) throw new TypeError('secret must be at least 16 bytes')
  const db = new Level<string, string>(path, { createIfMissing: options.create ?? true }) as unknown as Db
  try {
    return await Store.open(db, secret)
  } catch (err) {
    throw levelOpenError(path, err)
  }
}

/**
 * A LevelDB read that found the database damaged (a bad block, a table gone) as STORE_DAMAGED naming it, with the
 * recovery hint; any other error as it is.
 */
export function levelReadError(err: unknown, path: string): unknown {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
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
