import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { ErrorCode, P2pError } from '../errors.ts'

/** Digits in the safety number: 6 groups of 5, enough to make a forged match impractical to find by hand. */
const GROUPS = 6

/**
 * A safety number for two peers, the same whichever side computes it: SHA-512 over both public keys in sorted
 * order, shown as 6 groups of 5 digits. Comparing it (in person, on a call) proves that no one sits in between.
 */
export function safetyNumber(a: string, b: string): string {
  const keys = [a, b].map((id) => {
    const key = peerIdFromString(id).publicKey
    if (key == null) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `the peer id ${id} does not embed its public key`)
    }
    return Buffer.from(key.raw)
  })
  keys.sort(Buffer.compare)
  const digest = createHash('sha512').update('p2pnode safety number v1').update(keys[0]).update(keys[1]).digest()
  const groups: string[] = []
  for (let i = 0; i < GROUPS; i++) {
    groups.push(String(digest.readUIntBE(i * 5, 5) % 100_000).padStart(5, '0'))
  }
  return groups.join(' ')
}
