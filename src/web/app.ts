// The web app: conversation list, the open conversation, search, contacts, this node. Plain DOM, no framework.
import type { ContactInfo, GroupInfo, HistoryEntry, IdInfo, PeerInfo, Visibility } from '../api/types.ts'
import { api, ApiError } from './api.ts'
import { Conversation, snippet } from './conversation.ts'
import { $, el, formatTime, shortId } from './dom.ts'

/** Without the node's event stream (not connected yet, or cut off), the page asks this often. */
const POLL_MS = 1000
/** With the event stream, a slow check all the same (a missed event cannot leave the page wrong for long). */
const SLOW_POLL_MS = 15_000

interface Row {
  /** A peer id, or `#<group id>` for a group. */
  peerId: string
  name: string
  connected: boolean
  contact?: ContactInfo
  last?: { text: string; timestamp: number }
  /** When the recent incoming messages were sent: unread ones are counted as the list is drawn. */
  incoming: number[]
  group?: GroupInfo
}

let me: IdInfo | undefined
let rows: Row[] = []
let open: Conversation | undefined
let online = false
/** The message the composer's next message replies to. */
let replyingTo: HistoryEntry | undefined

const readKey = (peer: string) => `p2pnode.read.${peer}`
const lastRead = (peer: string) => Number(localStorage.getItem(readKey(peer)) ?? 0)

let bannerTimer: ReturnType<typeof setTimeout> | undefined

function banner(text: string | undefined, kind: 'error' | 'offline' | 'info' = 'error'): void {
  const b = $('banner')
  clearTimeout(bannerTimer)
  // A confirmation goes by itself; an error stays until the next thing works.
  if (kind === 'info') bannerTimer = setTimeout(() => banner(undefined), 3000)
  b.hidden = text == null
  b.className = kind
  b.textContent = text ?? ''
}

const UNREACHABLE = 'Cannot reach the node (stopped, or the connection broke): reconnecting… If it stopped, start it with p2pnode start.'

/** An API error as the CLI prints it: `error: ...`, then `hint: ...`. */
function showError(err: unknown): void {
  if (err instanceof ApiError && err.status === 401) {
    banner('Not signed in: run p2pnode web in a terminal and open the link it prints.')
    return
  }
  if (err instanceof ApiError && err.code === 'NO_NODE') {
    online = false
    banner(UNREACHABLE, 'offline')
    return
  }
  const e = err as ApiError
  banner(`error: ${e.message}${e.hint != null ? `\nhint: ${e.hint}` : ''}`)
}

function label(name: string, peerId: string): string {
  return name !== '' ? name : shortId(peerId)
}

async function loadRows(): Promise<void> {
  const [peers, { contacts }, groups] = await Promise.all([api.peers(), api.contacts(), api.groups()])
  const byId = new Map<string, Row>()
  const add = (p: PeerInfo) => byId.set(p.peerId, { peerId: p.peerId, name: label(p.name, p.peerId), connected: p.connected, incoming: [] })
  for (const p of peers) add(p)
  for (const c of contacts) {
    const row = byId.get(c.peerId) ?? { peerId: c.peerId, name: '', connected: c.connected, incoming: [] }
    row.name = label(c.name, c.peerId)
    row.contact = c
    byId.set(c.peerId, row)
  }
  // Groups are conversations too, listed with the others (`#name`).
  for (const g of groups) {
    byId.set(`#${g.id}`, { peerId: `#${g.id}`, name: `#${g.name}`, connected: false, incoming: [], group: g })
  }
  const next = [...byId.values()]
  await Promise.all(
    next.map(async (row) => {
      const recent = await api.history(row.peerId, { limit: 20 }).catch(() => [])
      const last = recent.at(-1)
      if (last != null) {
        const text = last.kind === 'voice' ? '🎤 voice note' : last.kind === 'file' ? `file: ${last.file?.name ?? ''}` : last.text
        row.last = { text: row.group != null && last.kind !== 'system' ? `${last.fromName ?? ''}: ${text}` : text, timestamp: last.timestamp }
      }
      row.incoming = recent.filter((m) => m.direction === 'in').map((m) => m.timestamp)
    })
  )
  // Those you chatted with or who are here; newest conversation first.
  rows = next
    .filter((r) => r.last != null || r.connected || r.contact != null || r.group != null)
    .sort((a, b) => (b.last?.timestamp ?? 0) - (a.last?.timestamp ?? 0) || a.name.localeCompare(b.name))
  renderRows()
}

/** Unread: not the open conversation, and sent after it was last read (counted now, not when the rows were loaded:
 * a load that started before a conversation was opened must not count it unread once it is open). */
function unreadOf(r: Row): number {
  if (open?.peer === r.peerId) return 0
  const read = lastRead(r.peerId)
  return r.incoming.filter((t) => t > read).length
}

