import { randomBytes } from 'node:crypto'
import { type FileHandle, link, mkdir, open, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import { lookup as mimeLookup } from 'mime-types'
import { FINAL_STATUSES, type TransferRecord, type TransferStatus } from '../../store/index.ts'
import { errorText, fromHex, toHex } from '../util.ts'
import {
  DEFAULT_AUTO_ACCEPT_MAX,
  DEFAULT_CHUNK_SIZE,
  FETCH_PROTOCOL,
  FRAME_TIMEOUT_MS,
  HASH_BYTES,
  ID_BYTES,
  MAX_CHUNK_SIZE,
  MAX_FETCH_FRAME_BYTES,
  MAX_FILE_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_NAME_BYTES,
  MAX_OFFER_FRAME_BYTES,
  MIN_CHUNK_SIZE,
  OFFER_PROTOCOL,
  OFFER_PROTOCOL_V2,
  RECONNECT_INTERVAL_MS,
  MAX_OFFER_RETRY_MS,
  RETRY_DELAY_MS,
  WINDOW_CHUNKS
} from './constants.ts'
import { ChunkWriter } from './chunk-writer.ts'
import { chunkCount, chunkLength, hashFile, hashWhole } from './chunks.ts'
import { FileProtocolError, HashMismatchError, TransferStoppedError, UnsafeFileNameError } from './errors.ts'
import { clip, fetchField, offerField, readFrame } from './frames.ts'
import type { FileComponents, FileEvents, FileInit, FileStore, FileTransferProtocol, TransferInfo } from './index.ts'
import { safeFileName, stripFormat, withSuffix } from './names.ts'
import { receiveChunks } from './receiver.ts'
import { serveChunks } from './sender.ts'
import { FetchFrame, type Offer, OfferFrame, OfferReply, Stop } from './pb/file.ts'
import { Admission } from './admission.ts'
import { hashFrames, listDigest, readFetchedHashes, readOfferedHashes } from './hash-list.ts'

const PROGRESS_INTERVAL_MS = 100
/** File-system errors on the receiver's side that end a transfer (anything else is retried). */
const DISK_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'EISDIR', 'EFBIG'])

/**
 * /chat/1.0/file/offer and /chat/1.0/file/fetch.
 *
 * The sender records a transfer and offers it (manifest: name, size, MIME type, chunk size, whole-file hash, then
 * the chunk hashes) whenever the peer connects, until the receiver's answer says it is over. The receiver stores
 * the manifest and fetches the chunks it lacks, a window of a few at a time, verifies each against its hash,
 * writes it at its place in a temp file and records it in LevelDB; when all are there, the whole file is hashed,
 * and only if that matches is the temp file linked to its final name. Any break resumes from the recorded chunks.
 */
export class FileTransfer extends TypedEventEmitter<FileEvents> implements FileTransferProtocol, Startable {
  private readonly components: FileComponents
  private readonly store: FileStore
  private readonly log: Logger
  private readonly downloadsDir: string | undefined
  private readonly autoAcceptMax: number
  private readonly chunkSize: number
  private readonly window: number
  private readonly frameTimeout: number
  private readonly retryDelay: number
  /** Receiver: transfers being fetched now. */
  private readonly fetching = new Map<string, AbortController>()
  /** Sender: offers being made now. */
  private readonly offering = new Map<string, Promise<void>>()
  /** Sender: fetch streams being served now, per transfer. */
  private readonly serving = new Map<string, Set<Stream>>()
  /** Live byte counts (see TransferInfo). */
  private readonly received = new Map<string, number>()
  private readonly sent = new Map<string, number>()
  private readonly lastProgress = new Map<string, number>()
  private readonly streams = new Set<Stream>()
  private readonly timers = new Set<NodeJS.Timeout>()
  /** Receiver: verifies and writes chunks. */
  private readonly sink = new ChunkWriter()
  /** Receiver: what offers may cost before the user accepts them. */
  private readonly admission: Admission
  private started = false
  private readonly reconnectInterval: number
  private reconnect: NodeJS.Timeout | undefined

