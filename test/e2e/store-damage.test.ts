import assert from 'node:assert/strict'
import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.ts'
import type { ContactInfo, HistoryEntry, IdInfo, SearchResult } from '../../src/api/types.ts'
import { cli, Fleet, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
export const FIXTURE = join(ROOT, 'test', 'fixtures', 'data-v0.1')

interface Expected {
  peerId: string
  name: string
  contacts: Array<{ peerId: string; localName: string; peerName: string }>
  blocked: string[]
  conversations: Record<string, Array<{ id: string; text: string; direction: string; status: string; kind: string }>>
  transfers: Array<{ id: string; name: string; status: string; direction: string }>
  search: Record<string, string[]>
}

async function expected(): Promise<Expected> {
  return JSON.parse(await readFile(join(ROOT, 'test', 'fixtures', 'data-v0.1.expected.json'), 'utf8')) as Expected
}

/** A copy of the 0.1 fixture data dir (never opened in place). */
export async function fixtureCopy(fleet: Fleet): Promise<string> {
  const dir = join(await fleet.dir(), 'data')
  await cp(FIXTURE, dir, { recursive: true })
  return dir
}

/** `p2pnode start` that must refuse: its exit status and stderr (a start that wrongly succeeds is killed). */
async function refusedStart(dir: string) {
  return cli(['start', '--data', dir, ...LOCAL], { timeout: 15_000 })
}

function assertRefused(res: { code: number | null; stderr: string }, file: string): void {
  assert.equal(res.code, 10, `exit 10 (STORE_DAMAGED), got ${res.code}: ${res.stderr}`)
  assert.ok(res.stderr.includes(file), `names ${file}: ${res.stderr}`)
  assert.match(res.stderr, /hint: .*(p2pnode doctor|put back)/)
  assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace')
}

describe('a data dir made by 0.1', () => {
  const fleet = new Fleet(LOCAL)
  after(() => fleet.close())

  it('opens with everything in it, gets its manifest, and opens again', async () => {
    const want = await expected()
    const dir = await fixtureCopy(fleet)
    for (let round = 0; round < 2; round++) {
      const node = await fleet.start(dir)
      assert.equal(node.peerId, want.peerId)
      const id = await node.json<IdInfo>(['id'])
      assert.equal(id.name, want.name)
      const contacts = await node.json<ContactInfo[]>(['contacts'])
      assert.deepEqual(
        contacts.map((c) => ({ peerId: c.peerId, localName: c.localName, peerName: c.peerName })),
        want.contacts
      )
      for (const [peer, messages] of Object.entries(want.conversations)) {
        const got = await node.json<HistoryEntry[]>(['history', peer, '--limit', '100'])
        assert.deepEqual(
          got.map((m) => ({ id: m.id, text: m.text, direction: m.direction, status: m.status, kind: m.kind ?? 'text' })),
          messages
        )
      }
      const blocked = await node.run(['send', want.blocked[0], 'hello?'])
      assert.equal(blocked.code, 4, `carol is still blocked: ${blocked.stderr}`)
      const hits = await node.json<SearchResult[]>(['search', 'cafe'])
      assert.deepEqual(
        hits.map((h) => h.id),
        want.search.cafe
      )
      assert.equal(await node.stop(), 0)
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { peerId: string }
      assert.equal(manifest.peerId, want.peerId)
      assert.equal((await stat(join(dir, 'manifest.json'))).mode & 0o777, 0o600)
    }
  })
})

describe('a damaged or swapped store is refused, naming the file', () => {
  const fleet = new Fleet(LOCAL)
  after(() => fleet.close())

  /** A data dir that a current node made and stopped cleanly. */
  async function madeDir(): Promise<string> {
    const dir = await fixtureCopy(fleet)
    const node = await fleet.start(dir)
    assert.equal(await node.stop(), 0)
    return dir
  }

  it('db/CURRENT deleted: refused (LevelDB would start an empty database)', async () => {
    const dir = await madeDir()
    await rm(join(dir, 'db', 'CURRENT'))
    assertRefused(await refusedStart(dir), join(dir, 'db', 'CURRENT'))
    assert.ok((await readdir(join(dir, 'db'))).some((f) => f.endsWith('.ldb')), 'the tables are still there')
  })

  it('a table (.ldb) deleted: refused naming it, with LevelDB\'s reason instead of "Database failed to open"', async () => {
    const dir = await madeDir()
    const table = (await readdir(join(dir, 'db'))).find((f) => f.endsWith('.ldb'))
    assert.ok(table != null)
    await rm(join(dir, 'db', table))
    const res = await refusedStart(dir)
    assertRefused(res, join(dir, 'db', table))
    assert.doesNotMatch(res.stderr, /Database failed to open/)
    const repaired = await cli(['doctor', '--repair', '--data', dir])
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr)
    assert.equal(await (await fleet.start(dir)).stop(), 0)
  })

  it('db/CURRENT deleted in a data dir made by 0.1: refused too', async () => {
    const dir = await fixtureCopy(fleet)
    await rm(join(dir, 'db', 'CURRENT'))
    assertRefused(await refusedStart(dir), join(dir, 'db', 'CURRENT'))
  })

  it('store.secret changed: refused, not an empty history with the contact blocked', async () => {
    for (const dir of [await madeDir(), await fixtureCopy(fleet)]) {
      await writeFile(join(dir, 'store.secret'), Buffer.alloc(32, 9))
      assertRefused(await refusedStart(dir), join(dir, 'store.secret'))
    }
  })

  it('identity.key deleted: refused, and no new identity is made', async () => {
    for (const dir of [await madeDir(), await fixtureCopy(fleet)]) {
      await rm(join(dir, 'identity.key'))
      assertRefused(await refusedStart(dir), join(dir, 'identity.key'))
      await assert.rejects(stat(join(dir, 'identity.key')), { code: 'ENOENT' })
    }
  })

  it("identity.key replaced by another node's, or garbled: refused", async () => {
    const other = await fleet.dir()
    const node = await fleet.start(other)
    await node.stop()
    for (const dir of [await madeDir(), await fixtureCopy(fleet)]) {
      await cp(join(other, 'identity.key'), join(dir, 'identity.key'))
      assertRefused(await refusedStart(dir), join(dir, 'identity.key'))
    }
    const dir = await madeDir()
    const key = await readFile(join(dir, 'identity.key'))
    await writeFile(join(dir, 'identity.key'), key.subarray(0, 34))
    const res = await refusedStart(dir)
    assertRefused(res, join(dir, 'identity.key'))
    assert.doesNotMatch(res.stderr, /index out of range/)
  })

  it('db/ replaced by another database (an empty one, or an older copy): refused', async () => {
    const dir = await madeDir()
    const other = await fleet.dir()
    await (await fleet.start(other)).stop()
    await rm(join(dir, 'db'), { recursive: true })
    await cp(join(other, 'db'), join(dir, 'db'), { recursive: true })
    assertRefused(await refusedStart(dir), join(dir, 'db'))
    await rm(join(dir, 'db'), { recursive: true })
    assertRefused(await refusedStart(dir), join(dir, 'db'))
  })

  it('manifest.json deleted: written again from the database (said on stderr); garbled: refused, doctor --repair mends it', async () => {
    const dir = await madeDir()
    const manifest = await readFile(join(dir, 'manifest.json'), 'utf8')
    await rm(join(dir, 'manifest.json'))
    const node = await fleet.start(dir)
    await waitFor(() => node.stderr.includes('manifest.json was missing; written again'), { what: 'the notice' })
    assert.equal(await node.stop(), 0)
    const again = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { database: string }
    assert.equal(again.database, (JSON.parse(manifest) as { database: string }).database)
    await writeFile(join(dir, 'manifest.json'), '{"format":1,')
    assertRefused(await refusedStart(dir), join(dir, 'manifest.json'))
    const repaired = await cli(['doctor', '--repair', '--data', dir])
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr)
    assert.equal(await (await fleet.start(dir)).stop(), 0)
  })

  it('a .log cut in half after a clean stop: refused (writes were lost)', async () => {
    const dir = await madeDir()
    const node = await fleet.start(dir)
    const api = new ApiClient(join(dir, 'api.sock'), dir)
    try {
      for (let i = 0; i < 200; i++) await api.send('bobby', `queued ${i} ${'.'.repeat(200)}`, { waitMs: 0 })
    } finally {
      await api.close()
    }
    assert.equal(await node.stop(), 0)
    const logs = (await readdir(join(dir, 'db'))).filter((f) => f.endsWith('.log'))
    let cut = false
    for (const log of logs) {
      const path = join(dir, 'db', log)
      const { size } = await stat(path)
      if (size > 10_000) {
        await truncate(path, Math.floor(size / 2))
        cut = true
      }
    }
    assert.ok(cut, 'the writes are in a .log')
    const res = await refusedStart(dir)
    assertRefused(res, join(dir, 'db'))
    assert.match(res.stderr, /lost writes/)
  })
})
