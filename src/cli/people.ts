import { createReadStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { ContactInfo, Visibility } from '../api/types.ts'
import { type CommonOptions, show, withApi } from './commands.ts'
import { displayText, formatTime, out, padEnd, shortId, width } from './output.ts'

/** Commands for contacts, visibility, blocking, search and export: each parse → one API call → format. */

export async function contactsList(options: CommonOptions): Promise<void> {
  const { contacts, tampered } = await withApi(options, (api) => api.contacts())
  for (const t of tampered) {
    out.notice(`warning: a contact record (${t.key.slice(0, 12)}…) failed its integrity check and was ignored`)
  }
  show(options, contacts, (list) =>
    list.length === 0 ? 'no contacts yet (add one with: p2pnode contacts add <peer> --name NAME)' : formatContacts(list)
  )
}

function formatContacts(list: ContactInfo[]): string {
  const columns = Math.max(4, ...list.map((c) => width(c.name)))
  return list
    .map((c) => {
      const flags = [c.blocked ? 'blocked' : '', c.muted ? 'muted' : '', c.connected ? '' : 'offline'].filter(Boolean)
      const also = c.peerName != null && c.peerName !== c.name ? ` (calls itself ${c.peerName})` : ''
      return `${c.connected ? '●' : '○'} ${padEnd(c.name || '-', columns)}  ${c.peerId}${also}${flags.length > 0 ? `  [${flags.join(', ')}]` : ''}`
    })
    .join('\n')
}

export async function contactsAdd(peer: string, options: CommonOptions & { name?: string }): Promise<void> {
  const c = await withApi(options, (api) => api.addContact(peer, { name: options.name }))
  show(options, c, (v) => `added ${v.name || '(no name yet)'} ${v.peerId}`)
}

export async function contactsRename(peer: string, name: string, options: CommonOptions): Promise<void> {
  const c = await withApi(options, (api) => api.renameContact(peer, name))
  show(options, c, (v) => `renamed ${v.peerId} to ${v.name}`)
}

export async function contactsRemove(peer: string, options: CommonOptions): Promise<void> {
  const s = await withApi(options, (api) => api.removeContact(peer))
  show(options, s, (v) => `removed ${v.name || shortId(v.peerId)} from contacts (messages are kept)`)
}

export async function verifyCommand(peer: string, options: CommonOptions): Promise<void> {
  const v = await withApi(options, (api) => api.verify(peer))
  show(options, v, (r) =>
    [
      `safety number with ${r.name || shortId(r.peerId)} (${r.peerId}):`,
      '',
      `    ${r.safetyNumber}`,
      '',
      `Ask ${r.name || 'them'} to run "p2pnode verify" for you and compare, in person or on a call.`,
      'The same number on both sides means nobody sits between you.'
    ].join('\n')
  )
}

export async function visibilityCommand(level: string | undefined, options: CommonOptions): Promise<void> {
  const v = await withApi(options, (api) => level == null ? api.visibility() : api.setVisibility(level as Visibility))
  const meaning: Record<Visibility, string> = {
    everyone: 'discoverable on the LAN; anyone not blocked may connect',
    contacts: 'not discoverable; only contacts may connect',
    hidden: 'not discoverable; no connections; your messages wait until you switch back'
  }
  show(options, v, (r) => `visibility: ${r.visibility} (${meaning[r.visibility]})`)
}

export async function peerStateCommand(
  peer: string,
  change: { blocked?: boolean; muted?: boolean },
  options: CommonOptions
): Promise<void> {
  const s = await withApi(options, (api) => api.setPeerState(peer, change))
  const verb =
    change.blocked != null ? (change.blocked ? 'blocked' : 'unblocked') : change.muted ? 'muted' : 'unmuted'
  show(options, s, (v) => `${verb} ${v.name || shortId(v.peerId)} ${v.peerId}`)
}

export async function blockedCommand(options: CommonOptions): Promise<void> {
  const list = await withApi(options, (api) => api.blocked())
  const columns = Math.max(4, ...list.map((p) => width(p.name)))
  show(options, list, (l) =>
    l.length === 0
      ? 'nobody is blocked'
      : l.map((p) => `${padEnd(p.name || '-', columns)}  ${p.peerId}${p.contact ? '  [contact]' : ''}`).join('\n')
  )
}

export async function searchCommand(
  query: string,
  options: CommonOptions & { peer?: string; limit?: number }
): Promise<void> {
  const [hits, peers] = await withApi(options, (api) =>
    Promise.all([
      api.search(query, { peer: options.peer, limit: options.limit }),
      options.json === true ? [] : api.peers()
    ])
  )
  const names = new Map(peers.map((p) => [p.peerId, p.name]))
  show(options, hits, (list) =>
    list.length === 0
      ? `nothing found for "${query}"`
      : list
          .map((h) => {
            const who = names.get(h.peer) || shortId(h.peer)
            const said = h.kind === 'voice' ? `🎤 voice note: "${displayText(h.text)}"` : displayText(h.text)
            return `${formatTime(h.timestamp)}  ${h.direction === 'in' ? `${who} → me` : `me → ${who}`}: ${said}`
          })
          .join('\n')
  )
}

export async function exportCommand(options: CommonOptions & { out?: string; anonymize?: boolean }): Promise<void> {
  if (options.out == null) {
    // To stdout: the node writes into a private temp dir, we copy it out and remove it.
    const dir = await mkdtemp(join(tmpdir(), 'p2pnode-export-'))
    try {
      const res = await withApi(options, (api) =>
        api.export({ out: join(dir, 'export.jsonl'), anonymize: options.anonymize === true })
      )
      try {
        await pipeline(createReadStream(res.out), process.stdout, { end: false })
      } catch (err) {
        // The reader went away (export | head): stop quietly, as Unix tools do.
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') return
        throw err
      }
      out.notice(await readFile(res.card, 'utf8'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    return
  }
  const target = resolve(options.out)
  const res = await withApi(options, (api) => api.export({ out: target, anonymize: options.anonymize === true }))
  show(options, res, (r) =>
    `wrote ${r.messages} messages${r.anonymized ? ' (anonymized)' : ''} to ${r.out}\ndata card: ${r.card}`
  )
}
