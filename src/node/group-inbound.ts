/**
 * Groups, the network's side: what the chat protocol hands over (GroupHooks) is checked here before anything is
 * stored. A change must be signed by the admin and newer than ours; a message must come from a member of a group we
 * are in; a leave from a member who is not the admin. Anything else is refused and never stored. node/groups.ts
 * builds it and owns the lock it runs under.
 */
import type { EventLog } from '../api/events.ts'
import type { GroupInfo, HistoryEntry } from '../api/types.ts'
import {
  ForgedStateError,
  type GroupHooks,
  type GroupItem,
  type GroupOutcome,
  type GroupStateInfo,
  openState
} from '../protocols/chat/index.ts'
import { type GroupRecord, MAX_GROUPS, type Store, type StoredMessage } from '../store/index.ts'
import type { KeyedLock } from '../store/lock.ts'
import { b64, b64text, describe, recordOf, type SystemEvent, systemEntry } from './group-records.ts'

export interface GroupInboundDeps {
  store: Store
  self: string
  events: EventLog
  displayName: (peerId: string) => string
  log: (text: string) => void
  /** Changes to one group, one after another (ours and those received): NodeGroups' lock. */
  lock: KeyedLock
  /** Tell the event stream that a group changed. */
  publishChange: (record: GroupRecord, system: SystemEvent) => void
  /** A group entry as the API shows it. */
  entry: (m: StoredMessage) => HistoryEntry
  /** Our new signed version of a group we administer (call under its lock), sent to every member. */
  changeLocked: (record: GroupRecord, next: { members?: string[] }, system: SystemEvent) => Promise<GroupInfo>
}

export class GroupInbound {
  private readonly deps: GroupInboundDeps

  constructor(deps: GroupInboundDeps) {
    this.deps = deps
  }

  private get book() {
    return this.deps.store.groups
  }

  private get lock() {
    return this.deps.lock
  }

  /** What the chat protocol asks of groups. */
  readonly hooks: GroupHooks = {
    receive: (peer, item) => this.receive(peer, item),
    signedState: (group) => {
      const r = this.book.get(group)
      if (r == null || r.status !== 'member') return undefined
      return { version: r.version, state: b64(r.state), signature: b64(r.signature) }
    }
  }

  private async receive(peer: string, item: GroupItem): Promise<GroupOutcome> {
    switch (item.type) {
      case 'group-change':
        return this.receiveChange(item)
      case 'group-message':
        return this.receiveMessage(peer, item.message)
      case 'group-leave':
        return this.receiveLeave(peer, item.id, item.group)
    }
  }

  private async receiveChange(item: Extract<GroupItem, { type: 'group-change' }>): Promise<GroupOutcome> {
    let info: GroupStateInfo
    try {
      info = await openState(item.state, item.signature)
    } catch (err) {
      if (err instanceof ForgedStateError) {
        this.deps.log(`refused a group change: ${err.message}`)
        return { refused: 'forged' }
      }
      throw err // malformed: the stream is reset
    }
    return this.lock.run(info.id, async () => {
      const current = this.book.get(info.id)
      if (current != null && info.version < current.version) return { refused: 'stale' }
      if (current != null && info.version === current.version) {
        return current.signature === b64text(item.signature) ? { stored: true } : { refused: 'stale' }
      }
      const inIt = info.members.includes(this.deps.self)
      if (current == null && !inIt) return { refused: 'no-group' }
      if (current == null && this.book.size >= MAX_GROUPS) return { refused: 'too-many-groups' }
      const record = recordOf(info, item.state, item.signature, inIt ? 'member' : 'removed', current)
      const system = describe(current, info)
      const gone = current?.members.filter((m) => !info.members.includes(m)) ?? []
      if (gone.length > 0) await this.book.dropOutbox(info.id, gone)
      await this.book.applyTheirs(record, systemEntry(this.deps.self, item.id, record.id, system, info.admin, info.timestamp), info.admin)
      this.deps.publishChange(record, system)
      return { stored: true }
    })
  }

  private async receiveMessage(
    peer: string,
    m: Extract<GroupItem, { type: 'group-message' }>['message']
  ): Promise<GroupOutcome> {
    const record = this.book.get(m.group)
    if (record == null) return { refused: 'no-group' }
    if (record.status !== 'member') return { refused: 'removed' }
    if (!record.members.includes(peer) || record.leaving?.includes(peer) === true) return { refused: 'not-member' }
    const entry: StoredMessage = {
      id: m.id,
      peer,
      from: peer,
      to: this.deps.self,
      text: m.text,
      timestamp: m.timestamp,
      direction: 'in',
      status: 'received',
      kind: 'text',
      group: m.group,
      ...(m.replyTo != null ? { replyTo: m.replyTo } : {})
    }
    const added = await this.book.addTheirs(m.group, peer, entry)
    if (added != null) {
      this.deps.events.publish({
        type: 'group-message',
        group: { id: record.id, name: record.name },
        message: this.deps.entry(added),
        name: this.deps.displayName(peer)
      })
    }
    return { stored: true }
  }

  private async receiveLeave(peer: string, id: string, groupId: string): Promise<GroupOutcome> {
    return this.lock.run(groupId, async () => {
      const record = this.book.get(groupId)
      if (record == null) return { refused: 'no-group' }
      if (!record.members.includes(peer) || peer === record.admin) return { refused: 'not-member' }
      if (record.leaving?.includes(peer) === true || (await this.book.has(groupId, id))) return { stored: true }
      const next: GroupRecord = { ...record, leaving: [...(record.leaving ?? []), peer] }
      const system: SystemEvent = { type: 'left', peers: [peer], version: record.version }
      await this.book.dropOutbox(groupId, [peer])
      await this.book.applyTheirs(next, systemEntry(this.deps.self, id, next.id, system, peer, Date.now()), peer)
      this.deps.publishChange(next, system)
      // The admin makes it part of the membership, signed, for everyone (and for members who join later).
      if (record.admin === this.deps.self && record.status === 'member') {
        await this.deps.changeLocked(next, { members: next.members.filter((m) => m !== peer) }, { type: 'left', peers: [peer] })
      }
      return { stored: true }
    })
  }

  /**
   * Check every stored group against the state its admin signed (a record edited on disk, members added by hand,
   * is not used, and said). Returns how many failed.
   */
  async verifyStored(): Promise<number> {
    let bad = 0
    for (const r of this.book.list()) {
      let ok = false
      try {
        const info = await openState(b64(r.state), b64(r.signature))
        ok =
          info.id === r.id &&
          info.admin === r.admin &&
          info.version === r.version &&
          info.name === r.name &&
          info.members.join('\n') === r.members.join('\n')
      } catch {
        ok = false
      }
      if (!ok) {
        bad++
        this.book.ignore(r.id)
        this.deps.log(`group ${r.id} failed its check (its record does not match what its admin signed): not used`)
      }
    }
    return bad
  }
}
