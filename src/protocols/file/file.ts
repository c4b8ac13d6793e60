import { randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Logger, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import { lookup as mimeLookup } from 'mime-types'
import { FINAL_STATUSES, type TransferRecord, type TransferStatus } from '../../store/index.ts'
import { errorText } from '../util.ts'
import {
  CREDIT_CHUNKS,
  DEFAULT_AUTO_ACCEPT_MAX,
  DEFAULT_CHUNK_SIZE,
  FETCH_PROTOCOL,
  FETCH_PROTOCOL_V3,
  FRAME_TIMEOUT_MS,
  ID_BYTES,
  MAX_CHUNK_SIZE,
  MAX_FILE_BYTES,
  MAX_INBOUND_STREAMS,
  MIN_CHUNK_SIZE,
  OFFER_PROTOCOL,
  OFFER_PROTOCOL_V2,
  OFFER_PROTOCOL_V3,
  RECONNECT_INTERVAL_MS,
  RETRY_DELAY_MS,
  WINDOW_CHUNKS
} from './constants.ts'
import { chunkLength } from './chunks.ts'
import { hashTree } from './tree.ts'
import type { FileContext } from './context.ts'
import { DIRECT_PATH_REASON } from './paths.ts'
import { Incoming } from './incoming.ts'
import type { FileComponents, FileDeps, FileEvents, FileInit, FileStore, FileTransferProtocol, TransferInfo } from './index.ts'
import { Outgoing } from './outgoing.ts'

const PROGRESS_INTERVAL_MS = 100

/**
 * /chat/1.0/file/offer and /chat/1.0/file/fetch.
 *
 * The sender records a transfer and offers it (manifest: name, size, MIME type, chunk size, whole-file hash, and
 * the chunk hashes or their digest) in its turn among the messages, then again whenever the peer connects, until
 * the receiver's answer says it is over (outgoing.ts). The receiver (incoming.ts) decides what the offer may cost,
 * stores the manifest and fetches the chunks it lacks, a window of a few at a time, verifies each against its hash,
 * writes it at its place in a temp file and records it in LevelDB; when all are there, the whole file is hashed,
 * and only if that matches is the temp file linked to its final name. Any break resumes from the recorded chunks.
 */
export class FileTransfer extends TypedEventEmitter<FileEvents> implements FileTransferProtocol, Startable {
  private readonly components: FileComponents
  private readonly deps: FileDeps
  /** The registrar topology that tells us of peers that speak the file protocol (see start()). */
  private topology: string | undefined
  private readonly store: FileStore
  private readonly log: Logger
  private readonly chunkSize: number
  private readonly frameTimeout: number
  private readonly retryDelay: number
  /** Live byte counts (see TransferInfo). */
  private readonly received = new Map<string, number>()
  private readonly sent = new Map<string, number>()
  private readonly lastProgress = new Map<string, number>()
  private readonly streams = new Set<Stream>()
  private readonly timers = new Set<NodeJS.Timeout>()
  /** Incoming transfers waiting for a direct connection (their peer is reachable only through a relay). */
  private readonly directWait = new Set<string>()
  private started = false
  /** The receiver's half (offers in, fetches out) and the sender's (offers out, fetches served). */
  private readonly incoming: Incoming
  private readonly outgoing: Outgoing
  private readonly reconnectInterval: number
  private reconnect: NodeJS.Timeout | undefined

  constructor(components: FileComponents, init: FileDeps & FileInit) {
    super()
    this.components = components
    this.deps = init
    this.store = init.store
    this.log = components.logger.forComponent('p2pnode:file')
    this.chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE
    if (this.chunkSize < MIN_CHUNK_SIZE || this.chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunkSize must be from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`)
    }
    this.frameTimeout = init.frameTimeout ?? FRAME_TIMEOUT_MS
    this.retryDelay = init.retryDelay ?? RETRY_DELAY_MS
    this.reconnectInterval = init.reconnectInterval ?? RECONNECT_INTERVAL_MS
    const ctx: FileContext = {
      deps: init,
      store: this.store,
      log: this.log,
      frameTimeout: this.frameTimeout,
      retryDelay: this.retryDelay,
      streams: this.streams,
      received: this.received,
      sent: this.sent,
      started: () => this.started,
      self: () => this.self,
      isConnected: (peer) => this.isConnected(peer),
      setStatus: (id, status) => this.setStatus(id, status),
      fail: (id, error) => this.fail(id, error),
      changed: (record) => this.changed(record),
      progress: (id, received, size) => this.progress(id, received, size),
      later: (fn) => this.later(fn),
      directWait: this.directWait
    }
    this.incoming = new Incoming(ctx, {
      downloadsDir: init.downloadsDir,
      window: init.windowChunks ?? WINDOW_CHUNKS,
      credit: init.creditChunks ?? CREDIT_CHUNKS,
      limits: { autoAcceptMax: init.autoAcceptMax ?? DEFAULT_AUTO_ACCEPT_MAX, ...init.limits }
    })
    this.outgoing = new Outgoing(ctx)
  }

  readonly [Symbol.toStringTag] = 'p2pnode:file'

  async start(): Promise<void> {
    // Accepted on relayed connections too: the side that opens a stream decides whether it may go there (offers
    // always, chunks of small files only: see paths.ts).
    const limits = {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS,
      runOnLimitedConnection: true
    }
    const registrar = this.components.registrar
    await registrar.handle(OFFER_PROTOCOL_V3, (s, c) => this.incoming.onOffer(s, c, 3), limits)
    await registrar.handle(OFFER_PROTOCOL_V2, (s, c) => this.incoming.onOffer(s, c, 2), limits)
    await registrar.handle(OFFER_PROTOCOL, (s, c) => this.incoming.onOffer(s, c, 1), limits)
    await registrar.handle(FETCH_PROTOCOL_V3, (s, c) => this.outgoing.onFetch(s, c, 3), limits)
    await registrar.handle(FETCH_PROTOCOL, (s, c) => this.outgoing.onFetch(s, c, 1), limits)
    // Every version speaks offer version 1: a peer that does is told of what waits for it, and sends what it was
    // sending us, on any connection (the streams say what may go through a relay).
    this.topology = await registrar.register(OFFER_PROTOCOL, {
      onConnect: (peerId) => this.onConnect(peerId.toString()),
      notifyOnLimitedConnection: true
    })
    this.started = true
  }

  /** Once libp2p runs: what was under way when we stopped (or crashed) goes on when its peer is here. */
  async afterStart(): Promise<void> {
    // Peers with offers waiting, or files half received, are asked for again and again (the node backs off).
    this.reconnect = setInterval(() => void this.reconnectWaiting(), this.reconnectInterval)
    this.reconnect.unref()
    for (const record of await this.store.list()) {
      this.incoming.track(record)
      // A crash after recording a file complete can leave its temp name (a second link to it) behind.
      if (record.status === 'complete' && record.tempPath != null) await this.incoming.dropTempName(record.id, record.tempPath)
      if (FINAL_STATUSES.has(record.status)) continue
      if (this.isConnected(record.peer)) this.onConnect(record.peer)
      else if (record.direction === 'out' || record.status === 'transferring') this.deps.connect?.(record.peer)
    }
  }

  async stop(): Promise<void> {
    this.started = false
    clearInterval(this.reconnect)
    for (const t of this.timers) clearTimeout(t)
    if (this.topology != null) this.components.registrar.unregister(this.topology)
    this.topology = undefined
    for (const protocol of [OFFER_PROTOCOL_V3, OFFER_PROTOCOL_V2, OFFER_PROTOCOL, FETCH_PROTOCOL_V3, FETCH_PROTOCOL]) {
      await this.components.registrar.unhandle(protocol)
    }
    this.incoming.abortAll()
    for (const s of this.streams) s.abort(new Error('node stopping'))
    await this.incoming.closeAll()
  }

  // ---- public API --------------------------------------------------------------------------------------------

  async send(peer: string, path: string, options: { signal?: AbortSignal; voice?: boolean } = {}): Promise<TransferInfo> {
    const st = await stat(path)
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a file`), { code: 'EISDIR' })
    if (st.size > MAX_FILE_BYTES) throw new RangeError(`file is ${st.size} bytes; the limit is ${MAX_FILE_BYTES}`)
    // One pass of BLAKE3 (the hash tree of offer version 3); a peer that only speaks older versions gets the file
    // hashed their way when it is first offered to it (outgoing.ts).
    const { root, leaves } = await hashTree(path, st.size, this.chunkSize, options)
    const name = basename(path)
    let record: TransferRecord = {
      id: randomBytes(ID_BYTES).toString('hex'),
      peer,
      direction: 'out',
      name,
      size: st.size,
      mime: mimeLookup(name) || 'application/octet-stream',
      chunkSize: this.chunkSize,
      sha256: '',
      root,
      timestamp: Date.now(),
      status: 'offered',
      path,
      source: { size: st.size, mtimeMs: st.mtimeMs },
      ...(this.deps.queued != null ? { queued: true } : {}),
      ...(options.voice === true ? { voice: true } : {})
    }
    await this.store.create(record, leaves, this.self, peer)
    // As stored: with the timestamp and `after` of its conversation entry.
    record = (await this.store.get(record.id)) ?? record
    this.changed(record)
    // Queued: the chat session offers it after the texts before it (at once if none waits); else on its own.
    if (record.queued === true) this.deps.queued?.(peer)
    if (this.isConnected(peer) && (record.queued !== true || (await this.store.nextInOutbox(record)))) {
      void this.outgoing.offer(record)
    }
    if (!this.isConnected(peer)) this.deps.connect?.(peer)
    return this.info(record)
  }

  async deliver(peer: string, id: string, signal: AbortSignal): Promise<'delivered' | 'dropped'> {
    return this.outgoing.deliver(peer, id, signal)
  }

  async accept(id: string): Promise<TransferInfo | undefined> {
    const record = await this.store.get(id)
    if (record == null || record.direction !== 'in' || record.status !== 'waiting') return this.get(id)
    const next = await this.setStatus(id, 'transferring')
    if (next != null && this.isConnected(next.peer)) void this.incoming.fetch(next)
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
    if (record.direction === 'in') await this.incoming.cancel(record)
    else this.outgoing.stopServing(id)
    return next == null ? undefined : this.info(next)
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
            void this.outgoing.offer(record)
          }
        } else if (record.status === 'transferring') void this.incoming.fetch(record)
      }
    })().catch((err) => this.log.error('resuming transfers with %s: %s', peer, errorText(err)))
  }

  private async reconnectWaiting(): Promise<void> {
    try {
      const peers = new Set<string>()
      for (const r of await this.store.list()) {
        if (r.direction === 'out' ? r.status === 'offered' : r.status === 'transferring') peers.add(r.peer)
      }
      for (const peer of peers) if (!this.isConnected(peer)) this.deps.connect?.(peer)
    } catch (err) {
      this.log.error('reconnect pass failed: %s', errorText(err))
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  private get self(): string {
    return this.components.peerId.toString()
  }

  private isConnected(peer: string): boolean {
    return this.components.connectionManager.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open')
  }

  private async info(record: TransferRecord): Promise<TransferInfo> {
    let received = this.received.get(record.id)
    if (record.status === 'complete') received = record.size
    else if (received == null && record.direction === 'in' && record.status !== 'failed') {
      received = (await this.store.verified(record.id)).reduce((sum, i) => sum + chunkLength(record, i), 0)
    }
    return {
      ...record,
      received: received ?? 0,
      sent: this.sent.get(record.id) ?? 0,
      ...(this.directWait.has(record.id) && record.status === 'transferring' ? { directWait: DIRECT_PATH_REASON } : {})
    }
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
    this.incoming.track(record)
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