function renderRows(): void {
  const list = $('conversations')
  // A redraw replaces the buttons: the one that had the focus gives it to its successor (else it would fall to
  // the page's body, and a keyboard user would start again from the top).
  const active = document.activeElement
  const focusedPeer = active instanceof HTMLElement && list.contains(active) ? active.dataset.peer : undefined
  list.replaceChildren(
    ...rows.map((r) => {
      const unread = unreadOf(r)
      const button = el(
        'button',
        { type: 'button', class: 'conv', 'aria-current': open?.peer === r.peerId ? 'true' : undefined, 'data-peer': r.peerId },
        r.group != null
          ? el('span', { class: 'dot group', role: 'img', 'aria-label': 'group' })
          : el('span', { class: r.connected ? 'dot on' : 'dot', role: 'img', 'aria-label': r.connected ? 'online' : 'offline' }),
        el('span', { class: 'name' }, r.name),
        unread > 0 ? el('span', { class: 'unread', 'aria-label': `${unread} unread` }, String(unread)) : null,
        el('span', { class: 'preview' }, r.last?.text.slice(0, 80) ?? (r.connected ? 'here now' : '')),
        r.last != null ? el('time', {}, formatTime(r.last.timestamp)) : null
      )
      button.addEventListener('click', () => void openConversation(r.peerId))
      return el('li', {}, button)
    })
  )
  if (focusedPeer != null) list.querySelector<HTMLElement>(`button[data-peer="${CSS.escape(focusedPeer)}"]`)?.focus()
  $('no-conversations').hidden = rows.length > 0
  if (open != null) renderHead(open.peer)
}

function renderHead(peer: string): void {
  const row = rows.find((r) => r.peerId === peer)
  $('peer-name').textContent = row?.name ?? shortId(peer)
  const group = row?.group
  // A group: its members; the peer actions are for one peer.
  $('peer-status').textContent =
    group != null ? `${group.members.length} members: ${group.members.map((m) => m.name).join(', ')}` : row?.connected === true ? 'online' : 'offline'
  $('peer-actions').hidden = group != null || peer.startsWith('#')
  const c = row?.contact
  $('add-contact').hidden = c != null
  $('remove-contact').hidden = c == null
  $('block').textContent = c?.blocked === true ? 'Unblock' : 'Block'
  $('mute').textContent = c?.muted === true ? 'Unmute' : 'Mute'
}

/** The composer replies to `entry` (shown above it, with a cancel), or to nothing. */
function replyTo(entry: HistoryEntry | undefined): void {
  replyingTo = entry
  $('replying').hidden = entry == null
  $('replying-text').textContent = entry != null ? `Replying to: ${snippet(entry)}` : ''
  if (entry != null) $<HTMLTextAreaElement>('message').focus()
}

/** A picture at its natural size in a dialog (Escape or Close closes it; the focus goes back where it was). */
function view(src: string, name: string, opener: HTMLElement): void {
  const dialog = $<HTMLDialogElement>('viewer')
  $('viewer-name').textContent = name
  $<HTMLImageElement>('viewer-img').src = src
  $<HTMLImageElement>('viewer-img').alt = name
  $<HTMLAnchorElement>('viewer-open').href = src
  dialog.addEventListener('close', () => opener.focus(), { once: true })
  dialog.showModal()
  $('viewer-close').focus()
}

async function openConversation(peer: string, at?: string): Promise<void> {
  open?.close()
  replyTo(undefined)
  open = new Conversation(peer, { error: showError, changed: () => void loadRows().catch(showError), reply: replyTo, view })
  $('no-chat').hidden = true
  $('conversation').hidden = false
  $('safety').hidden = true
  renderHead(peer)
  renderRows()
  try {
    await open.refresh()
    if (at != null) await open.reveal(at)
  } catch (err) {
    showError(err)
  }
  localStorage.setItem(readKey(peer), String(Date.now()))
  // Opened at a message (a search result): the focus is on it (reveal); else in the message box.
  if (at == null) $<HTMLTextAreaElement>('message').focus()
}

let busy = false

async function tick(): Promise<void> {
  if (busy) return
  busy = true
  try {
    if (!online) {
      me = await api.id()
      online = true
      banner(undefined)
      renderMe()
    }
    // A stream the node refused or ended for good (a 401, a restart) is not retried by EventSource: start anew.
    if (source == null || source.readyState === EventSource.CLOSED) follow()
    await loadRows()
    if (open != null) {
      await open.refresh()
      if (document.hasFocus()) localStorage.setItem(readKey(open.peer), String(Date.now()))
    }
  } catch (err) {
    showError(err)
  } finally {
    busy = false
  }
}

