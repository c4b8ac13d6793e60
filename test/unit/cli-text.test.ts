import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import stringWidth from 'string-width'
import { formatPeers } from '../../src/cli/commands.ts'
import { formatFiles } from '../../src/cli/files.ts'
import { displayText } from '../../src/cli/output.ts'
import { voiceState } from '../../src/cli/voice.ts'
import type { HistoryEntry } from '../../src/api/types.ts'
import { matchPeerName } from '../../src/node/peer-ref.ts'
import { sanitizeName } from '../../src/protocols/chat/frames.ts'
import type { FileInfo } from '../../src/api/files.ts'

const A = '12D3KooWGQd2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdM'
const B = '12D3KooWHzz2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdN'
const C = '12D3KooWJyy2URh1sLAjJQyBTz4pC5W3aE4o7MrWzsHmWz5bGLdP'

/** The terminal column where `needle` starts on `line`. */
const column = (line: string, needle: string) => stringWidth(line.slice(0, line.indexOf(needle)))

describe('text shown on a terminal', () => {
  it('cleans a name of whole escape sequences, the same way every time', () => {
    assert.equal(sanitizeName('bob\x1b[31m RED'), 'bob RED')
    assert.equal(sanitizeName('\x1b]0;evil title\x07carol'), 'carol')
    assert.equal(sanitizeName('  dave\u202e\u200b  \t x '), 'dave x')
    assert.equal(sanitizeName(sanitizeName('bob\x1b[31m RED')), 'bob RED')
  })

  it('shows an escape sequence in a message as one mark, not half of it', () => {
    assert.equal(displayText('hi \x1b[2J\x1b[31mthere'), 'hi \uFFFD\uFFFDthere')
    assert.equal(displayText('a\nb'), 'a\n    b')
  })

  it('lines columns up by display width (emoji and CJK names take two columns a character)', () => {
    const peers = [
      { peerId: A, name: 'alice', connected: true, addrs: [] },
      { peerId: B, name: '😀😀', connected: false, addrs: [] },
      { peerId: C, name: '山田', connected: true, addrs: [] }
    ]
    const lines = formatPeers(peers).split('\n')
    const at = lines.map((l, i) => column(l, peers[i].peerId))
    assert.deepEqual(at, [at[0], at[0], at[0]], `peer ids start in one column:\n${lines.join('\n')}`)
    const file = (peer: string): FileInfo => ({
      id: 'a'.repeat(32), peer, direction: 'in', name: 'x', size: 1, received: 1, status: 'complete',
      sha256: '', path: '/x', mime: '', sent: 0
    })
    const names = new Map([[A, 'alice'], [B, '😀😀'], [C, '山田']])
    const rows = formatFiles([file(A), file(B), file(C)], names).split('\n')
    const statusAt = rows.map((r) => column(r, 'complete'))
    assert.deepEqual(statusAt, [statusAt[0], statusAt[0], statusAt[0]], rows.join('\n'))
  })

  it('lists each known peer once in a "no such peer" error', () => {
    // A contact answers to our name for it and to its own: both are in the list, the peer once in the message.
    const known = [
      { peerId: A, name: 'B' },
      { peerId: C, name: 'carol' },
      { peerId: A, name: 'bob' }
    ]
    assert.throws(() => matchPeerName('nobody', known), (err: Error & { details?: unknown }) => {
      assert.match(err.message, /\(known: B, carol\)$/)
      assert.equal((err.details as unknown[]).length, 2)
      return true
    })
    assert.equal(matchPeerName('bob', known), A)
  })
})

describe('a voice note in history, before and after it arrives', () => {
  const note = (direction: 'in' | 'out', status: string, transcript?: HistoryEntry['transcript']): HistoryEntry => ({
    id: 'c14434415b5c40724457a4d5f3572c8e',
    from: A,
    to: B,
    text: '',
    timestamp: 0,
    direction,
    status: 'delivered',
    kind: 'voice',
    file: { name: 'n.wav', size: 1, sha256: '', mime: 'audio/wav', status },
    transcript: transcript ?? { text: '', engine: 'pocketsphinx', status: 'pending' }
  })
  it('says it waits for your accept, with the command, and not that it is being transcribed', () => {
    assert.equal(voiceState(note('in', 'waiting')), '(waiting for you to accept it: p2pnode accept c1443441)')
    assert.equal(voiceState(note('in', 'transferring')), '(arriving…)')
    assert.equal(voiceState(note('in', 'cancelled')), '(cancelled)')
    assert.equal(voiceState(note('out', 'waiting')), '(transcribing…)')
    assert.equal(voiceState(note('in', 'complete', { text: 'young man', engine: 'pocketsphinx', status: 'done' })), '"young man"')
  })
})
