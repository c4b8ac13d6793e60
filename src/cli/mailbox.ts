import type { MailboxStatus } from '../api/mailbox.ts'
import { type CommonOptions, show, withApi } from './commands.ts'
import { formatTime, shortId } from './output.ts'

/** `p2pnode mailbox [set <peer> | rm]`: each parse → one API call → format. */

export async function mailboxCommand(options: CommonOptions): Promise<void> {
  show(options, await withApi(options, (api) => api.mailbox()), formatMailbox)
}

export async function mailboxSet(peer: string, options: CommonOptions): Promise<void> {
  show(options, await withApi(options, (api) => api.setMailbox(peer)), formatMailbox)
}

export async function mailboxRemove(options: CommonOptions): Promise<void> {
  show(options, await withApi(options, (api) => api.removeMailbox()), formatMailbox)
}

function formatMailbox(s: MailboxStatus): string {
  const lines: string[] = []
  const m = s.mailbox
  if (m == null) {
    lines.push('mailbox: none (messages to you wait on your contacts\' side while you are away; p2pnode mailbox set <peer>)')
  } else {
    const collected =
      m.lastCollect == null
        ? 'not collected yet'
        : m.error != null
          ? `last collect failed ${formatTime(m.lastCollect)}: ${m.error}`
          : `last collected ${formatTime(m.lastCollect)} (${m.collected ?? 0} envelopes)`
    lines.push(`mailbox: ${m.name || shortId(m.peerId)} ${m.peerId} (${m.connected ? 'connected' : 'not connected'}; ${collected})`)
  }
  if (s.service != null) {
    const days = Math.round((s.service.ttlMs / 86_400_000) * 10) / 10
    lines.push(`serving as a mailbox for ${s.service.owners} peers (held up to ${days} days)`)
  }
  for (const c of s.contacts) {
    const waiting = c.waiting === 0 ? '' : `; ${c.waiting} of your messages wait, ${c.deposited} of them at its mailbox`
    lines.push(`  ${c.name || shortId(c.peerId)} uses ${shortId(c.mailbox)}${waiting}`)
  }
  return lines.join('\n')
}
