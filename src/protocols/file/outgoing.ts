/**
 * The sender's half of the file protocol: offers (in their turn in the chat outbox, or on their own) and the fetch
 * streams that serve the chunks.
 */
import { type FileHandle, open, stat } from 'node:fs/promises'
import { hashFile } from './chunks.ts'
import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { FINAL_STATUSES, type TransferRecord, type TransferStatus } from '../../store/index.ts'
import { errorText, fromHex, toHex } from '../util.ts'
import {
  MAX_FETCH_FRAME_BYTES,
  MAX_OFFER_FRAME_BYTES,
  MAX_OFFER_RETRY_MS,
  OFFER_PROTOCOL,
  OFFER_PROTOCOL_V2,
  OFFER_PROTOCOL_V3
} from './constants.ts'
import type { FileContext } from './context.ts'
import { TransferStoppedError } from './errors.ts'
import { clip, fetchField, offerField, readFrame } from './frames.ts'
import { hashFrames, listDigest } from './hash-list.ts'
import { FetchFrame, OfferFrame, OfferReply, Stop } from './pb/file.ts'
import { fileStream } from './paths.ts'
import { serveChunks, streamChunks } from './sender.ts'

export class Outgoing {
  private readonly ctx: FileContext
  /** Offers being made now. */
  private readonly offering = new Map<string, Promise<void>>()
  /** Fetch streams being served now, per transfer. */
  private readonly serving = new Map<string, Set<Stream>>()

  constructor(ctx: FileContext) {
    this.ctx = ctx
  }

  /** A transfer we cancelled: tell the receiver on each fetch stream being served, then end it. */
  stopServing(id: string): void {
    for (const s of this.serving.get(id) ?? []) {
      void lpStream(s, { maxDataLength: MAX_FETCH_FRAME_BYTES })
        .write(FetchFrame.encode({ stop: { reason: Stop.Reason.CANCELLED, detail: 'cancelled by the sender' } }))
        .catch(() => {})
        .finally(() => s.abort(new TransferStoppedError('cancelled')))
    }
  }

