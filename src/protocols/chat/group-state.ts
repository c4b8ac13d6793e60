/**
 * Group membership on the wire: the state an admin signs (GroupState in chat.proto) and its checks. A group's id is
 * the first 16 bytes of SHA-256(admin's peer id bytes ‖ nonce), so nobody but the admin can sign for it: a state
 * whose id does not follow from its admin and nonce, or whose signature is not the admin's identity key's, is forged.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { fromHex, toHex } from '../util.ts'
import { GROUP_ID_BYTES, MAX_GROUP_MEMBERS, MAX_GROUP_NAME_BYTES } from './constants.ts'
import { ProtocolViolationError } from './errors.ts'
import { GroupState } from './pb/chat.ts'

/** A group's membership as the admin signed it; ids as hex. */
export interface GroupStateInfo {
  id: string
  nonce: string
  admin: string
  version: number
  name: string
  members: string[]
  timestamp: number
}

export interface SignedState {
  info: GroupStateInfo
  state: Uint8Array
  signature: Uint8Array
}

/** Thrown for a well-formed state that is not the admin's (refused, reason `forged`). */
export class ForgedStateError extends Error {
  static readonly NAME = 'ForgedStateError'
  override name = ForgedStateError.NAME
}

export function groupIdOf(admin: string, nonce: Uint8Array): string {
  const digest = createHash('sha256').update(peerIdFromString(admin).toMultihash().bytes).update(nonce).digest()
  return toHex(digest.subarray(0, GROUP_ID_BYTES))
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(GROUP_ID_BYTES))
}

/** Sign a state with the admin's identity key. */
export async function signState(key: PrivateKey, info: GroupStateInfo): Promise<SignedState> {
  checkInfo(info)
  const state = GroupState.encode({
    group: fromHex(info.id),
    nonce: fromHex(info.nonce),
    admin: info.admin,
    version: BigInt(info.version),
    name: info.name,
    members: info.members,
    timestamp: BigInt(info.timestamp)
  })
  return { info, state, signature: await key.sign(state) }
}

/**
 * The state in `state`, once its form, its id and the admin's signature are checked. Throws ProtocolViolationError
 * for a malformed one (the stream is reset), ForgedStateError for one the admin did not sign.
 */
export async function openState(state: Uint8Array, signature: Uint8Array): Promise<GroupStateInfo> {
  let decoded: GroupState
  try {
    decoded = GroupState.decode(state, { limits: { members: MAX_GROUP_MEMBERS } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed group state (${(err as Error).message})`)
  }
  if (decoded.group.byteLength !== GROUP_ID_BYTES || decoded.nonce.byteLength !== GROUP_ID_BYTES) {
    throw new ProtocolViolationError(`group id and nonce must be ${GROUP_ID_BYTES} bytes`)
  }
  const info: GroupStateInfo = {
    id: toHex(decoded.group),
    nonce: toHex(decoded.nonce),
    admin: decoded.admin,
    version: Number(decoded.version),
    name: decoded.name,
    members: decoded.members,
    timestamp: Number(decoded.timestamp)
  }
  try {
    checkInfo(info)
  } catch (err) {
    throw new ProtocolViolationError((err as Error).message)
  }
  if (groupIdOf(info.admin, decoded.nonce) !== info.id) throw new ForgedStateError('the group id is not its admin\'s')
  const key = peerIdFromString(info.admin).publicKey
  if (key == null || signature.byteLength > 128 || !(await key.verify(state, signature))) {
    throw new ForgedStateError(`not signed by the group's admin ${info.admin}`)
  }
  return info
}

/** The rules every state keeps (checked before signing and after decoding). */
function checkInfo(info: GroupStateInfo): void {
  if (!Number.isSafeInteger(info.version) || info.version < 1) throw new RangeError('the version must count from 1')
  if (Buffer.byteLength(info.name) > MAX_GROUP_NAME_BYTES || info.name.trim() === '') {
    throw new RangeError(`a group name holds 1 to ${MAX_GROUP_NAME_BYTES} bytes`)
  }
  if (info.members.length > MAX_GROUP_MEMBERS) throw new RangeError(`a group has at most ${MAX_GROUP_MEMBERS} members`)
  if (new Set(info.members).size !== info.members.length) throw new RangeError('a member is listed twice')
  if (!info.members.includes(info.admin)) throw new RangeError('the admin is a member')
  for (const m of [info.admin, ...info.members]) {
    let ok = false
    try {
      ok = peerIdFromString(m).toString() === m
    } catch {
      ok = false
    }
    if (!ok) throw new RangeError(`${m.slice(0, 60)} is not a peer id`)
  }
}
