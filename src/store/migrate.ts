/**
 * Moving a store of layout 1 (p2pnode 0.1, and the releases before the conversation log) to layout 2 (keys.ts):
 * once, in batches, resumably. Each batch writes its part of the new layout together with the cursor (`meta`
 * `migration`: which stage, which key it got to), so a crash leaves a store whose next start goes on from the
 * cursor; a batch done twice writes the same keys again. Layout 1's sublevels are only read until the last batch,
 * which sets `layout` to 2; they are cleared after that (again on a later start, if a crash came in between).
 *
 * Stages: `messages` (each conversation's messages become entries of `dm:H(peer)`, with their ids and search index;
 * plain 0.1 values are sealed), `outbox` (one record per waiting message, its recipient the peer), `peers` and
 * `transfers` (records get their version), `meta` (values get their version; order states move to `order:dm:…`).
 * A value that fails its seal is not moved but kept, as it was, in `damaged` (as doctor --repair does).
 */
import { isBoxed, isUnversioned } from './codec.ts'
import { dmConversation, key, LAYOUT, LAYOUT1, META, type Op, type Parts, SEP, SUBLEVEL } from './keys.ts'
import { isDamaged } from './sealed-codec.ts'
import type { OutboxRecord, StoredMessage } from './types.ts'

export interface MigrateOptions {
  /** Values per batch. @default 500 */
  batchSize?: number
  /** Called after each batch is written, with the count of values so far (tests stop the migration here, as a crash would). */
  afterBatch?: (moved: number) => void | Promise<void>
}

/** What the store lends the migration. */
export interface MigrationHost {
  parts: Parts
  /** A layout-1 message or outbox value as layout 1 read it (sealed, or plain from 0.1), maybe marked damaged. */
  openLegacy: (text: string) => StoredMessage
  indexOps: (conv: string, seq: string, text: string) => Op[]
  /** One atomic, counted batch. */
  write: (ops: Op[]) => Promise<void>
}

const STAGES = ['messages', 'outbox', 'peers', 'transfers', 'meta'] as const
type Stage = (typeof STAGES)[number]

interface Cursor {
  stage: Stage
  /** The last key done in that stage. */
  after?: string
}

const DEFAULT_BATCH = 500

async function run(host: MigrationHost, options: MigrateOptions = {}): Promise<number> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  const { parts } = host
  const cursor = ((await parts.meta.get(META.migration)) as Cursor | undefined) ?? { stage: STAGES[0] }
  let moved = 0
  let entries = 0
  for (const stage of STAGES.slice(Math.max(0, STAGES.indexOf(cursor.stage)))) {
    const after = stage === cursor.stage ? cursor.after : undefined
    const source = stageSource(stage)
    let ops: Op[] = []
    let count = 0
    let last: string | undefined
    const flush = async () => {
      if (count === 0) return
      const next: Cursor = { stage, after: last }
      await host.write([...ops, { type: 'put', sublevel: parts.meta, key: META.migration, value: next }])
      moved += count
      if (stage === 'messages') entries += count
      ops = []
      count = 0
      await options.afterBatch?.(moved)
    }
    for await (const [k, text] of parts.raw(source).iterator(after != null ? { gt: after } : {})) {
      ops.push(...(await convert(host, stage, k, text)))
      last = k
      count++
      if (count >= batchSize) await flush()
    }
    await flush()
  }
  await host.write([
    { type: 'put', sublevel: parts.meta, key: META.layout, value: LAYOUT },
    { type: 'del', sublevel: parts.meta, key: META.migration }
  ])
  await clearLayout1(parts)
  return entries
}

function stageSource(stage: Stage): string {
  switch (stage) {
    case 'messages':
      return LAYOUT1.messages
    case 'outbox':
      return LAYOUT1.outbox
    case 'peers':
      return SUBLEVEL.peers
    case 'transfers':
      return SUBLEVEL.transfers
    case 'meta':
      return SUBLEVEL.meta
  }
}

/** The ops that move one layout-1 value (`k` → `text`) of a stage. */
async function convert(host: MigrationHost, stage: Stage, k: string, text: string): Promise<Op[]> {
  const { parts } = host
  const damagedAside = (from: string): Op[] => [{ type: 'put', sublevel: parts.raw(SUBLEVEL.damaged), key: key(from, k), value: text }]
  switch (stage) {
    case 'messages': {
      const m = host.openLegacy(text)
      if (isDamaged(m)) return damagedAside(LAYOUT1.messages)
      const [ph, seq] = k.split(SEP)
      const conv = dmConversation(ph)
      return [
        { type: 'put', sublevel: parts.log, key: key(conv, seq), value: m },
        { type: 'put', sublevel: parts.ids, key: key(conv, m.id), value: seq },
        ...host.indexOps(conv, seq, m.text ?? '')
      ]
    }
    case 'outbox': {
      const m = host.openLegacy(text)
      if (isDamaged(m)) return damagedAside(LAYOUT1.outbox)
      const value: OutboxRecord = { recipient: m.peer, message: m }
      return [{ type: 'put', sublevel: parts.outbox, key: k, value }]
    }
    case 'peers':
    case 'transfers': {
      if (!isUnversioned(text)) return []
      return [{ type: 'put', sublevel: stage === 'peers' ? parts.peers : parts.transfers, key: k, value: JSON.parse(text) }]
    }
    case 'meta': {
      if (k === META.migration || k === META.layout) return []
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        return damagedAside(SUBLEVEL.meta)
      }
      if (isBoxed(value)) return []
      // Layout 1 kept a conversation's order state under `order:H(peer)`.
      const order = /^order:([0-9a-f]{64})$/.exec(k)
      if (order != null) {
        return [
          { type: 'del', sublevel: parts.meta, key: k },
          { type: 'put', sublevel: parts.meta, key: `order:${dmConversation(order[1])}`, value }
        ]
      }
      return [{ type: 'put', sublevel: parts.meta, key: k, value }]
    }
  }
}

/** Clear layout 1's sublevels (after the migration's last batch; idempotent). */
async function clearLayout1(parts: Parts): Promise<void> {
  for (const name of Object.values(LAYOUT1)) {
    const sub = parts.raw(name)
    if ((await sub.keys({ limit: 1 }).all()).length > 0) await sub.clear()
  }
}

export const migrate = { run, clearLayout1 }
