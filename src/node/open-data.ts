/**
 * Opening a data dir: identity.key, store.secret and db/ are checked against each other (through manifest.json and
 * the store id sealed in the database) before anything starts, so that the node never runs silently on a damaged or
 * swapped store and never makes a new identity or secret for a store that has history. Every refusal is
 * STORE_DAMAGED naming the file (details `{file, problem}`), with a hint (most often `p2pnode doctor`).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { LAYOUT, levelReadError, newDbId, openStore, secretFingerprint, type Store } from '../store/index.ts'
import { type Manifest, MANIFEST_FORMAT, readManifest, writeManifest } from '../store/manifest.ts'
import { type DataPaths, isPermissionError, permissionDenied } from './data-dir.ts'
import { createKeyFile, newIdentityBytes, newSecretBytes, parseIdentity, readKeyFile } from './identity.ts'
import { VERSION } from './version.ts'

/** What is wrong with a file of the data dir. */
export type DamageProblem = 'missing' | 'corrupt' | 'mismatch' | 'rolled-back'

export interface DamageDetails {
  /** Absolute path of the damaged file or dir. */
  file: string
  problem: DamageProblem
  /** Whether `p2pnode doctor --repair` can mend it. */
  repairable: boolean
}

/** STORE_DAMAGED for `file`, with the hint that fits. */
export function damaged(paths: DataPaths, file: string, problem: DamageProblem, message: string, cause?: unknown) {
  const data = `--data ${paths.dir}`
  const repairable =
    file === paths.manifest ||
    (file.startsWith(paths.db) && (problem === 'corrupt' || problem === 'rolled-back'))
  let hint: string
  if (repairable) {
    hint = `p2pnode doctor ${data} says what is wrong; p2pnode doctor --repair ${data} mends it (after copying the data dir to a backup)`
  } else if (file === paths.identity) {
    hint = `put back the identity.key this data dir was made with (from a backup): a new one would be another peer, and your contacts would not know it. If it is lost for good, p2pnode doctor --repair --new-identity ${data} keeps your history under a new peer id`
  } else if (file === paths.secret) {
    hint = `put back the store.secret this data dir was made with (from a backup): without it the history cannot be read. p2pnode doctor ${data} says more`
  } else {
    hint = `put back the db/ that belongs to this data dir (from a backup), or move ${paths.dir} away to start afresh. p2pnode doctor ${data} says more`
  }
  const details: DamageDetails = { file, problem, repairable }
  return new P2pError(ErrorCode.STORE_DAMAGED, message, { hint, details, cause })
}

export interface OpenedData {
  store: Store
  privateKey: PrivateKey
  peerId: string
  /** Close the store and record the clean stop in the manifest. */
  close(): Promise<void>
}

/**
 * Report damaged values: once per place when a read skips one, and after start a scan of every sealed value (in
 * the background: the node is up meanwhile). `log` is the node's error logger.
 */
export function watchDamage(paths: DataPaths, store: Store, log: (text: string) => void): void {
  const told = new Set<string>()
  const hint = `stop the node, then run p2pnode doctor --repair --data ${paths.dir}`
  store.onDamaged = (where) => {
    if (told.size >= 1000 || told.has(where)) return
    told.add(where)
    log(`${where} failed its integrity check (changed on disk) and is not shown; ${hint}`)
  }
  void store.integrity.scanValues().then(
    (scan) => {
      const { messages, outbox } = scan.damaged
      if (messages.count + outbox.count === 0) return
      log(`the store has ${messages.count} damaged messages and ${outbox.count} damaged outbox entries (changed on disk); they are not shown. ${hint}`)
    },
    (err: Error) => log(`the store could not be checked: ${err.message}; ${hint}`)
  )
}

/** A file error as DATA_DIR_INVALID (permissions) or STORE_DAMAGED (LevelDB's complaints), else as it is. */
async function fileError(paths: DataPaths, path: string, err: unknown): Promise<unknown> {
  if (isPermissionError(err)) return permissionDenied(paths.dir, path, err)
  err = levelReadError(err, paths.db)
  if (isP2pError(err) && err.code === ErrorCode.STORE_DAMAGED) {
    const { file, problem } = err.details as { file: string; problem: DamageProblem | 'unknown-version' }
    // Written by a newer p2pnode: nothing to mend, the codec's error says so.
    if (problem === 'unknown-version') return err
    return damaged(paths, file, problem, err.message, err.cause)
  }
  return err
}

async function guarded<T>(paths: DataPaths, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw await fileError(paths, path, err)
  }
}

/**
 * Whether db/ holds a database: `none` (no dir, or an empty one), `present`. Throws STORE_DAMAGED when it has
 * LevelDB files but no CURRENT: LevelDB would make a new, empty database there and delete the old tables.
 */
