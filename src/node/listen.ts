/**
 * Where the node listens. Without --listen, one TCP port is picked on the first start and remembered in the data
 * dir, so that peers who dialled us (from outside the LAN, through a NAT) find us again after a restart, as
 * Syncthing and Kubo keep theirs. A remembered port that is taken is replaced by another for this run only (and
 * said so): it is tried again on the next start. An explicit --listen is used as given and never remembered.
 */
import { createServer } from 'node:net'
import { ErrorCode, P2pError } from '../errors.ts'
import { parseMultiaddr } from './peer-ref.ts'

/** The store setting that holds the remembered port. */
export const PORT_SETTING = 'listenPort'

/** Where the remembered port lives (the node's settings in its database). */
export interface PortSettings {
  getSetting<T>(name: string): Promise<T | undefined>
  setSetting(name: string, value: unknown): Promise<void>
}

export interface ListenChoice {
  listen: string[]
  /** What the user should know about the choice (printed by `start`). */
  notices: string[]
}

const ANY_HOST = '0.0.0.0'

/** Whether a TCP port can be listened on now (`0`: the port the OS picks), and which. */
export async function tryPort(port: number, host = ANY_HOST): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen({ port, host, exclusive: true }, () => {
      const addr = server.address()
      const got = typeof addr === 'object' && addr != null ? addr.port : undefined
      server.close(() => resolve(got))
    })
  })
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65_536
}

/** The listen addresses for this start: `explicit` if given, else the remembered port (picked on first start). */
export async function chooseListen(explicit: string[] | undefined, settings: PortSettings): Promise<ListenChoice> {
  if (explicit != null && explicit.length > 0) {
    await checkExplicit(explicit)
    return { listen: explicit, notices: [] }
  }
  const remembered = await settings.getSetting<unknown>(PORT_SETTING)
  if (isPort(remembered)) {
    if ((await tryPort(remembered)) === remembered) return { listen: [tcpAddr(remembered)], notices: [] }
    const other = await freePort()
    return {
      listen: [tcpAddr(other)],
      notices: [
        `p2pnode: port ${remembered} (remembered from earlier runs) is in use by another program; listening on ` +
          `${other} for this run only. Peers who know you at port ${remembered} reach you again once it is free ` +
          `and p2pnode restarts; to move for good, start once with --listen /ip4/0.0.0.0/tcp/<port>.`
      ]
    }
  }
  const port = await freePort()
  await settings.setSetting(PORT_SETTING, port)
  return { listen: [tcpAddr(port)], notices: [] }
}

/**
 * Explicit addresses are used as given and nothing is remembered, so a one-off --listen (a test, a second node on
 * this machine) never moves the node's usual port. A taken explicit port is an error, never silently another.
 */
async function checkExplicit(addrs: string[]): Promise<void> {
  for (const text of addrs) {
    const parts = parseMultiaddr(text).getComponents()
    const host = parts.find((c) => c.name === 'ip4' || c.name === 'ip6')
    const tcpPart = parts.find((c) => c.name === 'tcp')
    // p2pnode has one transport: TCP on an IP address (no QUIC, WebSockets, DNS names or /p2p/ parts).
    if (host == null || tcpPart == null || parts.length !== 2 || parts[0] !== host) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot listen on ${text}: p2pnode listens on TCP only`, {
        hint: 'give an IP address and a TCP port: --listen /ip4/0.0.0.0/tcp/4001 (or /ip6/::/tcp/4001; port 0 picks one)'
      })
    }
    const port = Number(tcpPart?.value)
    if (host?.value == null || !isPort(port)) continue
    if ((await tryPort(port, host.value)) !== port) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `cannot listen on ${text}: port ${port} is in use or not allowed`, {
        hint: `stop the program that uses port ${port}, pick another (--listen /ip4/0.0.0.0/tcp/<port>), or leave --listen out to use p2pnode's own remembered port`
      })
    }
  }
}

/** A free port picked by the OS. */
async function freePort(): Promise<number> {
  const port = await tryPort(0)
  if (port == null) throw new P2pError(ErrorCode.INTERNAL, 'no free TCP port to listen on')
  return port
}

function tcpAddr(port: number): string {
  return `/ip4/${ANY_HOST}/tcp/${port}`
}
