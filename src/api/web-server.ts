import { rm, writeFile, rename } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import fastifyCookie from '@fastify/cookie'
import fastifyHelmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { ErrorCode, P2pError } from '../errors.ts'
import { registerApiRoutes } from './register.ts'
import type { ApiParts } from './routes.ts'
import { API_BODY_LIMIT, type WebLink } from './types.ts'
import {
  bearer,
  cookieName,
  hostAllowed,
  loadToken,
  originAllowed,
  sameSecret,
  sessionValue,
  writeToken
} from './web-auth.ts'
import { registerWebFileRoutes } from './web-files.ts'

/** The web app's port unless `--web` says otherwise (a free one if it is taken). */
export const DEFAULT_WEB_PORT = 7463
export const DEFAULT_WEB_HOST = '127.0.0.1'

/** Where the package keeps the web app: the pages and styles as written, the scripts as compiled. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const STATIC_ROOTS = [join(PACKAGE_ROOT, 'web'), join(PACKAGE_ROOT, 'dist', 'src', 'web')]
/** The API's modules the app loads (its client is built from the route table): `/api/<name>`. */
export const API_MODULES_DIR = join(PACKAGE_ROOT, 'dist', 'src', 'api')
export const API_MODULES = ['routes.js', 'schema.js']

export interface WebServerOptions {
  dataDir: string
  /** @default 127.0.0.1 */
  host?: string
  /** @default 7463 */
  port?: number
  /** The address was chosen (`--web`): a taken port is an error instead of a reason to pick another. */
  explicit?: boolean
  /** Where browser uploads are written before they are offered. @default DATA/uploads */
  uploads?: string
}

export interface WebServer {
  readonly host: string
  readonly port: number
  /** The app's address, without the token. */
  readonly origin: string
  /** Said on stderr at start: a port taken, a non-loopback address. */
  readonly notices: string[]
  link(): WebLink
  /** A new token: old links and sessions stop working. */
  rotate(): Promise<WebLink>
  close(): Promise<void>
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

function refuse(reply: FastifyReply, status: number, code: string, message: string, hint?: string) {
  return reply.status(status).header('cache-control', 'no-store').send({ code, message, hint })
}

/**
 * Serve the web app and the local API over HTTP. Every `/v1` request needs the session cookie or
 * `Authorization: Bearer <token>` (401); a Host that is not this server is 403, and so is a state-changing request
 * whose Origin is not the app's.
 */
export async function startWebServer(api: ApiParts, options: WebServerOptions): Promise<WebServer> {
  const tokenPath = join(options.dataDir, 'web.token')
  const infoPath = join(options.dataDir, 'web.json')
  let token = await loadToken(tokenPath)
  let session = sessionValue(token)
  const host = options.host ?? DEFAULT_WEB_HOST
  const notices: string[] = []

  const app = Fastify({ logger: false, bodyLimit: API_BODY_LIMIT, return503OnClosing: true })
  let port = 0
  await app.register(fastifyCookie)
  app.addHook('onRequest', async (req, reply) => {
    // Uploads and (later) event streams last as long as they last; a silent connection is still cut off.
    req.raw.socket.setTimeout(0)
    if (!hostAllowed(req.headers.host, port)) {
      return refuse(reply, 403, ErrorCode.FORBIDDEN, `this server answers to localhost:${port} or an IP address, not ${req.headers.host ?? '(no Host)'}`)
    }
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !originAllowed(req.headers)) {
      return refuse(reply, 403, ErrorCode.FORBIDDEN, 'a request from another web site was refused')
    }
    if (req.url.startsWith('/v1/') && !authorized(req)) {
      return refuse(reply, 401, ErrorCode.UNAUTHORIZED, 'not signed in', 'open the link that p2pnode web prints')
    }
  })
  const authorized = (req: FastifyRequest) =>
    sameSecret(req.cookies?.[cookieName(port)], session) || sameSecret(bearer(req.headers.authorization), token)

  await app.register(fastifyHelmet, {
    // The app is its own scripts and styles; pictures and media come from the node (or blob: previews).
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'blob:'],
        mediaSrc: ["'self'", 'blob:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity: false
  })
  await app.register(fastifyStatic, { root: STATIC_ROOTS, prefix: '/', index: 'index.html', wildcard: true })
  for (const name of API_MODULES) app.get(`/api/${name}`, (_req, reply) => reply.sendFile(name, API_MODULES_DIR))

  app.get<{ Querystring: { token?: string } }>('/login', async (req, reply) => {
    if (!sameSecret(req.query.token, token)) {
      return reply
        .status(401)
        .type('text/plain; charset=utf-8')
        .send('This login link is not valid (any more). Run `p2pnode web` in a terminal and open the link it prints.\n')
    }
    return reply
      .setCookie(cookieName(port), session, { httpOnly: true, sameSite: 'strict', path: '/' })
      .header('cache-control', 'no-store')
      .redirect('/', 303)
  })

  await app.register(async (scope) => {
    registerApiRoutes(scope, api, { dataDir: options.dataDir, http: true })
    registerWebFileRoutes(scope, api.files, options.uploads ?? join(options.dataDir, 'uploads'), api.voice)
  })

  port = await listen(app, host, options.port ?? DEFAULT_WEB_PORT, options.explicit === true, notices)
  if (!isLoopback(host)) {
    notices.push(
      `p2pnode: warning: the web app listens on ${host}:${port}, reachable from other machines; anyone with the token can use this node`
    )
  }
  const origin = `http://${hostForUrl(host)}:${port}`
  const link = (): WebLink => ({ url: `${origin}/login?token=${token}`, port })
  await writeInfo(infoPath, { url: origin, port, host })

  return {
    host,
    port,
    origin,
    notices,
    link,
    async rotate() {
      token = await writeToken(tokenPath)
      session = sessionValue(token)
      return link()
    },
    async close() {
      await app.close()
      await rm(infoPath, { force: true })
    }
  }
}

async function listen(app: FastifyInstance, host: string, port: number, explicit: boolean, notices: string[]): Promise<number> {
  try {
    await app.listen({ host, port })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EADDRINUSE' || explicit) {
      throw new P2pError(ErrorCode.INVALID_ARGUMENT, `the web app cannot listen on ${host}:${port}: ${code ?? (err as Error).message}`, {
        hint: 'choose another address with --web HOST:PORT, or turn the web app off with --no-web',
        cause: err
      })
    }
    await app.listen({ host, port: 0 })
    const taken = port
    port = (app.server.address() as { port: number }).port
    notices.push(`p2pnode: port ${taken} is taken (another node?); the web app is on ${hostForUrl(host)}:${port}`)
  }
  return (app.server.address() as { port: number }).port
}

/** DATA/web.json (0600, temp + rename): where the CLI and other tools find the web app. */
async function writeInfo(path: string, info: { url: string; port: number; host: string }): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 })
  await rename(tmp, path)
}
