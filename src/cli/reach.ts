/** `p2pnode invite` and `p2pnode relay add|rm|ls`: a few lines each over the API. */
import type { RelayInfo } from '../api/types.ts'
import { type CommonOptions, show, withApi } from './commands.ts'

export async function inviteCommand(options: CommonOptions): Promise<void> {
  const invite = await withApi(options, (api) => api.invite())
  show(options, invite, (v) => {
    const relayed = v.addrs.some((a) => a.includes('/p2p-circuit'))
    const note = relayed
      ? ''
      : '\n(no relay address in it: friends outside your network reach you only if one of these addresses is reachable; see p2pnode relay add)'
    return `${v.invite}${note}`
  })
}

function formatRelay(r: RelayInfo): string {
  const state = r.connected ? (r.circuitAddrs.length > 0 ? 'reserved' : 'connected, no reservation') : 'not connected'
  return [`${r.addr}  (${state})`, ...r.circuitAddrs.map((a) => `  reachable at ${a}`)].join('\n')
}

export async function relayList(options: CommonOptions): Promise<void> {
  const relays = await withApi(options, (api) => api.relays())
  show(options, relays, (list) =>
    list.length === 0 ? 'no relays (add one: p2pnode relay add /ip4/…/tcp/4001/p2p/<relay id>)' : list.map(formatRelay).join('\n')
  )
}

export async function relayAdd(addr: string, options: CommonOptions): Promise<void> {
  const relay = await withApi(options, (api) => api.addRelay(addr))
  show(options, relay, (r) => `relay added: ${formatRelay(r)}${r.connected ? '' : '\n(it is tried again and again until it answers)'}`)
}

export async function relayRemove(addr: string, options: CommonOptions): Promise<void> {
  const relay = await withApi(options, (api) => api.removeRelay(addr))
  show(options, relay, (r) => `relay removed: ${r.addr}`)
}
