import { createRequire } from 'node:module'
import { ErrorCode, isP2pError } from '../errors.ts'
import ansiRegex from 'ansi-regex'

/** Exit status per error code: a contract for scripts, listed in README.md. */
export const EXIT: Record<string, number> = {
  OK: 0,
  [ErrorCode.INTERNAL]: 1,
  USAGE: 2,
  [ErrorCode.INVALID_ARGUMENT]: 2,
  [ErrorCode.INVALID_MESSAGE]: 2,
  [ErrorCode.INVALID_MULTIADDR]: 2,
  [ErrorCode.NO_NODE]: 3,
  [ErrorCode.PEER_NOT_FOUND]: 4,
  [ErrorCode.PEER_AMBIGUOUS]: 4,
  [ErrorCode.PEER_BLOCKED]: 4,
  [ErrorCode.PEER_NOT_P2PNODE]: 4,
  [ErrorCode.DIAL_FAILED]: 5,
  [ErrorCode.LEVEL_LOCKED]: 6,
  [ErrorCode.DATA_DIR_INVALID]: 7,
  [ErrorCode.RECORD_TAMPERED]: 8,
  [ErrorCode.FILE_NOT_READABLE]: 2,
  [ErrorCode.TRANSFER_NOT_FOUND]: 4,
  [ErrorCode.TRANSFER_FAILED]: 9,
  [ErrorCode.STORE_DAMAGED]: 10,
  [ErrorCode.WEB_OFF]: 11,
  [ErrorCode.MAILBOX_FAILED]: 12,
  [ErrorCode.GROUP_NOT_FOUND]: 4,
  [ErrorCode.NOT_GROUP_ADMIN]: 13,
  [ErrorCode.GROUP_FULL]: 2
}

/** The CLI's only way to write: stdout for results, stderr for errors and notices. */
export const out = {
  line(text = ''): void {
    process.stdout.write(`${text}\n`)
  },
  json(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`)
  },
  notice(text: string): void {
    process.stderr.write(`${text}\n`)
  }
}

/** Print an error the way every command does, and return the exit status to use. */
export function reportError(err: unknown, json: boolean): number {
  if (isP2pError(err)) {
    if (json) out.json({ error: { code: err.code, message: err.message, hint: err.hint, details: err.details } })
    out.notice(`error: ${err.message}`)
    if (err.hint != null) out.notice(`hint: ${err.hint}`)
    return EXIT[err.code] ?? 1
  }
  const message = err instanceof Error ? err.message : String(err)
  if (json) out.json({ error: { code: ErrorCode.INTERNAL, message } })
  out.notice(`error: ${message}`)
  if (process.env.DEBUG != null && err instanceof Error) out.notice(err.stack ?? '')
  return 1
}

/**
 * Text from peers, made safe to print on a terminal: control and format characters (escape sequences, carriage
 * returns, bidi overrides, zero-width marks) are shown as `�` (a whole escape sequence as one), and continuation lines are indented so that a
 * message cannot forge a line that looks like another peer's.
 */
const ESCAPE_SEQUENCE = ansiRegex()

export function displayText(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCE, '\uFFFD')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => (c === '\n' || c === '\t' ? c : '\uFFFD'))
    .replace(/\n/g, '\n    ')
}

export function formatTime(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** A live line's time: `12:03`, or `2026-11-30 12:03` when not today. */
export function clock(ms: number, now = Date.now()): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`
  return new Date(now).toDateString() === d.toDateString() ? time : `${formatTime(ms).slice(0, 10)} ${time}`
}

export function shortId(peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`
}

/** Columns `text` takes on a terminal (emoji and CJK characters take two). */
const require = createRequire(import.meta.url)
let widthOf: ((text: string) => number) | undefined
/**
 * string-width, loaded when a column is first measured: it makes an Intl.Segmenter as it is imported, which maps
 * ICU data that `start` (no tables) never needs (~3 MB of its resident memory).
 */
function stringWidth(text: string): number {
  widthOf ??= (require('string-width') as { default: (text: string) => number }).default
  return widthOf(text)
}

export function width(text: string): number {
  return stringWidth(text)
}

/** `text` padded with spaces to `columns` terminal columns (String.padEnd counts code units, not columns). */
export function padEnd(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - stringWidth(text)))
}
