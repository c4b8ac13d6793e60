/**
 * The libp2p node p2pnode runs: TCP + Noise + Yamux, identify and ping, circuit relay and WebRTC transports (see
 * relay-service.ts), mDNS on p2pnode's own service name, the policy's connection gater, and p2pnode's protocols as
 * libp2p services (`services`), which libp2p starts before it listens and stops after it stops listening.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey, ServiceMap } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type ServiceFactoryMap } from 'libp2p'
import { ErrorCode, P2pError } from '../errors.ts'
import { switchableMdns } from './discovery.ts'
import type { NodeOptions } from './options.ts'
import type { Policy } from './policy.ts'
import { gaterWithRelays } from './reach.ts'
import { reachTransports, relayAnnounce, relayRateLimits, relayServer } from './relay-service.ts'
import { VERSION } from './version.ts'

/** How long a new inbound connection may take to finish its handshakes by default, ms (see NodeOptions). */
const UPGRADE_TIMEOUT_MS = 10_000
/** Our own mDNS service name: we find p2pnode nodes, not every libp2p program on the network. */
const MDNS_SERVICE_TAG = '_p2pnode._udp.local'

export interface BuildLibp2pArgs {
  options: NodeOptions
  privateKey: PrivateKey
  policy: Policy
  /** The listen addresses chosen (listen.ts). */
  listen: string[]
  /** Whether a peer is one of our relays (asked by the gater), and the STUN servers WebRTC uses. */
  relays: { isRelay(peerId: string): boolean; iceServers(): Array<{ urls: string }> }
}

/** Create (not start) the libp2p node. */
export async function buildLibp2p<T extends ServiceMap>(args: BuildLibp2pArgs, services: ServiceFactoryMap<T>): Promise<Libp2p<T>> {
  const { options, privateKey, policy, listen, relays } = args
  return createLibp2p<T>({
    privateKey,
    // Identify tells peers our software: p2pnode and its version, not libp2p's default (which names Node's).
    nodeInfo: { name: 'p2pnode', version: VERSION, userAgent: `p2pnode/${VERSION}` },
    connectionGater: {
      ...gaterWithRelays(policy.gater(), (peer) => relays.isRelay(peer)),
      ...(options.relayService === true ? relayRateLimits() : {})
    },
    connectionManager: { inboundUpgradeTimeout: options.upgradeTimeout ?? UPGRADE_TIMEOUT_MS },
    addresses: {
      listen,
      // A relay must say where it is: libp2p advertises a public address only once AutoNAT confirms it.
      ...(options.announce != null && options.announce.length > 0
        ? { announce: options.announce }
        : options.relayService === true
          ? { announce: relayAnnounce(listen) }
          : {})
    },
    transports: [tcp(), ...reachTransports(() => relays.iceServers())],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      ...(options.relayService === true ? { relay: relayServer() } : {}),
      ...(options.mdns ?? true
        ? {
            mdns: switchableMdns(
              { queryInterval: options.mdnsInterval ?? 1000, serviceTag: MDNS_SERVICE_TAG },
              policy.mdnsMode
            )
          }
        : {}),
      ...services
    },
    start: false
  })
}

/**
 * A listen failure as the user should see it (INVALID_ARGUMENT with a hint), or undefined for another error.
 * libp2p's own message carries stack traces and advice about settings p2pnode does not have: this keeps one
 * `address: reason` per address that failed.
 */
export function listenError(err: Error): P2pError | undefined {
  if (err.name !== 'UnsupportedListenAddressError' && !/listen/i.test(err.message)) return undefined
  const reasons = [...err.message.matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.+)$/gm)].map((m) => `${m[1]}: ${m[2]}`)
  const text = reasons.length > 0 ? reasons.join('; ') : (err.message.split('\n')[0] ?? '')
  return new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot listen: ${text}`, {
    hint: 'listen on an address this machine has, or on all of them: --listen /ip4/0.0.0.0/tcp/4001',
    cause: err
  })
}
