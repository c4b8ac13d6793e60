/**
 * The protocol services built the way libp2p builds them — `chat(init)(components)` and the same for files and the
 * mailbox — on hand-made components (a registrar that records handlers and topologies, a connection manager with
 * the connections a test gives it) and in-memory stream pairs (@libp2p/utils streamPair), as js-libp2p's ping and
 * identify tests do.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type {
  Connection,
  Libp2pEvents,
  PeerId,
  PrivateKey,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
  Topology
} from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { MemoryLevel } from 'memory-level'
import { chat, messageFrame, PROTOCOL as CHAT } from '../../src/protocols/chat/index.ts'
import { Frame } from '../../src/protocols/chat/pb/chat.ts'
import { files, OFFER_PROTOCOL, OFFER_PROTOCOL_V3 } from '../../src/protocols/file/index.ts'
import { mailbox, PROTOCOL as MAILBOX } from '../../src/protocols/mailbox/index.ts'
import type { PeerStreams, StreamOptions } from '../../src/protocols/peer-streams.ts'
import { type Db, Store, Transfers } from '../../src/store/index.ts'
import { MailboxHold } from '../../src/store/mailbox-hold.ts'
import { waitFor } from '../helpers/cli.ts'

interface Peer {
  key: PrivateKey
  id: PeerId
}

async function peer(): Promise<Peer> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key) }
}

/** libp2p's side of a service, by hand: what it registered, and the connections it is told of. */
function fakeLibp2p(self: Peer) {
  const handlers = new Map<string, { handler: StreamHandler; options?: StreamHandlerOptions }>()
  const topologies = new Map<string, Topology & { protocol: string }>()
  const connections: Connection[] = []
  let ids = 0
  const components = {
    peerId: self.id,
    privateKey: self.key,
    logger: defaultLogger(),
    events: new TypedEventEmitter<Libp2pEvents>(),
    registrar: {
      handle: async (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => {
        if (handlers.has(protocol)) throw new Error(`${protocol} handled twice`)
        handlers.set(protocol, { handler, ...(options != null ? { options } : {}) })
      },
      unhandle: async (protocol: string | string[]) => {
        for (const p of [protocol].flat()) handlers.delete(p)
      },
      register: async (protocol: string, topology: Topology) => {
        const id = `topology-${++ids}`
        topologies.set(id, { ...topology, protocol })
        return id
      },
      unregister: (id: string) => {
        topologies.delete(id)
      }
    },
    connectionManager: {
      getConnections: (peerId?: PeerId) => connections.filter((c) => peerId == null || c.remotePeer.equals(peerId))
    }
  }
  /** The topology registered for `protocol`. */
  const topology = (protocol: string) => {
    const found = [...topologies.values()].find((t) => t.protocol === protocol)
    assert.ok(found != null, `a topology for ${protocol}`)
    return found
  }
  return { components, handlers, topologies, connections, topology }
}

/** An open, unlimited connection to `remote`, as far as the services look at one. */
function connectionTo(remote: PeerId): Connection {
  return {
    id: `conn-${randomBytes(4).toString('hex')}`,
    remotePeer: remote,
    remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${remote.toString()}`),
    status: 'open',
    direction: 'outbound',
    streams: []
  } as unknown as Connection
}

async function memoryStore(): Promise<Store> {
  return Store.open(new MemoryLevel<string, string>() as unknown as Db, new Uint8Array(32).fill(7))
}

/** Streams that no test expects to be asked for. */
const noStreams: PeerStreams = {
  open: async () => {
    throw new Error('no stream expected')
  }
}

function once<T>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) => target.addEventListener(type, (evt) => resolve((evt as CustomEvent<T>).detail), { once: true }))
}

describe('the chat service', () => {
  it('registers its handler and topology on start, both for relayed connections too, and drops them on stop', async () => {
    const me = await peer()
    const lib = fakeLibp2p(me)
    const store = await memoryStore()
    const service = chat({ store, streams: noStreams })(lib.components)
    await service.start()
    assert.equal(lib.handlers.get(CHAT)?.options?.runOnLimitedConnection, true)
    assert.equal(lib.topology(CHAT).notifyOnLimitedConnection, true)
    await service.stop()
    assert.equal(lib.handlers.size, 0)
    assert.equal(lib.topologies.size, 0)
    await store.close()
  })

  it('greets back on an inbound stream, stores the message and only then acks it', async () => {
    const [me, bob] = [await peer(), await peer()]
    const lib = fakeLibp2p(me)
    const store = await memoryStore()
    const service = chat({ store, streams: noStreams, name: 'alice' })(lib.components)
    await service.start()
    const conn = connectionTo(bob.id)
    lib.connections.push(conn)
    const [outbound, inbound] = await streamPair()
    const handler = lib.handlers.get(CHAT)?.handler
    assert.ok(handler != null)
    void handler(inbound, conn)
    const stored = once<{ text: string }>(service, 'message')

    const frames = lpStream(outbound)
    await frames.write(Frame.encode({ hello: { name: 'bob', version: 'test' } }))
    const hello = Frame.decode((await frames.read()).subarray())
    assert.equal(hello.hello?.name, 'alice')
    const id = randomBytes(16).toString('hex')
    await frames.write(messageFrame({ id, timestamp: Date.now(), text: 'hi alice' }))
    const ack = Frame.decode((await frames.read()).subarray())
    assert.deepEqual(ack.ack?.ids.map((x) => Buffer.from(x).toString('hex')), [id])
    assert.equal((await stored).text, 'hi alice')
    assert.ok(service.greeted(bob.id.toString()), 'bob is present: he greeted us on an open connection')
    const history = await store.history(bob.id.toString())
    assert.deepEqual(history.map((m) => m.text), ['hi alice'])
    await outbound.close()
    await service.stop()
    await store.close()
  })

  it('sends a message queued while the peer was away when the topology says it connected', async () => {
    const [me, bob] = [await peer(), await peer()]
    const lib = fakeLibp2p(me)
    const store = await memoryStore()
    const pair = await streamPair()
    const asked: StreamOptions[] = []
    const streams: PeerStreams = {
      open: async (_peer, protocols, options) => {
        assert.equal(protocols, CHAT)
        asked.push(options)
        options.chosen?.(lib.connections[0])
        return pair[0]
      }
    }
    const service = chat({ store, streams, name: 'alice' })(lib.components)
    await service.start()
    const bobId = bob.id.toString()
    const queued = await service.send(bobId, 'while you were away')
    assert.equal(asked.length, 0, 'nothing is opened while bob is away')

    const conn = connectionTo(bob.id)
    lib.connections.push(conn)
    const delivered = once<{ ids: string[] }>(service, 'delivered')
    await lib.topology(CHAT).onConnect?.(bob.id, conn)
    assert.deepEqual(
      asked.map((o) => ({ relayed: o.relayed, dial: o.dial })),
      [{ relayed: true, dial: false }],
      'one stream, a relayed connection will do, never a dial'
    )

    // Bob's side of the stream.
    const frames = lpStream(pair[1])
    const hello = Frame.decode((await frames.read()).subarray())
    assert.equal(hello.hello?.name, 'alice')
    await frames.write(Frame.encode({ hello: { name: 'bob', version: 'test' } }))
    const message = Frame.decode((await frames.read()).subarray())
    assert.equal(message.message?.text, 'while you were away')
    await frames.write(Frame.encode({ ack: { ids: [Buffer.from(queued.id, 'hex')] } }))
    assert.deepEqual((await delivered).ids, [queued.id])
    await pair[1].close()
    await service.stop()
    await store.close()
  })
})

describe('the file service', () => {
  it('registers every version of offer and fetch, and a topology; a peer it tells of is offered what waits', async () => {
    const [me, bob] = [await peer(), await peer()]
    const lib = fakeLibp2p(me)
    const store = await memoryStore()
    const dir = await mkdtemp(join(tmpdir(), 'p2pnode-services-'))
    const asked: Array<{ protocols: string | string[]; relayed: boolean }> = []
    const streams: PeerStreams = {
      open: async (_peer, protocols, options) => {
        asked.push({ protocols, relayed: options.relayed })
        throw new Error('not now')
      }
    }
    const service = files({ store: new Transfers(store), streams, isBlocked: () => false, downloadsDir: dir, retryDelay: 60_000 })(
      lib.components
    )
    await service.start()
    await service.afterStart?.()
    assert.equal(lib.handlers.size, 5)
    for (const { options } of lib.handlers.values()) assert.equal(options?.runOnLimitedConnection, true)
    const topology = lib.topology(OFFER_PROTOCOL)
    assert.equal(topology.notifyOnLimitedConnection, true)

    const path = join(dir, 'note.txt')
    await writeFile(path, 'a small file')
    await service.send(bob.id.toString(), path)
    assert.equal(asked.length, 0, 'bob is away: nothing offered')
    const conn = connectionTo(bob.id)
    lib.connections.push(conn)
    await topology.onConnect?.(bob.id, conn)
    await waitFor(() => asked.length > 0, { what: 'the offer' })
    assert.equal([asked[0].protocols].flat()[0], OFFER_PROTOCOL_V3)
    assert.equal(asked[0].relayed, true, 'an offer may go through a relay')
    await service.stop()
    assert.equal(lib.handlers.size, 0)
    assert.equal(lib.topologies.size, 0)
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
})

describe('the mailbox service', () => {
  it('holds what alice deposits for bob until bob collects it, over in-memory streams', async () => {
    const [box, alice, bob] = [await peer(), await peer(), await peer()]
    const boxStore = await memoryStore()
    const hold = await MailboxHold.open(boxStore, {
      ttlMs: 60_000,
      perSender: { envelopes: 10, bytes: 1 << 20 },
      perRecipient: { envelopes: 10, bytes: 1 << 20 },
      maxSenders: 4,
      maxOwners: 4
    })
    const boxLib = fakeLibp2p(box)
    const service = mailbox({ streams: noStreams, hold: () => hold })(boxLib.components)
    await service.start()
    assert.equal(service.serving, true)
    assert.equal(boxLib.handlers.get(MAILBOX)?.options?.runOnLimitedConnection, true)
    /** A client whose streams to the mailbox are in-memory pairs, the mailbox's handler on the other end. */
    const client = (who: Peer) => {
      const streams: PeerStreams = {
        open: async (target, protocols, options) => {
          assert.equal(target, box.id.toString())
          assert.equal(protocols, MAILBOX)
          assert.equal(options.dial, true, 'a mailbox is dialled when not connected')
          const [outbound, inbound] = await streamPair()
          void boxLib.handlers.get(MAILBOX)?.handler(inbound, connectionTo(who.id))
          return outbound as Stream
        }
      }
      return mailbox({ streams })(fakeLibp2p(who).components)
    }
    const [a, b] = [client(alice), client(bob)]
    assert.equal(a.serving, false)
    // Bob uses the mailbox (collecting registers him), then alice leaves him a letter.
    assert.equal(await b.collect(box.id.toString(), async () => {}), 0)
    const letter = await a.seal(bob.id.toString(), [new TextEncoder().encode('while you were away')])
    const [result] = await a.deposit(box.id.toString(), [letter.bytes])
    assert.equal(result.status, 'OK')
    const got: string[] = []
    const count = await b.collect(box.id.toString(), async (batch) => {
      for (const e of batch) if (e.error == null) got.push(...e.frames.map((f) => new TextDecoder().decode(f)))
    })
    assert.equal(count, 1)
    assert.deepEqual(got, ['while you were away'])
    assert.equal(await b.collect(box.id.toString(), async () => {}), 0, 'confirmed, so deleted')
    await service.stop()
    assert.equal(boxLib.handlers.size, 0)
    await boxStore.close()
  })
})
