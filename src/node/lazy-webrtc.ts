/**
 * The WebRTC transport, loaded when first used. @libp2p/webrtc brings node-datachannel (a native library) and a
 * WebCrypto and X.509 stack: ~13 MB of an idle node's resident memory (130 → 117 MB measured), while a node only
 * uses WebRTC through a relay, which is opt-in (`--relay`, an invite with a relay address). Until then this stands
 * in for it: it claims the same addresses, answers the signaling protocol, and loads the real transport on the
 * first dial, the first signaling stream from a peer, or a `/webrtc` listen address.
 */
import {
  type AbortOptions,
  type Connection,
  type CreateListenerOptions,
  type DialTransportOptions,
  type Listener,
  type Startable,
  type Stream,
  serviceCapabilities,
  serviceDependencies,
  type Transport,
  transportSymbol
} from '@libp2p/interface'
import type { WebRTCTransportComponents, WebRTCTransportInit } from '@libp2p/webrtc'
import type { Multiaddr } from '@multiformats/multiaddr'
import { WebRTC } from '@multiformats/multiaddr-matcher'

/** @libp2p/webrtc's signaling protocol (SDP and ICE candidates over a relayed stream; its constants.ts). */
export const SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'

/** What @libp2p/webrtc needs, and the listen addresses (to load it at start for a /webrtc one). */
export type LazyWebRTCComponents = WebRTCTransportComponents & { addressManager: { getListenAddrs(): Multiaddr[] } }

type RealTransport = Transport & Startable

export class LazyWebRTC implements Transport, Startable {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@libp2p/webrtc'
  // The same as @libp2p/webrtc's, so that libp2p orders and checks the services as it would for the real one.
  readonly [serviceCapabilities] = ['@libp2p/transport']
  readonly [serviceDependencies] = ['@libp2p/identify', '@libp2p/circuit-relay-v2-transport']

  private readonly components: LazyWebRTCComponents
  private readonly init: WebRTCTransportInit
  private real: Promise<RealTransport> | undefined
  private loadedTransport: RealTransport | undefined
  private started = false
  /** Whether our signaling handler is the registered one (started, the real transport not loaded). */
  private standingIn = false

  constructor(components: LazyWebRTCComponents, init: WebRTCTransportInit) {
    this.components = components
    this.init = init
  }

  /** Whether the real transport is loaded and (if we are started) holds the signaling protocol. */
  get loaded(): boolean {
    return this.loadedTransport != null
  }

  async start(): Promise<void> {
    this.started = true
    // A /webrtc listen address needs the real listener when libp2p listens, right after the transports start.
    if (this.components.addressManager.getListenAddrs().some((a) => WebRTC.exactMatch(a))) {
      await this.load()
      return
    }
    await this.components.registrar.handle(
      SIGNALING_PROTOCOL,
      (stream, connection) => void this.onSignaling(stream, connection),
      { runOnLimitedConnection: true }
    )
    this.standingIn = true
  }

  async stop(): Promise<void> {
    this.started = false
    if (this.standingIn) {
      this.standingIn = false
      await this.components.registrar.unhandle(SIGNALING_PROTOCOL)
    }
    if (this.real != null) await (await this.real).stop()
  }

  listenFilter(multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter((a) => WebRTC.exactMatch(a))
  }

  dialFilter(multiaddrs: Multiaddr[]): Multiaddr[] {
    return this.listenFilter(multiaddrs)
  }

  async dial(ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    return (await this.load(options)).dial(ma, options)
  }

  createListener(options: CreateListenerOptions): Listener {
    // Only reached for a /webrtc listen address, which start() loaded the transport for.
    if (this.loadedTransport == null) throw new Error('the WebRTC transport is not loaded: listen on /webrtc from the start')
    return this.loadedTransport.createListener(options)
  }

  /** The first signaling stream: load, then hand it to the handler the real transport registered. */
  private async onSignaling(stream: Stream, connection: Connection): Promise<void> {
    try {
      await this.load()
      await this.components.registrar.getHandler(SIGNALING_PROTOCOL).handler(stream, connection)
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Import @libp2p/webrtc once (and start it, if we are started); its start() takes the signaling protocol over. */
  private load(options?: AbortOptions): Promise<RealTransport> {
    this.real ??= (async () => {
      const { webRTC } = await import('@libp2p/webrtc')
      const real = webRTC(this.init)(this.components) as RealTransport
      if (this.started) {
        // unhandle() and the real start() are synchronous up to their first await: our handler leaves the
        // registrar's map and the real one enters it in the same tick, so no signaling stream finds it unhandled.
        const ours = this.standingIn ? this.components.registrar.unhandle(SIGNALING_PROTOCOL) : undefined
        this.standingIn = false
        await Promise.all([ours, real.start()])
      }
      this.loadedTransport = real
      return real
    })()
    options?.signal?.throwIfAborted()
    return this.real
  }
}

/** `webRTC(init)`, loaded on first use. */
export function lazyWebRTC(init: WebRTCTransportInit = {}): (components: LazyWebRTCComponents) => LazyWebRTC {
  return (components) => new LazyWebRTC(components, init)
}