  constructor(components: FileComponents, init: FileInit = {}) {
    super()
    this.components = components
    this.store = components.store
    this.log = components.logger.forComponent('p2pnode:file')
    this.downloadsDir = init.downloadsDir
    this.autoAcceptMax = init.autoAcceptMax ?? DEFAULT_AUTO_ACCEPT_MAX
    this.admission = new Admission({ autoAcceptMax: this.autoAcceptMax, ...init.limits })
    this.chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE
    if (this.chunkSize < MIN_CHUNK_SIZE || this.chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunkSize must be from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`)
    }
    this.window = init.windowChunks ?? WINDOW_CHUNKS
    this.frameTimeout = init.frameTimeout ?? FRAME_TIMEOUT_MS
    this.retryDelay = init.retryDelay ?? RETRY_DELAY_MS
    this.reconnectInterval = init.reconnectInterval ?? RECONNECT_INTERVAL_MS
  }

  readonly [Symbol.toStringTag] = 'p2pnode:file'

  async start(): Promise<void> {
    const limits = { maxInboundStreams: MAX_INBOUND_STREAMS, maxOutboundStreams: MAX_INBOUND_STREAMS }
    await this.components.libp2p.handle(OFFER_PROTOCOL_V2, (s, c) => this.onOffer(s, c, 2), limits)
    await this.components.libp2p.handle(OFFER_PROTOCOL, (s, c) => this.onOffer(s, c, 1), limits)
    await this.components.libp2p.handle(FETCH_PROTOCOL, (s, c) => this.onFetch(s, c), limits)
    this.started = true
    // Peers with offers waiting, or files half received, are asked for again and again (the node backs off).
    this.reconnect = setInterval(() => void this.reconnectWaiting(), this.reconnectInterval)
    this.reconnect.unref()
    // What was under way when we stopped (or crashed) goes on when its peer is here.
    for (const record of await this.store.list()) {
      this.admission.track(record)
      // A crash after recording a file complete can leave its temp name (a second link to it) behind.
      if (record.status === 'complete' && record.tempPath != null) await this.dropTempName(record.id, record.tempPath)
      if (FINAL_STATUSES.has(record.status)) continue
      if (this.isConnected(record.peer)) this.onConnect(record.peer)
      else if (record.direction === 'out' || record.status === 'transferring') this.components.connect?.(record.peer)
    }
  }

  async stop(): Promise<void> {
    this.started = false
    clearInterval(this.reconnect)
    for (const t of this.timers) clearTimeout(t)
    await this.components.libp2p.unhandle([OFFER_PROTOCOL_V2, OFFER_PROTOCOL, FETCH_PROTOCOL])
    for (const c of this.fetching.values()) c.abort(new Error('node stopping'))
    for (const s of this.streams) s.abort(new Error('node stopping'))
    await this.sink.closeAll()
  }

  // ---- public API --------------------------------------------------------------------------------------------

  async send(peer: string, path: string, options: { signal?: AbortSignal } = {}): Promise<TransferInfo> {
    const st = await stat(path)
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a file`), { code: 'EISDIR' })
    if (st.size > MAX_FILE_BYTES) throw new RangeError(`file is ${st.size} bytes; the limit is ${MAX_FILE_BYTES}`)
    const { sha256, hashes } = await hashFile(path, this.chunkSize, options)
    const name = basename(path)
    let record: TransferRecord = {
      id: randomBytes(ID_BYTES).toString('hex'),
      peer,
      direction: 'out',
      name,
      size: st.size,
      mime: mimeLookup(name) || 'application/octet-stream',
      chunkSize: this.chunkSize,
      sha256,
      timestamp: Date.now(),
      status: 'offered',
      path,
      source: { size: st.size, mtimeMs: st.mtimeMs },
      ...(this.components.queued != null ? { queued: true } : {})
    }
    await this.store.create(record, hashes, this.self, peer)
    // As stored: with the timestamp and `after` of its conversation entry.
    record = (await this.store.get(record.id)) ?? record
    this.changed(record)
    // Queued: the chat session offers it after the texts before it (at once if none waits); else on its own.
    if (record.queued === true) this.components.queued?.(peer)
    if (this.isConnected(peer) && (record.queued !== true || (await this.store.nextInOutbox(record)))) {
      void this.offer(record)
    }
    if (!this.isConnected(peer)) this.components.connect?.(peer)
    return this.info(record)
  }

  async deliver(peer: string, id: string, signal: AbortSignal): Promise<'delivered' | 'dropped'> {
    let delay = this.retryDelay
    for (;;) {
      signal.throwIfAborted()
      const record = await this.store.get(id)
      if (record == null || record.peer !== peer || record.direction !== 'out') return 'dropped'
      if (record.status !== 'offered') {
        // Answered (waiting, transferring, complete, or failed/cancelled by the receiver's word), or ended here
        // before anyone answered: the entry's status tells which.
        return (await this.store.offerDelivered(record)) ? 'delivered' : 'dropped'
      }
      if (!this.started) throw new Error('node stopping')
      await this.offer(record)
      if ((await this.store.get(id))?.status !== 'offered') continue
      // Not answered: try again while the session lasts, backing off.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }, delay)
        const onAbort = () => {
          clearTimeout(t)
          reject(signal.reason as Error)
        }
        signal.addEventListener('abort', onAbort, { once: true })
      })
      delay = Math.min(delay * 2, MAX_OFFER_RETRY_MS)
    }
  }

  async accept(id: string): Promise<TransferInfo | undefined> {
    const record = await this.store.get(id)
    if (record == null || record.direction !== 'in' || record.status !== 'waiting') return this.get(id)
    const next = await this.setStatus(id, 'transferring')
    if (next != null && this.isConnected(next.peer)) void this.fetch(next)
    return next == null ? undefined : this.info(next)
  }

  async cancel(id: string): Promise<TransferInfo | undefined> {
    const record = await this.store.get(id)
    if (record == null || FINAL_STATUSES.has(record.status)) return record == null ? undefined : this.info(record)
    const next = await this.setStatus(id, 'cancelled')
    // Never offered: it leaves the chat outbox (the peer never hears of it).
    if (record.direction === 'out' && record.queued === true && record.status === 'offered') {
      await this.store.unqueue(record)
    }
    if (record.direction === 'in') {
      const active = this.fetching.get(id)
      active?.abort(new TransferStoppedError('cancelled'))
      await this.discard(record)
      // No fetch stream yet (the offer was waiting for accept): open one just to tell a connected sender.
      if (active == null && this.isConnected(record.peer)) {
        void this.tellSender(record, Stop.Reason.CANCELLED, 'cancelled by the receiver')
      }
    } else {
      for (const s of this.serving.get(id) ?? []) {
        // Tell the receiver why, then end the stream.
        void lpStream(s, { maxDataLength: MAX_FETCH_FRAME_BYTES })
          .write(FetchFrame.encode({ stop: { reason: Stop.Reason.CANCELLED, detail: 'cancelled by the sender' } }))
          .catch(() => {})
          .finally(() => s.abort(new TransferStoppedError('cancelled')))
      }
    }
    return next == null ? undefined : this.info(next)
  }

  /**
   * Tell the sender of an incoming transfer that it is over (we cancelled it, or it failed here before any fetch
   * stream was open): a fetch stream that says so at once.
   */
  private async tellSender(record: TransferRecord, reason: Stop.Reason, detail: string): Promise<void> {
    try {
      const stream = await this.components.libp2p.dialProtocol(peerIdFromString(record.peer), FETCH_PROTOCOL, {
        signal: AbortSignal.timeout(this.frameTimeout)
      })
      const lp = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
      await lp.writeV([
        FetchFrame.encode({ fetch: { id: fromHex(record.id), have: 0n, hashes: false } }),
        FetchFrame.encode({ stop: { reason, detail } })
      ])
      await stream.close()
    } catch (err) {
      // The sender learns it at its next offer instead.
      this.log('could not tell %s how %s ended: %s', record.peer, record.id, errorText(err))
    }
  }

  async get(id: string): Promise<TransferInfo | undefined> {
    const record = await this.store.get(id)
    return record == null ? undefined : this.info(record)
  }

  async list(): Promise<TransferInfo[]> {
    const records = await this.store.list()
    const infos = await Promise.all(records.map((r) => this.info(r)))
    return infos.sort((a, b) => a.timestamp - b.timestamp)
  }

  onConnect(peer: string): void {
    if (!this.started) return
    void (async () => {
      for (const record of await this.store.list()) {
        if (record.peer !== peer || FINAL_STATUSES.has(record.status)) continue
        // The sender re-offers until the receiver says it is over; that answer also tells it the receiver's state.
        if (record.direction === 'out') {
          // A queued offer not yet made is the chat session's to make, in its turn; unless its turn has come
          // (nothing before it waits), in case there is no chat session to make it.
          if (!(record.queued === true && record.status === 'offered') || (await this.store.nextInOutbox(record))) {
            void this.offer(record)
          }
        } else if (record.status === 'transferring') void this.fetch(record)
      }
    })().catch((err) => this.log.error('resuming transfers with %s: %s', peer, errorText(err)))
  }

  // ---- sender: offer -----------------------------------------------------------------------------------------

  /** Offer a transfer; while one offer of it is under way, the same one. */
  private offer(record: TransferRecord): Promise<void> {
    if (!this.started) return Promise.resolve()
    let running = this.offering.get(record.id)
    if (running == null) {
      running = this.offerOnce(record).finally(() => this.offering.delete(record.id))
      this.offering.set(record.id, running)
    }
    return running
  }

  private async offerOnce(record: TransferRecord): Promise<void> {
    let stream: Stream | undefined
    try {
      // Version 2 if the peer has it (the list follows on the fetch stream, once accepted), else version 1.
      stream = await this.components.libp2p.dialProtocol(
        peerIdFromString(record.peer),
        [OFFER_PROTOCOL_V2, OFFER_PROTOCOL],
        { signal: AbortSignal.timeout(this.frameTimeout) }
      )
      this.streams.add(stream)
      const v2 = stream.protocol === OFFER_PROTOCOL_V2
      const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
      const hashes = await this.store.hashes(record.id)
      const frames = [
        OfferFrame.encode({
          offer: {
            id: fromHex(record.id),
            name: record.name,
            size: BigInt(record.size),
            mime: record.mime,
            chunkSize: record.chunkSize,
            sha256: fromHex(record.sha256),
            timestamp: BigInt(record.timestamp),
            listSha256: v2 ? listDigest(hashes) : new Uint8Array(0),
            after: BigInt(record.after ?? 0)
          }
        }),
        ...(v2 ? [] : hashFrames(hashes, 'offer'))
      ]
      for (const f of frames) await lp.write(f)
      const reply = offerField(await readFrame(lp, OfferFrame, this.frameTimeout), 'reply')
      await stream.close()
      await this.onReply(record, reply)
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if ((err as Error).name === 'UnsupportedProtocolError') {
        await this.fail(record.id, 'the peer does not take files (no /chat/1.0/file support)')
        return
      }
      if (!this.started) return
      this.log.error('offering %s to %s failed: %s', record.id, record.peer, errorText(err))
      // A queued transfer is retried by deliver(), which the chat session is waiting on.
      if (record.queued === true) return
      this.later(async () => {
        const now = await this.store.get(record.id)
        if (now?.status === 'offered' && this.isConnected(now.peer)) void this.offer(now)
      })
    } finally {
      if (stream != null) this.streams.delete(stream)
    }
  }

  private async onReply(record: TransferRecord, reply: OfferReply): Promise<void> {
    const reason = clip(reply.reason)
    const statuses: Record<OfferReply.Status, TransferStatus> = {
      [OfferReply.Status.ACCEPTED]: 'transferring',
      [OfferReply.Status.WAITING]: 'waiting',
      [OfferReply.Status.COMPLETE]: 'complete',
      [OfferReply.Status.REFUSED]: 'failed',
      [OfferReply.Status.CANCELLED]: 'cancelled',
      [OfferReply.Status.FAILED]: 'failed'
    }
    const status = statuses[reply.status]
    if (record.status === 'offered') await this.store.markOfferDelivered(record)
    const current = await this.store.get(record.id)
    if (current == null || FINAL_STATUSES.has(current.status)) return
    // 'transferring' is also set by the first fetch: do not step back to it from there.
    if (status === current.status) return
    if (status === 'failed') {
      const why = reply.status === OfferReply.Status.REFUSED ? `refused by the peer: ${reason}` : reason
      await this.fail(record.id, why)
      return
    }
    if (status === 'waiting' && reason !== '') {
      const next = await this.store.update(record.id, { status, waitReason: reason })
      if (next != null) this.changed(next)
      return
    }
    await this.setStatus(record.id, status)
  }

  // ---- receiver: offer ---------------------------------------------------------------------------------------

  /**
   * An offer: checked, then decided (at once, within limits, or waiting for the user, or refused) before anything
   * is kept. Version 1 offers are followed by the chunk hashes, which are read a frame at a time and kept only for
   * a transfer accepted now; version 2 offers carry only the list's digest.
   */
  private async onOffer(stream: Stream, connection: Connection, version: 1 | 2): Promise<void> {
    const peer = connection.remotePeer.toString()
    this.streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
    const reply = async (status: OfferReply.Status, reason = '') => {
      await lp.write(OfferFrame.encode({ reply: { status, reason: clip(reason) } }))
      await stream.close()
    }
    try {
      const offer = offerField(await readFrame(lp, OfferFrame, this.frameTimeout), 'offer')
      checkOffer(offer, version)
      if (this.components.isBlocked(peer)) {
        this.log('refusing a file from blocked peer %s', peer)
        return await reply(OfferReply.Status.REFUSED, 'blocked')
      }
      const size = Number(offer.size)
      const n = chunkCount(size, offer.chunkSize)
      const id = toHex(offer.id)
      const known = await this.store.get(id)
      if (known != null && (known.peer !== peer || known.direction !== 'in')) {
        if (version === 1) await readOfferedHashes(lp, n, false, this.frameTimeout)
        return await reply(OfferReply.Status.REFUSED, 'transfer id already in use')
      }
      if (known != null) {
        // A version-1 sender offers again on every connection: the list an accepted transfer lacks is kept now.
        const lacks = known.status === 'transferring' && n > 0 && (await this.store.hashes(id)).byteLength === 0
        if (version === 1) {
          const list = await readOfferedHashes(lp, n, lacks, this.frameTimeout)
          if (list != null) await this.store.setHashes(id, list)
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
        this.log.error('refusing file from %s: %s (%j)', peer, error, offer.name)
      }
      const decision =
        error != null ? undefined : this.admission.decide(peer, size, (await this.components.trusts?.(peer)) === true)
      if (decision != null && 'refuse' in decision) {
        if (version === 1) await readOfferedHashes(lp, n, false, this.frameTimeout)
        this.log('refusing a file from %s: %s', peer, decision.refuse)
        return await reply(OfferReply.Status.REFUSED, decision.refuse)
      }
      const status = decision?.status ?? 'failed'
      const waitReason = decision != null && decision.status === 'waiting' ? decision.reason : undefined
      // Only a transfer fetched now keeps its list; one that waits keeps a record, and gets the list on accept.
      const hashes =
        version === 1 ? await readOfferedHashes(lp, n, status === 'transferring', this.frameTimeout) : undefined
      const record: TransferRecord = {
        id,
        peer,
        direction: 'in',
        name,
        size,
        mime: clip(stripFormat(offer.mime), MAX_NAME_BYTES),
        chunkSize: offer.chunkSize,
        sha256: toHex(offer.sha256),
        timestamp: Number(offer.timestamp),
        status,
        path: '',
        tempPath: join(this.downloadsDir, `.p2pnode-${id}.part`),
        ...(version === 2 ? { listSha256: toHex(offer.listSha256) } : {}),
        ...(offer.after > 0n ? { after: Number(offer.after) } : {}),
        ...(waitReason != null ? { waitReason } : {}),
        ...(error != null ? { error } : {})
      }
      await this.store.create(record, hashes ?? new Uint8Array(0), peer, this.self)
      this.changed(record)
      if (error != null) return await reply(OfferReply.Status.REFUSED, error)
      if (record.status === 'waiting') await reply(OfferReply.Status.WAITING, waitReason)
      else await reply(OfferReply.Status.ACCEPTED)
      if (record.status === 'transferring') void this.fetch(record)
    } catch (err) {
      if (this.started) this.log.error('resetting file offer stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.streams.delete(stream)
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

  private async fetch(record: TransferRecord): Promise<void> {
    if (this.fetching.has(record.id) || !this.started) return
    const controller = new AbortController()
    this.fetching.set(record.id, controller)
    const { id, peer } = record
    let stream: Stream | undefined
    let lp: LengthPrefixedStream | undefined
    let retry = false
    try {
      const tempPath = record.tempPath ?? ''
      let hashes: Uint8Array = await this.store.hashes(id)
      const n = chunkCount(record.size, record.chunkSize)
      // Version 2: the list comes first on this stream. Version 1 accepted after waiting: its list was not kept,
      // and chunks are checked only as part of the whole file (until the sender offers again with the list).
      const askList = hashes.byteLength === 0 && n > 0 && record.listSha256 != null
      const done = new Uint8Array(n)
      let received = 0
      for (const i of await this.store.verified(id)) {
        if (i < n && done[i] === 0) {
          done[i] = 1
          received += chunkLength(record, i)
        }
      }
      this.received.set(id, received)
      const missing: number[] = []
      for (let i = n - 1; i >= 0; i--) if (done[i] === 0) missing.push(i)
      await mkdir(dirname(tempPath), { recursive: true, mode: 0o700 })
      // The whole-file hash can be kept on the way only when every chunk comes in this run.
      await this.sink.open(id, tempPath, n, missing.length === n)
      // Opened even when nothing is missing (an empty file, or a crash after the last chunk): the sender learns
      // the outcome on this stream.
      stream = await this.components.libp2p.dialProtocol(peerIdFromString(peer), FETCH_PROTOCOL, {
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.frameTimeout)])
      })
      this.streams.add(stream)
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
      if (askList) {
        hashes = await readFetchedHashes(lp, n, fromHex(record.listSha256 ?? ''), this.frameTimeout)
        await this.store.setHashes(id, hashes)
      }
      await receiveChunks({
        record,
        lp,
        hashes,
        missing,
        done,
        sink: this.sink,
        store: this.store,
        window: this.window,
        frameTimeout: this.frameTimeout,
        log: this.log,
        onRecorded: (length) => this.progress(id, (this.received.get(id) ?? 0) + length, record.size)
      })
      const sha256 = (await this.sink.close(id)) ?? (await hashWhole(tempPath))
      if (sha256 !== record.sha256) {
        await this.discard(record)
        await this.fail(id, `whole-file hash mismatch (got ${sha256}, offered ${record.sha256})`)
        await this.tell(stream, lp, Stop.Reason.FAILED, 'whole-file hash mismatch')
        return
      }
      // Linked under its name, recorded, then the temp name goes: a crash anywhere in between finds, next time,
      // the same file under the same name (place() knows its own link) instead of making a copy `name (1)`.
      const path = await this.place(tempPath, record.name)
      await this.store.update(id, { status: 'complete', path })
      await this.dropTempName(id, tempPath)
      await this.store.clearVerified(id)
      this.received.set(id, record.size)
      this.changed({ ...record, status: 'complete', path })
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
        await this.setStatus(id, 'cancelled')
        await this.discard(record)
      } else if (err instanceof TransferStoppedError) {
        // The sender ended it: nothing to tell it.
        stream?.abort(err)
        await this.discard(record)
        await this.fail(id, err.message)
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
        await this.fail(id, why)
        if (code != null) this.log.error('receiving %s failed: %s', id, errorText(err))
        if (stream != null && lp != null && stream.status === 'open') await this.tell(stream, lp, Stop.Reason.FAILED, told)
        else if (this.isConnected(peer)) void this.tellSender(record, Stop.Reason.FAILED, told)
      } else {
        stream?.abort(err instanceof Error ? err : new Error(String(err)))
        if (!controller.signal.aborted && this.started) {
          this.log.error('fetching %s from %s broke: %s', id, peer, errorText(err))
          retry = (err as Error).name !== 'UnsupportedProtocolError'
        }
      }
    } finally {
      await this.sink.close(id).catch(() => {})
      if (stream != null) this.streams.delete(stream)
      this.fetching.delete(id)
    }
    if (retry) {
      this.later(async () => {
        const now = await this.store.get(id)
        if (now?.status === 'transferring' && this.isConnected(peer)) void this.fetch(now)
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
  private async dropTempName(id: string, tempPath: string): Promise<void> {
    await unlink(tempPath).catch(() => {})
    await this.store.update(id, { tempPath: undefined })
  }

  /** Delete a partly received file and forget its chunks. */
  private async discard(record: TransferRecord): Promise<void> {
    if (record.tempPath != null) await unlink(record.tempPath).catch(() => {})
    await this.store.clearVerified(record.id)
    this.received.delete(record.id)
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

  // ---- sender: serve fetches ---------------------------------------------------------------------------------

  private async onFetch(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    this.streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
    let id = ''
    let fh: FileHandle | undefined
    const stop = async (reason: Stop.Reason, detail: string) => {
      await lp.write(FetchFrame.encode({ stop: { reason, detail } }))
      await stream.close()
    }
    try {
      const fetch = fetchField(await readFrame(lp, FetchFrame, this.frameTimeout), 'fetch')
      id = toHex(fetch.id)
      const record = await this.store.get(id)
      if (record == null || record.direction !== 'out' || record.peer !== peer || this.components.isBlocked(peer)) {
        return await stop(Stop.Reason.BAD_REQUEST, 'no such transfer')
      }
      if (record.status === 'cancelled') return await stop(Stop.Reason.CANCELLED, 'cancelled by the sender')
      if (record.status === 'complete') return await stop(Stop.Reason.COMPLETE, '')
      if (record.status === 'failed') return await stop(Stop.Reason.FAILED, record.error ?? 'failed')
      try {
        fh = await open(record.path, 'r')
        const st = await fh.stat()
        if (st.size !== record.source?.size || st.mtimeMs !== record.source.mtimeMs) throw new Error('file changed')
      } catch (err) {
        const why = `${record.path} is gone or changed since it was offered (${(err as Error).message})`
        await this.fail(id, why)
        return await stop(Stop.Reason.UNAVAILABLE, 'the sender no longer has this file as offered')
      }
      if (record.status !== 'transferring') {
        if (record.status === 'offered') await this.store.markOfferDelivered(record)
        await this.setStatus(id, 'transferring')
      }
      let streams = this.serving.get(id)
      if (streams == null) {
        streams = new Set()
        this.serving.set(id, streams)
      }
      streams.add(stream)
      this.received.set(id, Number(fetch.have))
      if (fetch.hashes) await lp.writeV(hashFrames(await this.store.hashes(id), 'fetch'))
      await this.serve(record, lp, fh)
    } catch (err) {
      if (this.started) this.log.error('resetting file fetch stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      await fh?.close().catch(() => {})
      this.serving.get(id)?.delete(stream)
      if (this.serving.get(id)?.size === 0) this.serving.delete(id)
      this.streams.delete(stream)
    }
  }

  /** Serve the receiver's wants (see sender.ts), then record how it says the transfer ended. */
  private async serve(record: TransferRecord, lp: LengthPrefixedStream, fh: FileHandle): Promise<void> {
    const end = await serveChunks(record, lp, fh, this.frameTimeout, (length) => {
      this.sent.set(record.id, (this.sent.get(record.id) ?? 0) + length)
      const received = (this.received.get(record.id) ?? 0) + length
      this.progress(record.id, received, record.size)
    })
    if (end?.reason === Stop.Reason.COMPLETE) {
      this.received.set(record.id, record.size)
      await this.setStatus(record.id, 'complete')
    } else if (end?.reason === Stop.Reason.CANCELLED) {
      await this.setStatus(record.id, 'cancelled')
    } else if (end?.reason === Stop.Reason.FAILED) {
      await this.fail(record.id, `the receiver gave up: ${clip(end.detail)}`)
    }
    await lp.unwrap().close()
  }

  private async reconnectWaiting(): Promise<void> {
    try {
      const peers = new Set<string>()
      for (const r of await this.store.list()) {
        if (r.direction === 'out' ? r.status === 'offered' : r.status === 'transferring') peers.add(r.peer)
      }
      for (const peer of peers) if (!this.isConnected(peer)) this.components.connect?.(peer)
    } catch (err) {
      this.log.error('reconnect pass failed: %s', errorText(err))
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  private get self(): string {
    return this.components.libp2p.peerId.toString()
  }

  private isConnected(peer: string): boolean {
    return this.components.libp2p.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open')
  }

  private async info(record: TransferRecord): Promise<TransferInfo> {
    let received = this.received.get(record.id)
    if (record.status === 'complete') received = record.size
    else if (received == null && record.direction === 'in' && record.status !== 'failed') {
      received = (await this.store.verified(record.id)).reduce((sum, i) => sum + chunkLength(record, i), 0)
    }
    return { ...record, received: received ?? 0, sent: this.sent.get(record.id) ?? 0 }
  }

  private async setStatus(id: string, status: TransferStatus): Promise<TransferRecord | undefined> {
    const next = await this.store.update(id, { status })
    if (next != null) this.changed(next)
    return next
  }

  private async fail(id: string, error: string): Promise<void> {
    const next = await this.store.update(id, { status: 'failed', error })
    this.log.error('transfer %s failed: %s', id, error)
    if (next != null) this.changed(next)
  }

  private changed(record: TransferRecord): void {
    this.admission.track(record)
    void this.info(record).then(
      (info) => this.safeDispatchEvent('transfer', { detail: info }),
      () => {}
    )
  }

  private progress(id: string, received: number, size: number): void {
    this.received.set(id, received)
    const now = Date.now()
    if (now - (this.lastProgress.get(id) ?? 0) < PROGRESS_INTERVAL_MS) return
    this.lastProgress.set(id, now)
    this.safeDispatchEvent('progress', { detail: { id, received, size } })
  }

  private later(fn: () => Promise<void>): void {
    if (!this.started) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn().catch((err) => this.log.error('retry failed: %s', errorText(err)))
    }, this.retryDelay)
    t.unref()
    this.timers.add(t)
  }
}

/** The fields of an offer that must hold whatever the receiver decides; a FileProtocolError otherwise. */
function checkOffer(offer: Offer, version: 1 | 2): void {
  if (offer.id.byteLength !== ID_BYTES) throw new FileProtocolError(`transfer id must be ${ID_BYTES} bytes`)
  if (offer.sha256.byteLength !== HASH_BYTES) throw new FileProtocolError('file hash must be 32 bytes')
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
