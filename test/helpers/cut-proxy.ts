import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/**
 * An HTTP forward proxy between the browser and a node's web server that a test can cut: `cut()` breaks every
 * connection through it at once (open event streams included) and refuses new ones until `restore()`, as a
 * network that drops out does. A node that does not answer is passed on as a broken connection too (not a 502),
 * so the page sees what it sees without a proxy.
 */
export class CutProxy {
  readonly server: Server
  /** Every request passed on to the node, as it was sent (path with query, headers). */
  readonly requests: Array<{ path: string; headers: IncomingMessage['headers'] }> = []
  private down = false
  private readonly sockets = new Set<Socket>()

  private constructor(server: Server) {
    this.server = server
  }

  static async start(): Promise<CutProxy> {
    const server = createServer()
    const proxy = new CutProxy(server)
    server.on('connection', (socket) => proxy.track(socket))
    server.on('request', (req, res) => proxy.forward(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  /** For chromium's --proxy-server. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`
  }

  /** Break every connection now and refuse new ones. */
  cut(): void {
    this.down = true
    for (const s of this.sockets) s.destroy()
  }

  restore(): void {
    this.down = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private track(socket: Socket): void {
    if (this.down) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    if (this.down) {
      req.socket.destroy()
      return
    }
    // A proxy is sent the whole URL; the Host header (the node's address) goes on as it is.
    const target = new URL(req.url ?? '/')
    this.requests.push({ path: `${target.pathname}${target.search}`, headers: req.headers })
    const upstream = request(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on('socket', (s) => this.track(s))
    upstream.on('error', () => req.socket.destroy())
    req.pipe(upstream)
  }
}
