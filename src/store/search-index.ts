/**
 * The full-text index beside the messages: an inverted index (word → message), the same per conversation, and the
 * vocabulary for prefix expansion. Written in the same batch as each message (see `ops`); read by `search`.
 */
import { END, type Op, SEP, type Sub } from './keys.ts'
import { isDamaged } from './sealed-codec.ts'
import { matchesAll, tokenize } from './text-index.ts'
import type { SearchHit, StoredMessage } from './types.ts'
import type { VoiceRecord } from './voice-types.ts'

export { END, SEP } from './keys.ts'

const DEFAULT_SEARCH_LIMIT = 20
/** Most vocabulary words one search term may expand to (a one-letter prefix could match thousands). */
const MAX_EXPANSIONS = 256
/** Bound on the recently-written-words cache. */
const VOCAB_CACHE_MAX = 100_000
/** Most index entries one search examines: bounds the time of a search whatever the data. */
const MAX_SEARCH_CANDIDATES = 200_000

/**
 * - `log-words`   `word!seq` → `conv!seq`             inverted index: normalized word → entry
 * - `log-pwords`  `conv!word!seq` → `conv!seq`        the same per conversation (search --peer)
 * - `vocab`       `word` → ''                         every indexed word, for prefix expansion
 */
export class SearchIndex {
  /** Words known to be in `vocab` already (bounded), so that each is written once. */
  private readonly vocabSeen = new Set<string>()

  constructor(
    private readonly words: Sub<string>,
    private readonly peerWords: Sub<string>,
    private readonly vocab: Sub<string>,
    private readonly messages: Sub<StoredMessage>,
    /** Voice notes' transcripts, under the same keys as their entries: searched as their text. */
    private readonly voice?: Sub<VoiceRecord>
  ) {}

  /** The voice record of entry `conv!seq`, if it is a voice note. */
  async voiceRecord(entryKey: string): Promise<VoiceRecord | undefined> {
    return this.voice?.get(entryKey)
  }

  /** Index entries for the words of entry `conv!seq`, to write in the same batch as the entry. */
  ops(conv: string, seq: string, text: string): Op[] {
    const ops: Op[] = []
    const message = conv + SEP + seq
    for (const word of tokenize(text)) {
      ops.push(
        { type: 'put', sublevel: this.words, key: word + SEP + seq, value: message },
        { type: 'put', sublevel: this.peerWords, key: conv + SEP + word + SEP + seq, value: message }
      )
      if (!this.vocabSeen.has(word)) {
        if (this.vocabSeen.size >= VOCAB_CACHE_MAX) this.vocabSeen.clear()
        this.vocabSeen.add(word)
        ops.push({ type: 'put', sublevel: this.vocab, key: word, value: '' })
      }
    }
    return ops
  }

  /** A batch with our ops failed: words noted as written may not have been, so write them again next time. */
  writeFailed(): void {
    this.vocabSeen.clear()
  }

  /**
   * Messages whose words start with every term of `query` (case- and accent-insensitive), newest first, in the
   * conversation `conv` if given. Terms are expanded through the vocabulary; the term with the fewest expansions
   * drives the scan and the others are checked on the message itself.
   */
  async search(query: string, options: { conv?: string; limit?: number } = {}): Promise<SearchHit[]> {
    const terms = tokenize(query)
    if (terms.length === 0) return []
    const { conv, limit = DEFAULT_SEARCH_LIMIT } = options
    const expansions = await Promise.all(
      terms.map((t) => this.vocab.keys({ gte: t, lt: `${t}\uffff`, limit: MAX_EXPANSIONS }).all())
    )
    if (expansions.some((e) => e.length === 0)) return []
    const driver = expansions.reduce((best, e, i) => (e.length < expansions[best].length ? i : best), 0)
    const others = terms.filter((_, i) => i !== driver)
    // With a conversation, its own postings: no scanning past other conversations' messages.
    const postings = new NewestFirst(
      expansions[driver].map((word) => {
        const prefix = conv != null ? conv + SEP + word : word
        return (conv != null ? this.peerWords : this.words).iterator({ gt: prefix + SEP, lt: prefix + END, reverse: true })
      })
    )
    const hits: SearchHit[] = []
    const seen = new Set<string>()
    try {
      for (let examined = 0; hits.length < limit && examined < MAX_SEARCH_CANDIDATES; ) {
        const batch: string[] = []
        while (batch.length < 64) {
          const key = await postings.next()
          if (key == null) break
          if (seen.has(key)) continue
          seen.add(key)
          batch.push(key)
        }
        if (batch.length === 0) break
        examined += batch.length
        const messages = await this.messages.getMany(batch)
        const voice = this.voice != null && messages.some((m) => m?.kind === 'voice') ? await this.voice.getMany(batch) : []
        for (const [i, m] of messages.entries()) {
          if (m == null || isDamaged(m)) continue
          const said = m.kind === 'voice' ? (voice[i]?.transcript.text ?? '') : undefined
          const text = said ?? m.text
          if (others.length > 0 && !matchesAll(tokenize(text), others)) continue
          hits.push({
            id: m.id,
            peer: m.peer,
            text,
            timestamp: m.timestamp,
            direction: m.direction,
            ...(m.group != null ? { group: m.group } : {}),
            ...(said != null ? { kind: 'voice' as const } : {})
          })
          if (hits.length >= limit) break
        }
      }
    } finally {
      await postings.close()
    }
    return hits
  }
}

type PostingIterator = ReturnType<Sub<string>['iterator']>

/** Merges several newest-first posting iterators into one newest-first stream of message keys. */
class NewestFirst {
  private readonly sources: Array<{ it: PostingIterator; buf: Array<[string, string]>; done: boolean }>

  constructor(iterators: PostingIterator[]) {
    this.sources = iterators.map((it) => ({ it, buf: [], done: false }))
  }

  /** The next entry key (`conv!seq`), newest first, or undefined at the end. */
  async next(): Promise<string | undefined> {
    let best: (typeof this.sources)[number] | undefined
    for (const s of this.sources) {
      if (s.buf.length === 0 && !s.done) {
        s.buf = (await s.it.nextv(32)) as Array<[string, string]>
        if (s.buf.length === 0) s.done = true
      }
      if (s.buf.length > 0 && (best == null || seqPart(s.buf[0][0]) > seqPart(best.buf[0][0]))) best = s
    }
    return best?.buf.shift()?.[1]
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.it.close()))
  }
}

/** The seq at the end of a posting key (`word!seq` or `conv!word!seq`). */
function seqPart(postingKey: string): string {
  return postingKey.slice(postingKey.lastIndexOf(SEP) + 1)
}
