import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.ts'
import type { HistoryEntry, SearchResult } from '../../src/api/types.ts'
import { cli, Fleet, ROOT, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
const FIXTURE = join(ROOT, 'test', 'fixtures', 'data-v0.1')
/** bob, alice's contact in the fixture ("bobby" to her). */
const BOB = '12D3KooWQWTZkYr6kgUJqVR5PT9rCuCDMbuUvHKdttWWn8EekTgY'

interface Report {
  healthy: boolean
  backup?: string
  findings: Array<{ file: string; problem: string; repaired: boolean }>
}

async function doctor(dir: string, repair = false): Promise<{ code: number | null; report: Report; text: string }> {
  const args = ['doctor', '--data', dir, ...(repair ? ['--repair'] : [])]
  const json = await cli([...args, '--json'])
  const text = await cli(args)
  assert.equal(text.code, json.code)
  return { code: json.code, report: JSON.parse(json.stdout) as Report, text: text.stdout + text.stderr }
}

describe('damaged values and p2pnode doctor', () => {
  const fleet = new Fleet(LOCAL)
  after(() => fleet.close())

  /** The fixture, opened by this version, with `n` more messages to bob (one of them `mark`), all in .ldb tables. */
  async function dirWith(n: number, mark = ''): Promise<string> {
    const dir = join(await fleet.dir(), 'data')
    await cp(FIXTURE, dir, { recursive: true })
    const node = await fleet.start(dir)
    const api = new ApiClient(join(dir, 'api.sock'), dir)
    try {
      for (let i = 0; i < n; i++) {
        await api.send(BOB, i === Math.floor(n / 2) && mark !== '' ? mark : `note ${i} ${randomBytes(8).toString('hex')}`, {
          waitMs: 0
        })
      }
    } finally {
      await api.close()
    }
    assert.equal(await node.stop(), 0)
    // LevelDB moves the log into a table when it opens the database again.
    assert.equal(await (await fleet.start(dir)).stop(), 0)
    return dir
  }

  async function history(dir: string): Promise<HistoryEntry[]> {
    const node = await fleet.start(dir)
    try {
      return await node.json<HistoryEntry[]>(['history', BOB, '--limit', '10000'])
    } finally {
      await node.stop()
    }
  }

  it('a byte changed in an .ldb: the message is not shown altered, the node reports it, doctor moves it aside', async () => {
    // Random hex does not compress: LevelDB stores it as it is, so its bytes can be found in the table.
    const mark = `mark ${randomBytes(1000).toString('hex')}`
    const dir = await dirWith(100, mark)
    const before = await history(dir)
    let flipped = 0
    for (const file of (await readdir(join(dir, 'db'))).filter((f) => f.endsWith('.ldb'))) {
      const bytes = await readFile(join(dir, 'db', file))
      // Snappy may still turn a few 4-byte runs of the mark into back-references, so one slice of it is not always
      // there verbatim in each stored copy (the message and its outbox entry): a byte is changed in every slice found.
      for (let at = 5; at + 40 <= mark.length; at += 40) {
        const needle = mark.slice(at, at + 40)
        for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) {
          bytes[i + 5] = bytes[i + 5] === 0x61 ? 0x62 : 0x61
          flipped++
        }
      }
      await writeFile(join(dir, 'db', file), bytes)
    }
    assert.ok(flipped > 0, 'the message is in a table')

    const node = await fleet.start(dir)
    const after = await node.json<HistoryEntry[]>(['history', BOB, '--limit', '10000'])
    assert.equal(after.length, before.length - 1, 'the damaged message is left out')
    assert.ok(
      after.every((m) => m.text === before.find((b) => b.id === m.id)?.text),
      'no text is shown altered'
    )
    await waitFor(() => /damaged messages|failed its integrity check/.test(node.stderr), { what: 'the damage reported' })
    assert.match(node.stderr, /p2pnode doctor --repair/)
    await node.stop()

    const check = await doctor(dir)
    assert.equal(check.code, 10, check.text)
    assert.deepEqual(
      check.report.findings.map((f) => f.problem),
      ['damaged-values']
    )
    assert.match(check.text, /1 messages and 1 outbox entries fail their integrity check/)
    assert.match(check.text, /doctor --repair/)

    const fixed = await doctor(dir, true)
    assert.equal(fixed.code, 0, fixed.text)
    assert.ok(fixed.report.backup != null)
    assert.ok((await readdir(join(fixed.report.backup, 'db'))).some((f) => f.endsWith('.ldb')), 'backed up first')
    assert.equal((await doctor(dir)).code, 0)
    assert.equal((await history(dir)).length, before.length - 1)
  })

  it('db/CURRENT deleted: doctor says so (exit 10); --repair brings every message back', async () => {
    const dir = await dirWith(200)
    const before = await history(dir)
    await rm(join(dir, 'db', 'CURRENT'))
    const check = await doctor(dir)
    assert.equal(check.code, 10)
    assert.match(check.text, /db\/CURRENT is missing/)
    const fixed = await doctor(dir, true)
    assert.equal(fixed.code, 0, fixed.text)
    const back = await history(dir)
    assert.deepEqual(
      back.map((m) => [m.id, m.text, m.status]),
      before.map((m) => [m.id, m.text, m.status])
    )
    const node = await fleet.start(dir)
    const hits = await node.json<SearchResult[]>(['search', 'cafe'])
    assert.equal(hits.length, 1, 'the search index works after the repair')
    await node.stop()
  })

  it('a .log cut short after a clean stop: doctor --repair takes the database as it is, after a backup', async () => {
    const dir = join(await fleet.dir(), 'data')
    await cp(FIXTURE, dir, { recursive: true })
    const node = await fleet.start(dir)
    const api = new ApiClient(join(dir, 'api.sock'), dir)
    for (let i = 0; i < 200; i++) await api.send(BOB, `queued ${i} ${'.'.repeat(200)}`, { waitMs: 0 })
    await api.close()
    await node.stop()
    for (const log of (await readdir(join(dir, 'db'))).filter((f) => f.endsWith('.log'))) {
      const path = join(dir, 'db', log)
      await truncate(path, Math.floor((await stat(path)).size / 2))
    }
    const check = await doctor(dir)
    assert.equal(check.code, 10)
    assert.match(check.text, /lost writes/)
    const fixed = await doctor(dir, true)
    assert.equal(fixed.code, 0, fixed.text)
    const left = await history(dir)
    assert.ok(left.length > 7 && left.length < 207, `some of the queued messages were lost: ${left.length}`)
  })

  it('what doctor cannot mend (another store.secret) is reported with what to do, exit 10 even with --repair', async () => {
    const dir = join(await fleet.dir(), 'data')
    await cp(FIXTURE, dir, { recursive: true })
    await (await fleet.start(dir)).stop()
    const secret = await readFile(join(dir, 'store.secret'))
    await writeFile(join(dir, 'store.secret'), randomBytes(32))
    const fixed = await doctor(dir, true)
    assert.equal(fixed.code, 10)
    assert.match(fixed.text, /store\.secret is not the secret/)
    assert.match(fixed.text, /put back the store\.secret/)
    await writeFile(join(dir, 'store.secret'), secret)
    assert.equal((await doctor(dir)).code, 0)
  })

  it('identity.key lost for good: doctor --repair --new-identity keeps the history under a new peer id', async () => {
    for (const damage of ['delete', 'garble'] as const) {
      const dir = join(await fleet.dir(), 'data')
      await cp(FIXTURE, dir, { recursive: true })
      const first = await fleet.start(dir)
      await first.stop()
      const before = await history(dir)
      if (damage === 'delete') await rm(join(dir, 'identity.key'))
      else await writeFile(join(dir, 'identity.key'), randomBytes(40))
      const plain = await doctor(dir, true)
      assert.equal(plain.code, 10, 'not without --new-identity')
      assert.match(plain.text, /--new-identity/)
      const res = await cli(['doctor', '--repair', '--new-identity', '--data', dir])
      assert.equal(res.code, 0, res.stdout + res.stderr)
      assert.match(res.stdout, /a new identity was made/)
      const node = await fleet.start(dir)
      assert.notEqual(node.peerId, first.peerId)
      await node.stop()
      assert.deepEqual(
        (await history(dir)).map((m) => [m.id, m.text]),
        before.map((m) => [m.id, m.text])
      )
      assert.equal((await doctor(dir)).code, 0)
    }
  })

  it('doctor refuses while a node runs on the data dir (exit 6), and on a dir that is not there (exit 7)', async () => {
    const node = await fleet.start(await fleet.dir())
    const res = await cli(['doctor', '--data', node.dataDir])
    assert.equal(res.code, 6, res.stderr)
    assert.match(res.stderr, /hint: stop it first/)
    const none = await cli(['doctor', '--data', join(node.dataDir, 'nope')])
    assert.equal(none.code, 7, none.stderr)
    const empty = await cli(['doctor', '--data', await fleet.dir()])
    assert.equal(empty.code, 0, empty.stdout)
    assert.match(empty.stdout, /nothing here yet/)
  })
})
