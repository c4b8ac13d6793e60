import { isAbsolute } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import type {
  ContactInfo,
  ContactList,
  ExportResult,
  PeerState,
  PeopleApi,
  SearchResult,
  VerifyResult
} from '../api/types.ts'
import type { ApiEventBody } from '../api/events.ts'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { exportMessages } from '../export/index.ts'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import { sanitizeName } from '../protocols/chat/frames.ts'
import type { PeerRecord, PeerUpdate, Store, VoiceRecord } from '../store/index.ts'
import type { SwitchableMdns } from './discovery.ts'
import { isVisibility, type Policy, type Visibility } from './policy.ts'
import type { Redialer } from './redialer.ts'
import { safetyNumber } from './safety-number.ts'

export const MAX_NAME_BYTES = 64

/** File system errors of a path to write, as the user reads them. */
const WRITE_ERRORS: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it exists and is not a regular file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  EBUSY: 'the path is busy (a mount point?)',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  ENOSPC: 'no space left on the disk',
  EDQUOT: 'disk quota exceeded'
}

/** A path the API is given: absolute, without NUL bytes (INVALID_ARGUMENT otherwise). */
export function checkPath(path: string, what: string): void {
  if (path.includes('\0')) throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${what} contains a NUL byte`)
  if (!isAbsolute(path)) throw new P2pError(ErrorCode.INVALID_ARGUMENT, `${what} must be absolute: ${path}`)
}

/** A display name given by the user: trimmed, no control characters, 1–64 bytes. */
export function checkName(name: string): string {
  const clean = sanitizeName(name)
  if (clean === '' || Buffer.byteLength(clean) > MAX_NAME_BYTES) {
    throw new P2pError(ErrorCode.INVALID_ARGUMENT, `a name must be 1 to ${MAX_NAME_BYTES} bytes of printable text`)
  }
  return clean
}

/** What People needs from the node that owns it. */
export interface PeopleHost {
  libp2p: Libp2p
  store: Store
  policy: Policy
  chat: ChatProtocol
  redialer: Pick<Redialer, 'redial' | 'redialWaiting'>
  /** Display names by peer id (a contact's local name, else the name it tells us). */
  names: ReadonlyMap<string, string>
  /** Peers we have chatted with (redialled when we come out of hiding). */
  chatted: ReadonlySet<string>
  ownName(): string
  resolvePeer(ref: string, options: { dial: boolean }): Promise<string>
  /** A peer or one of our groups (search --peer takes either). */
  target(ref: string): Promise<{ peer: string } | { group: { id: string } }>
  displayName(peerId: string): string
  /** Take what a peer record says about names and policy. */
  learn(record: PeerRecord): void
  /** Tell the API's event stream (visibility and peer-state changes). */
  publish(event: ApiEventBody): void
  /** A voice note's record (export includes its transcript). */
  voiceRecord?(peer: string, id: string): Promise<VoiceRecord | undefined>
}

/**
 * The node's API about people and what it keeps of them: contacts, safety numbers, visibility, blocking and
 * muting, search and export. Policy changes take effect at once (connections the policy no longer allows close).
 */
export class People implements PeopleApi {
  private readonly host: PeopleHost

  constructor(host: PeopleHost) {
    this.host = host
  }

  async contacts(): Promise<ContactList> {
    const { peers, tampered } = await this.host.store.peers.list()
    const contacts = peers
      .filter((r) => r.contact)
      .map((r) => this.contactInfo(r))
      .sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
    return { contacts, tampered }
  }

  async addContact(ref: string, options: { name?: string } = {}): Promise<ContactInfo> {
    const peer = await this.host.resolvePeer(ref, { dial: true })
    this.notSelf(peer, 'add yourself as a contact')
    const localName = options.name != null ? checkName(options.name) : undefined
    const record = await this.updateRecord(peer, { contact: true, ...(localName != null ? { localName } : {}) })
    void this.host.redialer.redial(peer, { force: true })
    return this.contactInfo(record)
  }

  async renameContact(ref: string, name: string): Promise<ContactInfo> {
    const peer = await this.host.resolvePeer(ref, { dial: false })
    const localName = checkName(name)
    const prev = await this.host.store.peers.get(peer)
    if (prev?.contact !== true) {
      throw new P2pError(ErrorCode.PEER_NOT_FOUND, `${this.host.displayName(peer)} is not a contact`, {
        hint: `add it first: p2pnode contacts add ${peer} --name ${JSON.stringify(localName)}`
      })
    }
    return this.contactInfo(await this.updateRecord(peer, { localName }))
  }

  async removeContact(ref: string): Promise<PeerState> {
    const peer = await this.host.resolvePeer(ref, { dial: false })
    let record: PeerRecord | undefined
    try {
      if ((await this.host.store.peers.get(peer))?.contact !== true) {
        throw new P2pError(ErrorCode.PEER_NOT_FOUND, `${this.host.displayName(peer)} is not a contact`, {
          hint: 'p2pnode contacts lists them'
        })
      }
      record = await this.updateRecord(peer, { contact: false, localName: null })
    } catch (err) {
      if (!isP2pError(err) || err.code !== ErrorCode.RECORD_TAMPERED) throw err
      // A record that fails its check is dropped, not repaired: only the user can say what it should be.
      await this.host.store.peers.remove(peer)
      this.host.learn({ peerId: peer, addrs: [], firstSeen: 0, lastSeen: 0, chatted: false, contact: false, blocked: false, muted: false })
      this.host.publish({ type: 'peer-state', state: this.peerState(peer, undefined) })
    }
    await this.enforcePolicy()
    return this.peerState(peer, record)
  }

  async verify(ref: string): Promise<VerifyResult> {
    const peer = await this.host.resolvePeer(ref, { dial: false })
    this.notSelf(peer, 'verify yourself')
    return {
      peerId: peer,
      name: this.host.names.get(peer) ?? '',
      safetyNumber: safetyNumber(this.host.libp2p.peerId.toString(), peer)
    }
  }

  async visibility(set?: Visibility): Promise<{ visibility: Visibility }> {
    if (set != null) {
      if (!isVisibility(set)) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, `unknown visibility "${set}"`, {
          hint: 'one of: p2pnode visibility everyone|contacts|hidden'
        })
      }
      await this.host.store.setSetting('visibility', set)
      const before = this.host.policy.visibility
      this.host.policy.visibility = set
      if (set !== before) this.host.publish({ type: 'visibility', visibility: set })
      await this.enforcePolicy()
      const mdns = (this.host.libp2p.services as { mdns?: SwitchableMdns }).mdns
      await mdns?.setMode(this.host.policy.mdnsMode)
      // Back in the open: deliver what waited, and meet known peers again.
      if (set !== 'hidden') {
        void this.host.redialer.redialWaiting()
        for (const peerId of this.host.chatted) void this.host.redialer.redial(peerId, { force: true })
      }
    }
    return { visibility: this.host.policy.visibility }
  }

  async setPeerState(ref: string, change: { blocked?: boolean; muted?: boolean }): Promise<PeerState> {
    const peer = await this.host.resolvePeer(ref, { dial: false })
    this.notSelf(peer, 'block or mute yourself')
    const record = await this.updateRecord(peer, change)
    if (change.blocked === true) await this.enforcePolicy()
    if (change.blocked === false) void this.host.redialer.redial(peer, { force: true })
    return this.peerState(peer, record)
  }

  /** Blocked peers, by name. */
  async blocked(): Promise<PeerState[]> {
    const { peers } = await this.host.store.peers.list()
    return peers
      .filter((r) => r.blocked)
      .map((r) => this.peerState(r.peerId, r))
      .sort((a, b) => a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId))
  }

  async search(query: string, options: { peer?: string; limit?: number } = {}): Promise<SearchResult[]> {
    if (query.trim() === '') {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'the search query is empty', {
        hint: 'give one or more words, e.g. p2pnode search cafe'
      })
    }
    const limit = options.limit ?? 20
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `--limit must be a whole number from 1 to 10000, not ${limit}`)
    }
    const target = options.peer != null ? await this.host.target(options.peer) : undefined
    if (target != null && 'group' in target) {
      return this.host.store.search(query, { conversation: `group:${target.group.id}`, limit })
    }
    return this.host.store.search(query, { peer: target?.peer, limit })
  }

  async export(options: { out: string; anonymize?: boolean }): Promise<ExportResult> {
    checkPath(options.out, 'the export path')
    const { peers } = await this.host.store.peers.list()
    const names = [this.host.ownName(), ...peers.flatMap((p) => [p.name ?? '', p.localName ?? '', ...(p.formerNames ?? [])])]
    try {
      const res = await exportMessages(this.host.store.messagesAll(), {
        out: options.out,
        anonymize: options.anonymize === true,
        names,
        voice: async (m) => this.host.voiceRecord?.(m.peer, m.id)
      })
      return { ...res, anonymized: options.anonymize === true }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code != null && code in WRITE_ERRORS) {
        throw new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot write ${options.out}: ${WRITE_ERRORS[code]}`, {
          hint:
            code === 'ENOSPC'
              ? 'free some space, or choose a file on another disk: --out FILE'
              : 'choose a new file (or one to replace) in a directory you can write to: --out FILE',
          cause: err
        })
      }
      throw err
    }
  }

  /** Close connections the policy no longer allows (after a block, or a visibility change). */
  private async enforcePolicy(): Promise<void> {
    const drop = new Set(
      this.host.libp2p
        .getConnections()
        .map((c) => c.remotePeer)
        .filter((p) => !this.host.policy.allows(p.toString()))
    )
    await Promise.all([...drop].map((p) => this.host.libp2p.hangUp(p).catch(() => {})))
  }

  private async updateRecord(peer: string, update: PeerUpdate): Promise<PeerRecord> {
    const record = await this.host.store.peers.update(peer, update)
    this.host.learn(record)
    const state = this.peerState(peer, record)
    this.host.publish({ type: 'peer-state', state: { ...state, ...(record.localName != null ? { localName: record.localName } : {}) } })
    return record
  }

  private contactInfo(r: PeerRecord): ContactInfo {
    return {
      peerId: r.peerId,
      name: r.localName ?? r.name ?? '',
      ...(r.localName != null ? { localName: r.localName } : {}),
      ...(r.name != null ? { peerName: r.name } : {}),
      addrs: r.addrs,
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      connected: this.host.chat.greeted(r.peerId),
      blocked: r.blocked,
      muted: r.muted
    }
  }

  private peerState(peer: string, r: PeerRecord | undefined): PeerState {
    return {
      peerId: peer,
      name: this.host.names.get(peer) ?? '',
      contact: r?.contact ?? false,
      blocked: r?.blocked ?? false,
      muted: r?.muted ?? false
    }
  }

  /** PEER_BLOCKED for a blocked peer. */
  notBlocked(peer: string): void {
    if (this.host.policy.isBlocked(peer)) {
      throw new P2pError(ErrorCode.PEER_BLOCKED, `${this.host.displayName(peer)} is blocked`, {
        hint: `unblock first: p2pnode unblock ${peer}`
      })
    }
  }

  private notSelf(peer: string, what: string): void {
    if (peer === this.host.libp2p.peerId.toString()) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `that is this node: you cannot ${what}`)
    }
  }
}
