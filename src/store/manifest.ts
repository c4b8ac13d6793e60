/**
 * The data dir's manifest (`manifest.json`): which identity, which store secret and which database belong together,
 * and how many message batches the database had at the last clean stop. Written atomically (temp file, fsync,
 * rename, fsync of the dir), mode 0600. It holds no secret: the peer id is public and the secret appears only as a
 * keyed fingerprint.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ErrorCode, P2pError } from '../errors.ts'

export const MANIFEST_FORMAT = 1

export interface Manifest {
  format: typeof MANIFEST_FORMAT
  /** The peer id of identity.key. */
  peerId: string
  /** secretFingerprint(store.secret). */
  secret: string
  /** The database id, also sealed inside the database (`meta` `store-id`). */
  database: string
  /** The database's write counter at the last clean stop (or when the manifest was made). */
  writes: number
  /** `p2pnode/<version>` that last wrote this file. */
  writtenBy: string
  updatedAt: string
}

function isManifest(value: unknown): value is Manifest {
  const m = value as Partial<Manifest> | null
  return (
    m != null &&
    typeof m === 'object' &&
    m.format === MANIFEST_FORMAT &&
    typeof m.peerId === 'string' &&
    typeof m.secret === 'string' &&
    /^[0-9a-f]{64}$/.test(m.secret) &&
    typeof m.database === 'string' &&
    /^[0-9a-f]{32}$/.test(m.database) &&
    typeof m.writes === 'number' &&
    Number.isSafeInteger(m.writes) &&
    m.writes >= 0
  )
}

/**
 * The manifest at `path`, or undefined if there is none (a new data dir, or one made by 0.1). Throws STORE_DAMAGED
 * (problem `corrupt`) when the file is not a manifest; other file errors (permissions) as they are.
 */
export async function readManifest(path: string): Promise<Manifest | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const format = (value as { format?: unknown } | null)?.format
  if (typeof format === 'number' && format > MANIFEST_FORMAT) {
    throw new P2pError(ErrorCode.STORE_DAMAGED, `${path} is of format ${format}, written by a newer p2pnode (this one reads format ${MANIFEST_FORMAT})`, {
      hint: 'run the p2pnode version that wrote this data dir',
      details: { file: path, problem: 'unknown-version' }
    })
  }
  if (!isManifest(value)) {
    throw new P2pError(ErrorCode.STORE_DAMAGED, `${path} is damaged (not a p2pnode manifest)`, {
      details: { file: path, problem: 'corrupt' }
    })
  }
  return value
}

/** Write the manifest atomically: a crash leaves the old file or the new one, never a part. */
export async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const file = await open(tmp, 'wx', 0o600)
  try {
    await file.writeFile(`${JSON.stringify(manifest, null, 2)}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  // The rename itself is durable once the directory is synced.
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