function renderMe(): void {
  if (me == null) return
  $('my-name').textContent = me.name
  $('my-addrs').replaceChildren(
    ...me.addrs.map((a) => {
      const copy = el('button', { type: 'button', 'aria-label': `Copy address ${a}` }, 'Copy')
      copy.addEventListener('click', () => copyText(a, 'Address copied'))
      return el('li', {}, el('code', {}, a), copy)
    })
  )
  void api.visibility().then((v) => ($<HTMLSelectElement>('visibility').value = v.visibility), showError)
}

function copyText(text: string, done: string): void {
  navigator.clipboard.writeText(text).then(() => banner(done, 'info'), showError)
}

/** Run a peer action from the header, then show what changed. */
function peerAction(id: string, fn: (peer: string, row: Row | undefined) => Promise<unknown>): void {
  $(id).addEventListener('click', () => {
    if (open == null) return
    const peer = open.peer
    fn(peer, rows.find((r) => r.peerId === peer))
      .then(() => loadRows())
      .then(() => banner(undefined), showError)
  })
}

function wire(): void {
  const message = $<HTMLTextAreaElement>('message')
  const submit = () => {
    const text = message.value
    if (open == null || text.trim() === '') return
    const answering = replyingTo
    message.value = ''
    replyTo(undefined)
    open.send(text, answering?.id).catch((err: unknown) => {
      message.value = text
      if (answering != null) replyTo(answering)
      showError(err)
    })
  }
  message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      submit()
    } else if (e.key === 'Escape' && replyingTo != null) {
      e.preventDefault()
      replyTo(undefined)
    }
  })
  $('cancel-reply').addEventListener('click', () => {
    replyTo(undefined)
    message.focus()
  })
  $('viewer-close').addEventListener('click', () => $<HTMLDialogElement>('viewer').close())
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault()
    submit()
  })
  message.addEventListener('paste', (e) => {
    const files = e.clipboardData?.files
    if (open != null && files != null && files.length > 0) {
      e.preventDefault()
      void open.attach(files)
    }
  })
  const input = $<HTMLInputElement>('file-input')
  $('attach').addEventListener('click', () => input.click())
  $('record').addEventListener('click', () => void open?.record().catch(showError))
  $('record-send').addEventListener('click', () => void open?.sendRecording())
  $('record-cancel').addEventListener('click', () => void open?.cancelRecording())
  input.addEventListener('change', () => {
    if (open != null && input.files != null) void open.attach([...input.files])
    input.value = ''
  })
  const chat = $('chat')
  chat.addEventListener('dragover', (e) => {
    e.preventDefault()
    chat.classList.add('drop')
  })
  chat.addEventListener('dragleave', () => chat.classList.remove('drop'))
  chat.addEventListener('drop', (e) => {
    e.preventDefault()
    chat.classList.remove('drop')
    if (open != null && e.dataTransfer != null) void open.attach([...e.dataTransfer.files])
  })
  $('older').addEventListener('click', () => void open?.older().catch(showError))

  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault()
    void search($<HTMLInputElement>('search').value)
  })
  $('dial-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const addr = $<HTMLInputElement>('dial').value.trim()
    if (addr === '') return
    api
      .dial(addr)
      .then(async (res) => {
        $<HTMLInputElement>('dial').value = ''
        await loadRows()
        await openConversation(res.peerId)
      })
      .catch(showError)
  })
  $('visibility').addEventListener('change', () => {
    const v = $<HTMLSelectElement>('visibility').value as Visibility
    api.setVisibility(v).then(() => banner(`Visibility: ${v}`, 'info'), showError)
  })
  $('copy-id').addEventListener('click', () => {
    if (me != null) copyText(me.peerId, 'Peer id copied')
  })
  $('add-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const peer = $<HTMLInputElement>('add-peer').value.trim()
    const name = $<HTMLInputElement>('add-name').value.trim()
    if (peer === '') return
    // A multiaddr without /p2p/ is dialled by the node to learn whose it is.
    api
      .addContact(peer, name !== '' ? { name } : {})
      .then(async (c) => {
        $<HTMLInputElement>('add-peer').value = ''
        $<HTMLInputElement>('add-name').value = ''
        await loadRows()
        banner(`${c.name !== '' ? c.name : shortId(c.peerId)} is a contact`, 'info')
      })
      .catch(showError)
  })

  peerAction('add-contact', (peer) => api.addContact(peer))
  peerAction('remove-contact', (peer) => api.removeContact(peer))
  peerAction('rename', async (peer, row) => {
    const name = window.prompt('Your name for this contact', row?.name ?? '')
    if (name == null || name.trim() === '') return
    if (row?.contact == null) await api.addContact(peer, { name: name.trim() })
    else await api.renameContact(peer, name.trim())
  })
  peerAction('block', (peer, row) => api.setPeerState(peer, { blocked: row?.contact?.blocked !== true }))
  peerAction('mute', (peer, row) => api.setPeerState(peer, { muted: row?.contact?.muted !== true }))
  peerAction('verify', async (peer) => {
    const v = await api.verify(peer)
    const p = $('safety')
    p.hidden = false
    p.textContent = `Safety number with ${v.name}: ${v.safetyNumber} (the same on both ends: compare it in person or on a call)`
  })
}

