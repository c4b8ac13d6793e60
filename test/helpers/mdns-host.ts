/**
 * An mDNS discovery service alone on a netns host (run inside its namespace; for bench/mdns-traffic.ts and the LAN
 * tests): a made-up peer id and one TCP address, no libp2p node around it. `impl` is `p2pnode` (src/node/mdns.ts)
 * or `libp2p-mdns` (@libp2p/mdns with a 1 s interval: what p2pnode 0.1 ran). Prints `id <peer id>`, then
 * `found <n> <ms since start> <peer id>` each time it hears of a new peer.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerDiscovery, Startable } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { mdns } from '@libp2p/mdns'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MdnsDiscovery } from '../../src/node/mdns.ts'

const [impl, ip] = process.argv.slice(2)
const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const addr = multiaddr(`/ip4/${ip}/tcp/4001/p2p/${peerId.toString()}`)
const components = { peerId, logger: defaultLogger(), addressManager: { getAddresses: () => [addr] } }
const serviceTag = '_p2pnode._udp.local'
const service = (
  impl === 'libp2p-mdns'
    ? mdns({ interval: 1000, serviceTag })(components as never)
    : new MdnsDiscovery(components, { serviceTag })
) as PeerDiscovery & Startable
const found = new Set<string>()
const t0 = Date.now()
service.addEventListener('peer', (evt) => {
  const id = evt.detail.id.toString()
  if (found.has(id)) return
  found.add(id)
  process.stdout.write(`found ${found.size} ${Date.now() - t0} ${id}\n`)
})
await service.start()
process.stdout.write(`id ${peerId.toString()}\nstarted\n`)
const stop = async () => {
  await service.stop()
  process.exit(0)
}
process.once('SIGTERM', () => void stop())
process.stdin.on('end', () => void stop())
process.stdin.resume()
