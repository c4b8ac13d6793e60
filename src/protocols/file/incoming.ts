/** The receiver's half of the file protocol: offers in (decided, within limits), then fetched, verified, placed. */
import { link, mkdir, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { TransferRecord } from '../../store/index.ts'
import { errorText, fromHex, toHex } from '../util.ts'
import { Admission, type AdmissionLimits } from './admission.ts'
import { ChunkWriter } from './chunk-writer.ts'
import { chunkCount, chunkLength, hashWhole } from './chunks.ts'
import {
  FETCH_PROTOCOL,
  FETCH_PROTOCOL_V3,
  HASH_BYTES,
  ID_BYTES,
  MAX_CHUNK_SIZE,
  MAX_FETCH_FRAME_BYTES,
  MAX_FILE_BYTES,
  MAX_NAME_BYTES,
  MAX_OFFER_FRAME_BYTES,
  MAX_RELAYED_FILE_BYTES,
  MIN_CHUNK_SIZE
} from './constants.ts'
import type { FileContext } from './context.ts'
import {
  DirectPathNeededError,
  FileProtocolError,
  HashMismatchError,
  TransferStoppedError,
  UnsafeFileNameError
} from './errors.ts'
import { clip, offerField, readFrame } from './frames.ts'
import { checkLeaves, readFetchedHashes, readFetchedLeaves, readOfferedHashes } from './hash-list.ts'
import { safeFileName, stripFormat, withSuffix } from './names.ts'
import { FetchFrame, type Offer, OfferFrame, OfferReply, Stop } from './pb/file.ts'
import { fileStream } from './paths.ts'
import { receiveChunks, receiveStream } from './receiver.ts'

/** File-system errors on the receiver's side that end a transfer (anything else is retried). */
const DISK_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'EISDIR', 'EFBIG'])

export class Incoming {
  private readonly ctx: FileContext
  private readonly downloadsDir: string | undefined
  private readonly window: number
  /** Chunks of credit a version-3 fetch grants. */
  private readonly credit: number
  /** Transfers being fetched now. */
  private readonly fetching = new Map<string, AbortController>()
  /** Verifies and writes chunks. */
  private readonly sink = new ChunkWriter()
  /** What offers may cost before the user accepts them. */
  private readonly admission: Admission

  constructor(
    ctx: FileContext,
    init: { downloadsDir?: string; window: number; credit: number; limits: AdmissionLimits }
  ) {
    this.ctx = ctx
    this.downloadsDir = init.downloadsDir
    this.window = init.window
    this.credit = init.credit
    this.admission = new Admission(init.limits)
  }

  /** Follow a record (waiting offers are counted: see Admission). */
  track(record: TransferRecord): void {
    this.admission.track(record)
  }

  /** We cancelled an incoming transfer: stop fetching it, delete what we have, tell the sender. */
  async cancel(record: TransferRecord): Promise<void> {
    const active = this.fetching.get(record.id)
    active?.abort(new TransferStoppedError('cancelled'))
    await this.discard(record)
    // No fetch stream yet (the offer was waiting for accept): open one just to tell a connected sender.
    if (active == null && this.ctx.isConnected(record.peer)) {
      void this.tellSender(record, Stop.Reason.CANCELLED, 'cancelled by the receiver')
    }
  }

  /** The node is stopping: end every fetch. */
  abortAll(): void {
    for (const c of this.fetching.values()) c.abort(new Error('node stopping'))
  }

  async closeAll(): Promise<void> {
    await this.sink.closeAll()
  }

  /**
   * Tell the sender of an incoming transfer that it is over (we cancelled it, or it failed here before any fetch
   * stream was open): a fetch stream that says so at once.
   */
  async tellSender(record: TransferRecord, reason: Stop.Reason, detail: string): Promise<void> {
    try {
      const protocol = record.root != null ? FETCH_PROTOCOL_V3 : FETCH_PROTOCOL
      const stream = await fileStream(this.ctx.deps.streams, record.peer, protocol, {
        signal: AbortSignal.timeout(this.ctx.frameTimeout),
        relayed: true
      })
      const lp = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
      await lp.writeV([
        FetchFrame.encode({ fetch: { id: fromHex(record.id), have: 0n, hashes: false } }),
        FetchFrame.encode({ stop: { reason, detail } })
      ])
      await stream.close()
    } catch (err) {
      // The sender learns it at its next offer instead.
      this.ctx.log('could not tell %s how %s ended: %s', record.peer, record.id, errorText(err))
    }
  }

