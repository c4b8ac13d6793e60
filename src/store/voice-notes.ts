/**
 * Voice notes beside their conversation entries (kind `voice`): their duration and transcript, and the
 * queue of transcriptions still to do, which survives restarts and crashes (a job is removed in the batch that
 * stores its transcript). A done transcript's words go into the search index under the entry's key, in that batch.
 *
 * - `voice`       `conv!seq` → VoiceRecord (the entry's own key: search reads both with one getMany)
 * - `voice-jobs`  `added!id` → VoiceJob, in the order queued
 */
import type { Op, Sub } from './keys.ts'
import type { Store } from './store.ts'
import type { Transcript, VoiceJob, VoiceRecord } from './voice-types.ts'

export class VoiceNotes {
  private readonly store: Store
  private readonly records: Sub<VoiceRecord>
  private readonly jobsDb: Sub<VoiceJob>

  constructor(store: Store) {
    this.store = store
    this.records = store.parts.voice
    this.jobsDb = store.parts.voiceJobs
  }

  /**
   * Record a voice note (its entry must exist) with a pending transcript and queue its job, in one batch. Returns
   * undefined if there is no such entry; the existing record if it has one already (nothing queued again).
   */
  private lastAdded = 0

  async add(job: Omit<VoiceJob, 'added'>, duration: number, engine: string): Promise<VoiceRecord | undefined> {
    const key = await this.store.entryKey(job.peer, job.id)
    if (key == null) return undefined
    const known = await this.records.get(key)
    if (known != null) return known
    const record: VoiceRecord = { id: job.id, peer: job.peer, duration, transcript: { status: 'pending', text: '', engine } }
    // Jobs are keyed by when they were added: two in one millisecond must still keep their order (ids are random).
    const added = Math.max(Date.now(), this.lastAdded + 1)
    this.lastAdded = added
    await this.store.batch([
      { type: 'put', sublevel: this.records, key, value: record },
      { type: 'put', sublevel: this.jobsDb, key: jobKey(added, job.id), value: { ...job, added } }
    ])
    return record
  }

  async get(peer: string, id: string): Promise<VoiceRecord | undefined> {
    const key = await this.store.entryKey(peer, id)
    return key == null ? undefined : this.records.get(key)
  }

  /** Jobs waiting, oldest first. */
  async jobs(): Promise<VoiceJob[]> {
    return this.jobsDb.values().all()
  }

  /** Store a job's transcript (and index its words), and remove the job, in one batch. */
  async finish(job: VoiceJob, transcript: Transcript): Promise<VoiceRecord | undefined> {
    const key = await this.store.entryKey(job.peer, job.id)
    const record = key == null ? undefined : await this.records.get(key)
    const ops: Op[] = [{ type: 'del', sublevel: this.jobsDb, key: jobKey(job.added, job.id) }]
    let next: VoiceRecord | undefined
    if (key != null && record != null) {
      next = { ...record, transcript }
      ops.push({ type: 'put', sublevel: this.records, key, value: next })
      if (transcript.status === 'done' && transcript.text !== '') ops.push(...this.store.indexOps(key, transcript.text))
    }
    await this.store.batch(ops)
    return next
  }
}

function jobKey(added: number, id: string): string {
  return (added * 1000).toString(16).padStart(14, '0') + '!' + id
}
