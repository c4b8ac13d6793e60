import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'

/**
 * The web server's guard, as for any local web service (Syncthing, Kubo): a secret token in DATA/web.token (0600)
 * is exchanged once for an HttpOnly, SameSite=Strict session cookie; the Host must be the address served (no DNS
 * rebinding); a state-changing request from a foreign Origin is refused (no CSRF).
 */

/** 32 random bytes: unguessable, and short enough for a URL. */
const TOKEN_BYTES = 32

/** A token as written to web.token: base64url of TOKEN_BYTES random bytes. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/

/** The token in `path`, made (0600) if the file is missing or does not hold one. */
export async function loadToken(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').then(
    (t) => t.trim(),
    () => ''
  )
  if (TOKEN_FORMAT.test(text)) {
    await chmod(path, 0o600)
    return text
  }
  return writeToken(path)
}

/** A new token in `path` (temp + rename, 0600): the old one and every session made with it stop working. */
export async function writeToken(path: string): Promise<string> {
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${token}\n`, { mode: 0o600 })
  await rename(tmp, path)
  return token
}

/**
 * The session cookie's value for a token: an HMAC of it, so the cookie never carries the token itself, survives a
 * restart of the node, and dies with `p2pnode web --rotate`.
 */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('p2pnode web session').digest('base64url')
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a == null) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Cookies are per host, not per port: each node's cookie is named after its port so two nodes keep theirs. */
export function cookieName(port: number): string {
  return `p2pnode_${port}`
}

/** The host part and port of a Host header (`127.0.0.1:7463`, `[::1]:7463`, `localhost:7463`). */
function splitHost(host: string): { name: string; port: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host)
  if (m == null) return undefined
  return { name: m[1].replace(/^\[|\]$/g, '').toLowerCase(), port: m[2] ?? '80' }
}

/**
 * Whether a Host header names this server: `localhost` or an IP address, on our port. A page on another name
 * (evil.example rebound to 127.0.0.1) sends that name and is refused; an IP literal cannot be rebound.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (host == null) return false
  const parts = splitHost(host)
  if (parts == null || parts.port !== String(port)) return false
  return parts.name === 'localhost' || isIP(parts.name) !== 0
}

/**
 * Whether a state-changing request may go on: a browser says where it comes from (Origin, or Sec-Fetch-Site); it
 * must be this very origin. Clients that are not browsers send neither (they still need the token).
 */
export function originAllowed(headers: Record<string, string | string[] | undefined>): boolean {
  const origin = headers.origin
  const host = headers.host
  if (typeof origin === 'string') return origin === `http://${String(host)}`
  const site = headers['sec-fetch-site']
  return site == null || site === 'same-origin' || site === 'none'
}

/** The token from `Authorization: Bearer <token>`, if there is one. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return m?.[1]
}
