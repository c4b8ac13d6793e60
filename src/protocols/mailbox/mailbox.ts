import type { AbortOptions, Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { errorText, isEOF, onlyField } from '../util.ts'
import {
  FRAME_TIMEOUT_MS,
  ID_BYTES,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_DETAIL_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_FRAME_BYTES,
  MAX_INBOUND_STREAMS,
  PROTOCOL,
  SWEEP_INTERVAL_MS
} from './constants.ts'
import { MailboxProtocolError, MailboxRefusedError, MailboxTimeoutError } from './errors.ts'
import type {
  CollectedEnvelope,
  DepositResult,
  MailboxComponents,
  MailboxDeps,
  MailboxHold,
  MailboxInit,
  MailboxProtocol
} from './index.ts'
import { DepositStatus as WireStatus, Envelope, MailboxFrame } from './pb/mailbox.ts'
import { check, open, seal } from './seal.ts'

const KINDS: ReadonlyArray<keyof MailboxFrame> = ['deposit', 'deposited', 'collect', 'batch', 'confirm']
const DECODE_LIMITS = { limits: { batch: { envelopes: MAX_BATCH_ENVELOPES }, confirm: { ids: MAX_BATCH_ENVELOPES } } }

function only<K extends keyof MailboxFrame>(frame: MailboxFrame, key: K): NonNullable<MailboxFrame[K]> {
  return onlyField(frame, key, KINDS, (m) => new MailboxProtocolError(m))
}

/** Text from a peer, cut to a bound and stripped of control characters (it ends up in logs and errors). */
function detailOf(text: string): string {
  return Buffer.from(text).subarray(0, MAX_DETAIL_BYTES).toString().replace(/[\p{Cc}\p{Cf}]/gu, ' ')
}

/**
 * The mailbox protocol, both ends: a client seals, deposits and collects; with a `hold` (a mailbox node) it also
 * serves deposits from anyone for its registered owners, and collects by the owners themselves.
 */
export class Mailbox implements MailboxProtocol, Startable {
  private readonly components: MailboxComponents
  private readonly deps: MailboxDeps
  /** What we hold for others, if we serve as a mailbox (known once started). */
  private held: MailboxHold | undefined
  private readonly log: Logger
  private readonly frameTimeout: number
  private readonly sweepInterval: number
  private readonly inbound = new Set<Stream>()
  private sweeper: NodeJS.Timeout | undefined
  private started = false

  constructor(components: MailboxComponents, init: MailboxDeps & MailboxInit) {
    this.components = components
    this.deps = init
    this.log = components.logger.forComponent('p2pnode:mailbox')
    this.frameTimeout = init.frameTimeout ?? FRAME_TIMEOUT_MS
    this.sweepInterval = init.sweepInterval ?? SWEEP_INTERVAL_MS
  }

  readonly [Symbol.toStringTag] = 'p2pnode:mailbox'

  get serving(): boolean {
    return this.held != null
  }

  async start(): Promise<void> {
    const hold = this.deps.hold?.()
    this.held = hold
    if (hold != null) {
      await this.components.registrar.handle(PROTOCOL, (stream, connection) => this.onInbound(stream, connection), {
        maxInboundStreams: MAX_INBOUND_STREAMS,
        maxOutboundStreams: MAX_INBOUND_STREAMS,
        // Deposits are small and may well arrive over a relayed connection.
        runOnLimitedConnection: true
      })
      this.sweeper = setInterval(() => {
        hold.sweep().then(
          (n) => n > 0 && this.log('dropped %d expired envelopes', n),
          (err: unknown) => this.log.error('sweeping the mailbox failed: %s', errorText(err))
        )
      }, this.sweepInterval)
      this.sweeper.unref()
      await hold.sweep()
    }
    this.started = true
  }

  async stop(): Promise<void> {
    this.started = false
    clearInterval(this.sweeper)
    if (this.held != null) await this.components.registrar.unhandle(PROTOCOL)
    for (const stream of this.inbound) stream.abort(new Error('node stopping'))
  }

  async seal(recipient: string, frames: Uint8Array<ArrayBuffer>[], options: { prev?: Uint8Array<ArrayBuffer>; id?: Uint8Array<ArrayBuffer> } = {}) {
    return seal(this.components.privateKey, recipient, frames, options)
  }

  async open(bytes: Uint8Array<ArrayBuffer>) {
    return open(this.components.privateKey, bytes)
  }

  // ---- client ------------------------------------------------------------------------------------------------

  private async dial(mailbox: string, options: AbortOptions): Promise<LengthPrefixedStream> {
    let stream: Stream
    try {
      const timeout = AbortSignal.timeout(this.frameTimeout)
      // Deposits and collections are small: a relayed connection will do.
      stream = await this.deps.streams.open(mailbox, PROTOCOL, {
        signal: options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout,
        relayed: true,
        dial: true
      })
    } catch (err) {
      if ((err as Error).name === 'UnsupportedProtocolError') {
        throw new MailboxRefusedError('NOT_MAILBOX', `${mailbox} runs no mailbox service`)
      }
      throw err
    }
    return lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  }

  private async read(lp: LengthPrefixedStream, options: AbortOptions = {}): Promise<MailboxFrame> {
    const timeout = AbortSignal.timeout(this.frameTimeout)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    let bytes
    try {
      bytes = await lp.read({ signal })
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        throw new MailboxTimeoutError(`no frame within ${this.frameTimeout} ms`)
      }
      throw err
    }
    try {
      return MailboxFrame.decode(bytes, DECODE_LIMITS)
    } catch (err) {
      throw new MailboxProtocolError(`malformed frame of ${bytes.byteLength} bytes (${(err as Error).message})`)
    }
  }

  async deposit(mailbox: string, envelopes: Uint8Array<ArrayBuffer>[], options: AbortOptions = {}): Promise<DepositResult[]> {
    const lp = await this.dial(mailbox, options)
    const results: DepositResult[] = []
    try {
      for (const envelope of envelopes) {
        if (envelope.byteLength > MAX_ENVELOPE_BYTES) throw new RangeError('envelope too large')
        await lp.write(MailboxFrame.encode({ deposit: { envelope } }), options)
        const reply = only(await this.read(lp, options), 'deposited')
        const status = WireStatus[reply.status] as DepositResult['status'] | 'UNKNOWN' | undefined
        if (status == null || status === 'UNKNOWN') throw new MailboxProtocolError('a deposit answer without a status')
        const result = { status, detail: detailOf(reply.detail), ttlMs: Number(reply.ttlMs) }
        results.push(result)
        if (status !== 'OK' && status !== 'DUPLICATE') break
      }
      await lp.unwrap().close(options)
      return results
    } catch (err) {
      lp.unwrap().abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  async collect(
    mailbox: string,
    handle: (batch: CollectedEnvelope[]) => Promise<void>,
    options: AbortOptions = {}
  ): Promise<number> {
    const lp = await this.dial(mailbox, options)
    let count = 0
    try {
      await lp.write(MailboxFrame.encode({ collect: { limit: MAX_BATCH_ENVELOPES } }), options)
      for (;;) {
        const batch = only(await this.read(lp, options), 'batch')
        if (batch.refused !== '') throw new MailboxRefusedError('REFUSED', detailOf(batch.refused))
        if (batch.envelopes.length === 0) break
        const opened: CollectedEnvelope[] = []
        for (const bytes of batch.envelopes) {
          try {
            const o = await this.open(bytes)
            opened.push({ id: o.id, sender: o.sender, timestamp: o.timestamp, frames: o.frames })
          } catch (err) {
            opened.push({ id: idOf(bytes), error: err as Error })
          }
        }
        await handle(opened)
        count += opened.length
        // Answered by the next batch (empty once nothing is left): when we return, the mailbox has deleted them.
        await lp.write(MailboxFrame.encode({ confirm: { ids: opened.map((o) => o.id) } }), options)
      }
      await lp.unwrap().close(options)
      return count
    } catch (err) {
      lp.unwrap().abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  // ---- mailbox node ------------------------------------------------------------------------------------------

  private async onInbound(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (!(this.deps.allows?.(peer) ?? true)) {
      stream.abort(new Error('not allowed'))
      return
    }
    this.inbound.add(stream)
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    try {
      const first = await this.read(lp)
      if (first.deposit != null) await this.serveDeposits(peer, lp, first)
      else await this.serveCollect(peer, lp, only(first, 'collect').limit)
      await stream.close()
    } catch (err) {
      if (this.started && !isEOF(err)) this.log.error('resetting mailbox stream from %s: %s', peer, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.inbound.delete(stream)
    }
  }

  private async serveDeposits(peer: string, lp: LengthPrefixedStream, first: MailboxFrame): Promise<void> {
    const hold = this.held
    if (hold == null) throw new MailboxProtocolError('no mailbox service')
    let frame: MailboxFrame | undefined = first
    while (frame != null) {
      const { envelope } = only(frame, 'deposit')
      const answer = await this.hold(peer, envelope)
      if (answer.status !== 'OK' && answer.status !== 'DUPLICATE') {
        this.log('deposit from %s: %s (%s)', peer, answer.status, answer.detail)
      }
      await lp.write(
        MailboxFrame.encode({
          deposited: { status: WireStatus[answer.status], detail: answer.detail, ttlMs: BigInt(hold.ttlMs) }
        })
      )
      try {
        frame = await this.read(lp)
      } catch (err) {
        if (isEOF(err)) frame = undefined
        else throw err
      }
    }
  }

  /** Check a deposited envelope and hand it to the hold. */
  private async hold(peer: string, bytes: Uint8Array<ArrayBuffer>): Promise<{ status: DepositResult['status']; detail: string }> {
    const hold = this.held
    if (hold == null) return { status: 'REFUSED', detail: 'no mailbox service' }
    let checked
    try {
      checked = await check(bytes)
    } catch (err) {
      return { status: 'INVALID', detail: (err as Error).message }
    }
    // Only the sender deposits its own envelopes: its quota is then its own, whatever it claims.
    if (checked.sender !== peer) return { status: 'REFUSED', detail: 'the envelope is not from you' }
    return hold.deposit(checked, bytes)
  }

  private async serveCollect(peer: string, lp: LengthPrefixedStream, limit: number): Promise<void> {
    const hold = this.held
    if (hold == null) throw new MailboxProtocolError('no mailbox service')
    const refused = await hold.register(peer)
    if (refused != null) {
      await lp.write(MailboxFrame.encode({ batch: { envelopes: [], more: false, refused } }))
      return
    }
    const max = limit > 0 ? Math.min(limit, MAX_BATCH_ENVELOPES) : MAX_BATCH_ENVELOPES
    for (;;) {
      const { items, more } = await hold.held(peer, max, MAX_BATCH_BYTES)
      await lp.write(MailboxFrame.encode({ batch: { envelopes: items.map((i) => i.bytes), more, refused: '' } }))
      if (items.length === 0) return
      let frame: MailboxFrame
      try {
        frame = await this.read(lp)
      } catch (err) {
        if (isEOF(err)) return
        throw err
      }
      const confirmed = new Set(
        only(frame, 'confirm').ids.map((id) => {
          if (id.byteLength !== ID_BYTES) throw new MailboxProtocolError(`an envelope id is ${ID_BYTES} bytes`)
          return Buffer.from(id).toString('hex')
        })
      )
      const keys = items.filter((i) => confirmed.has(Buffer.from(i.id).toString('hex'))).map((i) => i.key)
      await hold.remove(peer, keys)
    }
  }
}

/**
 * The id of an envelope that does not open, so that it can be confirmed (deleted) too: the mailbox checked it on
 * deposit, so it decodes; zeros otherwise (the mailbox then keeps it until it expires).
 */
function idOf(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  try {
    const { id } = Envelope.decode(bytes)
    if (id.byteLength === ID_BYTES) return id
  } catch {
    // not even an envelope
  }
  return new Uint8Array(ID_BYTES)
}
