import { randomBytes } from 'node:crypto'
import { chmod, link, open, readFile, rm } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Read a secret file, or create it with `make()` if missing. The new file is written and synced under a temporary
 * name (mode 0600), then linked into place, which fails if the name exists: a crash never leaves an empty key
 * file, and two nodes starting at once on a new data dir end up with the same key.
 */
async function loadOrCreate(path: string, make: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    const bytes = await readFile(path)
    await chmod(path, 0o600)
    return new Uint8Array(bytes)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const bytes = await make()
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const file = await open(tmp, 'wx', 0o600)
  try {
    await file.writeFile(bytes)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(tmp, path)
    return bytes
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return new Uint8Array(await readFile(path))
    throw err
  } finally {
    await rm(tmp, { force: true })
  }
}

/** The node's Ed25519 key: created on first start, reused ever after, so the peer id never changes. */
export async function loadIdentity(path: string): Promise<PrivateKey> {
  const bytes = await loadOrCreate(path, async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  return privateKeyFromProtobuf(bytes)
}

/** The per-node secret that keys peer-id hashes in the store. */
export async function loadSecret(path: string): Promise<Uint8Array> {
  return loadOrCreate(path, async () => new Uint8Array(randomBytes(32)))
}
