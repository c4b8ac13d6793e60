/**
 * Groups through the real CLI (spawned `p2pnode start` nodes): create, groups --json, send and history by group
 * name; a member stopped, and one killed with kill -9, while the others talk gets everything once when back; a name
 * that is both a peer's and a group's is ambiguous.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import type { FileInfo } from '../../src/api/files.ts'
import type { GroupInfo, HistoryEntry, IdInfo, SendResult } from '../../src/api/types.ts'
import { Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-web']

describe('groups from the command line', () => {
  const fleet = new Fleet(LOCAL)
  const dirs: string[] = []
  let alice: NodeProcess
  let bob: NodeProcess
  let carol: NodeProcess
  let group: GroupInfo
  after(() => fleet.close())

  const addr = async (n: NodeProcess) => (await n.json<IdInfo>(['id'])).addrs[0]
  const texts = (h: HistoryEntry[]) => h.filter((m) => m.kind !== 'system').map((m) => m.text)
  const history = (n: NodeProcess) => n.json<HistoryEntry[]>(['history', 'family', '--limit', '1000'])
  const meet = async (a: NodeProcess, others: NodeProcess[]) => {
    for (const o of others) assert.equal((await a.run(['dial', await addr(o)])).code, 0)
  }

  before(async () => {
    for (const name of ['alice', 'bob', 'carol']) {
      const dir = await fleet.dir()
      dirs.push(dir)
      const n = await fleet.start(dir, ['--name', name])
      if (name === 'alice') alice = n
      else if (name === 'bob') bob = n
      else carol = n
    }
    await meet(alice, [bob, carol])
    await meet(bob, [carol])
  })

  it('group create, groups --json, send and history by the group name', async () => {
    group = await alice.json<GroupInfo>(['group', 'create', 'family', 'bob', 'carol'])
    assert.match(group.id, /^[0-9a-f]{32}$/)
    for (const n of [bob, carol]) {
      await waitFor(async () => (await n.json<GroupInfo[]>(['groups'])).some((g) => g.id === group.id), { what: 'the group there' })
    }
    const [listed] = await bob.json<GroupInfo[]>(['groups'])
    assert.deepEqual(Object.keys(listed).sort(), ['admin', 'id', 'members', 'name', 'unread'])
    assert.equal(listed.admin, alice.peerId)
    assert.deepEqual(listed.members.map((m) => m.name).sort(), ['alice', 'bob', 'carol'])
    const sent = await bob.json<SendResult>(['send', 'family', 'hello family'])
    assert.equal(sent.recipients, 2)
    await waitFor(async () => texts(await history(carol)).includes('hello family'), { what: 'carol has it' })
    const text = await carol.run(['history', 'family'])
    assert.match(text.stdout, /bob: hello family/)
    assert.match(text.stdout, /\* alice created the group family with bob, carol/)
    await waitFor(async () => (await history(bob)).find((m) => m.text === 'hello family')?.delivered === 2, {
      what: 'delivered to 2 of 2'
    })
    assert.match((await bob.run(['history', 'family'])).stdout, /me: hello family {2}\[delivered to 2 of 2\]/)
  })

  for (const how of ['stopped', 'killed with kill -9'] as const) {
    it(`a member ${how} while the others talk gets everything once when it is back`, async () => {
      if (how === 'stopped') assert.equal(await carol.stop(), 0)
      else await carol.crash()
      const said: string[] = []
      await Promise.all(
        [alice, bob].map(async (n, i) => {
          for (let k = 0; k < 5; k++) {
            const t = `${how} ${['alice', 'bob'][i]} ${k}`
            said.push(t)
            assert.equal((await n.run(['send', 'family', t])).code, 0)
          }
        })
      )
      carol = await fleet.start(dirs[2])
      await meet(carol, [alice, bob])
      const got = await waitFor(
        async () => {
          const h = texts(await history(carol))
          return said.every((t) => h.includes(t)) ? h : undefined
        },
        { what: `carol has all ${said.length}`, timeout: 60_000 }
      )
      for (const t of said) assert.equal(got.filter((x) => x === t).length, 1, `${t} once`)
      for (const sender of ['alice', 'bob']) {
        const order = got.filter((x) => x.startsWith(`${how} ${sender} `)).map((x) => Number(x.split(' ').at(-1)))
        assert.deepEqual(order, [0, 1, 2, 3, 4], `${sender}'s in order`)
      }
    })
  }

  it('send-file to a group offers the file to each member and says so in the group', async () => {
    const file = join(dirs[1], 'menu.txt')
    await writeFile(file, 'soup, bread, cheese\n')
    const res = await bob.run(['send-file', 'family', file, '--no-wait'])
    assert.equal(res.code, 0, res.stderr)
    for (const n of [alice, carol]) {
      await waitFor(
        async () => (await n.json<FileInfo[]>(['files'])).some((f) => f.name === 'menu.txt' && f.direction === 'in' && f.peer === bob.peerId),
        { what: 'the offer there' }
      )
      await waitFor(async () => texts(await history(n)).some((t) => t.startsWith('[file] menu.txt')), { what: 'the line in the group' })
    }
  })

  it('a name that is both a peer and a group is ambiguous; #name and the id are not', async () => {
    assert.equal((await bob.run(['contacts', 'add', carol.peerId, '--name', 'family'])).code, 0)
    const res = await bob.run(['send', 'family', 'which one?'])
    assert.equal(res.code, 4, res.stderr)
    assert.match(res.stderr, /family is both a peer and a group/)
    assert.match(res.stderr, /#family/)
    assert.equal((await bob.run(['send', '#family', 'the group'])).code, 0)
    assert.equal((await bob.run(['history', group.id])).code, 0)
    const notAdmin = await bob.run(['group', 'add', '#family', alice.peerId])
    assert.equal(notAdmin.code, 13, notAdmin.stderr)
    assert.match(notAdmin.stderr, /only the admin of family/)
  })

  it('a group record edited on disk (a member added by hand) is not used, and said', async () => {
    assert.equal(await carol.stop(), 0)
    const db = new Level<string, string>(join(dirs[2], 'db'))
    try {
      const groups = db.sublevel<string, string>('groups', { valueEncoding: 'utf8' })
      const record = JSON.parse((await groups.get(group.id)) ?? '{}') as { members: string[] }
      record.members.push('12D3KooWJ5ggoGJm9phmRnGKECBJmbQfZ2AeGMTUVCWiKvqb8cNj')
      await groups.put(group.id, JSON.stringify(record))
    } finally {
      await db.close()
    }
    carol = await fleet.start(dirs[2])
    assert.deepEqual(await carol.json<GroupInfo[]>(['groups']), [])
    await waitFor(() => /failed its check/.test(carol.stderr), { what: 'said on stderr' })
  })
})
