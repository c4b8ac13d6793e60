/**
 * Groups (`p2pnode group …`, `groups`): membership signed by the admin, messages fanned out over each member's
 * /chat/1.0 stream through the outbox (one record per member: acked, persisted, exactly once, in the sender's order,
 * waiting for members who are away). What arrives from the network is checked in node/group-inbound.ts; the pure
 * helpers (records, system entries in words, names and sizes) are in node/group-records.ts.
 */
import type { PrivateKey } from '@libp2p/interface'
import type { EventLog } from '../api/events.ts'
import type { FileInfo } from '../api/files.ts'
import type { GroupInfo, GroupsApi, HistoryEntry, HistoryQuery, SearchResult, SendResult } from '../api/types.ts'
import { ErrorCode, P2pError } from '../errors.ts'
import {
  type ChatProtocol,
  checkText,
  type GroupHooks,
  groupIdOf,
  type GroupStateInfo,
  newNonce,
  signState
} from '../protocols/chat/index.ts'
import { type GroupRecord, groupConversation, type OutboxEntry, type Store, type StoredMessage } from '../store/index.ts'
import { KeyedLock } from '../store/lock.ts'
import { entryOf } from './event-feed.ts'
import { GroupInbound } from './group-inbound.ts'
import { b64text, checkGroupName, checkSize, matchGroup, randomId, recordOf, say, type SystemEvent, systemEntry } from './group-records.ts'

export interface GroupsHost {
  store: Store
  chat: ChatProtocol
  privateKey: PrivateKey
  self: string
  /** Our own name. */
  ownName: () => string
  events: EventLog
  resolvePeer: (ref: string, options: { dial: boolean }) => Promise<string>
  displayName: (peerId: string) => string
  /** Connect to a member that has something waiting (redialled like any peer with an outbox). */
  redial: (peerId: string) => void
  log: (text: string) => void
}

export class NodeGroups implements GroupsApi {
  private readonly host: GroupsHost
  /** Changes to one group, one after another (ours and those received). */
  private readonly lock = new KeyedLock()
  /** What members send: checked, then stored (node/group-inbound.ts). */
  private readonly inbound: GroupInbound

  constructor(host: GroupsHost) {
    this.host = host
    this.inbound = new GroupInbound({
      store: host.store,
      self: host.self,
      events: host.events,
      displayName: host.displayName,
      log: host.log,
      lock: this.lock,
      publishChange: (record, system) => this.publishChange(record, system),
      entry: (m) => this.entry(m),
      changeLocked: (record, next, system) => this.changeLocked(record, next, system)
    })
  }

  private get book() {
    return this.host.store.groups
  }

  // ---- the chat protocol's side (node/group-inbound.ts) -------------------------------------------------------

  /** What the chat protocol asks of groups: checks and stores what members send. */
  get hooks(): GroupHooks {
    return this.inbound.hooks
  }

  /**
   * Check every stored group against the state its admin signed (a record edited on disk, members added by hand,
   * is not used, and said). Returns how many failed.
   */
  async verifyStored(): Promise<number> {
    return this.inbound.verifyStored()
  }

  // ---- the API -----------------------------------------------------------------------------------------------

  async groups(): Promise<GroupInfo[]> {
    const mine = this.book.list().filter((r) => r.status === 'member')
    return Promise.all(mine.sort((a, b) => a.name.localeCompare(b.name)).map((r) => this.info(r)))
  }

