/**
 * The one codec module: every JSON value the store writes goes through here and carries its version, `{"v":1,...}`.
 * A reader meets a version it does not know (a newer p2pnode wrote it) with a clear error, never a guess; a value
 * without a version is taken only while a layout-1 store is being migrated (`legacy`), when such values are
 * expected. Conversation entries and outbox records are also sealed (sealed-codec.ts): one changed on disk reads
 * as damaged, is skipped and reported.
 *
 * Entry kinds are listed once, in types.ts (`ENTRY_KINDS`): an entry of a kind not listed there is refused here.
 */
import { ErrorCode, P2pError } from '../errors.ts'
import { isDamaged, ValueSealer } from './sealed-codec.ts'
import { ENTRY_KINDS, type EntryKind, type OutboxRecord, type StoredMessage } from './types.ts'

/** The version of every value this p2pnode writes. */
export const VALUE_VERSION = 1

/** Thrown (as STORE_DAMAGED, problem `unknown-version`) for a value of a version or kind this version cannot read. */
export function unreadable(sublevel: string, what: string): P2pError {
  return new P2pError(
    ErrorCode.STORE_DAMAGED,
    `a value in the store's ${sublevel} is ${what}: this p2pnode cannot read it (was the data dir used by a newer p2pnode?)`,
    {
      hint: 'run the p2pnode version that wrote it, or p2pnode doctor to see what is stored',
      details: { file: sublevel, problem: 'unknown-version' }
    }
  )
}

function parse(sublevel: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw unreadable(sublevel, 'not JSON')
  }
}

export class Codec {
  /** Seals of layout-2 values: a value without a seal is damaged. */
  private readonly sealer: ValueSealer
  /** Seals as layout 1 read them: plain values of 0.1 are accepted while `legacySealer.legacy`. */
  readonly legacySealer: ValueSealer
  /** Accept values without a version (a layout-1 store, until its migration is done). */
  legacy = false

  constructor(secret: Uint8Array) {
    this.sealer = new ValueSealer(secret)
    this.legacySealer = new ValueSealer(secret)
  }

  /** `{v, ...rest}` (fresh from JSON.parse, so ours to change) → rest, checked. */
  private open<V>(sublevel: string, value: unknown): V {
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw unreadable(sublevel, 'not a record')
    const record = value as { v?: unknown }
    const v = record.v
    if (v === VALUE_VERSION) {
      delete record.v
      return record as V
    }
    if (v === undefined && this.legacy) return value as V
    throw unreadable(sublevel, v === undefined ? 'without a version' : `of version ${JSON.stringify(v)} (this one reads ${VALUE_VERSION})`)
  }

  private checkKind(sublevel: string, kind: EntryKind | undefined): void {
    if (kind != null && !ENTRY_KINDS.includes(kind)) throw unreadable(sublevel, `an entry of kind ${JSON.stringify(kind)}`)
  }

  /** Conversation entries: sealed, versioned, of a known kind. */
  entry(sublevel: string) {
    return {
      name: `p2pnode-entry-${sublevel}`,
      format: 'utf8' as const,
      encode: (value: StoredMessage): string => this.sealer.sealJson(versioned(value)),
      decode: (text: string): StoredMessage => {
        const opened = this.sealer.open<StoredMessage>(text)
        if (isDamaged(opened)) return opened
        const entry = this.open<StoredMessage>(sublevel, opened)
        this.checkKind(sublevel, entry.kind)
        return entry
      }
    }
  }

  /** Outbox records: sealed, versioned, holding a copy of the entry. */
  outbox(sublevel: string) {
    return {
      name: `p2pnode-outbox-${sublevel}`,
      format: 'utf8' as const,
      encode: (value: OutboxRecord): string => this.sealer.sealJson(versioned(value)),
      decode: (text: string): OutboxRecord => {
        const opened = this.sealer.open<OutboxRecord>(text)
        if (isDamaged(opened)) return opened
        const record = this.open<OutboxRecord>(sublevel, opened)
        this.checkKind(sublevel, record.message?.kind)
        return record
      }
    }
  }

  /** Records (peers, groups, transfers): `{"v":1,...fields}`. */
  record<V extends object>(sublevel: string) {
    return {
      name: `p2pnode-record-${sublevel}`,
      format: 'utf8' as const,
      encode: (value: V): string => versioned(value),
      decode: (text: string): V => this.open<V>(sublevel, parse(sublevel, text))
    }
  }

  /** Any JSON value (settings, counters): `{"v":1,"value":...}`. */
  boxed(sublevel: string) {
    return {
      name: `p2pnode-boxed-${sublevel}`,
      format: 'utf8' as const,
      encode: (value: unknown): string => JSON.stringify({ v: VALUE_VERSION, value }),
      decode: (text: string): unknown => {
        const parsed = parse(sublevel, text)
        if (isBoxed(parsed)) {
          if (parsed.v === VALUE_VERSION) return parsed.value
          throw unreadable(sublevel, `of version ${JSON.stringify(parsed.v)} (this one reads ${VALUE_VERSION})`)
        }
        if (this.legacy) return parsed
        throw unreadable(sublevel, 'without a version')
      }
    }
  }

  /** Layout 1's messages and outbox, as they were written (sealed or, by 0.1, plain; no version). */
  legacyMessage(sublevel: string) {
    return this.legacySealer.encoding<StoredMessage>(sublevel)
  }
}

/** `{"v":1,...value}` without copying the value: its JSON with the version put first. */
function versioned(value: object): string {
  const json = JSON.stringify(value)
  return json === '{}' ? `{"v":${VALUE_VERSION}}` : `{"v":${VALUE_VERSION},${json.slice(1)}`
}

/** A value written by `boxed` (layout-1 meta values are never objects with a `v`). */
export function isBoxed(value: unknown): value is { v: unknown; value: unknown } {
  return value != null && typeof value === 'object' && !Array.isArray(value) && 'v' in value
}

/** A layout-1 record (no version), to be rewritten by the migration. */
export function isUnversioned(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown
    return value != null && typeof value === 'object' && !Array.isArray(value) && !('v' in value)
  } catch {
    return false
  }
}
