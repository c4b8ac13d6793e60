import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MailboxFrame {
  deposit?: Deposit
  deposited?: DepositReply
  collect?: Collect
  batch?: Batch
  confirm?: Confirm
}

export namespace MailboxFrame {
  let _codec: Codec<MailboxFrame>

  export const codec = (): Codec<MailboxFrame> => {
    if (_codec == null) {
      _codec = message<MailboxFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.deposit != null) {
          w.uint32(10)
          Deposit.codec().encode(obj.deposit, w)
        }

        if (obj.deposited != null) {
          w.uint32(18)
          DepositReply.codec().encode(obj.deposited, w)
        }

        if (obj.collect != null) {
          w.uint32(26)
          Collect.codec().encode(obj.collect, w)
        }

        if (obj.batch != null) {
          w.uint32(34)
          Batch.codec().encode(obj.batch, w)
        }

        if (obj.confirm != null) {
          w.uint32(42)
          Confirm.codec().encode(obj.confirm, w)
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
              obj.deposit = Deposit.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.deposit
              })
              break
            }
            case 2: {
              obj.deposited = DepositReply.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.deposited
              })
              break
            }
            case 3: {
              obj.collect = Collect.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.collect
              })
              break
            }
            case 4: {
              obj.batch = Batch.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.batch
              })
              break
            }
            case 5: {
              obj.confirm = Confirm.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.confirm
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
              yield * Deposit.codec().stream(reader, reader.uint32(), `${prefix}.deposit`, {
                limits: opts.limits?.deposit
              })

              break
            }
            case 2: {
              yield * DepositReply.codec().stream(reader, reader.uint32(), `${prefix}.deposited`, {
                limits: opts.limits?.deposited
              })

              break
            }
            case 3: {
              yield * Collect.codec().stream(reader, reader.uint32(), `${prefix}.collect`, {
                limits: opts.limits?.collect
              })

              break
            }
            case 4: {
              yield * Batch.codec().stream(reader, reader.uint32(), `${prefix}.batch`, {
                limits: opts.limits?.batch
              })

              break
            }
            case 5: {
              yield * Confirm.codec().stream(reader, reader.uint32(), `${prefix}.confirm`, {
                limits: opts.limits?.confirm
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

  export interface MailboxFrameDepositEnvelopeFieldEvent {
    field: '$.deposit.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxFrameDepositedStatusFieldEvent {
    field: '$.deposited.status'
    value: DepositStatus
  }

  export interface MailboxFrameDepositedDetailFieldEvent {
    field: '$.deposited.detail'
    value: string
  }

  export interface MailboxFrameDepositedTtlMsFieldEvent {
    field: '$.deposited.ttlMs'
    value: bigint
  }

  export interface MailboxFrameCollectLimitFieldEvent {
    field: '$.collect.limit'
    value: number
  }

  export interface MailboxFrameBatchEnvelopesFieldEvent {
    field: '$.batch.envelopes[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxFrameBatchMoreFieldEvent {
    field: '$.batch.more'
    value: boolean
  }

  export interface MailboxFrameBatchRefusedFieldEvent {
    field: '$.batch.refused'
    value: string
  }

  export interface MailboxFrameConfirmIdsFieldEvent {
    field: '$.confirm.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<MailboxFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MailboxFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxFrame>): MailboxFrame {
    return decodeMessage(buf, MailboxFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxFrame>): Generator<MailboxFrameDepositEnvelopeFieldEvent | MailboxFrameDepositedStatusFieldEvent | MailboxFrameDepositedDetailFieldEvent | MailboxFrameDepositedTtlMsFieldEvent | MailboxFrameCollectLimitFieldEvent | MailboxFrameBatchEnvelopesFieldEvent | MailboxFrameBatchMoreFieldEvent | MailboxFrameBatchRefusedFieldEvent | MailboxFrameConfirmIdsFieldEvent> {
    return streamMessage(buf, MailboxFrame.codec(), opts)
  }
}

export interface Deposit {
  envelope: Uint8Array<ArrayBuffer>
}

export namespace Deposit {
  let _codec: Codec<Deposit>

  export const codec = (): Codec<Deposit> => {
    if (_codec == null) {
      _codec = message<Deposit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.envelope != null && obj.envelope.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.envelope)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          envelope: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.envelope = reader.bytes()
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
                field: `${prefix}.envelope`,
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

  export interface DepositEnvelopeFieldEvent {
    field: '$.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Deposit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Deposit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Deposit>): Deposit {
    return decodeMessage(buf, Deposit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Deposit>): Generator<DepositEnvelopeFieldEvent> {
    return streamMessage(buf, Deposit.codec(), opts)
  }
}

export enum DepositStatus {
  UNKNOWN = 'UNKNOWN',
  OK = 'OK',
  DUPLICATE = 'DUPLICATE',
  QUOTA = 'QUOTA',
  GAP = 'GAP',
  REFUSED = 'REFUSED',
  INVALID = 'INVALID'
}

enum __DepositStatusValues {
  UNKNOWN = 0,
  OK = 1,
  DUPLICATE = 2,
  QUOTA = 3,
  GAP = 4,
  REFUSED = 5,
  INVALID = 6
}

export namespace DepositStatus {
  export const codec = (): Codec<DepositStatus> => {
    return enumeration<DepositStatus>(__DepositStatusValues)
  }
}

export interface DepositReply {
  status: DepositStatus
  detail: string
  ttlMs: bigint
}

export namespace DepositReply {
  let _codec: Codec<DepositReply>

  export const codec = (): Codec<DepositReply> => {
    if (_codec == null) {
      _codec = message<DepositReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __DepositStatusValues[obj.status] !== 0) {
          w.uint32(8)
          DepositStatus.codec().encode(obj.status, w)
        }

        if ((obj.detail != null && obj.detail !== '')) {
          w.uint32(18)
          w.string(obj.detail)
        }

        if ((obj.ttlMs != null && obj.ttlMs !== 0n)) {
          w.uint32(24)
          w.uint64(obj.ttlMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: DepositStatus.UNKNOWN,
          detail: '',
          ttlMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = DepositStatus.codec().decode(reader)
              break
            }
            case 2: {
              obj.detail = reader.string()
              break
            }
            case 3: {
              obj.ttlMs = reader.uint64()
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
                value: DepositStatus.codec().decode(reader)
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
            case 3: {
              yield {
                field: `${prefix}.ttlMs`,
                value: reader.uint64()
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

  export interface DepositReplyStatusFieldEvent {
    field: '$.status'
    value: DepositStatus
  }

  export interface DepositReplyDetailFieldEvent {
    field: '$.detail'
    value: string
  }

  export interface DepositReplyTtlMsFieldEvent {
    field: '$.ttlMs'
    value: bigint
  }

  export function encode (obj: Partial<DepositReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DepositReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositReply>): DepositReply {
    return decodeMessage(buf, DepositReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositReply>): Generator<DepositReplyStatusFieldEvent | DepositReplyDetailFieldEvent | DepositReplyTtlMsFieldEvent> {
    return streamMessage(buf, DepositReply.codec(), opts)
  }
}

export interface Collect {
  limit: number
}

export namespace Collect {
  let _codec: Codec<Collect>

  export const codec = (): Codec<Collect> => {
    if (_codec == null) {
      _codec = message<Collect>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(8)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.limit = reader.uint32()
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
                field: `${prefix}.limit`,
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

  export interface CollectLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export function encode (obj: Partial<Collect>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Collect.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Collect>): Collect {
    return decodeMessage(buf, Collect.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Collect>): Generator<CollectLimitFieldEvent> {
    return streamMessage(buf, Collect.codec(), opts)
  }
}

export interface Batch {
  envelopes: Uint8Array<ArrayBuffer>[]
  more: boolean
  refused: string
}

export namespace Batch {
  let _codec: Codec<Batch>

  export const codec = (): Codec<Batch> => {
    if (_codec == null) {
      _codec = message<Batch>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.envelopes != null && obj.envelopes.length > 0) {
          for (const value of obj.envelopes) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(16)
          w.bool(obj.more)
        }

        if ((obj.refused != null && obj.refused !== '')) {
          w.uint32(26)
          w.string(obj.refused)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          envelopes: [],
          more: false,
          refused: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.envelopes != null && obj.envelopes.length === opts.limits.envelopes) {
                throw new MaxLengthError('Decode error - repeated field "envelopes" had too many elements')
              }

              obj.envelopes.push(reader.bytes())
              break
            }
            case 2: {
              obj.more = reader.bool()
              break
            }
            case 3: {
              obj.refused = reader.string()
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
        const obj = {
          envelopes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.envelopes != null && obj.envelopes === opts.limits.envelopes) {
                throw new MaxLengthError('Streaming decode error - repeated field "envelopes" had too many elements')
              }

              yield {
                field: `${prefix}.envelopes[]`,
                index: obj.envelopes,
                value: reader.bytes()
              }

              obj.envelopes++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.more`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.refused`,
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

  export interface BatchEnvelopesFieldEvent {
    field: '$.envelopes[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BatchMoreFieldEvent {
    field: '$.more'
    value: boolean
  }

  export interface BatchRefusedFieldEvent {
    field: '$.refused'
    value: string
  }

  export function encode (obj: Partial<Batch>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Batch.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Batch>): Batch {
    return decodeMessage(buf, Batch.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Batch>): Generator<BatchEnvelopesFieldEvent | BatchMoreFieldEvent | BatchRefusedFieldEvent> {
    return streamMessage(buf, Batch.codec(), opts)
  }
}

export interface Confirm {
  ids: Uint8Array<ArrayBuffer>[]
}

export namespace Confirm {
  let _codec: Codec<Confirm>

  export const codec = (): Codec<Confirm> => {
    if (_codec == null) {
      _codec = message<Confirm>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ids: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.bytes())
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
        const obj = {
          ids: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.bytes()
              }

              obj.ids++

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

  export interface ConfirmIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Confirm>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Confirm.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Confirm>): Confirm {
    return decodeMessage(buf, Confirm.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Confirm>): Generator<ConfirmIdsFieldEvent> {
    return streamMessage(buf, Confirm.codec(), opts)
  }
}

export interface Envelope {
  id: Uint8Array<ArrayBuffer>
  sender: string
  recipient: string
  prev: Uint8Array<ArrayBuffer>
  timestamp: bigint
  ephemeral: Uint8Array<ArrayBuffer>
  nonce: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace Envelope {
  let _codec: Codec<Envelope>

  export const codec = (): Codec<Envelope> => {
    if (_codec == null) {
      _codec = message<Envelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.sender != null && obj.sender !== '')) {
          w.uint32(18)
          w.string(obj.sender)
        }

        if ((obj.recipient != null && obj.recipient !== '')) {
          w.uint32(26)
          w.string(obj.recipient)
        }

        if ((obj.prev != null && obj.prev.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.prev)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(40)
          w.uint64(obj.timestamp)
        }

        if ((obj.ephemeral != null && obj.ephemeral.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.ephemeral)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.nonce)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.ciphertext)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(74)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          sender: '',
          recipient: '',
          prev: uint8ArrayAlloc(0),
          timestamp: 0n,
          ephemeral: uint8ArrayAlloc(0),
          nonce: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
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
              obj.sender = reader.string()
              break
            }
            case 3: {
              obj.recipient = reader.string()
              break
            }
            case 4: {
              obj.prev = reader.bytes()
              break
            }
            case 5: {
              obj.timestamp = reader.uint64()
              break
            }
            case 6: {
              obj.ephemeral = reader.bytes()
              break
            }
            case 7: {
              obj.nonce = reader.bytes()
              break
            }
            case 8: {
              obj.ciphertext = reader.bytes()
              break
            }
            case 9: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.sender`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.recipient`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.prev`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.ephemeral`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.ciphertext`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.signature`,
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

  export interface EnvelopeIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeSenderFieldEvent {
    field: '$.sender'
    value: string
  }

  export interface EnvelopeRecipientFieldEvent {
    field: '$.recipient'
    value: string
  }

  export interface EnvelopePrevFieldEvent {
    field: '$.prev'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface EnvelopeEphemeralFieldEvent {
    field: '$.ephemeral'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Envelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Envelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Envelope {
    return decodeMessage(buf, Envelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Generator<EnvelopeIdFieldEvent | EnvelopeSenderFieldEvent | EnvelopeRecipientFieldEvent | EnvelopePrevFieldEvent | EnvelopeTimestampFieldEvent | EnvelopeEphemeralFieldEvent | EnvelopeNonceFieldEvent | EnvelopeCiphertextFieldEvent | EnvelopeSignatureFieldEvent> {
    return streamMessage(buf, Envelope.codec(), opts)
  }
}

export interface Letter {
  frames: Uint8Array<ArrayBuffer>[]
}

export namespace Letter {
  let _codec: Codec<Letter>

  export const codec = (): Codec<Letter> => {
    if (_codec == null) {
      _codec = message<Letter>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.frames != null && obj.frames.length > 0) {
          for (const value of obj.frames) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          frames: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.frames != null && obj.frames.length === opts.limits.frames) {
                throw new MaxLengthError('Decode error - repeated field "frames" had too many elements')
              }

              obj.frames.push(reader.bytes())
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
        const obj = {
          frames: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.frames != null && obj.frames === opts.limits.frames) {
                throw new MaxLengthError('Streaming decode error - repeated field "frames" had too many elements')
              }

              yield {
                field: `${prefix}.frames[]`,
                index: obj.frames,
                value: reader.bytes()
              }

              obj.frames++

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

  export interface LetterFramesFieldEvent {
    field: '$.frames[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Letter>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Letter.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Letter>): Letter {
    return decodeMessage(buf, Letter.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Letter>): Generator<LetterFramesFieldEvent> {
    return streamMessage(buf, Letter.codec(), opts)
  }
}
