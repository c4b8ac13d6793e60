import type { EventLog } from '../api/events.ts'
import type { HistoryEntry } from '../api/types.ts'
import type { FileTransferProtocol } from '../protocols/file/index.ts'
import type { StoredMessage } from '../store/index.ts'
import { toFileInfo } from './files.ts'
import type { P2pNode } from './node.ts'

/** Progress events of one transfer at most this often, ms (4 a second). */
export const PROGRESS_EVERY_MS = 250
/** Transfers whose progress is followed at once at most (an id is forgotten when its transfer ends). */
const MAX_FOLLOWED = 1000
const FINAL = new Set(['complete', 'failed', 'cancelled'])

/** A stored message as the API shows it (history, events). */
export function entryOf(m: StoredMessage, status: HistoryEntry['status']): HistoryEntry {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    text: m.text,
    timestamp: m.timestamp,
    direction: m.direction,
    status,
    ...(m.replyTo != null ? { replyTo: m.replyTo } : {}),
    ...(m.kind === 'file' || m.kind === 'voice' ? { kind: m.kind, file: m.file } : {})
  }
}

/**
 * Everything the node tells (messages in, status changes, presence, names) and the file transfers' changes, into
 * the event log that `GET /v1/events` streams. Messages sent, visibility and peer-state changes are published
 * where they happen (node.ts, people.ts). Progress is throttled per transfer.
 */
export function feedEvents(node: P2pNode, files: FileTransferProtocol, log: EventLog): void {
  node.addEventListener('message', (evt) => {
    const { message, name, muted } = evt.detail
    log.publish({ type: 'message', message: entryOf(message, message.status), name, muted })
  })
  node.addEventListener('sent', (evt) => log.publish({ type: 'status', ...evt.detail, status: 'sent' }))
  node.addEventListener('delivered', (evt) => log.publish({ type: 'status', ...evt.detail, status: 'delivered' }))
  node.addEventListener('peer', (evt) => log.publish({ type: 'peer', ...evt.detail }))
  node.addEventListener('renamed', (evt) => log.publish({ type: 'renamed', ...evt.detail }))

  const followed = new Map<string, { peer: string; direction: 'in' | 'out'; at: number }>()
  files.addEventListener('transfer', (evt) => {
    const t = evt.detail
    if (FINAL.has(t.status)) followed.delete(t.id)
    else if (!followed.has(t.id)) {
      followed.set(t.id, { peer: t.peer, direction: t.direction, at: 0 })
      if (followed.size > MAX_FOLLOWED) followed.delete(followed.keys().next().value ?? '')
    }
    log.publish({ type: 'transfer', transfer: toFileInfo(t), timestamp: t.timestamp })
  })
  files.addEventListener('progress', (evt) => {
    const { id, received, size } = evt.detail
    const f = followed.get(id)
    const now = Date.now()
    if (f == null || now - f.at < PROGRESS_EVERY_MS) return
    f.at = now
    log.publish({ type: 'progress', transferId: id, peer: f.peer, direction: f.direction, received, size })
  })
}
