import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Anonymizer } from '../../src/export/anonymize.ts'
import { SwitchableMdns } from '../../src/node/discovery.ts'
import { Policy } from '../../src/node/policy.ts'
import { safetyNumber } from '../../src/node/safety-number.ts'
import { canonicalJson, RecordSealer } from '../../src/store/records.ts'
import { matchesAll, normalize, tokenize } from '../../src/store/text-index.ts'

describe('text index', () => {
  it('folds case and accents', () => {
    assert.equal(normalize('Ça, ÉLAN, Größe'), 'ca, elan, große')
    assert.deepEqual(tokenize('Héllo, hello! HELLO… wörld 42'), ['hello', 'world', '42'])
  })

  it('matches every term as a word prefix', () => {
    const words = tokenize('Meet me at the Café tomorrow')
    assert.ok(matchesAll(words, ['caf', 'tom']))
    assert.ok(!matchesAll(words, ['caf', 'yesterday']))
    assert.ok(!matchesAll(words, ['afe']), 'a prefix, not a substring')
  })

  it('bounds the words of a huge text', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `w${i}`).join(' ')
    assert.equal(tokenize(text).length, 2000)
  })
})

describe('record sealing', () => {
  const sealer = new RecordSealer(new Uint8Array(32).fill(1))

  it('opens what it sealed, and nothing edited or moved', () => {
    const sealed = sealer.seal('k1', { peerId: 'p', blocked: false })
    assert.deepEqual(sealer.open('k1', sealed), { peerId: 'p', blocked: false })
    assert.equal(sealer.open('k2', sealed), undefined, 'moved to another key')
    assert.equal(sealer.open('k1', { ...sealed, record: { peerId: 'p', blocked: true } }), undefined, 'edited')
    assert.equal(sealer.open('k1', { record: sealed.record, digest: 'zz' }), undefined, 'bad digest')
  })

  it('hashes key order away', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), canonicalJson({ a: [{ c: 2, d: 1 }], b: 1 }))
  })
})

describe('safety number', () => {
  it('is the same on both ends and differs between pairs', async () => {
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
    )
    const ab = safetyNumber(a, b)
    assert.match(ab, /^(\d{5} ){5}\d{5}$/)
    assert.equal(safetyNumber(b, a), ab)
    assert.notEqual(safetyNumber(a, c), ab)
  })
})

describe('policy', () => {
  it('follows visibility, contacts and blocks', () => {
    const p = new Policy('everyone')
    p.apply({ peerId: 'friend', contact: true, blocked: false, muted: true })
    p.apply({ peerId: 'foe', contact: false, blocked: true, muted: false })
    assert.ok(p.allows('stranger') && p.allows('friend') && !p.allows('foe'))
    assert.ok(p.isMuted('friend'))
    assert.equal(p.mdnsMode, 'ask-and-answer')
    p.visibility = 'contacts'
    assert.ok(!p.allows('stranger') && p.allows('friend'))
    assert.equal(p.mdnsMode, 'ask', 'finds its contacts, answers nobody')
    p.visibility = 'hidden'
    assert.ok(!p.allows('friend'))
    assert.equal(p.mdnsMode, 'off', 'silent on the LAN')
    p.apply({ peerId: 'foe', contact: true, blocked: false, muted: false })
    p.visibility = 'everyone'
    assert.ok(p.allows('foe'), 'unblocked')
  })
})

describe('switchable mDNS', () => {
  /** Stands in for the mDNS service: records what it is told. */
  function fakeMdns() {
    const log: string[] = []
    const inner = Object.assign(new EventTarget(), {
      broadcast: true,
      running: false,
      async start() {
        log.push(`start broadcast=${inner.broadcast}`)
        inner.running = true
      },
      async stop() {
        log.push('stop')
        inner.running = false
      },
      async setBroadcast(on: boolean) {
        inner.broadcast = on
      }
    })
    return { inner, log }
  }

  it('starts only when not off, follows the mode at once while running, and passes discoveries on', async () => {
    const { inner, log } = fakeMdns()
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a fake of the parts SwitchableMdns uses
    const m = new SwitchableMdns(inner as any, 'off')
    await m.setMode('ask') // not started yet: nothing happens
    assert.deepEqual(log, [])
    await m.setMode('off')
    await m.start()
    assert.equal(inner.running, false, 'off: never started')
    await m.setMode('ask')
    assert.ok(inner.running && !inner.broadcast, 'asks, does not answer')
    await m.setMode('ask-and-answer')
    assert.ok(inner.running && inner.broadcast, 'asks and answers')
    await Promise.all([m.setMode('off'), m.setMode('ask'), m.setMode('off')])
    assert.equal(inner.running, false, 'the last switch wins')
    const seen: unknown[] = []
    m.addEventListener('peer', (evt) => seen.push(evt.detail))
    inner.dispatchEvent(new CustomEvent('peer', { detail: { id: 'x' } }))
    assert.deepEqual(seen, [{ id: 'x' }])
    await m.stop()
    await m.setMode('ask')
    assert.equal(inner.running, false, 'stopped: stays stopped')
    assert.deepEqual(log.slice(0, 2), ['stop', 'start broadcast=false'])
  })
})

describe('anonymizer', () => {
  it('replaces personal data with placeholders', () => {
    const a = new Anonymizer(['Alice Martin', 'bob'])
    const text = a.text(
      'Alice Martin here: mail alice.m@example.org or call +44 20 7946 0958, see https://example.com/x?y=1, ' +
        'dial /ip4/192.168.1.20/tcp/4001/p2p/12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM or 10.0.0.7, ' +
        'peer 12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM. Bob agrees; bobsleigh is fine.'
    )
    for (const gone of ['Alice', 'alice.m', 'example', '7946', '192.168', '10.0.0.7', '12D3KooW', 'Bob ']) {
      assert.ok(!text.includes(gone), `${gone} left in: ${text}`)
    }
    assert.ok(text.includes('bobsleigh'), 'whole words only')
    assert.ok(text.includes('[EMAIL]') && text.includes('[PHONE]') && text.includes('[URL]'))
    assert.ok(text.includes('[MULTIADDR]') && text.includes('[IP]') && text.includes('[PEER_ID]') && text.includes('[NAME]'))
  })

  it('gives stable pseudonyms within one export and different ones across exports', () => {
    const a = new Anonymizer([])
    const b = new Anonymizer([])
    assert.equal(a.peer('x'), a.peer('x'))
    assert.notEqual(a.peer('x'), a.peer('y'))
    assert.notEqual(a.peer('x'), b.peer('x'))
    assert.notEqual(a.id('m1'), b.id('m1'))
    assert.equal(a.time(Date.UTC(2026, 0, 1, 10, 59, 59)), Date.UTC(2026, 0, 1, 10))
  })
})