async function search(q: string): Promise<void> {
  const box = $('search-results')
  if (q.trim() === '') {
    box.hidden = true
    return
  }
  try {
    const results = await api.search(q, { limit: 50 })
    box.hidden = false
    const name = (peer: string) => rows.find((r) => r.peerId === peer)?.name ?? shortId(peer)
    box.replaceChildren(
      el('h3', {}, results.length === 0 ? `Nothing found for “${q}”` : `${results.length} found`),
      el(
        'ul',
        {},
        ...results.map((r) => {
          const b = el('button', { type: 'button', class: 'result' }, el('strong', {}, name(r.peer)), ' ', r.kind === 'voice' ? el('span', { class: 'said' }, '🎤 voice note: ') : null, el('span', {}, r.text), ' ', el('time', {}, formatTime(r.timestamp)))
          b.addEventListener('click', () => void openConversation(r.group != null ? `#${r.group}` : r.peer, r.id))
          return el('li', {}, b)
        })
      )
    )
  } catch (err) {
    showError(err)
  }
}

/** Run `fn` once soon, however many events ask for it meanwhile. */
function debounce(fn: () => Promise<void>, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    if (timer != null) return
    timer = setTimeout(() => {
      timer = undefined
      fn().catch(showError)
    }, ms)
  }
}

let live = false
let lastTick = 0
/** The last event seen: a stream opened anew (not by the browser's own reconnect) asks for what came after it. */
let lastEventId: string | undefined

/**
 * Live updates from GET /v1/events: a message for the open conversation goes into the page at once; anything
 * else reloads what it touches, a little later. EventSource reconnects by itself and sends Last-Event-ID, so what
 * happened meanwhile is replayed (or a resync event says to reload everything).
 */
let source: EventSource | undefined

function follow(): void {
  const events = new EventSource(lastEventId != null ? `/v1/events?lastEventId=${encodeURIComponent(lastEventId)}` : '/v1/events')
  source = events
  const rowsSoon = debounce(loadRows, 150)
  const conversationSoon = debounce(async () => open?.refresh(), 150)
  const on = (type: string, fn: (data: Record<string, unknown>) => void) =>
    events.addEventListener(type, (e) => {
      const id = (e as MessageEvent<string>).lastEventId
      if (id !== '') lastEventId = id
      try {
        fn(JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>)
      } catch (err) {
        showError(err)
      }
    })
  events.onopen = () => {
    live = true
    // Back: what was missed meanwhile is replayed on this stream (or a resync reloads it).
    if ($('banner').className === 'offline') banner(undefined)
  }
  events.onerror = () => {
    live = false
    // The browser tries again by itself (CONNECTING); a stream it gave up on (CLOSED) is opened anew by tick().
    banner(UNREACHABLE, 'offline')
  }
  on('message', (data) => {
    const m = data.message as HistoryEntry
    const peer = m.direction === 'in' ? m.from : m.to
    if (open?.peer === peer) {
      open.add(m)
      if (document.hasFocus()) localStorage.setItem(readKey(peer), String(Date.now()))
    }
    rowsSoon()
  })
  on('group-message', (data) => {
    const m = data.message as HistoryEntry
    if (open?.peer === `#${m.group ?? ''}`) {
      open.add(m)
      if (document.hasFocus()) localStorage.setItem(readKey(open.peer), String(Date.now()))
    }
    rowsSoon()
  })
  on('group-status', (data) => {
    if (open?.peer === `#${String(data.group)}`) conversationSoon()
  })
  on('group', () => {
    rowsSoon()
    conversationSoon()
  })
  on('status', (data) => {
    if (open?.peer === data.peer) conversationSoon()
  })
  for (const type of ['transfer', 'progress', 'transcript']) on(type, () => conversationSoon())
  for (const type of ['peer', 'renamed', 'peer-state']) on(type, () => rowsSoon())
  on('visibility', (data) => ($<HTMLSelectElement>('visibility').value = String(data.visibility)))
  on('resync', () => {
    rowsSoon()
    conversationSoon()
  })
}

wire()
void tick()
setInterval(() => {
  const now = Date.now()
  if (live && now - lastTick < SLOW_POLL_MS) return
  lastTick = now
  void tick()
}, POLL_MS)
