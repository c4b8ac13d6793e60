/**
 * An mDNS client on a netns host, made with multicast-dns (as any third-party mDNS software would be): it records
 * every packet heard on 224.0.0.251:5353 (decoded), and sends the packets it is given. `MdnsProbe` runs this
 * file as a child inside the host's namespace and talks to it over stdio (JSON lines).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Packet } from 'dns-packet'
import multicastDns from 'multicast-dns'

/** One packet heard: who sent it, and its records with buffers as strings. */
export interface HeardPacket {
  at: number
  from: string
  port: number
  type: 'query' | 'response'
  id: number
  questions: Array<{ name: string; type: string }>
  answers: Array<{ name: string; type: string; ttl: number; data: unknown; flush?: boolean }>
  additionals: Array<{ name: string; type: string; ttl: number; data: unknown; flush?: boolean }>
  bytes: number
}

const SELF = fileURLToPath(import.meta.url)

function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString()
  if (Array.isArray(value)) return value.map(plain)
  if (value != null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

/** The child: listen, print, send. */
function child(): void {
  const socket = createSocket({ type: 'udp4', reuseAddr: true })
  let bytes = 0
  socket.on('message', (m: Buffer) => (bytes = m.length))
  const mdns = multicastDns({ port: 5353, socket })
  const events = mdns as unknown as { on(e: 'packet', f: (p: Packet, r: { address: string; port: number }) => void): void }
  events.on('packet', (p, r) => {
    const heard = { at: Date.now(), from: r.address, port: r.port, bytes, ...(plain(p) as object) }
    process.stdout.write(`${JSON.stringify(heard)}\n`)
  })
  mdns.on('ready', () => process.stdout.write('ready\n'))
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { packet, to } = JSON.parse(line) as { packet: Packet; to?: { address: string; port: number } }
    const send = (mdns as unknown as { send(p: Packet, to: unknown, cb: () => void): void }).send
    send(packet, to, () => process.stdout.write('sent\n'))
  })
  process.stdin.on('end', () => mdns.destroy())
}

/** Runs the probe on a netns host and collects what it hears. */
export class MdnsProbe {
  readonly packets: HeardPacket[] = []
  private proc: ChildProcess | undefined
  private sentWaiters: Array<() => void> = []

  /** Start on the host `prefix` runs in (`NetnsLan.prefix(i)`); resolves once it listens. */
  async start(prefix: string[]): Promise<void> {
    const [cmd, ...args] = [...prefix, process.execPath, SELF, '--child']
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    this.proc = proc
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        if (line === 'ready') resolve()
        else if (line === 'sent') this.sentWaiters.shift()?.()
        else if (line.startsWith('{')) this.packets.push(JSON.parse(line) as HeardPacket)
      })
      proc.once('error', reject)
      proc.once('exit', (code) => reject(new Error(`the mDNS probe exited (${code})`)))
    })
  }

  /** Send a packet (multicast, or to `to`); resolves once sent. Returns the time just before sending. */
  async send(packet: Packet, to?: { address: string; port: number }): Promise<number> {
    const at = Date.now()
    const sent = new Promise<void>((resolve) => this.sentWaiters.push(resolve))
    this.proc?.stdin?.write(`${JSON.stringify({ packet, to })}\n`)
    await sent
    return at
  }

  /** Packets heard from `ips` (one address or several), since `since`, of `type`. */
  from(ips: string | string[], options: { since?: number; type?: 'query' | 'response' } = {}): HeardPacket[] {
    const list = Array.isArray(ips) ? ips : [ips]
    return this.packets.filter(
      (p) =>
        list.includes(p.from) &&
        p.at >= (options.since ?? 0) &&
        (options.type == null || p.type === options.type) &&
        JSON.stringify(p).includes('p2pnode')
    )
  }

  stop(): void {
    this.proc?.stdin?.end()
    this.proc?.kill()
  }
}

if (process.argv[1] === SELF && process.argv[2] === '--child') child()
