import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { FileInfo } from '../../src/api/files.ts'
import { ApiClient } from '../../src/api/client.ts'
import type { HistoryEntry, IdInfo } from '../../src/api/types.ts'
import { dataPaths } from '../../src/node/data-dir.ts'
import { loadSecret } from '../../src/node/identity.ts'
import { openStore, Transfers } from '../../src/store/index.ts'
import type { NodeProcess } from '../helpers/cli.ts'
import { Fleet, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const MiB = 1024 * 1024
const BIG = 200 * MiB
/** Large enough that a kill at ~50% lands in the middle of the transfer, small enough to keep the suite quick. */
const RESUME_SIZE = 96 * MiB
/** The receiver asks for at most 4 chunks of 256 KiB ahead: what may be lost in flight when a side is killed. */
const WINDOW_BYTES = 4 * 256 * 1024

/** A file of `size` bytes written block by block (never whole in memory); every block differs. */
async function makeFile(path: string, size: number): Promise<string> {
  const fh = await open(path, 'w')
  const block = randomBytes(MiB)
  const hash = createHash('sha256')
  try {
    for (let off = 0; off < size; off += MiB) {
      block.writeUInt32LE(off / MiB, 0)
      const piece = block.subarray(0, Math.min(MiB, size - off))
      hash.update(piece)
      await fh.write(piece, 0, piece.byteLength, off)
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(path, { highWaterMark: MiB })) hash.update(piece as Buffer)
  return hash.digest('hex')
}

function api(node: NodeProcess): ApiClient {
  return new ApiClient(join(node.dataDir, 'api.sock'), node.dataDir)
}

async function info(node: NodeProcess, id: string): Promise<FileInfo | undefined> {
  const client = api(node)
  try {
    return await client.file(id)
  } catch {
    return undefined
  } finally {
    await client.close()
  }
}

/** Bytes of a transfer verified and recorded on disk by a node that is not running (read from its LevelDB). */
async function verifiedOnDisk(dataDir: string, id: string): Promise<number> {
  const paths = dataPaths(dataDir)
  const store = await openStore(paths.db, await loadSecret(paths.secret))
  try {
    const transfers = new Transfers(store)
    const record = await transfers.get(id)
    assert.ok(record != null)
    const chunks = await transfers.verified(id)
    return chunks.reduce((sum, i) => sum + Math.min(record.chunkSize, record.size - i * record.chunkSize), 0)
  } finally {
    await store.close()
  }
}

/** The same value twice, 300 ms apart: the counter stopped moving. */
async function settled(read: () => Promise<number | undefined>): Promise<number> {
  return waitFor(
    async () => {
      const a = await read()
      await new Promise((r) => setTimeout(r, 300))
      const b = await read()
      return a != null && a === b ? { v: a } : undefined
    },
    { what: 'a counter to settle' }
  ).then((r) => r.v)
}

describe('file transfer end to end (spawned nodes)', () => {
  const fleet = new Fleet(LOCAL)
  const start = (dir: string, args: string[] = []) => fleet.start(dir, args)
  const dir = () => fleet.dir()
  after(() => fleet.close())

  it('sends 200 MiB over the CLI: waits for accept over the limit, arrives byte-identical', async () => {
    const alice = await start(await dir(), ['--name', 'alice'])
    const bob = await start(await dir(), ['--name', 'bob'])
    // A contact's files are fetched without asking (up to the limit); a stranger's would all wait.
    await bob.json(['contacts', 'add', alice.peerId])
    await alice.json(['dial', (await bob.json<IdInfo>(['id'])).addrs[0]])
    const src = join(await dir(), 'big.bin')
    const sha256 = await makeFile(src, BIG)

    const queued = await alice.json<FileInfo>(['send-file', 'bob', src, '--no-wait'])
    assert.deepEqual(Object.keys(queued).sort(), ['id', 'name', 'root', 'sha256', 'size', 'status'])
    // Offer version 3 between nodes of this version: known by its hash tree root (checked as the bytes arrive).
    assert.match(queued.root ?? '', /^[0-9a-f]{64}$/)
    assert.equal(queued.sha256, '')
    const waiting = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === queued.id && f.status === 'waiting'),
      { what: 'the offer to wait for accept (200 MiB > 100 MiB)' }
    )
    for (const key of ['id', 'peer', 'direction', 'name', 'size', 'received', 'status', 'sha256', 'path']) {
      assert.ok(key in waiting, `files --json has ${key}`)
    }
    assert.equal(waiting.direction, 'in')
    assert.equal(waiting.peer, alice.peerId)

    const accepted = await bob.run(['accept', queued.id])
    assert.equal(accepted.code, 0, accepted.stderr)
    const done = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === queued.id && f.status === 'complete'),
      { timeout: 120_000, what: '200 MiB to arrive' }
    )
    assert.equal(done.received, BIG)
    assert.equal(done.path, join(bob.dataDir, 'downloads', 'big.bin'))
    assert.equal(await sha256File(done.path), sha256)
    assert.deepEqual(
      (await readdir(join(bob.dataDir, 'downloads'))).filter((f) => f.endsWith('.part')),
      [],
      'no temp file left'
    )
    // The sender hears it was verified; its history shows the file.
    await waitFor(async () => (await info(alice, queued.id))?.status === 'complete', { what: 'sender complete' })
    const history = await alice.json<HistoryEntry[]>(['history', 'bob'])
    assert.equal(history.at(-1)?.kind, 'file')
    assert.equal(history.at(-1)?.file?.status, 'complete')
    await rm(done.path)

    // CLI mistakes: clear errors and exit statuses.
    const missing = await alice.run(['send-file', 'bob', join(src, 'nope')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /cannot send/)
    const unknown = await alice.run(['cancel', '0'.repeat(32)])
    assert.equal(unknown.code, 4)
    const again = await alice.run(['cancel', queued.id])
    assert.equal(again.code, 9, 'a complete transfer cannot be cancelled')
    assert.match(again.stderr, /already complete: nothing to cancel/)
    assert.match(again.stderr, /p2pnode files/, 'with a hint')
    const reaccept = await bob.run(['accept', queued.id])
    assert.equal(reaccept.code, 9, 'a complete transfer cannot be accepted')
    assert.match(reaccept.stderr, /already complete/)
    assert.ok(reaccept.stderr.includes(done.path), 'the hint says where the file is')
    const outgoing = await alice.run(['accept', queued.id])
    assert.equal(outgoing.code, 9, 'the sender cannot accept its own transfer')
    // The table names the peer, not only its id.
    const table = await bob.run(['files'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, new RegExp(`${queued.id}  ← alice +complete`))
    await rm(src)
    const small = join(await dir(), 'small.txt')
    await makeFile(small, 1000)
    const sent = await alice.json<FileInfo>(['send-file', 'bob', small])
    assert.equal(sent.status, 'complete', 'send-file waits until the peer has verified the file')
  })

  /**
   * Kill -9 one side when about half the file has arrived, restart it, and check that the transfer completes and
   * that what is sent after the restart is the missing part only (plus at most the window that was in flight).
   */
  for (const victim of ['receiver', 'sender'] as const) {
    it(`resumes after kill -9 of the ${victim} at ~50%, sending only the missing part`, async (t) => {
      const aliceDir = await dir()
      const bobDir = await dir()
      const alice = await start(aliceDir, ['--name', 'alice'])
      const bob = await start(bobDir, ['--name', 'bob', '--auto-accept-max', String(RESUME_SIZE)])
      await bob.json(['contacts', 'add', alice.peerId])
      const bobAddr = (await bob.json<IdInfo>(['id'])).addrs[0]
      const aliceAddr = (await alice.json<IdInfo>(['id'])).addrs[0]
      await alice.json(['dial', bobAddr])
      const src = join(await dir(), 'resume.bin')
      const sha256 = await makeFile(src, RESUME_SIZE)
      const { id } = await alice.json<FileInfo>(['send-file', 'bob', src, '--no-wait'])

      await waitFor(async () => ((await info(bob, id))?.received ?? 0) >= RESUME_SIZE / 2, {
        interval: 10,
        timeout: 120_000,
        what: 'half the file'
      })
      let sender = alice
      let receiver = bob
      let sentBefore = 0
      let hadAtResume: number
      if (victim === 'receiver') {
        await bob.crash()
        // The sender notices the reset; what it sent until then includes what was in flight and is lost.
        sentBefore = await settled(async () => (await info(alice, id))?.sent)
        hadAtResume = await verifiedOnDisk(bobDir, id)
        receiver = await start(bobDir, ['--dial', aliceAddr])
      } else {
        await alice.crash()
        // What arrived before the crash is verified and written; then the receiver's count stops.
        hadAtResume = await settled(async () => (await info(bob, id))?.received)
        sender = await start(aliceDir, ['--dial', bobAddr])
      }
      assert.ok(
        hadAtResume >= RESUME_SIZE / 2 && hadAtResume < RESUME_SIZE,
        `resumed from ${hadAtResume}: the kill came too late`
      )

      const done = await waitFor(
        async () => {
          const t = await info(receiver, id)
          return t?.status === 'complete' ? t : undefined
        },
        { timeout: 120_000, what: 'the transfer to complete after the restart' }
      )
      assert.equal(await sha256File(done.path), sha256)
      const senderDone = await waitFor(
        async () => {
          const t = await info(sender, id)
          return t?.status === 'complete' ? t : undefined
        },
        { what: 'the sender to hear it is complete' }
      )
      const sentAfter = senderDone.sent - sentBefore
      const missing = RESUME_SIZE - hadAtResume
      t.diagnostic(`${victim} killed at ${hadAtResume} of ${RESUME_SIZE} bytes; ${sentAfter} sent after the restart`)
      // Measured: the bytes sent after the restart are the missing part, never what was verified before.
      assert.ok(sentAfter >= missing, `sent ${sentAfter} after the restart, ${missing} were missing`)
      assert.ok(
        sentAfter <= missing + WINDOW_BYTES,
        `sent ${sentAfter} after the restart for ${missing} missing: verified chunks were sent again`
      )
      await rm(src)
      await rm(done.path)
    })
  }
})
