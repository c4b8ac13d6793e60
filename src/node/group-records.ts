/**
 * Groups as records and entries, without the network: the record kept for a signed state, what a change did, the
 * words for a system entry, which group a reference means, and the checks on names and sizes (node/groups.ts uses
 * them).
 */
import { randomBytes } from 'node:crypto'
import { ErrorCode, P2pError } from '../errors.ts'
import { type GroupStateInfo, MAX_GROUP_MEMBERS, MAX_GROUP_NAME_BYTES } from '../protocols/chat/index.ts'
import type { GroupRecord, StoredMessage } from '../store/index.ts'

export type SystemEvent = NonNullable<StoredMessage['system']>

const ID = /^[0-9a-f]{32}$/

/** A system entry (something that happened in a group), as received: `by` did it. */
export function systemEntry(self: string, id: string, group: string, system: SystemEvent, by: string, timestamp: number): StoredMessage {
  return { id, peer: by, from: by, to: self, text: '', timestamp, direction: 'in', status: 'received', kind: 'system', group, system }
}

/** A system entry in words; `nameOf` names peers as the node shows them. */
export function say(s: SystemEvent, nameOf: (peerId: string) => string, by: string): string {
  const who = nameOf(by)
  const names = (s.peers ?? []).map(nameOf).join(', ')
  switch (s.type) {
    case 'created':
      return `${who} created the group ${s.name ?? ''} with ${names}`
    case 'joined':
      return `${who} added ${names}`
    case 'removed':
      return `${who} removed ${names}`
    case 'left':
      return `${names} left`
    case 'renamed':
      return `${who} renamed the group ${s.name ?? ''}`
  }
}

/**
 * The group a reference means among `all`, or undefined: `#name` or `#id` always a group; an id; a name (groups we
 * are in first). Throws GROUP_NOT_FOUND for `#…` that matches none, PEER_AMBIGUOUS for a name two groups share.
 */
export function matchGroup(all: GroupRecord[], ref: string): GroupRecord | undefined {
  const text = ref.trim()
  const explicit = text.startsWith('#')
  const bare = explicit ? text.slice(1) : text
  const byId = ID.test(bare) ? all.find((r) => r.id === bare) : undefined
  if (byId != null) return byId
  const named = all.filter((r) => r.name.toLowerCase() === bare.toLowerCase())
  const live = named.filter((r) => r.status === 'member')
  const pick = live.length > 0 ? live : named
  if (pick.length > 1) {
    throw new P2pError(ErrorCode.PEER_AMBIGUOUS, `${pick.length} groups are called ${bare}`, {
      hint: `use the group's id: ${pick.map((r) => `#${r.id}`).join(', ')} (p2pnode groups lists them)`
    })
  }
  if (pick.length === 0 && explicit) {
    throw new P2pError(ErrorCode.GROUP_NOT_FOUND, `no group called ${bare}`, { hint: 'p2pnode groups lists yours' })
  }
  return pick[0]
}

export function recordOf(
  info: GroupStateInfo,
  state: Uint8Array,
  signature: Uint8Array,
  status: GroupRecord['status'],
  current: GroupRecord | undefined
): GroupRecord {
  const leaving = (current?.leaving ?? []).filter((m) => info.members.includes(m))
  return {
    id: info.id,
    name: info.name,
    admin: info.admin,
    nonce: info.nonce,
    version: info.version,
    members: info.members,
    state: b64text(state),
    signature: b64text(signature),
    status,
    ...(leaving.length > 0 ? { leaving } : {}),
    ...(current?.readAt != null ? { readAt: current.readAt } : {})
  }
}

/** What a received change did, for its system entry. */
export function describe(current: GroupRecord | undefined, info: GroupStateInfo): SystemEvent {
  if (current == null) return { type: 'created', peers: info.members.filter((m) => m !== info.admin), name: info.name, version: info.version }
  const added = info.members.filter((m) => !current.members.includes(m))
  const gone = current.members.filter((m) => !info.members.includes(m))
  if (gone.length > 0) {
    const left = gone.every((m) => current.leaving?.includes(m) === true)
    return { type: left ? 'left' : 'removed', peers: gone, version: info.version }
  }
  if (added.length > 0) return { type: 'joined', peers: added, version: info.version }
  return { type: 'renamed', name: info.name, version: info.version }
}

export function checkGroupName(name: string): string {
  const clean = name.replace(/[\p{Cc}\p{Cf}]/gu, '').replace(/\s+/gu, ' ').trim()
  if (clean === '' || Buffer.byteLength(clean) > MAX_GROUP_NAME_BYTES || clean.startsWith('#') || ID.test(clean)) {
    throw new P2pError(ErrorCode.INVALID_ARGUMENT, `a group name holds 1 to ${MAX_GROUP_NAME_BYTES} bytes, does not start with # and is no id`, {
      hint: 'p2pnode group create family alice bob'
    })
  }
  return clean
}

export function checkSize(n: number): void {
  if (n > MAX_GROUP_MEMBERS) {
    throw new P2pError(ErrorCode.GROUP_FULL, `a group has at most ${MAX_GROUP_MEMBERS} members, you with them (this would be ${n})`)
  }
}

export function randomId(): string {
  return randomBytes(16).toString('hex')
}

export function b64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(Buffer.from(text, 'base64'))
}

export function b64text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}
