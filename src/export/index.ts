import { randomBytes } from 'node:crypto'
import { lstat, open, rename, rm, writeFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import type { StoredMessage, VoiceRecord } from '../store/index.ts'
import { Anonymizer, PLACEHOLDERS, type ScrubKind } from './anonymize.ts'

export { Anonymizer } from './anonymize.ts'

export interface ExportOptions {
  /** Absolute path of the JSONL file to write (replaced if it exists, atomically). */
  out: string
  anonymize: boolean
  /** Names to remove from text when anonymizing (ours and peers'). */
  names: string[]
  /** The voice record of a voice note's entry (its duration and transcript are exported with it). */
  voice?: (m: StoredMessage) => Promise<VoiceRecord | undefined>
}

export interface ExportSummary {
  out: string
  card: string
  messages: number
}

/**
 * Write messages as JSONL, one message a line, plus a data card (`<out>.card.md`). Both are written to temporary
 * files (mode 0600) and renamed into place, so a failed export never leaves half a file.
 */
export async function exportMessages(messages: AsyncIterable<StoredMessage>, options: ExportOptions): Promise<ExportSummary> {
  const anon = options.anonymize ? new Anonymizer(options.names) : undefined
  const tmp = `${options.out}.${randomBytes(6).toString('hex')}.tmp`
  const card = `${options.out}.card.md`
  const cardTmp = `${card}.${randomBytes(6).toString('hex')}.tmp`
  // Each target must be a file or nothing: found now, before anything is written, not at the rename.
  await Promise.all([replaceable(options.out), replaceable(card)])
  const conversations = new Set<string>()
  let count = 0
  let first = Number.POSITIVE_INFINITY
  let last = 0
  async function* lines() {
    for await (const m of messages) {
      conversations.add(m.peer)
      first = Math.min(first, m.timestamp)
      last = Math.max(last, m.timestamp)
      count++
      const voice = m.kind === 'voice' ? await options.voice?.(m) : undefined
      yield `${JSON.stringify(anon == null ? plain(m, voice) : anonymized(m, anon, voice))}\n`
    }
  }
  let cardPlaced = false
  try {
    // Opened (and awaited) first, so a bad path is an error here; 'wx': a fresh file of our own, never through a
    // symlink someone left at that name. pipeline() handles the stream's errors: none can go unheard.
    const file = await open(tmp, 'wx', 0o600)
    await pipeline(lines(), file.createWriteStream())
    const text = dataCard({ count, conversations: conversations.size, first, last, anon })
    await writeFile(cardTmp, text, { mode: 0o600, flag: 'wx' })
    // Both files are complete before either takes its name.
    await rename(cardTmp, card)
    cardPlaced = true
    await rename(tmp, options.out)
  } catch (err) {
    await Promise.all([
      rm(tmp, { force: true }),
      rm(cardTmp, { force: true }),
      cardPlaced ? rm(card, { force: true }) : undefined
    ])
    throw err
  }
  return { out: options.out, card, messages: count }
}

/** Throws EISDIR (or the like) unless `path` is absent or a regular file, which an export may replace. */
async function replaceable(path: string): Promise<void> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  // A symlink is replaced itself (rename), never written through.
  if (st != null && !st.isFile() && !st.isSymbolicLink()) {
    throw Object.assign(new Error(`${path} exists and is not a file`), { code: st.isDirectory() ? 'EISDIR' : 'EEXIST' })
  }
}

function plain(m: StoredMessage, voice?: VoiceRecord) {
  return {
    id: m.id,
    peer: m.peer,
    from: m.from,
    to: m.to,
    direction: m.direction,
    text: m.text,
    timestamp: m.timestamp,
    status: m.status,
    ...(m.replyTo != null ? { replyTo: m.replyTo } : {}),
    ...(m.kind === 'file' || m.kind === 'voice' ? { kind: m.kind, file: m.file } : {}),
    ...(m.kind === 'voice' ? { duration: voice?.duration ?? 0, transcript: voice?.transcript ?? { status: 'pending', text: '', engine: '' } } : {})
  }
}

function anonymized(m: StoredMessage, anon: Anonymizer, voice?: VoiceRecord) {
  return {
    id: anon.id(m.id),
    conversation: anon.peer(m.peer),
    from: anon.peer(m.from),
    to: anon.peer(m.to),
    direction: m.direction,
    text: anon.text(m.text),
    timestamp: anon.time(m.timestamp),
    status: m.status,
    ...(m.replyTo != null ? { replyTo: anon.id(m.replyTo) } : {}),
    // File name and hash dropped (a hash would let two exports be joined); size and type kept.
    ...(m.kind === 'file' || m.kind === 'voice' ? { kind: m.kind, file: { size: m.file?.size, mime: m.file?.mime } } : {}),
    // A transcript is text like any other: scrubbed the same way (its error and hint name nobody: left out).
    ...(m.kind === 'voice'
      ? {
          duration: voice?.duration ?? 0,
          transcript: { status: voice?.transcript.status ?? 'pending', engine: voice?.transcript.engine ?? '', text: anon.text(voice?.transcript.text ?? '') }
        }
      : {})
  }
}

function day(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString().slice(0, 10) : '-'
}

function dataCard(s: { count: number; conversations: number; first: number; last: number; anon?: Anonymizer }): string {
  const fields = s.anon
    ? [
        '`id`: message id, replaced by a keyed hash (salt fresh for this export)',
        '`conversation`, `from`, `to`: peers as pseudonyms `peer-<12 hex>` (stable within this export only)',
        '`direction`: `in` or `out`, seen from the exporting node',
        '`text`: message text with personal data replaced by placeholders (below)',
        '`timestamp`: sender clock, ms since the epoch, rounded down to the hour',
        '`status`: `pending`, `delivered` or `received`',
        '`replyTo`: id (hashed like `id`) of the message replied to, if any',
        '`kind`, `file`: for files, `"file"` and `{size, mime}` (name and hash removed)',
        '`kind` `"voice"`, `duration` (ms), `transcript` `{status, engine, text}`: voice notes; `text` scrubbed like message text'
      ]
    : [
        '`id`, `peer`, `from`, `to`: message id and peer ids',
        '`direction`, `text`, `timestamp` (ms since the epoch), `status`, `replyTo`',
        '`kind`, `file`: for files, `"file"` and `{name, size, sha256, mime}`',
        '`kind` `"voice"`, `duration` (ms), `transcript` `{status, engine, text, error?, hint?}`: voice notes (also `file`)'
      ]
  const lines = [
    '# p2pnode message export — data card',
    '',
    `- Messages: ${s.count}`,
    `- Conversations: ${s.conversations}`,
    `- Span: ${day(s.first)} to ${day(s.last)}`,
    `- Anonymized: ${s.anon ? 'yes' : 'no'}`,
    `- Format: JSON Lines, one message a line`,
    '',
    '## Fields',
    '',
    ...fields.map((f) => `- ${f}`),
    ''
  ]
  if (s.anon) {
    lines.push(
      '## Removed',
      '',
      '- Peer ids and display names: replaced by pseudonyms; peer names and local names in text by `[NAME]`',
      '- File names and file hashes: dropped',
      '- Timestamps: rounded down to the hour',
      '- In text (count of replacements):',
      ...(Object.keys(PLACEHOLDERS) as ScrubKind[]).map((k) => `  - ${PLACEHOLDERS[k]}: ${s.anon?.counts[k] ?? 0}`),
      '',
      'Pattern matching is not perfect: names the node does not know, and personal data written in unusual forms,',
      'can remain in text. Review before sharing.',
      ''
    )
  }
  return lines.join('\n')
}
