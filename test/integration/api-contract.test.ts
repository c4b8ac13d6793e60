import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ApiClient } from '../../src/api/client.ts'
import { bindApi, type NodeApi, type RouteName, ROUTES } from '../../src/api/routes.ts'
import { startApiServer } from '../../src/api/server.ts'
import { P2pNode } from '../../src/node/index.ts'
import { wavBytes } from '../../src/voice/index.ts'
import { cleanup, tempDir, waitFor } from '../helpers/cli.ts'

const LOCAL = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
const STRANGER = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'

/** A value without the times that move between two calls (a contact's lastSeen). */
function stable(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null, (k, v: unknown) => (k === 'lastSeen' ? undefined : v)))
}

/** What a call gave: its value (as JSON), or the error's code, message and hint (what crosses the API). */
async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: stable(await fn()) }
  } catch (err) {
    const e = err as { code?: string; message: string; hint?: string }
    return { error: { code: e.code, message: e.message, hint: e.hint } }
  }
}

/**
 * The route table is the contract: the same calls made in-process (bindApi over the node's modules) and over the
 * socket (ApiClient, built from the same table) give the same results and the same errors.
 */
describe('API contract: in-process and over the socket alike', () => {
  let dir: string
  let bobDir: string
  let alice: P2pNode
  let bob: P2pNode
  let server: FastifyInstance
  let client: ApiClient
  let local: NodeApi
  let bobId: string
  const covered = new Set<RouteName>()

  before(async () => {
    dir = await tempDir()
    bobDir = await tempDir()
    alice = await P2pNode.start({ ...LOCAL, dataDir: dir, name: 'alice' })
    bob = await P2pNode.start({ ...LOCAL, dataDir: bobDir, name: 'bob' })
    bobId = bob.libp2p.peerId.toString()
    server = await startApiServer(alice.api, join(dir, 'api.sock'))
    client = new ApiClient(join(dir, 'api.sock'), dir)
    local = bindApi(alice.api)
  })
  after(async () => {
    await client.close()
    await server.close()
    await alice.stop()
    await bob.stop()
    await cleanup(dir, bobDir)
  })

  /** Run `call` both ways (in-process first) and return both outcomes. */
  const both = async <T>(name: RouteName, call: (api: NodeApi) => Promise<T>) => {
    covered.add(name)
    const a = await outcome(() => call(local))
    const b = await outcome(() => call(client))
    return [a, b] as const
  }
  /** Calls that change nothing (or the same thing twice) must agree exactly. */
  const same = async <T>(name: RouteName, call: (api: NodeApi) => Promise<T>) => {
    const [a, b] = await both(name, call)
    assert.deepEqual(b, a, `${name}: over the socket as in-process`)
    return a as { ok?: T; error?: { code: string } }
  }

  it('every route gives the same answer both ways', async () => {
    const bobAddr = bob.libp2p.getMultiaddrs()[0].toString()
    assert.equal((await same('id', (api) => api.id())).ok?.peerId, alice.libp2p.peerId.toString())
    assert.equal((await same('dial', (api) => api.dial(bobAddr))).ok?.peerId, bobId)
    await waitFor(async () => (await alice.peers()).some((p) => p.peerId === bobId && p.connected), { what: 'bob here' })
    await same('peers', (api) => api.peers())
    assert.deepEqual((await same('resolve', (api) => api.resolve('bob'))).ok, { peerId: bobId, name: 'bob' })
    assert.equal((await same('resolve', (api) => api.resolve('nobody', { dial: true }))).error?.code, 'PEER_NOT_FOUND')
    const [sentA, sentB] = await both('send', (api) => api.send(bobId, 'hello both ways', { waitMs: 5000 }))
    assert.equal((sentA as { ok: { status: string } }).ok.status, 'delivered')
    assert.equal((sentB as { ok: { status: string } }).ok.status, 'delivered')
    // (The store records the ack a moment after send() has seen it.)
    await waitFor(async () => (await alice.history(bobId)).every((m) => m.status === 'delivered'), { what: 'acks stored' })
    const history = await same('history', (api) => api.history(bobId, { limit: 10 }))
    assert.equal(history.ok?.length, 2)
    await same('history', (api) => api.history('nobody-by-that-name'))
    await same('search', (api) => api.search('hello', { limit: 5 }))
    await same('contacts', (api) => api.contacts())
    await same('addContact', (api) => api.addContact(bobId, { name: 'bobby' }))
    await same('renameContact', (api) => api.renameContact(bobId, 'robert'))
    await same('verify', (api) => api.verify(bobId))
    await same('visibility', (api) => api.visibility())
    await same('setVisibility', (api) => api.setVisibility('contacts'))
    await same('setVisibility', (api) => api.setVisibility('everyone'))
    await same('setPeerState', (api) => api.setPeerState(STRANGER, { muted: true }))
    await same('blocked', (api) => api.blocked())
    // Not idempotent: the first removes, the second finds no contact.
    const [removed, again] = (await both('removeContact', (api) => api.removeContact(bobId))) as unknown as Array<{
      ok?: { contact: boolean }
      error?: { code: string }
    }>
    assert.equal(removed.ok?.contact, false)
    assert.equal(again.error?.code, 'PEER_NOT_FOUND')
    assert.equal((await same('removeContact', (api) => api.removeContact(bobId))).error?.code, 'PEER_NOT_FOUND')
    const out = join(dir, 'export.jsonl')
    const [exA, exB] = await both('export', (api) => api.export({ out }))
    assert.deepEqual(exB, exA)
    const file = join(dir, 'a.txt')
    await writeFile(file, 'contract')
    const [fa, fb] = await both('sendFile', (api) => api.sendFile(bobId, file))
    const ids = [fa, fb].map((r) => (r as { ok: { id: string } }).ok.id)
    // Alice is a stranger to bob: her files wait for him to accept them.
    await waitFor(async () => (await alice.fileApi.files()).every((f) => f.status === 'waiting'), {
      what: 'bob to answer both offers'
    })
    await same('files', (api) => api.files())
    await same('file', (api) => api.file(ids[0]))
    await same('file', (api) => api.file(ids[0].slice(0, 8)))
    assert.equal((await same('file', (api) => api.file('not hex'))).error?.code, 'INVALID_ARGUMENT')
    assert.equal((await same('accept', (api) => api.accept(ids[0]))).error?.code, 'TRANSFER_FAILED')
    const [cancelled, twice] = (await both('cancel', (api) => api.cancel(ids[1]))) as unknown as Array<{
      ok?: { status: string }
      error?: { code: string }
    }>
    assert.equal(cancelled.ok?.status, 'cancelled')
    assert.equal(twice.error?.code, 'TRANSFER_FAILED')
    assert.equal((await same('mailbox', (api) => api.mailbox())).ok?.mailbox, null)
    // bob runs no mailbox service: refused, nothing set.
    const noMailbox = await same('setMailbox', (api) => api.setMailbox(bobId))
    assert.equal(noMailbox.error?.code, 'MAILBOX_FAILED')
    assert.equal((await same('removeMailbox', (api) => api.removeMailbox())).ok?.mailbox, null)
    const wav = join(dir, 'note.wav')
    await writeFile(wav, wavBytes(new Int16Array(8000)))
    const [va, vb] = (await both('sendVoice', (api) => api.sendVoice(bobId, wav))) as unknown as Array<{ ok: { id: string; duration: number } }>
    assert.deepEqual([va.ok.duration, vb.ok.duration], [500, 500])
    // (Its transcript may be made between the two calls: the note is the same, its status may not be.)
    const [ta, tb] = (await both('transcript', (api) => api.transcript(va.ok.id))) as unknown as Array<{ ok: { id: string; duration: number } }>
    assert.deepEqual([ta.ok.id, tb.ok.id, tb.ok.duration], [va.ok.id, va.ok.id, 500])
    assert.equal((await same('transcript', (api) => api.transcript(ids[0]))).error?.code, 'TRANSFER_NOT_FOUND', 'a file is no voice note')
    assert.equal((await same('sendVoice', (api) => api.sendVoice(bobId, file))).error?.code, 'INVALID_ARGUMENT', 'text is not audio')
    // Groups: one made each way; changes that cannot be made twice give the same error the second time.
    const [ga, gb] = await both('createGroup', (api) => api.createGroup('club', [bobId]))
    const gids = [ga, gb].map((r) => (r as { ok: { id: string } }).ok.id)
    assert.notEqual(gids[0], gids[1])
    assert.equal((await same('groups', (api) => api.groups())).ok?.length, 2)
    const [ra, rb] = await both('renameGroup', (api) => api.renameGroup(`#${gids[0]}`, 'club one'))
    assert.deepEqual(ra, rb)
    assert.equal((await same('addMembers', (api) => api.addMembers(gids[0], [bobId]))).error?.code, 'INVALID_ARGUMENT')
    const [rm, rm2] = (await both('removeMember', (api) => api.removeMember(gids[1], bobId))) as unknown as Array<{
      ok?: { members: unknown[] }
      error?: { code: string }
    }>
    assert.equal(rm.ok?.members.length, 1)
    assert.equal(rm2.error?.code, 'PEER_NOT_FOUND')
    assert.equal((await same('leaveGroup', (api) => api.leaveGroup(gids[1]))).error?.code, 'INVALID_ARGUMENT')
    assert.equal((await same('renameGroup', (api) => api.renameGroup('#nope', 'x'))).error?.code, 'GROUP_NOT_FOUND')
    // Errors cross unchanged: bad input is refused the same way by the node as by the schema.
    assert.equal((await same('send', (api) => api.send(bobId, '   '))).error?.code, 'INVALID_MESSAGE')
    assert.equal((await same('dial', (api) => api.dial('not a multiaddr'))).error?.code, 'INVALID_MULTIADDR')
    // Relays and invites: none configured; a relay address without its peer id is refused alike.
    assert.deepEqual((await same('relays', (api) => api.relays())).ok, [])
    assert.equal((await same('addRelay', (api) => api.addRelay('/ip4/127.0.0.1/tcp/1'))).error?.code, 'INVALID_MULTIADDR')
    const relayAddr = `/ip4/127.0.0.1/tcp/1/p2p/${bobId}`
    const [addedA, addedB] = (await both('addRelay', (api) => api.addRelay(relayAddr))) as unknown as Array<{
      ok?: { addr: string }
    }>
    assert.equal(addedA.ok?.addr, relayAddr)
    assert.equal(addedB.ok?.addr, relayAddr)
    assert.equal((await same('relays', (api) => api.relays())).ok?.length, 1)
    const [rmA, rmB] = (await both('removeRelay', (api) => api.removeRelay(relayAddr))) as unknown as Array<{
      ok?: { addr: string }
      error?: { code: string }
    }>
    assert.equal(rmA.ok?.addr, relayAddr)
    assert.equal(rmB.error?.code, 'INVALID_ARGUMENT')
    const invite = await same('invite', (api) => api.invite())
    assert.match((invite.ok as { invite: string }).invite, /^p2pnode-invite:/)
    assert.equal((await same('dial', (api) => api.dial('p2pnode-invite:!!'))).error?.code, 'INVALID_ARGUMENT')
  })

  it('the web app\'s link: WEB_OFF both ways without a web server; with one attached, its link (socket only)', async () => {
    assert.equal((await same('webLink', (api) => api.webLink())).error?.code, 'WEB_OFF')
    assert.equal((await same('rotateWebToken', (api) => api.rotateWebToken())).error?.code, 'WEB_OFF')
    const link = { url: 'http://127.0.0.1:1/login?token=t', port: 1 }
    alice.web.attach({ link: () => link, rotate: async () => link })
    try {
      assert.deepEqual(await same('webLink', (api) => api.webLink()), { ok: link })
    } finally {
      alice.web.attach(undefined)
    }
  })

  it('covers every route of the table but stop (checked by the e2e tests)', () => {
    const missing = Object.keys(ROUTES).filter((r) => r !== 'stop' && !covered.has(r as RouteName))
    assert.deepEqual(missing, [])
  })
})
