import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Frame {
  hello?: Hello
  message?: ChatMessage
  ack?: Ack
  mailbox?: MailboxInfo
}

export namespace Frame {
  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.hello != null) {
          w.uint32(10)
          Hello.codec().encode(obj.hello, w)
        }

        if (obj.message != null) {
          w.uint32(18)
          ChatMessage.codec().encode(obj.message, w)
        }

        if (obj.ack != null) {
          w.uint32(26)
          Ack.codec().encode(obj.ack, w)
        }

        if (obj.mailbox != null) {
          w.uint32(98)
          MailboxInfo.codec().encode(obj.mailbox, w)
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
              obj.hello = Hello.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hello
              })
              break
            }
            case 2: {
              obj.message = ChatMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.message
              })
              break
            }
            case 3: {
              obj.ack = Ack.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ack
              })
              break
            }
            case 12: {
              obj.mailbox = MailboxInfo.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.mailbox
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
              yield * Hello.codec().stream(reader, reader.uint32(), `${prefix}.hello`, {
                limits: opts.limits?.hello
              })

              break
            }
            case 2: {
              yield * ChatMessage.codec().stream(reader, reader.uint32(), `${prefix}.message`, {
                limits: opts.limits?.message
              })

              break
            }
            case 3: {
              yield * Ack.codec().stream(reader, reader.uint32(), `${prefix}.ack`, {
                limits: opts.limits?.ack
              })

              break
            }
            case 12: {
              yield * MailboxInfo.codec().stream(reader, reader.uint32(), `${prefix}.mailbox`, {
                limits: opts.limits?.mailbox
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

  export interface FrameHelloNameFieldEvent {
    field: '$.hello.name'
    value: string
  }

  export interface FrameHelloVersionFieldEvent {
    field: '$.hello.version'
    value: string
  }

  export interface FrameMessageIdFieldEvent {
    field: '$.message.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMessageTimestampFieldEvent {
    field: '$.message.timestamp'
    value: bigint
  }

  export interface FrameMessageTextFieldEvent {
    field: '$.message.text'
    value: string
  }

  export interface FrameMessageReplyToFieldEvent {
    field: '$.message.replyTo'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMessageAfterFieldEvent {
    field: '$.message.after'
    value: bigint
  }

  export interface FrameAckIdsFieldEvent {
    field: '$.ack.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMailboxPeerFieldEvent {
    field: '$.mailbox.peer'
    value: string
  }

  export interface FrameMailboxAddrsFieldEvent {
    field: '$.mailbox.addrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameHelloNameFieldEvent | FrameHelloVersionFieldEvent | FrameMessageIdFieldEvent | FrameMessageTimestampFieldEvent | FrameMessageTextFieldEvent | FrameMessageReplyToFieldEvent | FrameMessageAfterFieldEvent | FrameAckIdsFieldEvent | FrameMailboxPeerFieldEvent | FrameMailboxAddrsFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}

export interface MailboxInfo {
  peer: string
  addrs: string[]
}

export namespace MailboxInfo {
  let _codec: Codec<MailboxInfo>

  export const codec = (): Codec<MailboxInfo> => {
    if (_codec == null) {
      _codec = message<MailboxInfo>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(10)
          w.string(obj.peer)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: '',
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peer`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.string()
              }

              obj.addrs++

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

  export interface MailboxInfoPeerFieldEvent {
    field: '$.peer'
    value: string
  }

  export interface MailboxInfoAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<MailboxInfo>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MailboxInfo.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxInfo>): MailboxInfo {
    return decodeMessage(buf, MailboxInfo.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxInfo>): Generator<MailboxInfoPeerFieldEvent | MailboxInfoAddrsFieldEvent> {
    return streamMessage(buf, MailboxInfo.codec(), opts)
  }
}

export interface Hello {
  name: string
  version: string
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.version != null && obj.version !== '')) {
          w.uint32(18)
          w.string(obj.version)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          version: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.version = reader.string()
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
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.version`,
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

  export interface HelloNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface HelloVersionFieldEvent {
    field: '$.version'
    value: string
  }

  export function encode (obj: Partial<Hello>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloNameFieldEvent | HelloVersionFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface ChatMessage {
  id: Uint8Array<ArrayBuffer>
  timestamp: bigint
  text: string
  replyTo?: Uint8Array<ArrayBuffer>
  after?: bigint
}

export namespace ChatMessage {
  let _codec: Codec<ChatMessage>

  export const codec = (): Codec<ChatMessage> => {
    if (_codec == null) {
      _codec = message<ChatMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(16)
          w.uint64(obj.timestamp)
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(26)
          w.string(obj.text)
        }

        if (obj.replyTo != null) {
          w.uint32(34)
          w.bytes(obj.replyTo)
        }

        if (obj.after != null) {
          w.uint32(40)
          w.uint64(obj.after)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          timestamp: 0n,
          text: ''
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
              obj.timestamp = reader.uint64()
              break
            }
            case 3: {
              obj.text = reader.string()
              break
            }
            case 4: {
              obj.replyTo = reader.bytes()
              break
            }
            case 5: {
              obj.after = reader.uint64()
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
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.replyTo`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.after`,
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

  export interface ChatMessageIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChatMessageTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface ChatMessageTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface ChatMessageReplyToFieldEvent {
    field: '$.replyTo'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChatMessageAfterFieldEvent {
    field: '$.after'
    value: bigint
  }

  export function encode (obj: Partial<ChatMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChatMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): ChatMessage {
    return decodeMessage(buf, ChatMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): Generator<ChatMessageIdFieldEvent | ChatMessageTimestampFieldEvent | ChatMessageTextFieldEvent | ChatMessageReplyToFieldEvent | ChatMessageAfterFieldEvent> {
    return streamMessage(buf, ChatMessage.codec(), opts)
  }
}

export interface Ack {
  ids: Uint8Array<ArrayBuffer>[]
}

export namespace Ack {
  let _codec: Codec<Ack>

  export const codec = (): Codec<Ack> => {
    if (_codec == null) {
      _codec = message<Ack>((obj, w, opts = {}) => {
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

  export interface AckIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Ack>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ack.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Ack {
    return decodeMessage(buf, Ack.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Generator<AckIdsFieldEvent> {
    return streamMessage(buf, Ack.codec(), opts)
  }
}