  async createGroup(name: string, peers: string[]): Promise<GroupInfo> {
    const clean = checkGroupName(name)
    const members = await this.resolveMembers(peers)
    if (members.length === 0) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'a group needs at least one member besides you', {
        hint: 'p2pnode group create <name> <peer>...'
      })
    }
    const all = [this.host.self, ...members]
    checkSize(all.length)
    const nonce = newNonce()
    const id = groupIdOf(this.host.self, nonce)
    const info: GroupStateInfo = {
      id,
      nonce: Buffer.from(nonce).toString('hex'),
      admin: this.host.self,
      version: 1,
      name: clean,
      members: all,
      timestamp: Date.now()
    }
    return this.lock.run(id, async () => this.publishOwn(info, undefined, { type: 'created', peers: members, name: clean }))
  }

  async addMembers(group: string, peers: string[]): Promise<GroupInfo> {
    const record = this.adminOf(await this.find(group))
    const added = (await this.resolveMembers(peers)).filter((p) => !record.members.includes(p))
    if (added.length === 0) throw new P2pError(ErrorCode.INVALID_ARGUMENT, `they are all in ${record.name} already`)
    checkSize(record.members.length + added.length)
    return this.change(record, { members: [...record.members, ...added] }, { type: 'joined', peers: added })
  }

  async removeMember(group: string, peer: string): Promise<GroupInfo> {
    const record = this.adminOf(await this.find(group))
    const gone = await this.host.resolvePeer(peer, { dial: false })
    if (gone === this.host.self) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, 'you are the admin: you cannot remove yourself', {
        hint: `remove the others one by one (p2pnode group remove ${record.name} <peer>)`
      })
    }
    if (!record.members.includes(gone)) {
      throw new P2pError(ErrorCode.PEER_NOT_FOUND, `${this.host.displayName(gone)} is not in ${record.name}`, {
        hint: 'p2pnode groups lists the members'
      })
    }
    return this.change(record, { members: record.members.filter((m) => m !== gone) }, { type: 'removed', peers: [gone] })
  }

  async renameGroup(group: string, name: string): Promise<GroupInfo> {
    const record = this.adminOf(await this.find(group))
    const clean = checkGroupName(name)
    return this.change(record, { name: clean }, { type: 'renamed', name: clean })
  }

  async leaveGroup(group: string): Promise<{ id: string; name: string; left: boolean }> {
    const record = await this.find(group)
    if (record.admin === this.host.self) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `you are the admin of ${record.name}: the admin cannot leave it`, {
        hint: `remove the members instead: p2pnode group remove ${record.name} <peer>`
      })
    }
    return this.lock.run(record.id, async () => {
      const others = record.members.filter((m) => m !== this.host.self)
      const next: GroupRecord = { ...record, status: 'left' }
      const system: SystemEvent = { type: 'left', peers: [this.host.self], version: record.version }
      const entry = this.systemEntry(randomId(), next, system, this.host.self, Date.now())
      const queued = await this.book.applyOwn(next, { ...entry, direction: 'out', status: 'pending', to: '' }, others)
      this.fanOut(others, queued)
      this.publishChange(next, system)
      return { id: record.id, name: record.name, left: true }
    })
  }

  // ---- messages ------------------------------------------------------------------------------------------------

  /** Our message to a group: stored once, queued for every member (but us and those leaving). */
  async send(record: GroupRecord, text: string, options: { replyTo?: string; waitMs?: number } = {}): Promise<SendResult> {
    if (record.status !== 'member') {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `you are no longer in ${record.name}: nothing was sent`)
    }
    checkText(text)
    const recipients = record.members.filter((m) => m !== this.host.self && record.leaving?.includes(m) !== true)
    const message: StoredMessage = {
      id: randomId(),
      peer: this.host.self,
      from: this.host.self,
      to: '',
      text,
      timestamp: Date.now(),
      direction: 'out',
      status: recipients.length === 0 ? 'delivered' : 'pending',
      kind: 'text',
      group: record.id,
      ...(options.replyTo != null ? { replyTo: options.replyTo } : {})
    }
    const queued = await this.book.addOwn(record.id, message, recipients)
    this.fanOut(recipients, queued)
    this.host.events.publish({
      type: 'group-message',
      group: { id: record.id, name: record.name },
      message: this.entry(queued.message),
      name: this.host.ownName()
    })
    const waitMs = options.waitMs ?? 2000
    const connected = recipients.filter((r) => this.host.chat.isConnected(r))
    let acked = 0
    if (waitMs > 0 && connected.length > 0) {
      const signal = AbortSignal.timeout(waitMs)
      const got = await Promise.all(connected.map((r) => this.host.chat.waitForDelivery(r, queued.message.id, { signal })))
      acked = got.filter(Boolean).length
    }
    // An ack is told before it is written down: the larger of the two counts is the true one.
    const stored = await this.host.store.getEntry(groupConversation(record.id), queued.message.id)
    const delivered = Math.max(acked, stored?.deliveredTo?.length ?? 0)
    return {
      id: queued.message.id,
      status: delivered >= recipients.length ? 'delivered' : 'pending',
      delivered,
      recipients: recipients.length
    }
  }

  /** send-file to a group: each member gets its own transfer; the group gets a line naming the file. */
  fileTarget(record: GroupRecord): { peers: string[]; sent: (first: FileInfo, line?: string) => Promise<void> } {
    if (record.status !== 'member') {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `you are no longer in ${record.name}: nothing was sent`)
    }
    const peers = record.members.filter((m) => m !== this.host.self && record.leaving?.includes(m) !== true)
    return {
      peers,
      sent: async (first, line) => {
        await this.send(record, line ?? `[file] ${first.name} (${first.size} bytes), sent to each member`, { waitMs: 0 })
      }
    }
  }

  async history(record: GroupRecord, options: HistoryQuery = {}): Promise<HistoryEntry[]> {
    const stored = await this.book.history(record.id, options)
    await this.book.markRead(record.id, Date.now())
    return stored.map((m) => this.entry(m))
  }

  async search(query: string, record: GroupRecord, limit?: number): Promise<SearchResult[]> {
    return this.host.store.search(query, { conversation: groupConversation(record.id), limit })
  }

  /** One of our group entries was acked by a member (the chat protocol's `delivered`): tell the event stream. */
  async delivered(peer: string, ids: string[]): Promise<void> {
    for (const r of this.book.list()) {
      if (!r.members.includes(peer)) continue
      for (const id of ids) {
        const m = await this.host.store.getEntry(groupConversation(r.id), id)
        if (m == null || m.direction !== 'out' || m.kind === 'system') continue
        this.host.events.publish({
          type: 'group-status',
          group: r.id,
          id,
          peer,
          delivered: m.deliveredTo?.length ?? 0,
          recipients: m.recipients?.length ?? 0
        })
      }
    }
  }

  /**
   * The group a reference means, or undefined: `#name` or `#id` always a group; an id of one of our groups; a name
   * of one. Throws GROUP_NOT_FOUND for `#…` that matches none, PEER_AMBIGUOUS for a name two groups share.
   */
  match(ref: string): GroupRecord | undefined {
    return matchGroup(this.book.list(), ref)
  }

  async find(ref: string): Promise<GroupRecord> {
    const record = this.match(ref.trim().startsWith('#') ? ref : `#${ref.trim()}`)
    if (record == null) throw new P2pError(ErrorCode.GROUP_NOT_FOUND, `no group called ${ref}`, { hint: 'p2pnode groups lists yours' })
    return record
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  private adminOf(record: GroupRecord): GroupRecord {
    if (record.status !== 'member') throw new P2pError(ErrorCode.INVALID_ARGUMENT, `you are no longer in ${record.name}`)
    if (record.admin !== this.host.self) {
      throw new P2pError(ErrorCode.NOT_GROUP_ADMIN, `only the admin of ${record.name} (${this.host.displayName(record.admin)}) may change it`, {
        hint: 'ask them to'
      })
    }
    return record
  }

  private async change(record: GroupRecord, next: { members?: string[]; name?: string }, system: SystemEvent): Promise<GroupInfo> {
    return this.lock.run(record.id, async () => this.changeLocked(this.book.get(record.id) ?? record, next, system))
  }

  /** A new signed version of the group (call under its lock), sent to every member old and new. */
  private async changeLocked(record: GroupRecord, next: { members?: string[]; name?: string }, system: SystemEvent): Promise<GroupInfo> {
    const info: GroupStateInfo = {
      id: record.id,
      nonce: record.nonce,
      admin: record.admin,
      version: record.version + 1,
      name: next.name ?? record.name,
      members: next.members ?? record.members,
      timestamp: Date.now()
    }
    return this.publishOwn(info, record, system)
  }

  private async publishOwn(info: GroupStateInfo, current: GroupRecord | undefined, system: SystemEvent): Promise<GroupInfo> {
    const signed = await signState(this.host.privateKey, info)
    const record = recordOf(info, signed.state, signed.signature, 'member', current)
    const gone = current?.members.filter((m) => !info.members.includes(m)) ?? []
    // Members who are gone get nothing more: only this change, which tells them.
    if (gone.length > 0) await this.book.dropOutbox(info.id, gone)
    const recipients = [...new Set([...(current?.members ?? []), ...info.members])].filter((m) => m !== this.host.self)
    const full = { ...system, version: info.version }
    const entry: StoredMessage = {
      ...this.systemEntry(randomId(), record, full, this.host.self, info.timestamp),
      direction: 'out',
      status: 'pending',
      to: '',
      signed: { state: b64text(signed.state), signature: b64text(signed.signature) }
    }
    const queued = await this.book.applyOwn(record, entry, recipients)
    this.fanOut(recipients, queued)
    this.publishChange(record, full)
    return this.info(record)
  }

  private fanOut(recipients: string[], entry: OutboxEntry): void {
    for (const r of recipients) {
      this.host.chat.queued(r, entry)
      if (!this.host.chat.isConnected(r)) this.host.redial(r)
    }
  }

  private systemEntry(id: string, record: GroupRecord, system: SystemEvent, by: string, timestamp: number): StoredMessage {
    return systemEntry(this.host.self, id, record.id, system, by, timestamp)
  }

  private publishChange(record: GroupRecord, system: SystemEvent): void {
    void this.info(record).then((group) => this.host.events.publish({ type: 'group', group, change: system, status: record.status }))
  }

  private async info(r: GroupRecord): Promise<GroupInfo> {
    const recent = await this.book.history(r.id, { limit: 200 })
    const unread = recent.filter((m) => m.direction === 'in' && m.kind !== 'system' && m.timestamp > (r.readAt ?? 0)).length
    return {
      id: r.id,
      name: r.name,
      members: r.members.filter((m) => r.leaving?.includes(m) !== true).map((peerId) => ({ peerId, name: this.nameOf(peerId) })),
      admin: r.admin,
      unread
    }
  }

  private nameOf(peerId: string): string {
    return peerId === this.host.self ? this.host.ownName() : this.host.displayName(peerId)
  }

  /** A group entry as the API shows it. */
  entry(m: StoredMessage): HistoryEntry {
    const base = entryOf(m, m.status)
    const out: HistoryEntry = { ...base, group: m.group, fromName: this.nameOf(m.from) }
    if (m.direction === 'out' && m.kind !== 'system') {
      out.delivered = m.deliveredTo?.length ?? 0
      out.recipients = m.recipients?.length ?? 0
    }
    if (m.kind === 'system' && m.system != null) {
      out.kind = 'system'
      out.system = m.system
      out.text = say(m.system, (p) => this.nameOf(p), m.from)
    }
    return out
  }

  private async resolveMembers(peers: string[]): Promise<string[]> {
    const ids: string[] = []
    for (const p of peers) {
      const id = await this.host.resolvePeer(p, { dial: true })
      if (id !== this.host.self && !ids.includes(id)) ids.push(id)
    }
    return ids
  }
}
