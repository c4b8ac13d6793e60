import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface OfferFrame {
  offer?: Offer
  hashes?: Hashes
  reply?: OfferReply
}

export namespace OfferFrame {
  let _codec: Codec<OfferFrame>

  export const codec = (): Codec<OfferFrame> => {
    if (_codec == null) {
      _codec = message<OfferFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.offer != null) {
          w.uint32(10)
          Offer.codec().encode(obj.offer, w)
        }

        if (obj.hashes != null) {
          w.uint32(18)
          Hashes.codec().encode(obj.hashes, w)
        }

        if (obj.reply != null) {
          w.uint32(26)
          OfferReply.codec().encode(obj.reply, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offer = Offer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.offer
              })
              break
            }
            case 2: {
              obj.hashes = Hashes.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hashes
              })
              break
            }
            case 3: {
              obj.reply = OfferReply.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reply
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Offer.codec().stream(reader, reader.uint32(), `${prefix}.offer`, {
                limits: opts.limits?.offer
              })

              break
            }
            case 2: {
              yield * Hashes.codec().stream(reader, reader.uint32(), `${prefix}.hashes`, {
                limits: opts.limits?.hashes
              })

              break
            }
            case 3: {
              yield * OfferReply.codec().stream(reader, reader.uint32(), `${prefix}.reply`, {
                limits: opts.limits?.reply
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OfferFrameOfferIdFieldEvent {
    field: '$.offer.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferFrameOfferNameFieldEvent {
    field: '$.offer.name'
    value: string
  }

  export interface OfferFrameOfferSizeFieldEvent {
    field: '$.offer.size'
    value: bigint
  }

  export interface OfferFrameOfferMimeFieldEvent {
    field: '$.offer.mime'
    value: string
  }

  export interface OfferFrameOfferChunkSizeFieldEvent {
    field: '$.offer.chunkSize'
    value: number
  }

  export interface OfferFrameOfferSha256FieldEvent {
    field: '$.offer.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferFrameOfferTimestampFieldEvent {
    field: '$.offer.timestamp'
    value: bigint
  }

  export interface OfferFrameOfferListSha256FieldEvent {
    field: '$.offer.listSha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferFrameOfferAfterFieldEvent {
    field: '$.offer.after'
    value: bigint
  }

  export interface OfferFrameOfferRootFieldEvent {
    field: '$.offer.root'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferFrameOfferVoiceFieldEvent {
    field: '$.offer.voice'
    value: boolean
  }

  export interface OfferFrameHashesSha256FieldEvent {
    field: '$.hashes.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferFrameReplyStatusFieldEvent {
    field: '$.reply.status'
    value: OfferReply.Status
  }

  export interface OfferFrameReplyReasonFieldEvent {
    field: '$.reply.reason'
    value: string
  }

  export function encode (obj: Partial<OfferFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, OfferFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfferFrame>): OfferFrame {
    return decodeMessage(buf, OfferFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfferFrame>): Generator<OfferFrameOfferIdFieldEvent | OfferFrameOfferNameFieldEvent | OfferFrameOfferSizeFieldEvent | OfferFrameOfferMimeFieldEvent | OfferFrameOfferChunkSizeFieldEvent | OfferFrameOfferSha256FieldEvent | OfferFrameOfferTimestampFieldEvent | OfferFrameOfferListSha256FieldEvent | OfferFrameOfferAfterFieldEvent | OfferFrameOfferRootFieldEvent | OfferFrameOfferVoiceFieldEvent | OfferFrameHashesSha256FieldEvent | OfferFrameReplyStatusFieldEvent | OfferFrameReplyReasonFieldEvent> {
    return streamMessage(buf, OfferFrame.codec(), opts)
  }
}

export interface Offer {
  id: Uint8Array<ArrayBuffer>
  name: string
  size: bigint
  mime: string
  chunkSize: number
  sha256: Uint8Array<ArrayBuffer>
  timestamp: bigint
  listSha256: Uint8Array<ArrayBuffer>
  after: bigint
  root: Uint8Array<ArrayBuffer>
  voice?: boolean
}

export namespace Offer {
  let _codec: Codec<Offer>

  export const codec = (): Codec<Offer> => {
    if (_codec == null) {
      _codec = message<Offer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(24)
          w.uint64(obj.size)
        }

        if ((obj.mime != null && obj.mime !== '')) {
          w.uint32(34)
          w.string(obj.mime)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(40)
          w.uint32(obj.chunkSize)
        }

        if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.sha256)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(56)
          w.uint64(obj.timestamp)
        }

        if ((obj.listSha256 != null && obj.listSha256.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.listSha256)
        }

        if ((obj.after != null && obj.after !== 0n)) {
          w.uint32(72)
          w.uint64(obj.after)
        }

        if ((obj.root != null && obj.root.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.root)
        }

        if (obj.voice != null) {
          w.uint32(160)
          w.bool(obj.voice)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          name: '',
          size: 0n,
          mime: '',
          chunkSize: 0,
          sha256: uint8ArrayAlloc(0),
          timestamp: 0n,
          listSha256: uint8ArrayAlloc(0),
          after: 0n,
          root: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.size = reader.uint64()
              break
            }
            case 4: {
              obj.mime = reader.string()
              break
            }
            case 5: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 6: {
              obj.sha256 = reader.bytes()
              break
            }
            case 7: {
              obj.timestamp = reader.uint64()
              break
            }
            case 8: {
              obj.listSha256 = reader.bytes()
              break
            }
            case 9: {
              obj.after = reader.uint64()
              break
            }
            case 10: {
              obj.root = reader.bytes()
              break
            }
            case 20: {
              obj.voice = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.mime`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.chunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.sha256`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.listSha256`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.after`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.root`,
                value: reader.bytes()
              }
              break
            }
            case 20: {
              yield {
                field: `${prefix}.voice`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OfferIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface OfferSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface OfferMimeFieldEvent {
    field: '$.mime'
    value: string
  }

  export interface OfferChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  export interface OfferSha256FieldEvent {
    field: '$.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface OfferListSha256FieldEvent {
    field: '$.listSha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferAfterFieldEvent {
    field: '$.after'
    value: bigint
  }

  export interface OfferRootFieldEvent {
    field: '$.root'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OfferVoiceFieldEvent {
    field: '$.voice'
    value: boolean
  }

  export function encode (obj: Partial<Offer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Offer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Offer {
    return decodeMessage(buf, Offer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Offer>): Generator<OfferIdFieldEvent | OfferNameFieldEvent | OfferSizeFieldEvent | OfferMimeFieldEvent | OfferChunkSizeFieldEvent | OfferSha256FieldEvent | OfferTimestampFieldEvent | OfferListSha256FieldEvent | OfferAfterFieldEvent | OfferRootFieldEvent | OfferVoiceFieldEvent> {
    return streamMessage(buf, Offer.codec(), opts)
  }
}

export interface Hashes {
  sha256: Uint8Array<ArrayBuffer>
}

export namespace Hashes {
  let _codec: Codec<Hashes>

  export const codec = (): Codec<Hashes> => {
    if (_codec == null) {
      _codec = message<Hashes>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.sha256)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sha256: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sha256 = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.sha256`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HashesSha256FieldEvent {
    field: '$.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Hashes>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hashes.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hashes>): Hashes {
    return decodeMessage(buf, Hashes.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hashes>): Generator<HashesSha256FieldEvent> {
    return streamMessage(buf, Hashes.codec(), opts)
  }
}

export interface OfferReply {
  status: OfferReply.Status
  reason: string
}

export namespace OfferReply {
  export enum Status {
    ACCEPTED = 'ACCEPTED',
    WAITING = 'WAITING',
    COMPLETE = 'COMPLETE',
    REFUSED = 'REFUSED',
    CANCELLED = 'CANCELLED',
    FAILED = 'FAILED'
  }

  enum __StatusValues {
    ACCEPTED = 0,
    WAITING = 1,
    COMPLETE = 2,
    REFUSED = 3,
    CANCELLED = 4,
    FAILED = 5
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<OfferReply>

  export const codec = (): Codec<OfferReply> => {
    if (_codec == null) {
      _codec = message<OfferReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          OfferReply.Status.codec().encode(obj.status, w)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.ACCEPTED,
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = OfferReply.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: OfferReply.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OfferReplyStatusFieldEvent {
    field: '$.status'
    value: OfferReply.Status
  }

  export interface OfferReplyReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<OfferReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, OfferReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfferReply>): OfferReply {
    return decodeMessage(buf, OfferReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfferReply>): Generator<OfferReplyStatusFieldEvent | OfferReplyReasonFieldEvent> {
    return streamMessage(buf, OfferReply.codec(), opts)
  }
}

export interface FetchFrame {
  fetch?: Fetch
  want?: Want
  chunk?: Chunk
  stop?: Stop
  hashes?: Hashes
  credit?: Credit
}

export namespace FetchFrame {
  let _codec: Codec<FetchFrame>

  export const codec = (): Codec<FetchFrame> => {
    if (_codec == null) {
      _codec = message<FetchFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.fetch != null) {
          w.uint32(10)
          Fetch.codec().encode(obj.fetch, w)
        }

        if (obj.want != null) {
          w.uint32(18)
          Want.codec().encode(obj.want, w)
        }

        if (obj.chunk != null) {
          w.uint32(26)
          Chunk.codec().encode(obj.chunk, w)
        }

        if (obj.stop != null) {
          w.uint32(34)
          Stop.codec().encode(obj.stop, w)
        }

        if (obj.hashes != null) {
          w.uint32(42)
          Hashes.codec().encode(obj.hashes, w)
        }

        if (obj.credit != null) {
          w.uint32(50)
          Credit.codec().encode(obj.credit, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.fetch = Fetch.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetch
              })
              break
            }
            case 2: {
              obj.want = Want.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.want
              })
              break
            }
            case 3: {
              obj.chunk = Chunk.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.chunk
              })
              break
            }
            case 4: {
              obj.stop = Stop.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.stop
              })
              break
            }
            case 5: {
              obj.hashes = Hashes.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hashes
              })
              break
            }
            case 6: {
              obj.credit = Credit.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.credit
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Fetch.codec().stream(reader, reader.uint32(), `${prefix}.fetch`, {
                limits: opts.limits?.fetch
              })

              break
            }
            case 2: {
              yield * Want.codec().stream(reader, reader.uint32(), `${prefix}.want`, {
                limits: opts.limits?.want
              })

              break
            }
            case 3: {
              yield * Chunk.codec().stream(reader, reader.uint32(), `${prefix}.chunk`, {
                limits: opts.limits?.chunk
              })

              break
            }
            case 4: {
              yield * Stop.codec().stream(reader, reader.uint32(), `${prefix}.stop`, {
                limits: opts.limits?.stop
              })

              break
            }
            case 5: {
              yield * Hashes.codec().stream(reader, reader.uint32(), `${prefix}.hashes`, {
                limits: opts.limits?.hashes
              })

              break
            }
            case 6: {
              yield * Credit.codec().stream(reader, reader.uint32(), `${prefix}.credit`, {
                limits: opts.limits?.credit
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface FetchFrameFetchIdFieldEvent {
    field: '$.fetch.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchFrameFetchHaveFieldEvent {
    field: '$.fetch.have'
    value: bigint
  }

  export interface FetchFrameFetchHashesFieldEvent {
    field: '$.fetch.hashes'
    value: boolean
  }

  export interface FetchFrameWantFirstFieldEvent {
    field: '$.want.first'
    value: number
  }

  export interface FetchFrameWantCountFieldEvent {
    field: '$.want.count'
    value: number
  }

  export interface FetchFrameChunkIndexFieldEvent {
    field: '$.chunk.index'
    value: number
  }

  export interface FetchFrameChunkDataFieldEvent {
    field: '$.chunk.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchFrameStopReasonFieldEvent {
    field: '$.stop.reason'
    value: Stop.Reason
  }

  export interface FetchFrameStopDetailFieldEvent {
    field: '$.stop.detail'
    value: string
  }

  export interface FetchFrameHashesSha256FieldEvent {
    field: '$.hashes.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchFrameCreditChunksFieldEvent {
    field: '$.credit.chunks'
    value: number
  }

  export interface FetchFrameCreditReceivedFieldEvent {
    field: '$.credit.received'
    value: number
  }

  export function encode (obj: Partial<FetchFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FetchFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchFrame>): FetchFrame {
    return decodeMessage(buf, FetchFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchFrame>): Generator<FetchFrameFetchIdFieldEvent | FetchFrameFetchHaveFieldEvent | FetchFrameFetchHashesFieldEvent | FetchFrameWantFirstFieldEvent | FetchFrameWantCountFieldEvent | FetchFrameChunkIndexFieldEvent | FetchFrameChunkDataFieldEvent | FetchFrameStopReasonFieldEvent | FetchFrameStopDetailFieldEvent | FetchFrameHashesSha256FieldEvent | FetchFrameCreditChunksFieldEvent | FetchFrameCreditReceivedFieldEvent> {
    return streamMessage(buf, FetchFrame.codec(), opts)
  }
}

export interface Credit {
  chunks: number
  received: number
}

export namespace Credit {
  let _codec: Codec<Credit>

  export const codec = (): Codec<Credit> => {
    if (_codec == null) {
      _codec = message<Credit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.chunks != null && obj.chunks !== 0)) {
          w.uint32(8)
          w.uint32(obj.chunks)
        }

        if ((obj.received != null && obj.received !== 0)) {
          w.uint32(16)
          w.uint32(obj.received)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          chunks: 0,
          received: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.chunks = reader.uint32()
              break
            }
            case 2: {
              obj.received = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.chunks`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.received`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CreditChunksFieldEvent {
    field: '$.chunks'
    value: number
  }

  export interface CreditReceivedFieldEvent {
    field: '$.received'
    value: number
  }

  export function encode (obj: Partial<Credit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Credit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Credit {
    return decodeMessage(buf, Credit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Generator<CreditChunksFieldEvent | CreditReceivedFieldEvent> {
    return streamMessage(buf, Credit.codec(), opts)
  }
}

export interface Fetch {
  id: Uint8Array<ArrayBuffer>
  have: bigint
  hashes: boolean
}

export namespace Fetch {
  let _codec: Codec<Fetch>

  export const codec = (): Codec<Fetch> => {
    if (_codec == null) {
      _codec = message<Fetch>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.have != null && obj.have !== 0n)) {
          w.uint32(16)
          w.uint64(obj.have)
        }

        if ((obj.hashes != null && obj.hashes !== false)) {
          w.uint32(24)
          w.bool(obj.hashes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          have: 0n,
          hashes: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.have = reader.uint64()
              break
            }
            case 3: {
              obj.hashes = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.have`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.hashes`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface FetchIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchHaveFieldEvent {
    field: '$.have'
    value: bigint
  }

  export interface FetchHashesFieldEvent {
    field: '$.hashes'
    value: boolean
  }

  export function encode (obj: Partial<Fetch>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Fetch.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Fetch>): Fetch {
    return decodeMessage(buf, Fetch.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Fetch>): Generator<FetchIdFieldEvent | FetchHaveFieldEvent | FetchHashesFieldEvent> {
    return streamMessage(buf, Fetch.codec(), opts)
  }
}

export interface Want {
  first: number
  count: number
}

export namespace Want {
  let _codec: Codec<Want>

  export const codec = (): Codec<Want> => {
    if (_codec == null) {
      _codec = message<Want>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.first != null && obj.first !== 0)) {
          w.uint32(8)
          w.uint32(obj.first)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(16)
          w.uint32(obj.count)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          first: 0,
          count: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.first = reader.uint32()
              break
            }
            case 2: {
              obj.count = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.first`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface WantFirstFieldEvent {
    field: '$.first'
    value: number
  }

  export interface WantCountFieldEvent {
    field: '$.count'
    value: number
  }

  export function encode (obj: Partial<Want>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Want.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Want>): Want {
    return decodeMessage(buf, Want.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Want>): Generator<WantFirstFieldEvent | WantCountFieldEvent> {
    return streamMessage(buf, Want.codec(), opts)
  }
}

export interface Chunk {
  index: number
  data: Uint8Array<ArrayBuffer>
}

export namespace Chunk {
  let _codec: Codec<Chunk>

  export const codec = (): Codec<Chunk> => {
    if (_codec == null) {
      _codec = message<Chunk>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(8)
          w.uint32(obj.index)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          index: 0,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.index = reader.uint32()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ChunkIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface ChunkDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Chunk>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Chunk.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Chunk>): Chunk {
    return decodeMessage(buf, Chunk.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Chunk>): Generator<ChunkIndexFieldEvent | ChunkDataFieldEvent> {
    return streamMessage(buf, Chunk.codec(), opts)
  }
}

export interface Stop {
  reason: Stop.Reason
  detail: string
}

export namespace Stop {
  export enum Reason {
    CANCELLED = 'CANCELLED',
    UNAVAILABLE = 'UNAVAILABLE',
    BAD_REQUEST = 'BAD_REQUEST',
    COMPLETE = 'COMPLETE',
    FAILED = 'FAILED'
  }

  enum __ReasonValues {
    CANCELLED = 0,
    UNAVAILABLE = 1,
    BAD_REQUEST = 2,
    COMPLETE = 3,
    FAILED = 4
  }

  export namespace Reason {
    export const codec = (): Codec<Reason> => {
      return enumeration<Reason>(__ReasonValues)
    }
  }

  let _codec: Codec<Stop>

  export const codec = (): Codec<Stop> => {
    if (_codec == null) {
      _codec = message<Stop>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.reason != null && __ReasonValues[obj.reason] !== 0) {
          w.uint32(8)
          Stop.Reason.codec().encode(obj.reason, w)
        }

        if ((obj.detail != null && obj.detail !== '')) {
          w.uint32(18)
          w.string(obj.detail)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reason: Reason.CANCELLED,
          detail: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.reason = Stop.Reason.codec().decode(reader)
              break
            }
            case 2: {
              obj.detail = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.reason`,
                value: Stop.Reason.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.detail`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface StopReasonFieldEvent {
    field: '$.reason'
    value: Stop.Reason
  }

  export interface StopDetailFieldEvent {
    field: '$.detail'
    value: string
  }

  export function encode (obj: Partial<Stop>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Stop.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Stop>): Stop {
    return decodeMessage(buf, Stop.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Stop>): Generator<StopReasonFieldEvent | StopDetailFieldEvent> {
    return streamMessage(buf, Stop.codec(), opts)
  }
}