  // ---- receiver: offer ---------------------------------------------------------------------------------------

  /**
   * An offer: checked, then decided (at once, within limits, or waiting for the user, or refused) before anything
   * is kept. Version 1 offers are followed by the chunk hashes, which are read a frame at a time and kept only for
   * a transfer accepted now; version 2 offers carry only the list's digest.
   */
  async onOffer(stream: Stream, connection: Connection, version: 1 | 2 | 3): Promise<void> {
    const peer = connection.remotePeer.toString()
    this.ctx.streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    const reply = async (status: OfferReply.Status, reason = '') => {
      await lp.write(OfferFrame.encode({ reply: { status, reason: clip(reason) } }))
      await stream.close()
    }
    try {
      const offer = offerField(await readFrame(lp, OfferFrame, this.ctx.frameTimeout), 'offer')
      checkOffer(offer, version)
      if (this.ctx.deps.isBlocked(peer)) {
        this.ctx.log('refusing a file from blocked peer %s', peer)
        return await reply(OfferReply.Status.REFUSED, 'blocked')
      }
      const size = Number(offer.size)
      const n = chunkCount(size, offer.chunkSize)
      const id = toHex(offer.id)
      const known = await this.ctx.store.get(id)
      if (known != null && (known.peer !== peer || known.direction !== 'in')) {
        if (version === 1) await readOfferedHashes(lp, n, false, this.ctx.frameTimeout)
        return await reply(OfferReply.Status.REFUSED, 'transfer id already in use')
      }
      if (known != null) {
        // A version-1 sender offers again on every connection: the list an accepted transfer lacks is kept now.
        const lacks = known.status === 'transferring' && n > 0 && (await this.ctx.store.hashes(id)).byteLength === 0
        if (version === 1) {
          const list = await readOfferedHashes(lp, n, lacks, this.ctx.frameTimeout)
          if (list != null) await this.ctx.store.setHashes(id, list)
        }
        return await this.replyKnown(known, reply)
      }
      if (this.downloadsDir == null) return await reply(OfferReply.Status.REFUSED, 'this node does not take files')
      let name: string
      let error: string | undefined
      try {
        name = safeFileName(offer.name)
      } catch (err) {
        if (!(err instanceof UnsafeFileNameError)) throw err
        // biome-ignore lint/suspicious/noControlCharactersInRegex: shown, not used as a path
        name = clip(stripFormat(offer.name).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?'), MAX_NAME_BYTES)
        error = `unsafe file name: ${err.message}`
        this.ctx.log.error('refusing file from %s: %s (%j)', peer, error, offer.name)
      }
      const decision =
        error != null ? undefined : this.admission.decide(peer, size, (await this.ctx.deps.trusts?.(peer)) === true, Date.now(), offer.voice === true)
      if (decision != null && 'refuse' in decision) {
        if (version === 1) await readOfferedHashes(lp, n, false, this.ctx.frameTimeout)
        this.ctx.log('refusing a file from %s: %s', peer, decision.refuse)
        return await reply(OfferReply.Status.REFUSED, decision.refuse)
      }
      const status = decision?.status ?? 'failed'
      const waitReason = decision != null && decision.status === 'waiting' ? decision.reason : undefined
      // Only a transfer fetched now keeps its list; one that waits keeps a record, and gets the list on accept.
      const hashes =
        version === 1 ? await readOfferedHashes(lp, n, status === 'transferring', this.ctx.frameTimeout) : undefined
      const record: TransferRecord = {
        id,
        peer,
        direction: 'in',
        name,
        size,
        mime: clip(stripFormat(offer.mime), MAX_NAME_BYTES),
        chunkSize: offer.chunkSize,
        sha256: version === 3 ? '' : toHex(offer.sha256),
        timestamp: Number(offer.timestamp),
        status,
        path: '',
        tempPath: join(this.downloadsDir, `.p2pnode-${id}.part`),
        ...(version === 2 ? { listSha256: toHex(offer.listSha256) } : {}),
        ...(version === 3 ? { root: toHex(offer.root) } : {}),
        ...(offer.after > 0n ? { after: Number(offer.after) } : {}),
        ...(offer.voice === true ? { voice: true } : {}),
        ...(waitReason != null ? { waitReason } : {}),
        ...(error != null ? { error } : {})
      }
      await this.ctx.store.create(record, hashes ?? new Uint8Array(0), peer, this.ctx.self())
      this.ctx.changed(record)
      if (error != null) return await reply(OfferReply.Status.REFUSED, error)
      if (record.status === 'waiting') await reply(OfferReply.Status.WAITING, waitReason)
      else await reply(OfferReply.Status.ACCEPTED)
      if (record.status === 'transferring') void this.fetch(record)
    } catch (err) {
      if (this.ctx.started()) this.ctx.log.error('resetting file offer stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.ctx.streams.delete(stream)
    }
  }

  private async replyKnown(known: TransferRecord, reply: (s: OfferReply.Status, r?: string) => Promise<void>) {
    switch (known.status) {
      case 'complete':
        return reply(OfferReply.Status.COMPLETE)
      case 'cancelled':
        return reply(OfferReply.Status.CANCELLED)
      case 'failed':
        return reply(OfferReply.Status.FAILED, known.error ?? 'failed')
      case 'waiting':
        return reply(OfferReply.Status.WAITING, known.waitReason)
      default:
        await reply(OfferReply.Status.ACCEPTED)
        void this.fetch(known)
    }
  }

  // ---- receiver: fetch ---------------------------------------------------------------------------------------

  async fetch(record: TransferRecord): Promise<void> {
    if (this.fetching.has(record.id) || !this.ctx.started()) return
    const controller = new AbortController()
    this.fetching.set(record.id, controller)
    const { id, peer } = record
    let stream: Stream | undefined
    let lp: LengthPrefixedStream | undefined
    let retry = false
    try {
      const tempPath = record.tempPath ?? ''
      let hashes: Uint8Array = await this.ctx.store.hashes(id)
      const n = chunkCount(record.size, record.chunkSize)
      // Version 3: the file is its hash tree root; chunks come on fetch/3 (credit), each checked against its leaf.
      const v3 = record.root != null
      // Versions 2 and 3: the list comes first on this stream. Version 1 accepted after waiting: its list was not
      // kept, and chunks are checked only as part of the whole file (until the sender offers again with the list).
      const askList = hashes.byteLength === 0 && n > 0 && (record.listSha256 != null || v3)
      const done = new Uint8Array(n)
      let received = 0
      for (const i of await this.ctx.store.verified(id)) {
        if (i < n && done[i] === 0) {
          done[i] = 1
          received += chunkLength(record, i)
        }
      }
      this.ctx.received.set(id, received)
      const missing: number[] = []
      for (let i = n - 1; i >= 0; i--) if (done[i] === 0) missing.push(i)
      await mkdir(dirname(tempPath), { recursive: true, mode: 0o700 })
      // The whole-file hash (versions 1, 2) can be kept on the way only when every chunk comes in this run.
      await this.sink.open(id, tempPath, n, !v3 && missing.length === n)
      // Opened even when nothing is missing (an empty file, or a crash after the last chunk): the sender learns
      // the outcome on this stream.
      stream = await fileStream(this.ctx.deps.streams, peer, v3 ? FETCH_PROTOCOL_V3 : FETCH_PROTOCOL, {
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.ctx.frameTimeout)]),
        relayed: record.size <= MAX_RELAYED_FILE_BYTES
      })
      if (this.ctx.directWait.delete(id)) this.ctx.changed(record)
      this.ctx.streams.add(stream)
      const s = stream
      const frames = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
      lp = frames
      controller.signal.addEventListener(
        'abort',
        () => {
          // Cancelled here: tell the sender, so that it stops too; otherwise (node stopping) just end the stream.
          if (controller.signal.reason instanceof TransferStoppedError) {
            void this.tell(s, frames, Stop.Reason.CANCELLED, 'cancelled by the receiver')
          } else {
            s.abort(new Error('stopping'))
          }
        },
        { once: true }
      )
      await lp.write(FetchFrame.encode({ fetch: { id: fromHex(id), have: BigInt(received), hashes: askList } }))
      if (askList && v3) {
        hashes = await readFetchedLeaves(lp, record, fromHex(record.root ?? ''), this.ctx.frameTimeout)
        await this.ctx.store.setHashes(id, hashes)
      } else if (askList) {
        hashes = await readFetchedHashes(lp, n, fromHex(record.listSha256 ?? ''), this.ctx.frameTimeout)
        await this.ctx.store.setHashes(id, hashes)
      } else if (v3 && n === 0) {
        checkLeaves(hashes, record, fromHex(record.root ?? ''))
      }
      await (v3 ? receiveStream : receiveChunks)({
        record,
        lp,
        hashes,
        missing,
        done,
        sink: this.sink,
        store: this.ctx.store,
        window: v3 ? this.credit : this.window,
        frameTimeout: this.ctx.frameTimeout,
        log: this.ctx.log,
        onRecorded: (length) => this.ctx.progress(id, (this.ctx.received.get(id) ?? 0) + length, record.size)
      })
      // Version 3: every chunk matched its leaf, and the leaves the root: that is the file offered.
      const sha256 = v3 ? record.sha256 : ((await this.sink.close(id)) ?? (await hashWhole(tempPath)))
      if (sha256 !== record.sha256) {
        await this.discard(record)
        await this.ctx.fail(id, `whole-file hash mismatch (got ${sha256}, offered ${record.sha256})`)
        await this.tell(stream, lp, Stop.Reason.FAILED, 'whole-file hash mismatch')
        return
      }
      // Linked under its name, recorded, then the temp name goes: a crash anywhere in between finds, next time,
      // the same file under the same name (place() knows its own link) instead of making a copy `name (1)`.
      const path = await this.place(tempPath, record.name)
      await this.ctx.store.update(id, { status: 'complete', path })
      await this.dropTempName(id, tempPath)
      await this.ctx.store.clearVerified(id)
      this.ctx.received.set(id, record.size)
      this.ctx.changed({ ...record, status: 'complete', path })
      await this.tell(stream, lp, Stop.Reason.COMPLETE, '')
    } catch (err) {
      // Cancelled here: tell() is writing the Stop and closing the stream; a reset now could overtake the Stop and
      // leave the sender waiting.
      const cancelledHere = controller.signal.aborted && controller.signal.reason instanceof TransferStoppedError
      const code = (err as NodeJS.ErrnoException).code
      if (cancelledHere) {
        // cancel() recorded it and deleted the partial file.
      } else if (err instanceof TransferStoppedError && err.reason === Stop.Reason.CANCELLED) {
        stream?.abort(err)
        await this.ctx.setStatus(id, 'cancelled')
        await this.discard(record)
      } else if (err instanceof TransferStoppedError) {
        // The sender ended it: nothing to tell it.
        stream?.abort(err)
        await this.discard(record)
        await this.ctx.fail(id, err.message)
      } else if (err instanceof HashMismatchError || (code != null && DISK_ERRORS.has(code))) {
        // Over for good here (retrying would not help): leave nothing half-written behind, and tell the sender at
        // once, on this stream if it is open, else on one opened for that; otherwise it would wait for chunks
        // nobody asks for until its next offer.
        const [why, told] =
          err instanceof HashMismatchError
            ? [err.message, err.message]
            : code === 'ENOSPC' || code === 'EDQUOT'
              ? ['disk full', 'its disk is full']
              : [`cannot write the file: ${errorText(err)}`, 'it cannot write the file']
        await this.discard(record)
        await this.ctx.fail(id, why)
        if (code != null) this.ctx.log.error('receiving %s failed: %s', id, errorText(err))
        if (stream != null && lp != null && stream.status === 'open') await this.tell(stream, lp, Stop.Reason.FAILED, told)
        else if (this.ctx.isConnected(peer)) void this.tellSender(record, Stop.Reason.FAILED, told)
      } else if (err instanceof DirectPathNeededError) {
        // Not retried: the node resumes it when a direct connection comes (onConnect), and says why it waits.
        this.ctx.log('%s waits for a direct connection to %s', id, peer)
        if (!this.ctx.directWait.has(id)) {
          this.ctx.directWait.add(id)
          this.ctx.changed(record)
        }
      } else {
        stream?.abort(err instanceof Error ? err : new Error(String(err)))
        if (!controller.signal.aborted && this.ctx.started()) {
          this.ctx.log.error('fetching %s from %s broke: %s', id, peer, errorText(err))
          retry = (err as Error).name !== 'UnsupportedProtocolError'
        }
      }
    } finally {
      await this.sink.close(id).catch(() => {})
      if (stream != null) this.ctx.streams.delete(stream)
      this.fetching.delete(id)
    }
    if (retry) {
      this.ctx.later(async () => {
        const now = await this.ctx.store.get(id)
        if (now?.status === 'transferring' && this.ctx.isConnected(peer)) void this.fetch(now)
      })
    }
  }

  /**
   * Link the verified temp file under its final name next to it (the downloads dir when the transfer began), never
   * replacing a file: `name`, else `name (1)`, ... A name already linked to the temp file itself (by a run that
   * crashed before recording it) is that name.
   */
  private async place(tempPath: string, name: string): Promise<string> {
    const dir = dirname(tempPath)
    const temp = await stat(tempPath)
    for (let n = 0; ; n++) {
      const path = join(dir, withSuffix(name, n))
      try {
        await link(tempPath, path)
        return path
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 10_000) throw err
        const there = await stat(path).catch(() => undefined)
        if (there?.ino === temp.ino && there.dev === temp.dev) return path
      }
    }
  }

  /** Remove a complete file's temp name, then forget it (so that no later start looks for it again). */
  async dropTempName(id: string, tempPath: string): Promise<void> {
    await unlink(tempPath).catch(() => {})
    await this.ctx.store.update(id, { tempPath: undefined })
  }

  /** Delete a partly received file and forget its chunks. */
  async discard(record: TransferRecord): Promise<void> {
    if (record.tempPath != null) await unlink(record.tempPath).catch(() => {})
    await this.ctx.store.clearVerified(record.id)
    this.ctx.received.delete(record.id)
  }

  /** End a fetch stream, telling the sender how the transfer ended. */
  private async tell(
    stream: Stream | undefined,
    lp: LengthPrefixedStream | undefined,
    reason: Stop.Reason,
    detail: string
  ): Promise<void> {
    if (stream == null || lp == null) return
    try {
      await lp.write(FetchFrame.encode({ stop: { reason, detail } }))
      await stream.close()
    } catch {
      stream.abort(new Error('closing'))
    }
  }
}

