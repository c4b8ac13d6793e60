/** LAN discovery that follows the node's visibility while it runs. */
import {
  type PeerDiscovery,
  type PeerDiscoveryEvents,
  peerDiscoverySymbol,
  serviceCapabilities,
  type Startable
} from '@libp2p/interface'
import { type MdnsComponents, MdnsDiscovery, type MdnsInit } from './mdns.ts'
import { TypedEventEmitter } from 'main-event'

/**
 * What mDNS does: `off` sends nothing at all (a hidden node is silent on the LAN), `ask` queries for p2pnode nodes
 * but answers nobody (contacts-only: it finds its contacts, strangers never hear of it), `ask-and-answer` both.
 */
export type MdnsMode = 'off' | 'ask' | 'ask-and-answer'

/** The parts of the mDNS service used here. */
type InnerMdns = PeerDiscovery & Startable & Pick<MdnsDiscovery, 'setBroadcast'>

/**
 * p2pnode's mDNS service, switchable at run time: `broadcast` only stops answers and announcements (saying
 * goodbye), while queries go on; here `off` stops the service (goodbye said, socket closed), and it starts again on
 * demand.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ services: { mdns: switchableMdns({ serviceTag: '_p2pnode._udp.local' }, 'ask') } })
 * await (node.services.mdns as SwitchableMdns).setMode('off')
 * ```
 */
export class SwitchableMdns extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  readonly [peerDiscoverySymbol] = this
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']
  readonly [Symbol.toStringTag] = 'p2pnode:switchable-mdns'
  private readonly inner: InnerMdns
  private started = false
  private current: MdnsMode
  /** Mode changes and start/stop, one at a time. */
  private queue: Promise<void> = Promise.resolve()

  constructor(inner: InnerMdns, mode: MdnsMode) {
    super()
    this.inner = inner
    this.current = mode
    inner.addEventListener('peer', (evt) => this.safeDispatchEvent('peer', { detail: evt.detail }))
  }

  async start(): Promise<void> {
    await this.serially(async () => {
      this.started = true
      await this.apply()
    })
  }

  async stop(): Promise<void> {
    await this.serially(async () => {
      this.started = false
      await this.inner.stop()
    })
  }

  /** Switch now; takes effect at once while the node runs, else when it starts. */
  async setMode(mode: MdnsMode): Promise<void> {
    await this.serially(async () => {
      this.current = mode
      if (this.started) await this.apply()
    })
  }

  private async apply(): Promise<void> {
    await this.inner.setBroadcast(this.current === 'ask-and-answer')
    if (this.current === 'off') await this.inner.stop()
    else await this.inner.start()
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => {})
    return run
  }
}

/** A libp2p service factory: p2pnode's mDNS with `init`, in `mode` to begin with. */
export function switchableMdns(init: MdnsInit, mode: MdnsMode): (components: MdnsComponents) => SwitchableMdns {
  return (components) => new SwitchableMdns(new MdnsDiscovery(components, { ...init, broadcast: mode === 'ask-and-answer' }), mode)
}
