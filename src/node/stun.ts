/**
 * A STUN binding responder (RFC 5389 §7, Binding only): tells a client the address and port its UDP packets come
 * from, which is all WebRTC needs from STUN to find its public (NAT) address. Runs on a relay host (`start
 * --relay-service`) on the UDP port of the same number as the relay's TCP port, so that clients know where it is
 * from the relay's address alone. Answers nothing but well-formed Binding requests, at a bounded rate per source.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import { crc32 } from 'node:zlib'
import type { Logger } from '@libp2p/interface'

const MAGIC_COOKIE = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const ATTR_FINGERPRINT = 0x8028
const FINGERPRINT_XOR = 0x5354554e
const HEADER_BYTES = 20
/** Larger packets are no Binding request of any ICE agent (RFC 5389 §7.1: fits in 576-byte datagrams). */
const MAX_REQUEST_BYTES = 548
/** Answers per source address per second: ICE sends a few per gathering; more is someone using us to flood. */
const ANSWERS_PER_SECOND = 20
/** Sources tracked for the rate at most (the map is cleared each second). */
const MAX_SOURCES = 10_000

export interface StunServer {
  readonly port: number
  close(): Promise<void>
}

/** The Binding success response to request `req` (already checked) from `from`. */
export function bindingResponse(req: Uint8Array, from: Pick<RemoteInfo, 'address' | 'port' | 'family'>): Buffer {
  const v4 = from.family === 'IPv4' || isIPv4(from.address)
  const addrBytes = v4 ? 4 : 16
  const attrLen = 4 + addrBytes
  const out = Buffer.alloc(HEADER_BYTES + 4 + attrLen + 8)
  out.writeUInt16BE(BINDING_SUCCESS, 0)
  out.writeUInt16BE(4 + attrLen + 8, 2)
  Buffer.from(req.subarray(4, 20)).copy(out, 4) // magic cookie + transaction id
  let o = HEADER_BYTES
  out.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, o)
  out.writeUInt16BE(attrLen, o + 2)
  out.writeUInt8(v4 ? 0x01 : 0x02, o + 5)
  out.writeUInt16BE(from.port ^ (MAGIC_COOKIE >>> 16), o + 6)
  const ip = v4 ? Buffer.from(from.address.split('.').map(Number)) : ipv6Bytes(from.address)
  // XOR with the cookie, then (IPv6) the transaction id: RFC 5389 §15.2.
  const mask = out.subarray(4, 4 + addrBytes)
  for (let i = 0; i < addrBytes; i++) out[o + 8 + i] = ip[i] ^ mask[i]
  o += 4 + attrLen
  out.writeUInt16BE(ATTR_FINGERPRINT, o)
  out.writeUInt16BE(4, o + 2)
  out.writeUInt32BE((crc32(out.subarray(0, o)) ^ FINGERPRINT_XOR) >>> 0, o + 4)
  return out
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2))
  return out
}

/** Whether `msg` is a well-formed STUN Binding request (header checks of RFC 5389 §7.3). */
export function isBindingRequest(msg: Uint8Array): boolean {
  if (msg.byteLength < HEADER_BYTES || msg.byteLength > MAX_REQUEST_BYTES) return false
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength)
  return (
    b.readUInt16BE(0) === BINDING_REQUEST &&
    b.readUInt16BE(2) === b.byteLength - HEADER_BYTES &&
    b.readUInt16BE(2) % 4 === 0 &&
    b.readUInt32BE(4) === MAGIC_COOKIE
  )
}

/** Answer STUN Binding requests on UDP `port` of `host`. */
export async function startStunServer(options: { host: string; port: number; log: Logger }): Promise<StunServer> {
  const { host, port, log } = options
  const socket: Socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' })
  const answered = new Map<string, number>()
  const reset = setInterval(() => answered.clear(), 1000)
  reset.unref()
  socket.on('message', (msg, rinfo) => {
    if (!isBindingRequest(msg)) return
    const n = answered.get(rinfo.address) ?? 0
    if (n >= ANSWERS_PER_SECOND || (n === 0 && answered.size >= MAX_SOURCES)) return
    answered.set(rinfo.address, n + 1)
    socket.send(bindingResponse(msg, rinfo), rinfo.port, rinfo.address, (err) => {
      if (err != null) log('STUN answer to %s:%d failed: %s', rinfo.address, rinfo.port, err.message)
    })
  })
  socket.on('error', (err) => log.error('STUN socket: %s', err.message))
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, host, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  return {
    port: socket.address().port,
    close: async () => {
      clearInterval(reset)
      await new Promise<void>((resolve) => socket.close(() => resolve()))
    }
  }
}
