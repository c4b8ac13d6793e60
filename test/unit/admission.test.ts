import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Admission, type Decision } from '../../src/protocols/file/admission.ts'

const MiB = 1024 * 1024

/** The status decided, or the refusal. */
function st(d: Decision): string {
  return 'refuse' in d ? `refused: ${d.refuse}` : d.status
}

describe('Admission (what an offer may cost before it is accepted)', () => {
  it('fetches at once only from trusted peers, up to the size limit', () => {
    const a = new Admission({ autoAcceptMax: 10 * MiB })
    assert.equal(st(a.decide('friend', MiB, true)), 'transferring')
    assert.equal(st(a.decide('friend', 11 * MiB, true)), 'waiting')
    assert.equal(st(a.decide('stranger', 1, false)), 'waiting')
  })

  it("keeps a trusted peer's hourly budget of files and bytes; after an hour it is back", () => {
    const a = new Admission({ autoAcceptMax: 100 * MiB, autoAcceptFilesPerHour: 3, autoAcceptBytesPerHour: 150 * MiB })
    const t0 = 1_000_000
    assert.equal(st(a.decide('p', 100 * MiB, true, t0)), 'transferring')
    assert.equal(st(a.decide('p', 60 * MiB, true, t0)), 'waiting', 'over the bytes per hour')
    assert.equal(st(a.decide('p', 1, true, t0)), 'transferring')
    assert.equal(st(a.decide('p', 1, true, t0)), 'transferring')
    assert.equal(st(a.decide('p', 1, true, t0)), 'waiting', 'over the files per hour')
    assert.equal(st(a.decide('other', 1, true, t0)), 'transferring', 'per peer')
    assert.equal(st(a.decide('p', 60 * MiB, true, t0 + 3600_000)), 'transferring')
  })

  it('bounds waiting offers per peer and from strangers altogether; a settled offer frees its place', () => {
    const a = new Admission({ autoAcceptMax: 0, maxWaitingPerPeer: 2, maxWaitingFromStrangers: 3 })
    const offer = (peer: string, id: string, trusted = false) => {
      const d = a.decide(peer, 1, trusted)
      if ('status' in d) a.track({ id, peer, direction: 'in', status: d.status })
      return d
    }
    assert.equal(st(offer('s1', 'a')), 'waiting')
    assert.equal(st(offer('s1', 'b')), 'waiting')
    assert.match((offer('s1', 'c') as { refuse: string }).refuse, /too many files from you/)
    assert.equal(st(offer('s2', 'd')), 'waiting')
    assert.match((offer('s3', 'e') as { refuse: string }).refuse, /too many files wait/, 'strangers: 3 in all')
    assert.equal(st(offer('friend', 'f', true)), 'waiting', "a contact's offer is not a stranger's")
    a.track({ id: 'a', peer: 's1', direction: 'in', status: 'cancelled' })
    assert.equal(st(offer('s3', 'g')), 'waiting')
  })
})