export async function inspectDb(paths: DataPaths): Promise<'none' | 'present'> {
  let names: string[]
  try {
    names = await readdir(paths.db)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
    throw await fileError(paths, paths.db, err)
  }
  if (names.includes('CURRENT')) return 'present'
  if (names.some((n) => /\.(ldb|sst|log)$|^MANIFEST-/.test(n))) {
    throw damaged(
      paths,
      join(paths.db, 'CURRENT'),
      'corrupt',
      `${join(paths.db, 'CURRENT')} is missing: the database cannot be opened as it is (opening it would start an empty one)`
    )
  }
  return 'none'
}

/** The identity in identity.key, or STORE_DAMAGED if the file holds no key. */
function identityOf(paths: DataPaths, bytes: Uint8Array): PrivateKey {
  try {
    return parseIdentity(bytes)
  } catch (err) {
    throw damaged(paths, paths.identity, 'corrupt', `${paths.identity} is damaged: it holds no valid key`, err)
  }
}

/**
 * Open the data dir's store and identity, checking that they belong together (see the module comment). New data
 * dirs get an identity, a secret, a database and a manifest; a data dir made by 0.1 (no manifest) is checked as far
 * as its contents allow and gets its manifest. Notices (a manifest rewritten) go to `notices`.
 */
export interface OpenOptions {
  /**
   * Check only (`p2pnode doctor`): make no identity, secret or manifest, give a 0.1 store no id and leave its values
   * unsealed, and write no manifest on close. @default false
   */
  readOnly?: boolean
  /** Take the database as it is when it has fewer writes than at the last clean stop (`doctor --repair`). */
  acceptLostWrites?: boolean
  /**
   * Make identity.key the store's identity (a new one if it is missing): `doctor --repair --new-identity`, for a key
   * lost for good. The history is kept; peers see a new peer.
   */
  adoptIdentity?: boolean
}

export async function openDataDir(paths: DataPaths, notices: string[] = [], options: OpenOptions = {}): Promise<OpenedData> {
  const { readOnly = false, adoptIdentity = false } = options
  const manifest = await guarded(paths, paths.manifest, () => readManifest(paths.manifest))
  let identityBytes = await guarded(paths, paths.identity, () => readKeyFile(paths.identity))
  let secret = await guarded(paths, paths.secret, () => readKeyFile(paths.secret))
  const db = await inspectDb(paths)

  if (manifest != null) {
    if (identityBytes == null && !adoptIdentity) {
      throw damaged(paths, paths.identity, 'missing', `${paths.identity} is missing (this data dir has a store)`)
    }
    if (secret == null) {
      throw damaged(paths, paths.secret, 'missing', `${paths.secret} is missing: the history cannot be read without it`)
    }
    if (db === 'none') throw damaged(paths, paths.db, 'missing', `the database ${paths.db} is missing`)
  }
  if (manifest == null && db === 'present' && ((identityBytes == null && !adoptIdentity) || secret == null)) {
    // A store with history whose key files went: refuse rather than make new ones (unless it holds nothing).
    const missing = identityBytes == null ? paths.identity : paths.secret
    const probe = await guarded(paths, paths.db, () =>
      openStore(paths.db, secret ?? newSecretBytes(), { create: false, upgrade: false })
    )
    const empty = await probe.integrity.isEmpty().finally(() => probe.close())
    if (!empty) throw damaged(paths, missing, 'missing', `${missing} is missing (this data dir has a store)`)
  }
  if (readOnly && (identityBytes == null || secret == null)) {
    const missing = identityBytes == null ? paths.identity : paths.secret
    throw damaged(paths, missing, 'missing', `${missing} is missing (a new data dir gets one on its first start)`)
  }
  identityBytes ??= await guarded(paths, paths.identity, async () => createKeyFile(paths.identity, await newIdentityBytes()))
  secret ??= await guarded(paths, paths.secret, () => createKeyFile(paths.secret, newSecretBytes()))

  const privateKey = identityOf(paths, identityBytes)
  const peerId = peerIdFromPrivateKey(privateKey).toString()
  if (manifest != null && manifest.peerId !== peerId && !adoptIdentity) {
    throw damaged(
      paths,
      paths.identity,
      'mismatch',
      `${paths.identity} is not this data dir's identity (it is peer ${peerId}; the store belongs to ${manifest.peerId})`
    )
  }
  if (manifest != null && manifest.secret !== secretFingerprint(secret)) {
    throw damaged(paths, paths.secret, 'mismatch', `${paths.secret} is not the secret this data dir's store was written with`)
  }

  if (readOnly && db === 'none') throw damaged(paths, paths.db, 'missing', `the database ${paths.db} is missing`)
  // Not upgraded yet: a store is rewritten only once it is known to belong to these key files (checkStore).
  const store = await guarded(paths, paths.db, () => openStore(paths.db, secret, { create: db === 'none', upgrade: false }))
  try {
    const next = await checkStore(paths, store, manifest, { secret, peerId, notices, ...options })
    if (readOnly) {
      if (store.layout < LAYOUT) notices.push('made by an earlier p2pnode: its store is moved to the conversation log on its next start')
      return { store, privateKey, peerId, close: () => store.close() }
    }
    await upgrade(store, notices)
    if (manifest == null || next.writes !== manifest.writes || next.database !== manifest.database) {
      await guarded(paths, paths.manifest, () => writeManifest(paths.manifest, next))
    }
    return {
      store,
      privateKey,
      peerId,
      close: async () => {
        await store.close()
        await writeManifest(paths.manifest, stamp({ ...next, writes: store.writes }))
      }
    }
  } catch (err) {
    await store.close().catch(() => {})
    throw await fileError(paths, paths.db, err)
  }
}

