import { randomBytes } from 'node:crypto'
import { chmod, link, open, readFile, rm } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/** A secret file's bytes (made 0600 if it was not), or undefined if there is none. Other errors as they are. */
export async function readKeyFile(path: string): Promise<Uint8Array | undefined> {
  try {
    const bytes = await readFile(path)
    await chmod(path, 0o600)
    return new Uint8Array(bytes)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Create a secret file with `bytes`. It is written and synced under a temporary name (mode 0600), then linked into
 * place, which fails if the name exists: a crash never leaves an empty key file, and two nodes starting at once on
 * a new data dir end up with the same key (the bytes in the file are returned).
 */
export async function createKeyFile(path: string, bytes: Uint8Array): Promise<Uint8Array> {
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

async function loadOrCreate(path: string, make: () => Promise<Uint8Array>): Promise<Uint8Array> {
  return (await readKeyFile(path)) ?? createKeyFile(path, await make())
}

/** A new Ed25519 identity, as identity.key holds it (libp2p protobuf). */
export async function newIdentityBytes(): Promise<Uint8Array> {
  return privateKeyToProtobuf(await generateKeyPair('Ed25519'))
}

/** A new store secret (32 random bytes). */
export function newSecretBytes(): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

/** The key in identity.key's bytes; throws (a plain Error) if they are not one. */
export function parseIdentity(bytes: Uint8Array): PrivateKey {
  return privateKeyFromProtobuf(bytes)
}

/**
 * The node's Ed25519 key, created if missing. The node itself opens its data dir through open-data.ts, which never
 * makes a new identity for an existing store; this is for tests and tools.
 */
export async function loadIdentity(path: string): Promise<PrivateKey> {
  return parseIdentity(await loadOrCreate(path, newIdentityBytes))
}

/** The per-node secret that keys peer-id hashes in the store (created if missing; see loadIdentity). */
export async function loadSecret(path: string): Promise<Uint8Array> {
  return loadOrCreate(path, async () => newSecretBytes())
}
