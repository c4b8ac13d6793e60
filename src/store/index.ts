import { Level } from 'level'
import { type Db, Store } from './store.ts'

export type { Db, Op, OutboxEntry } from './store.ts'
export { Store } from './store.ts'
export { FINAL_STATUSES, type TransferRecord, type TransferStatus, Transfers } from './transfers.ts'
export type * from './types.ts'

/**
 * Open the node's LevelDB store at `path` (created if missing).
 * Throws P2pError LEVEL_LOCKED when another process has it open.
 */
export async function openStore(path: string, secret: Uint8Array): Promise<Store> {
  // Checked here too: a Level instance starts opening (and creating files) as soon as it is constructed.
  if (secret.byteLength < 16) throw new TypeError('secret must be at least 16 bytes')
  const db = new Level<string, string>(path, { createIfMissing: true }) as unknown as Db
  return Store.open(db, secret)
}
