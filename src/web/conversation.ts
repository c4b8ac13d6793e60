// One conversation: its messages (paged back), files inline, the composer and uploads.
import type { FileInfo } from '../api/files.ts'
import type { HistoryEntry } from '../api/types.ts'
import { api, upload, uploadVoice } from './api.ts'
import { $, el, formatSize, formatTime } from './dom.ts'
import { clockOf, MAX_RECORD_MS, Recording, voiceBody } from './voice.ts'

/** Messages per page, when opening and when scrolling back. */
const PAGE = 50

const INLINE_IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp)$/i
const INLINE_AUDIO = /\.(mp3|ogg|oga|opus|wav|flac|m4a|aac)$/i
const INLINE_VIDEO = /\.(mp4|webm|ogv|mov|m4v)$/i

export interface ConversationHost {
  /** Report an error as the CLI does (message, then hint). */
  error(err: unknown): void
  /** Something changed (sent a message): refresh the list. */
  changed(): void
  /** The user chose to reply to this message (the composer shows it). */
  reply(entry: HistoryEntry): void
  /** The user clicked a picture: show it at full size. */
  view(src: string, name: string, opener: HTMLElement): void
}

/** A message in a line or two, for a list or a quote. */
export function snippet(m: HistoryEntry, max = 80): string {
  const text =
    m.kind === 'voice'
      ? `🎤 voice note${m.transcript?.status === 'done' ? `: ${m.transcript.text}` : ''}`
      : m.kind === 'file'
        ? `file: ${m.file?.name ?? ''}`
        : m.text.replace(/\s+/g, ' ').trim()
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** The open conversation with one peer. */
export class Conversation {
  readonly peer: string
  private readonly host: ConversationHost
  private readonly entries = new Map<string, HistoryEntry>()
  private readonly nodes = new Map<string, HTMLElement>()
  private transfers = new Map<string, FileInfo>()
  /** Quotes of messages not shown yet (an older page brings them): filled in when they come. */
  private readonly quotes = new Map<string, HTMLElement[]>()
  private oldest = Number.POSITIVE_INFINITY
  private closed = false
  private recording?: { rec: Recording; timer: ReturnType<typeof setInterval> }

  constructor(peer: string, host: ConversationHost) {
    this.peer = peer
    this.host = host
    $('message-list').replaceChildren()
    $('transfers').replaceChildren()
  }

  close(): void {
    this.closed = true
    void this.cancelRecording()
  }

  /** Start recording a voice note: the bar shows the elapsed time, Send and Cancel. */
  async record(): Promise<void> {
    if (this.recording != null) return
    const rec = await Recording.start()
    const bar = $('recorder')
    const elapsed = $('record-elapsed')
    const tick = () => {
      elapsed.textContent = clockOf(rec.elapsed())
      if (rec.elapsed() >= MAX_RECORD_MS) void this.sendRecording()
    }
    this.recording = { rec, timer: setInterval(tick, 250) }
    tick()
    bar.hidden = false
    $('record').hidden = true
  }

  /** Stop and send the recording (as send-voice does: the node decodes it, sends it and transcribes it). */
  async sendRecording(): Promise<void> {
    const r = this.endRecording()
    if (r == null) return
    const file = await r.finish()
    const bar = el('progress', { max: String(file.size || 1), value: '0', 'aria-label': 'Sending the voice note' })
    const row = el('div', { class: 'upload' }, el('span', {}, `voice note (${formatSize(file.size)}) `), bar)
    $('transfers').append(row)
    try {
      await uploadVoice(this.peer, file, (sent) => (bar.value = sent))
      await this.refresh()
      this.host.changed()
    } catch (err) {
      this.host.error(err)
    } finally {
      row.remove()
    }
  }

  /** Throw the recording away: nothing is sent. */
  async cancelRecording(): Promise<void> {
    await this.endRecording()?.cancel()
  }

  private endRecording(): Recording | undefined {
    const r = this.recording
    if (r == null) return undefined
    this.recording = undefined
    clearInterval(r.timer)
    $('recorder').hidden = true
    $('record').hidden = false
    return r.rec
  }

  /** The newest page (first open, and each refresh): new messages appended, statuses updated. */
  async refresh(): Promise<void> {
    const [page, files] = await Promise.all([api.history(this.peer, { limit: PAGE }), api.files()])
    if (this.closed) return
    this.transfers = new Map(files.filter((f) => f.peer === this.peer).map((f) => [f.id, f]))
    const list = $('messages')
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
    const first = this.entries.size === 0
    this.merge(page)
    if (first) $('older').hidden = page.length < PAGE
    if (first || atBottom) list.scrollTop = list.scrollHeight
  }

  /** A message the node just told us about (the event stream): shown at once, without asking for the page. */
  add(entry: HistoryEntry): void {
    if (this.closed) return
    const list = $('messages')
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
    this.merge([entry])
    if (atBottom || entry.direction === 'out') list.scrollTop = list.scrollHeight
  }

  /** One page further back. */
  async older(): Promise<void> {
    const page = await api.history(this.peer, { limit: PAGE, before: this.oldest })
    if (this.closed) return
    const list = $('messages')
    const fromBottom = list.scrollHeight - list.scrollTop
    this.merge(page)
    $('older').hidden = page.length < PAGE
    list.scrollTop = list.scrollHeight - fromBottom
  }

  /** Page back until the message `id` (a search result, a quoted message) is shown, then scroll to it and focus it. */
  async reveal(id: string): Promise<void> {
    for (let i = 0; i < 40 && !this.entries.has(id) && !$('older').hidden; i++) await this.older()
    const node = this.nodes.get(id)
    if (node == null) return
    for (const other of $('message-list').querySelectorAll('.found')) other.classList.remove('found')
    node.classList.add('found')
    node.scrollIntoView({ block: 'center' })
    node.focus({ preventScroll: true })
  }

  /** Send a message, as a reply to `replyTo` (a message id) if given. */
  async send(text: string, replyTo?: string): Promise<void> {
    await api.send(this.peer, text, { replyTo, waitMs: 0 })
    await this.refresh()
    this.host.changed()
  }

  /** Stream each file to the node, with a progress bar, then it is offered as send-file does. */
  async attach(files: Iterable<File>): Promise<void> {
    for (const file of files) {
      const bar = el('progress', { max: String(file.size || 1), value: '0', 'aria-label': `Uploading ${file.name}` })
      const row = el('div', { class: 'upload' }, el('span', {}, `${file.name} (${formatSize(file.size)}) `), bar)
      $('transfers').append(row)
      try {
        await upload(this.peer, file, (sent) => (bar.value = sent))
        await this.refresh()
      } catch (err) {
        this.host.error(err)
      } finally {
        row.remove()
      }
    }
  }

  private merge(page: HistoryEntry[]): void {
    const list = $('message-list')
    for (const entry of page) {
      this.oldest = Math.min(this.oldest, entry.timestamp)
      const old = this.nodes.get(entry.id)
      // Unchanged (a refresh brings the whole page again): left as it is, so that focus and selection stay.
      const key = JSON.stringify([entry, this.transfers.get(entry.id) ?? null])
      if (old != null && old.dataset.key === key) continue
      const node = this.render(entry)
      node.dataset.key = key
      this.entries.set(entry.id, entry)
      this.nodes.set(entry.id, node)
      for (const quote of this.quotes.get(entry.id) ?? []) quote.textContent = `↪ ${snippet(entry)}`
      this.quotes.delete(entry.id)
      if (old != null) {
        // A control of the message that had the focus (its Reply, a file's Accept) keeps it in the new one.
        const focused = old.contains(document.activeElement) ? (document.activeElement as HTMLElement).className : undefined
        old.replaceWith(node)
        if (focused != null) ((focused !== '' ? node.querySelector<HTMLElement>(`.${focused.split(' ')[0]}`) : null) ?? node).focus()
        continue
      }
      // Keep time order: most arrive at the end, an older page goes before.
      let before: Element | null = null
      for (const child of list.children) {
        const ts = Number((child as HTMLElement).dataset.ts)
        if (ts > entry.timestamp) {
          before = child
          break
        }
      }
      list.insertBefore(node, before)
    }
  }

  private render(m: HistoryEntry): HTMLElement {
    if (m.kind === 'system') {
      // Something that happened in a group: a line of its own ("alice added dave").
      return el('li', { class: 'msg system', 'data-id': m.id, 'data-ts': String(m.timestamp), tabindex: '-1' }, el('p', { class: 'text' }, m.text))
    }
    // In a group: who sent it, and ours say how many members have it.
    const delivery = m.recipients != null ? `delivered to ${m.delivered ?? 0} of ${m.recipients}` : m.status
    const status = m.direction === 'out' ? el('span', { class: `status ${m.status}` }, delivery) : null
    const from = m.group != null && m.direction === 'in' ? el('strong', { class: 'from' }, m.fromName ?? '') : null
    const body =
      m.kind === 'voice'
        ? voiceBody(m, m.direction === 'out' || (this.transfers.get(m.id)?.status ?? m.file?.status) === 'complete')
        : m.kind === 'file' && m.file != null
          ? this.fileBody(m)
          : el('p', { class: 'text' }, m.text)
    const reply = el('button', { type: 'button', class: 'reply-to', 'aria-label': `Reply to ${snippet(m, 40)}` }, 'Reply')
    reply.addEventListener('click', () => this.host.reply(m))
    // Focusable from code (a quote or a search result leads here), not a tab stop of its own.
    return el(
      'li',
      { class: `msg ${m.direction}`, 'data-id': m.id, 'data-ts': String(m.timestamp), tabindex: '-1' },
      from,
      m.replyTo != null ? this.quote(m.replyTo) : null,
      body,
      el('footer', {}, el('time', { datetime: new Date(m.timestamp).toISOString() }, formatTime(m.timestamp)), ' ', status, ' ', reply)
    )
  }

  /** The message a reply answers, quoted: a click shows it (paging back as far as needed). */
  private quote(id: string): HTMLElement {
    const original = this.entries.get(id)
    const button = el('button', { type: 'button', class: 'quote', title: 'Show the message this replies to' }, `↪ ${original != null ? snippet(original) : 'an earlier message'}`)
    if (original == null) this.quotes.set(id, [...(this.quotes.get(id) ?? []), button])
    button.addEventListener('click', () => void this.reveal(id).catch((err: unknown) => this.host.error(err)))
    return el('blockquote', { class: 'reply' }, button)
  }

  private fileBody(m: HistoryEntry): HTMLElement {
    const file = m.file as NonNullable<HistoryEntry['file']>
    const t = this.transfers.get(m.id)
    const status = t?.status ?? file.status ?? ''
    const src = `/v1/files/${m.id}/content`
    const ready = m.direction === 'out' || status === 'complete'
    if (ready && INLINE_IMAGE.test(file.name)) {
      // A click shows it full size in the page; a middle or Ctrl click still opens it in a tab of its own.
      const link = el('a', { href: src, target: '_blank', rel: 'noopener', class: 'image', 'aria-haspopup': 'dialog' }, el('img', { src, alt: file.name, loading: 'lazy' }))
      link.addEventListener('click', (e) => {
        if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return
        e.preventDefault()
        this.host.view(src, file.name, link)
      })
      return link
    }
    if (ready && INLINE_AUDIO.test(file.name)) return el('figure', {}, el('audio', { src, controls: true, preload: 'metadata' }), el('figcaption', {}, file.name))
    if (ready && INLINE_VIDEO.test(file.name)) return el('figure', {}, el('video', { src, controls: true, preload: 'metadata' }), el('figcaption', {}, file.name))
    const card = el('div', { class: 'file-card' }, el('strong', {}, file.name), ` ${formatSize(file.size)} `, el('span', { class: 'file-status' }, status))
    if (ready) card.append(' ', el('a', { href: src, download: file.name }, 'Download'))
    if (t != null && (status === 'transferring' || status === 'offered' || status === 'waiting')) {
      card.append(el('progress', { max: String(t.size || 1), value: String(t.received), 'aria-label': `Transfer of ${file.name}` }))
      if (t.waitReason != null && t.direction === 'out') card.append(el('p', { class: 'hint' }, `waiting: ${t.waitReason}`))
      if (t.direction === 'in' && status !== 'transferring') card.append(this.action('Accept', () => api.accept(m.id)))
      card.append(this.action('Cancel', () => api.cancel(m.id)))
    }
    if (t?.error != null) card.append(el('p', { class: 'hint' }, t.error))
    return card
  }

  private action(label: string, fn: () => Promise<unknown>): HTMLButtonElement {
    const b = el('button', { type: 'button' }, label)
    b.addEventListener('click', () => {
      fn().then(
        () => this.refresh(),
        (err: unknown) => this.host.error(err)
      )
    })
    return b
  }
}