/** The fields of an offer that must hold whatever the receiver decides; a FileProtocolError otherwise. */
function checkOffer(offer: Offer, version: 1 | 2 | 3): void {
  if (offer.id.byteLength !== ID_BYTES) throw new FileProtocolError(`transfer id must be ${ID_BYTES} bytes`)
  if (version === 3 ? offer.root.byteLength !== HASH_BYTES : offer.sha256.byteLength !== HASH_BYTES) {
    throw new FileProtocolError(version === 3 ? 'the hash tree root must be 32 bytes' : 'file hash must be 32 bytes')
  }
  if (version === 2 && offer.listSha256.byteLength !== HASH_BYTES) {
    throw new FileProtocolError('chunk list digest must be 32 bytes')
  }
  if (offer.size > BigInt(MAX_FILE_BYTES)) throw new FileProtocolError(`file of ${offer.size} bytes is too large`)
  if (offer.chunkSize < MIN_CHUNK_SIZE || offer.chunkSize > MAX_CHUNK_SIZE) {
    throw new FileProtocolError(`chunk size ${offer.chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`)
  }
  if (Buffer.byteLength(offer.name) > MAX_NAME_BYTES || Buffer.byteLength(offer.mime) > MAX_NAME_BYTES) {
    throw new FileProtocolError('file name or MIME type too long')
  }
}
