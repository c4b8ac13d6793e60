import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Frame {
  hello?: Hello
  message?: ChatMessage
  ack?: Ack
  groupMessage?: ChatMessage
  groupChange?: GroupChange
  refused?: Refusal
  groupLeave?: GroupLeave
  reach?: Reach
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

        if (obj.groupMessage != null) {
          w.uint32(34)
          ChatMessage.codec().encode(obj.groupMessage, w)
        }

        if (obj.groupChange != null) {
          w.uint32(42)
          GroupChange.codec().encode(obj.groupChange, w)
        }

        if (obj.refused != null) {
          w.uint32(50)
          Refusal.codec().encode(obj.refused, w)
        }

        if (obj.groupLeave != null) {
          w.uint32(58)
          GroupLeave.codec().encode(obj.groupLeave, w)
        }

        if (obj.reach != null) {
          w.uint32(82)
          Reach.codec().encode(obj.reach, w)
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
            case 4: {
              obj.groupMessage = ChatMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.groupMessage
              })
              break
            }
            case 5: {
              obj.groupChange = GroupChange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.groupChange
              })
              break
            }
            case 6: {
              obj.refused = Refusal.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.refused
              })
              break
            }
            case 7: {
              obj.groupLeave = GroupLeave.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.groupLeave
              })
              break
            }
            case 10: {
              obj.reach = Reach.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reach
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
            case 4: {
              yield * ChatMessage.codec().stream(reader, reader.uint32(), `${prefix}.groupMessage`, {
                limits: opts.limits?.groupMessage
              })

              break
            }
            case 5: {
              yield * GroupChange.codec().stream(reader, reader.uint32(), `${prefix}.groupChange`, {
                limits: opts.limits?.groupChange
              })

              break
            }
            case 6: {
              yield * Refusal.codec().stream(reader, reader.uint32(), `${prefix}.refused`, {
                limits: opts.limits?.refused
              })

              break
            }
            case 7: {
              yield * GroupLeave.codec().stream(reader, reader.uint32(), `${prefix}.groupLeave`, {
                limits: opts.limits?.groupLeave
              })

              break
            }
            case 10: {
              yield * Reach.codec().stream(reader, reader.uint32(), `${prefix}.reach`, {
                limits: opts.limits?.reach
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

  export interface FrameMessageGroupFieldEvent {
    field: '$.message.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMessageGroupVersionFieldEvent {
    field: '$.message.groupVersion'
    value: bigint
  }

  export interface FrameAckIdsFieldEvent {
    field: '$.ack.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupMessageIdFieldEvent {
    field: '$.groupMessage.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupMessageTimestampFieldEvent {
    field: '$.groupMessage.timestamp'
    value: bigint
  }

  export interface FrameGroupMessageTextFieldEvent {
    field: '$.groupMessage.text'
    value: string
  }

  export interface FrameGroupMessageReplyToFieldEvent {
    field: '$.groupMessage.replyTo'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupMessageAfterFieldEvent {
    field: '$.groupMessage.after'
    value: bigint
  }

  export interface FrameGroupMessageGroupFieldEvent {
    field: '$.groupMessage.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupMessageGroupVersionFieldEvent {
    field: '$.groupMessage.groupVersion'
    value: bigint
  }

  export interface FrameGroupChangeIdFieldEvent {
    field: '$.groupChange.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupChangeStateFieldEvent {
    field: '$.groupChange.state'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupChangeSignatureFieldEvent {
    field: '$.groupChange.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameRefusedIdsFieldEvent {
    field: '$.refused.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameRefusedReasonFieldEvent {
    field: '$.refused.reason'
    value: string
  }

  export interface FrameGroupLeaveIdFieldEvent {
    field: '$.groupLeave.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameGroupLeaveGroupFieldEvent {
    field: '$.groupLeave.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameReachRelayAddrsFieldEvent {
    field: '$.reach.relayAddrs[]'
    index: number
    value: string
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

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameHelloNameFieldEvent | FrameHelloVersionFieldEvent | FrameMessageIdFieldEvent | FrameMessageTimestampFieldEvent | FrameMessageTextFieldEvent | FrameMessageReplyToFieldEvent | FrameMessageAfterFieldEvent | FrameMessageGroupFieldEvent | FrameMessageGroupVersionFieldEvent | FrameAckIdsFieldEvent | FrameGroupMessageIdFieldEvent | FrameGroupMessageTimestampFieldEvent | FrameGroupMessageTextFieldEvent | FrameGroupMessageReplyToFieldEvent | FrameGroupMessageAfterFieldEvent | FrameGroupMessageGroupFieldEvent | FrameGroupMessageGroupVersionFieldEvent | FrameGroupChangeIdFieldEvent | FrameGroupChangeStateFieldEvent | FrameGroupChangeSignatureFieldEvent | FrameRefusedIdsFieldEvent | FrameRefusedReasonFieldEvent | FrameGroupLeaveIdFieldEvent | FrameGroupLeaveGroupFieldEvent | FrameReachRelayAddrsFieldEvent | FrameMailboxPeerFieldEvent | FrameMailboxAddrsFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}

export interface Reach {
  relayAddrs: string[]
}

export namespace Reach {
  let _codec: Codec<Reach>

  export const codec = (): Codec<Reach> => {
    if (_codec == null) {
      _codec = message<Reach>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.relayAddrs != null && obj.relayAddrs.length > 0) {
          for (const value of obj.relayAddrs) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          relayAddrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.relayAddrs != null && obj.relayAddrs.length === opts.limits.relayAddrs) {
                throw new MaxLengthError('Decode error - repeated field "relayAddrs" had too many elements')
              }

              obj.relayAddrs.push(reader.string())
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
          relayAddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.relayAddrs != null && obj.relayAddrs === opts.limits.relayAddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "relayAddrs" had too many elements')
              }

              yield {
                field: `${prefix}.relayAddrs[]`,
                index: obj.relayAddrs,
                value: reader.string()
              }

              obj.relayAddrs++

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

  export interface ReachRelayAddrsFieldEvent {
    field: '$.relayAddrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<Reach>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Reach.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reach>): Reach {
    return decodeMessage(buf, Reach.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reach>): Generator<ReachRelayAddrsFieldEvent> {
    return streamMessage(buf, Reach.codec(), opts)
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
  group?: Uint8Array<ArrayBuffer>
  groupVersion?: bigint
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

        if (obj.group != null) {
          w.uint32(50)
          w.bytes(obj.group)
        }

        if (obj.groupVersion != null) {
          w.uint32(56)
          w.uint64(obj.groupVersion)
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
            case 6: {
              obj.group = reader.bytes()
              break
            }
            case 7: {
              obj.groupVersion = reader.uint64()
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
            case 6: {
              yield {
                field: `${prefix}.group`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.groupVersion`,
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

  export interface ChatMessageGroupFieldEvent {
    field: '$.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChatMessageGroupVersionFieldEvent {
    field: '$.groupVersion'
    value: bigint
  }

  export function encode (obj: Partial<ChatMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChatMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): ChatMessage {
    return decodeMessage(buf, ChatMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): Generator<ChatMessageIdFieldEvent | ChatMessageTimestampFieldEvent | ChatMessageTextFieldEvent | ChatMessageReplyToFieldEvent | ChatMessageAfterFieldEvent | ChatMessageGroupFieldEvent | ChatMessageGroupVersionFieldEvent> {
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

export interface GroupChange {
  id: Uint8Array<ArrayBuffer>
  state: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace GroupChange {
  let _codec: Codec<GroupChange>

  export const codec = (): Codec<GroupChange> => {
    if (_codec == null) {
      _codec = message<GroupChange>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.state != null && obj.state.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.state)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          state: uint8ArrayAlloc(0),
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
              obj.state = reader.bytes()
              break
            }
            case 3: {
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
                field: `${prefix}.state`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
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

  export interface GroupChangeIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupChangeStateFieldEvent {
    field: '$.state'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupChangeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GroupChange>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupChange.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupChange>): GroupChange {
    return decodeMessage(buf, GroupChange.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupChange>): Generator<GroupChangeIdFieldEvent | GroupChangeStateFieldEvent | GroupChangeSignatureFieldEvent> {
    return streamMessage(buf, GroupChange.codec(), opts)
  }
}

export interface GroupState {
  group: Uint8Array<ArrayBuffer>
  nonce: Uint8Array<ArrayBuffer>
  admin: string
  version: bigint
  name: string
  members: string[]
  timestamp: bigint
}

export namespace GroupState {
  let _codec: Codec<GroupState>

  export const codec = (): Codec<GroupState> => {
    if (_codec == null) {
      _codec = message<GroupState>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.group != null && obj.group.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.group)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.nonce)
        }

        if ((obj.admin != null && obj.admin !== '')) {
          w.uint32(26)
          w.string(obj.admin)
        }

        if ((obj.version != null && obj.version !== 0n)) {
          w.uint32(32)
          w.uint64(obj.version)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(42)
          w.string(obj.name)
        }

        if (obj.members != null && obj.members.length > 0) {
          for (const value of obj.members) {
            w.uint32(50)
            w.string(value)
          }
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(56)
          w.uint64(obj.timestamp)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          group: uint8ArrayAlloc(0),
          nonce: uint8ArrayAlloc(0),
          admin: '',
          version: 0n,
          name: '',
          members: [],
          timestamp: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.group = reader.bytes()
              break
            }
            case 2: {
              obj.nonce = reader.bytes()
              break
            }
            case 3: {
              obj.admin = reader.string()
              break
            }
            case 4: {
              obj.version = reader.uint64()
              break
            }
            case 5: {
              obj.name = reader.string()
              break
            }
            case 6: {
              if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                throw new MaxLengthError('Decode error - repeated field "members" had too many elements')
              }

              obj.members.push(reader.string())
              break
            }
            case 7: {
              obj.timestamp = reader.uint64()
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
          members: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.group`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.admin`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 6: {
              if (opts.limits?.members != null && obj.members === opts.limits.members) {
                throw new MaxLengthError('Streaming decode error - repeated field "members" had too many elements')
              }

              yield {
                field: `${prefix}.members[]`,
                index: obj.members,
                value: reader.string()
              }

              obj.members++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.timestamp`,
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

  export interface GroupStateGroupFieldEvent {
    field: '$.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupStateNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupStateAdminFieldEvent {
    field: '$.admin'
    value: string
  }

  export interface GroupStateVersionFieldEvent {
    field: '$.version'
    value: bigint
  }

  export interface GroupStateNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface GroupStateMembersFieldEvent {
    field: '$.members[]'
    index: number
    value: string
  }

  export interface GroupStateTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export function encode (obj: Partial<GroupState>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupState.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupState>): GroupState {
    return decodeMessage(buf, GroupState.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupState>): Generator<GroupStateGroupFieldEvent | GroupStateNonceFieldEvent | GroupStateAdminFieldEvent | GroupStateVersionFieldEvent | GroupStateNameFieldEvent | GroupStateMembersFieldEvent | GroupStateTimestampFieldEvent> {
    return streamMessage(buf, GroupState.codec(), opts)
  }
}

export interface Refusal {
  ids: Uint8Array<ArrayBuffer>[]
  reason: string
}

export namespace Refusal {
  let _codec: Codec<Refusal>

  export const codec = (): Codec<Refusal> => {
    if (_codec == null) {
      _codec = message<Refusal>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(10)
            w.bytes(value)
          }
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
          ids: [],
          reason: ''
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

  export interface RefusalIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RefusalReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<Refusal>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Refusal.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Refusal {
    return decodeMessage(buf, Refusal.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Generator<RefusalIdsFieldEvent | RefusalReasonFieldEvent> {
    return streamMessage(buf, Refusal.codec(), opts)
  }
}

export interface GroupLeave {
  id: Uint8Array<ArrayBuffer>
  group: Uint8Array<ArrayBuffer>
}

export namespace GroupLeave {
  let _codec: Codec<GroupLeave>

  export const codec = (): Codec<GroupLeave> => {
    if (_codec == null) {
      _codec = message<GroupLeave>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.group != null && obj.group.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.group)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          group: uint8ArrayAlloc(0)
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
              obj.group = reader.bytes()
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
                field: `${prefix}.group`,
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

  export interface GroupLeaveIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupLeaveGroupFieldEvent {
    field: '$.group'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GroupLeave>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupLeave.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupLeave>): GroupLeave {
    return decodeMessage(buf, GroupLeave.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupLeave>): Generator<GroupLeaveIdFieldEvent | GroupLeaveGroupFieldEvent> {
    return streamMessage(buf, GroupLeave.codec(), opts)
  }
}