  async deliver(peer: string, id: string, signal: AbortSignal): Promise<'delivered' | 'dropped'> {
    let delay = this.ctx.retryDelay
    for (;;) {
      signal.throwIfAborted()
      const record = await this.ctx.store.get(id)
      if (record == null || record.peer !== peer || record.direction !== 'out') return 'dropped'
      if (record.status !== 'offered') {
        // Answered (waiting, transferring, complete, or failed/cancelled by the receiver's word), or ended here
        // before anyone answered: the entry's status tells which.
        return (await this.ctx.store.offerDelivered(record)) ? 'delivered' : 'dropped'
      }
      if (!this.ctx.started()) throw new Error('node stopping')
      await this.offer(record)
      if ((await this.ctx.store.get(id))?.status !== 'offered') continue
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

  // ---- sender: offer -----------------------------------------------------------------------------------------

  /** Offer a transfer; while one offer of it is under way, the same one. */
  offer(record: TransferRecord): Promise<void> {
    if (!this.ctx.started()) return Promise.resolve()
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
      // Version 3 for a file known by its tree root, if the peer has it; else version 2 (the list follows on the
      // fetch stream, once accepted), else version 1. A file hashed for version 3 and offered to an older peer is
      // hashed again, once, the old way (SHA-256), before its first offer.
      const protocols = record.root != null ? [OFFER_PROTOCOL_V3, OFFER_PROTOCOL_V2, OFFER_PROTOCOL] : [OFFER_PROTOCOL_V2, OFFER_PROTOCOL]
      // An offer is small: it goes through a relay too (the chunks may wait for a direct path).
      stream = await fileStream(this.ctx.deps.streams, record.peer, protocols, {
        signal: AbortSignal.timeout(this.ctx.frameTimeout),
        relayed: true
      })
      this.ctx.streams.add(stream)
      const v3 = stream.protocol === OFFER_PROTOCOL_V3
      if (record.root != null && !v3) {
        stream.abort(new Error('the peer needs the file hashed the old way first'))
        const legacy = await this.legacyHashes(record)
        if (legacy != null) await this.offerOnce(legacy)
        return
      }
      const v2 = stream.protocol === OFFER_PROTOCOL_V2
      const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME_BYTES })
      const hashes = v3 ? new Uint8Array(0) : await this.ctx.store.hashes(record.id)
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
            after: BigInt(record.after ?? 0),
            root: v3 ? fromHex(record.root ?? '') : new Uint8Array(0),
            ...(record.voice === true ? { voice: true } : {})
          }
        }),
        ...(v2 || v3 ? [] : hashFrames(hashes, 'offer'))
      ]
      for (const f of frames) await lp.write(f)
      const reply = offerField(await readFrame(lp, OfferFrame, this.ctx.frameTimeout), 'reply')
      await stream.close()
      await this.onReply(record, reply)
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if ((err as Error).name === 'UnsupportedProtocolError') {
        await this.ctx.fail(record.id, 'the peer does not take files (no /chat/1.0/file support)')
        return
      }
      if (!this.ctx.started()) return
      this.ctx.log.error('offering %s to %s failed: %s', record.id, record.peer, errorText(err))
      // A queued transfer is retried by deliver(), which the chat session is waiting on.
      if (record.queued === true) return
      this.ctx.later(async () => {
        const now = await this.ctx.store.get(record.id)
        if (now?.status === 'offered' && this.ctx.isConnected(now.peer)) void this.offer(now)
      })
    } finally {
      if (stream != null) this.ctx.streams.delete(stream)
    }
  }

  /**
   * The peer speaks only offer version 1 or 2 (p2pnode 0.1 and releases before offer/3): hash the file as they need
   * it (SHA-256 of every chunk and of the whole), once, and keep that instead of the tree; the transfer then goes
   * as those versions do. Only before the first offer: a peer that has heard of it knows it by its root. Returns the
   * record as updated, or undefined when the transfer failed (the file changed or is gone, or the peer went back to
   * an older version after the offer).
   */
  private async legacyHashes(record: TransferRecord): Promise<TransferRecord | undefined> {
    if (record.status !== 'offered' || (await this.ctx.store.offerDelivered(record))) {
      await this.ctx.fail(record.id, 'the peer now runs an older p2pnode, which cannot take this file: it must upgrade')
      return undefined
    }
    try {
      const st = await stat(record.path)
      if (st.size !== record.source?.size || st.mtimeMs !== record.source.mtimeMs) throw new Error('file changed')
      const { sha256, hashes } = await hashFile(record.path, record.chunkSize)
      await this.ctx.store.setHashes(record.id, hashes)
      return await this.ctx.store.update(record.id, { sha256, root: undefined })
    } catch (err) {
      await this.ctx.fail(record.id, `${record.path} is gone or changed since it was offered (${(err as Error).message})`)
      return undefined
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
    if (record.status === 'offered') await this.ctx.store.markOfferDelivered(record)
    const current = await this.ctx.store.get(record.id)
    if (current == null || FINAL_STATUSES.has(current.status)) return
    // 'transferring' is also set by the first fetch: do not step back to it from there.
    if (status === current.status) return
    if (status === 'failed') {
      const why = reply.status === OfferReply.Status.REFUSED ? `refused by the peer: ${reason}` : reason
      await this.ctx.fail(record.id, why)
      return
    }
    if (status === 'waiting' && reason !== '') {
      const next = await this.ctx.store.update(record.id, { status, waitReason: reason })
      if (next != null) this.ctx.changed(next)
      return
    }
    await this.ctx.setStatus(record.id, status)
  }

  // ---- sender: serve fetches ---------------------------------------------------------------------------------

  async onFetch(stream: Stream, connection: Connection, version: 1 | 3 = 1): Promise<void> {
    const peer = connection.remotePeer.toString()
    this.ctx.streams.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_FETCH_FRAME_BYTES })
    let id = ''
    let fh: FileHandle | undefined
    const stop = async (reason: Stop.Reason, detail: string) => {
      await lp.write(FetchFrame.encode({ stop: { reason, detail } }))
      await stream.close()
    }
    try {
      const fetch = fetchField(await readFrame(lp, FetchFrame, this.ctx.frameTimeout), 'fetch')
      id = toHex(fetch.id)
      const record = await this.ctx.store.get(id)
      if (record == null || record.direction !== 'out' || record.peer !== peer || this.ctx.deps.isBlocked(peer)) {
        return await stop(Stop.Reason.BAD_REQUEST, 'no such transfer')
      }
      // A transfer is fetched by the version it was offered with: fetch/3 for a tree root, fetch for the others.
      if ((record.root != null) !== (version === 3)) {
        return await stop(Stop.Reason.BAD_REQUEST, `transfer ${id} is not fetched with this protocol version`)
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
        await this.ctx.fail(id, why)
        return await stop(Stop.Reason.UNAVAILABLE, 'the sender no longer has this file as offered')
      }
      if (record.status !== 'transferring') {
        if (record.status === 'offered') await this.ctx.store.markOfferDelivered(record)
        await this.ctx.setStatus(id, 'transferring')
      }
      let streams = this.serving.get(id)
      if (streams == null) {
        streams = new Set()
        this.serving.set(id, streams)
      }
      streams.add(stream)
      this.ctx.received.set(id, Number(fetch.have))
      if (fetch.hashes) await lp.writeV(hashFrames(await this.ctx.store.hashes(id), 'fetch'))
      await this.serve(record, lp, fh, version)
    } catch (err) {
      if (this.ctx.started()) this.ctx.log.error('resetting file fetch stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      await fh?.close().catch(() => {})
      this.serving.get(id)?.delete(stream)
      if (this.serving.get(id)?.size === 0) this.serving.delete(id)
      this.ctx.streams.delete(stream)
    }
  }

  /** Serve the receiver's wants (see sender.ts), then record how it says the transfer ended. */
  private async serve(record: TransferRecord, lp: LengthPrefixedStream, fh: FileHandle, version: 1 | 3): Promise<void> {
    const end = await (version === 3 ? streamChunks : serveChunks)(record, lp, fh, this.ctx.frameTimeout, (length) => {
      this.ctx.sent.set(record.id, (this.ctx.sent.get(record.id) ?? 0) + length)
      const received = (this.ctx.received.get(record.id) ?? 0) + length
      this.ctx.progress(record.id, received, record.size)
    })
    if (end?.reason === Stop.Reason.COMPLETE) {
      this.ctx.received.set(record.id, record.size)
      await this.ctx.setStatus(record.id, 'complete')
    } else if (end?.reason === Stop.Reason.CANCELLED) {
      await this.ctx.setStatus(record.id, 'cancelled')
    } else if (end?.reason === Stop.Reason.FAILED) {
      await this.ctx.fail(record.id, `the receiver gave up: ${clip(end.detail)}`)
    }
    await lp.unwrap().close()
  }
}
