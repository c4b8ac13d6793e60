/**
 * Sealed values: an abstract-level value encoding that stores `#<mac><json>`, where mac is HMAC-SHA256 of the JSON
 * under a key derived from the store secret (first 16 bytes, hex). A value changed on disk (a flipped byte in an
 * .ldb, an edit) fails its check on read and comes back marked damaged (see isDamaged), so that readers skip and
 * report it instead of showing altered text. LevelDB's own block checksums are not checked on reads by classic-level
 * (it exposes no verify_checksums / paranoid_checks), hence this.
 *
 * Values written by 0.1 are plain JSON (`{...}`): they are accepted while the store is in legacy mode (until its
 * values are sealed by the migration to the conversation log; see migrate.ts), and damaged after.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'

const DAMAGED = Symbol('p2pnode.damaged')
const PREFIX = '#'
const MAC_HEX = 32

/** Why a value read from the store failed its check, if it did. */
export function damageOf(value: unknown): string | undefined {
  return value != null && typeof value === 'object' ? (value as { [DAMAGED]?: string })[DAMAGED] : undefined
}

export function isDamaged(value: unknown): boolean {
  return damageOf(value) != null
}

/** A placeholder for a value that failed its check: what could be parsed of it, marked (not enumerable). */
function damaged<V>(parsed: unknown, reason: string): V {
  const base = parsed != null && typeof parsed === 'object' ? parsed : {}
  Object.defineProperty(base, DAMAGED, { value: reason, enumerable: false })
  return base as V
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export class ValueSealer {
  /**
   * A KeyObject, made once: createHmac with a key given as bytes costs ~8 µs per call here against ~1.4 µs with a
   * KeyObject (Node 24; it first checks whether the bytes are a KeyObject or a CryptoKey), and every stored entry
   * and outbox record is sealed, four per message sent and acked.
   */
  private readonly key: KeyObject
  /** Accept unsealed (0.1) values as good. */
  legacy = false

  constructor(secret: Uint8Array) {
    this.key = createSecretKey(createHmac('sha256', secret).update('p2pnode value seal v1').digest())
  }

  private mac(json: string): string {
    return createHmac('sha256', this.key).update(json).digest('hex').slice(0, MAC_HEX)
  }

  seal(value: unknown): string {
    return this.sealJson(JSON.stringify(value))
  }

  /** seal() of a value already in JSON. */
  sealJson(json: string): string {
    return PREFIX + this.mac(json) + json
  }

  open<V>(text: string): V {
    if (text.startsWith(PREFIX)) {
      const mac = text.slice(1, 1 + MAC_HEX)
      const json = text.slice(1 + MAC_HEX)
      const expected = Buffer.from(this.mac(json), 'hex')
      const actual = Buffer.from(mac, 'hex')
      const parsed = parse(json)
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected) || parsed == null) {
        return damaged(parsed, 'the value fails its integrity check (changed on disk)')
      }
      return parsed as V
    }
    const parsed = parse(text)
    if (this.legacy && parsed != null && typeof parsed === 'object') return parsed as V
    return damaged(parsed, parsed == null ? 'the value is not readable' : 'the value has no seal')
  }

  /** True for a value written by 0.1 that parses (to be sealed by the migration). */
  static isLegacy(text: string): boolean {
    return text.startsWith('{') && parse(text) != null
  }

  /** The abstract-level encoding (utf8 format) for a sublevel of sealed JSON values. */
  encoding<V>(name: string) {
    return {
      name: `p2pnode-sealed-${name}`,
      format: 'utf8' as const,
      encode: (value: V): string => this.seal(value),
      decode: (text: string): V => this.open<V>(text)
    }
  }
}
