import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import type { ContactInfo, IdInfo, SearchResult, SendResult, VerifyResult } from '../../src/api/types.ts'
import { cleanup, NodeProcess, tempDir } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('contacts, verify, search and export through the CLI', () => {
  const dirs: string[] = []
  let alice: NodeProcess
  let bob: NodeProcess
  let carol: NodeProcess
  let bobAddr: string

  before(async () => {
    for (let i = 0; i < 3; i++) dirs.push(await tempDir())
    alice = await NodeProcess.start(dirs[0], ['--name', 'alice', ...LOCAL])
    bob = await NodeProcess.start(dirs[1], ['--name', 'bob', ...LOCAL])
    carol = await NodeProcess.start(dirs[2], ['--name', 'carol', ...LOCAL])
    bobAddr = (await bob.json<IdInfo>(['id'])).addrs[0]
  })
  after(async () => {
    await Promise.all([alice, bob, carol].map((n) => n?.stop()))
    await cleanup(...dirs)
  })

  it('adds, lists, renames and removes contacts', async () => {
    const added = await alice.json<ContactInfo>(['contacts', 'add', bobAddr, '--name', 'Bobby'])
    assert.equal(added.peerId, bob.peerId)
    assert.equal(added.name, 'Bobby')
    const byId = await alice.json<ContactInfo>(['contacts', 'add', carol.peerId])
    assert.equal(byId.peerId, carol.peerId)
    let list = await alice.json<ContactInfo[]>(['contacts'])
    assert.deepEqual(
      list.map((c) => c.peerId).sort(),
      [bob.peerId, carol.peerId].sort()
    )
    const b = list.find((c) => c.peerId === bob.peerId)
    assert.equal(b?.localName, 'Bobby')
    assert.equal(b?.peerName, 'bob', 'the name bob tells us is kept beside ours')
    assert.equal(b?.connected, true)
    // the local name and the peer's own name both resolve
    assert.equal((await alice.json<SendResult>(['send', 'Bobby', 'hi Bobby'])).status, 'delivered')
    assert.equal((await alice.json<SendResult>(['send', 'bob', 'hi bob'])).status, 'delivered')
    await alice.json(['contacts', 'rename', 'Bobby', 'Robert'])
    list = await alice.json<ContactInfo[]>(['contacts'])
    assert.equal(list.find((c) => c.peerId === bob.peerId)?.name, 'Robert')
    await alice.json(['contacts', 'rm', carol.peerId])
    list = await alice.json<ContactInfo[]>(['contacts'])
    assert.deepEqual(
      list.map((c) => c.peerId),
      [bob.peerId]
    )
    const text = await alice.run(['contacts'])
    assert.match(text.stdout, /Robert\s+12D3KooW\S+ \(calls itself bob\)/)
  })

  it('explains contact mistakes', async () => {
    const unknown = await alice.run(['contacts', 'rename', 'nobody', 'x'])
    assert.equal(unknown.code, 4)
    assert.match(unknown.stderr, /no known peer is called "nobody"/)
    const notContact = await alice.run(['contacts', 'rename', carol.peerId, 'x'])
    assert.equal(notContact.code, 4)
    assert.match(notContact.stderr, /is not a contact/)
    const self = await alice.run(['contacts', 'add', alice.peerId])
    assert.equal(self.code, 2)
    const badName = await alice.run(['contacts', 'add', carol.peerId, '--name', 'x'.repeat(100)])
    assert.equal(badName.code, 2)
  })

  it('shows the same safety number on both ends', async () => {
    const a = await alice.json<VerifyResult>(['verify', bob.peerId])
    const b = await bob.json<VerifyResult>(['verify', alice.peerId])
    assert.equal(a.safetyNumber, b.safetyNumber)
    assert.match(a.safetyNumber, /^(\d{5} ){5}\d{5}$/)
    assert.notEqual((await alice.json<VerifyResult>(['verify', carol.peerId])).safetyNumber, a.safetyNumber)
  })

  it('searches words and prefixes, any case or accent, newest first, by peer', async () => {
    await alice.json(['dial', (await carol.json<IdInfo>(['id'])).addrs[0]])
    await alice.json(['send', bob.peerId, 'Rendez-vous au Café de Flore'])
    await alice.json(['send', carol.peerId, 'the cafeteria is closed'])
    await bob.json(['send', alice.peerId, 'CAFÉ? oui!'])
    const texts = async (args: string[]) => (await alice.json<SearchResult[]>(['search', ...args])).map((h) => h.text)
    assert.deepEqual(await texts(['cafe']), ['CAFÉ? oui!', 'the cafeteria is closed', 'Rendez-vous au Café de Flore'])
    assert.deepEqual(await texts(['CAFÉ', '--peer', 'carol']), ['the cafeteria is closed'])
    assert.deepEqual(await texts(['flo', 'rendez']), ['Rendez-vous au Café de Flore'])
    assert.deepEqual(await texts(['cafe', '--limit', '1']), ['CAFÉ? oui!'])
    assert.deepEqual(await texts(['zzz']), [])
    const [hit] = await alice.json<SearchResult[]>(['search', 'oui'])
    assert.equal(hit.peer, bob.peerId)
    assert.equal(hit.direction, 'in')
  })

  it('exports anonymized JSONL with none of the planted personal data', async () => {
    const planted = ['jane.doe@example.org', '+1 415 555 0134', 'https://secret.example.com/x', '203.0.113.7']
    await alice.json(['send', bob.peerId, `call me at ${planted[1]} or mail ${planted[0]}`])
    await bob.json(['send', alice.peerId, `see ${planted[2]} from ${planted[3]}, says bob to alice`])
    await alice.json(['send', carol.peerId, `my address is ${bobAddr}, and carol knows ${bob.peerId}`])
    const out = join(dirs[0], 'export.jsonl')
    const res = await alice.json<{ out: string; card: string; messages: number }>(['export', '--anonymize', '--out', out])
    const file = await readFile(out, 'utf8')
    const lines = file.trim().split('\n').map((l) => JSON.parse(l))
    assert.equal(lines.length, res.messages)
    const secrets = [
      ...planted,
      alice.peerId,
      bob.peerId,
      carol.peerId,
      bobAddr,
      '127.0.0.1',
      'alice',
      'bob',
      'Bobby',
      'Robert',
      'carol'
    ]
    for (const s of secrets) {
      const line = file.split("\n").find((l) => l.toLowerCase().includes(s.toLowerCase()))
      assert.equal(line, undefined, `${s} is in the export`)
    }
    // one peer, one pseudonym, within this export
    const bobPseudonyms = new Set(lines.filter((l) => l.text.includes('Flore')).map((l) => l.conversation))
    assert.equal(bobPseudonyms.size, 1)
    const convs = new Set(lines.map((l) => l.conversation))
    assert.equal(convs.size, 2, 'bob and carol')
    assert.ok(lines.every((l) => l.timestamp % 3_600_000 === 0), 'rounded to the hour')
    const card = await readFile(res.card, 'utf8')
    assert.match(card, new RegExp(`Messages: ${res.messages}`))
    assert.match(card, /\[EMAIL\]: [1-9]/)
    // a second export cannot be joined with the first
    const out2 = join(dirs[0], 'export2.jsonl')
    await alice.json(['export', '--anonymize', '--out', out2])
    const lines2 = (await readFile(out2, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    assert.ok(!lines2.some((l) => convs.has(l.conversation)))
    // without --anonymize the data is all there, and stdout works
    const plain = await alice.run(['export'])
    assert.equal(plain.code, 0)
    assert.ok(plain.stdout.includes(planted[0]) && plain.stdout.includes(bob.peerId))
    assert.match(plain.stderr, /data card/)
  })

  it('keeps peer ids out of LevelDB keys and reports a tampered contact', async () => {
    await alice.json(['block', carol.peerId])
    assert.equal(await alice.stop(), 0)
    const ids = [alice.peerId, bob.peerId, carol.peerId]
    const db = new Level<string, string>(join(dirs[0], 'db'))
    try {
      const keys = await db.keys().all()
      assert.ok(keys.some((k) => k.startsWith('!peers!')), 'the contact store is there')
      for (const key of keys) {
        // messages above never carry a peer id in their text except the one alice sent to carol; index keys of
        // words are lower-cased, so compare case-insensitively and skip the words index
        if (key.startsWith('!words!') || key.startsWith('!vocab!')) continue
        for (const id of ids) assert.ok(!key.includes(id), `key ${key} holds a peer id`)
      }
      // tamper: carol was blocked; lifting the block by editing the record must not work
      const peers = db.sublevel<string, { record: { peerId: string; blocked: boolean }; digest: string }>('peers', {
        valueEncoding: 'json'
      })
      const entries = await peers.iterator().all()
      const [key, sealed] = entries.find(([, v]) => v.record.peerId === bob.peerId) ?? []
      assert.ok(key != null && sealed != null)
      await peers.put(key, { ...sealed, record: { ...sealed.record, blocked: true } })
      const [ckey, csealed] = entries.find(([, v]) => v.record.peerId === carol.peerId) ?? []
      assert.ok(ckey != null && csealed != null && csealed.record.blocked, `carol was blocked: ${JSON.stringify(entries.map(([, v]) => v.record))}`)
      await peers.put(ckey, { ...csealed, record: { ...csealed.record, blocked: false } })
    } finally {
      await db.close()
    }
    alice = await NodeProcess.start(dirs[0], LOCAL)
    const res = await alice.run(['contacts', '--json'])
    assert.equal(res.code, 0)
    assert.match(res.stderr, /failed its integrity check/)
    assert.ok(!(JSON.parse(res.stdout) as ContactInfo[]).some((c) => c.peerId === bob.peerId), 'not used')
    assert.match(alice.stderr, /peer record \S+ failed its integrity check/)
    // the edited-away block still holds: carol cannot reach alice
    const dialBack = await carol.run(['dial', (await alice.json<IdInfo>(['id'])).addrs[0]])
    assert.equal(dialBack.code, 5, dialBack.stderr)
    // removing them clears the warning
    await alice.json(['contacts', 'rm', bob.peerId])
    await alice.json(['contacts', 'rm', carol.peerId])
    assert.doesNotMatch((await alice.run(['contacts'])).stderr, /integrity/)
  })
})
