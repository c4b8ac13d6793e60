import { randomBytes } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Read a secret file, or create it with `make()` if missing. Created with mode 0600 and O_EXCL, so two nodes
 * starting at once on a new data dir end up with the same file.
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
  try {
    await writeFile(path, bytes, { mode: 0o600, flag: 'wx' })
    return bytes
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return new Uint8Array(await readFile(path))
    throw err
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