/** Move a store of an earlier layout to this one (resumable: see src/store/migrate.ts), and say so. */
async function upgrade(store: Store, notices: string[]): Promise<void> {
  if (store.layout >= LAYOUT) {
    await store.upgrade()
    return
  }
  const moved = await store.upgrade()
  notices.push(`p2pnode: the store was moved to the conversation log of this version (${moved} messages)`)
}

function stamp(m: Omit<Manifest, 'writtenBy' | 'updatedAt' | 'format'>): Manifest {
  return { ...m, format: MANIFEST_FORMAT, writtenBy: `p2pnode/${VERSION}`, updatedAt: new Date().toISOString() }
}

/** The database against the manifest (or, without one, against the key files); returns the manifest to keep. */
async function checkStore(
  paths: DataPaths,
  store: Store,
  manifest: Manifest | undefined,
  context: OpenOptions & { secret: Uint8Array; peerId: string; notices: string[] }
): Promise<Manifest> {
  const { secret, peerId, notices } = context
  const id = await store.integrity.storeId()
  const fingerprint = secretFingerprint(secret)
  if (manifest != null) {
    if (id.state === 'invalid') {
      throw damaged(paths, paths.db, 'mismatch', `the database ${paths.db} does not belong to this data dir (its id fails its check)`)
    }
    if (id.state === 'ok' && id.dbId === manifest.database && id.peerId !== peerId && context.adoptIdentity === true) {
      await store.integrity.setStoreId({ dbId: id.dbId, peerId })
      notices.push(`the store now belongs to the new identity, peer ${peerId} (it was ${id.peerId})`)
      return stamp({ ...manifest, peerId })
    }
    if (id.state === 'missing' || id.dbId !== manifest.database || id.peerId !== peerId) {
      throw damaged(
        paths,
        paths.db,
        'mismatch',
        `the database ${paths.db} is not the one this data dir was made with (${id.state === 'missing' ? 'it has no store id: an empty or older database' : 'another store id'})`
      )
    }
    if (store.writes < manifest.writes && context.acceptLostWrites === true) {
      notices.push(`p2pnode: the database had lost ${manifest.writes - store.writes} message batches; it is taken as it is now`)
      return { ...manifest, writes: store.writes }
    }
    if (store.writes < manifest.writes) {
      throw damaged(
        paths,
        paths.db,
        'rolled-back',
        `the database ${paths.db} lost writes: it has ${store.writes} message batches, ${manifest.writes} at the last clean stop (a truncated .log, or an older copy of db/)`
      )
    }
    return manifest
  }
  if (id.state === 'invalid') {
    throw damaged(paths, paths.secret, 'mismatch', `${paths.secret} is not the secret this data dir's store was written with`)
  }
  if (id.state === 'ok') {
    // The manifest went, the database vouches for the rest: its id is sealed under this secret.
    if (id.peerId !== peerId && context.adoptIdentity === true) {
      await store.integrity.setStoreId({ dbId: id.dbId, peerId })
    } else if (id.peerId !== peerId) {
      throw damaged(paths, paths.identity, 'mismatch', `${paths.identity} is not this data dir's identity (the store belongs to ${id.peerId})`)
    }
    notices.push(`p2pnode: ${paths.manifest} was missing; written again from the database, which matches the key files`)
    return stamp({ peerId, secret: fingerprint, database: id.dbId, writes: store.writes })
  }
  // No store id: a new store, or one made by p2pnode 0.1. Check what its contents allow, then give it an id.
  if (!(await store.integrity.isEmpty())) {
    if ((await store.integrity.secretMatches()) === false) {
      throw damaged(paths, paths.secret, 'mismatch', `${paths.secret} is not the secret this data dir's store was written with`)
    }
    const senders = await store.integrity.ownSenders()
    if (senders.size > 0 && !senders.has(peerId) && context.adoptIdentity !== true) {
      throw damaged(
        paths,
        paths.identity,
        'mismatch',
        `${paths.identity} is not this data dir's identity (it is peer ${peerId}; the stored messages were written by ${[...senders][0]})`
      )
    }
  }
  if (context.readOnly === true) {
    notices.push('made by p2pnode 0.1: it gets its manifest and integrity seals on its next start')
    return stamp({ peerId, secret: fingerprint, database: '0'.repeat(32), writes: store.writes })
  }
  await upgrade(store, context.notices)
  const database = newDbId()
  await store.integrity.setStoreId({ dbId: database, peerId })
  return stamp({ peerId, secret: fingerprint, database, writes: store.writes })
}
