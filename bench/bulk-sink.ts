/** Child process for the bench: a bare libp2p node that reads a bulk stream and answers one byte at its end. */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
await node.handle('/bench/bulk/1.0', async (stream) => {
  for await (const _ of stream) {
    // discard
  }
  stream.send(new Uint8Array(1))
  await stream.close()
})
process.stdout.write(`${node.getMultiaddrs()[0].toString()}\n`)
