import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FileInfo } from '../../src/api/files.ts'
import type { IdInfo } from '../../src/api/types.ts'
import { cli, Fleet, type NodeProcess, waitFor } from '../helpers/cli.ts'

const LOCAL = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

interface WebLink {
  url: string
  port: number
}

/** A raw HTTP request (fetch would not let us send a foreign Host). */
async function request(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {}
): Promise<{ status: number; headers: Headers; body: string }> {
  const { request: httpRequest } = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...init.headers } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => {
          const headers = new Headers()
          for (const [k, v] of Object.entries(res.headers)) if (v != null) headers.set(k, Array.isArray(v) ? v.join(', ') : v)
          resolve({ status: res.statusCode ?? 0, headers, body })
        })
      }
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(undefined))
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}

describe('web server: address, login, guard, files', () => {
  const fleet = new Fleet(LOCAL)
  let alice: NodeProcess
  let bob: NodeProcess
  let link: WebLink
  let token: string
  let blocker: Server | undefined

  before(async () => {
    // 7463 is taken (by us, or by another node on this machine): the node picks a free port and says so.
    blocker = await listenOn(7463)
    alice = await fleet.start(await fleet.dir(), ['--name', 'alice'])
    bob = await fleet.start(await fleet.dir(), ['--name', 'bob', '--no-web'])
    link = await alice.json<WebLink>(['web'])
    token = new URL(link.url).searchParams.get('token') ?? ''
  })
  after(async () => {
    blocker?.close()
    await fleet.close()
  })

  it('a taken default port: another one, said on stderr; the ready line as before; web.json and web.token 0600', async () => {
    assert.notEqual(link.port, 7463)
    await waitFor(() => /web app on/.test(alice.stderr), { what: 'the web app said on stderr' })
    assert.match(alice.stderr, /port 7463 is taken/)
    assert.match(alice.stderr, new RegExp(`web app on http://127\\.0\\.0\\.1:${link.port}`))
    assert.match(link.url, new RegExp(`^http://127\\.0\\.0\\.1:${link.port}/login\\?token=[A-Za-z0-9_-]{43}$`))
    assert.equal((await stat(join(alice.dataDir, 'web.token'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(alice.dataDir, 'web.json'))).mode & 0o777, 0o600)
    assert.equal((await readFile(join(alice.dataDir, 'web.token'), 'utf8')).trim(), token)
    const info = JSON.parse(await readFile(join(alice.dataDir, 'web.json'), 'utf8')) as { port: number }
    assert.equal(info.port, link.port)
  })

  it('no token: 401; Bearer token: the API', async () => {
    const none = await request(link.port, '/v1/id')
    assert.equal(none.status, 401)
    assert.equal((JSON.parse(none.body) as { code: string }).code, 'UNAUTHORIZED')
    assert.equal((await request(link.port, '/v1/id', { headers: { authorization: 'Bearer nope' } })).status, 401)
    const ok = await request(link.port, '/v1/id', { headers: { authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    assert.equal((JSON.parse(ok.body) as IdInfo).peerId, alice.peerId)
  })

  it('the socket-only routes are not served over HTTP; the route table is (the app builds its client from it)', async () => {
    const auth = { authorization: `Bearer ${token}` }
    assert.equal((await request(link.port, '/v1/web', { headers: auth })).status, 404)
    assert.equal((await request(link.port, '/v1/web/rotate', { method: 'POST', headers: auth })).status, 404)
    for (const name of ['routes.js', 'schema.js']) {
      const mod = await request(link.port, `/api/${name}`)
      assert.equal(mod.status, 200, name)
      assert.match(mod.headers.get('content-type') ?? '', /javascript/)
    }
    assert.match((await request(link.port, '/api/routes.js')).body, /\/v1\/messages/)
    // Nothing else of the node's code.
    assert.equal((await request(link.port, '/api/client.js')).status, 404)
    assert.equal((await request(link.port, '/api/web-auth.js')).status, 404)
  })

  it('the login link sets an HttpOnly SameSite=Strict cookie and redirects to / without the token', async () => {
    const login = await request(link.port, new URL(link.url).pathname + new URL(link.url).search)
    assert.equal(login.status, 303)
    assert.equal(login.headers.get('location'), '/')
    const cookie = login.headers.get('set-cookie') ?? ''
    assert.match(cookie, /HttpOnly/)
    assert.match(cookie, /SameSite=Strict/)
    assert.match(cookie, /Path=\//)
    assert.doesNotMatch(cookie, new RegExp(token))
    const jar = cookie.split(';')[0]
    assert.equal((await request(link.port, '/v1/id', { headers: { cookie: jar } })).status, 200)
    assert.equal((await request(link.port, '/login?token=wrong')).status, 401)
    const page = await request(link.port, '/')
    assert.equal(page.status, 200)
    assert.match(page.body, /<title>p2pnode<\/title>/)
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/)
  })

  it('a Host that is not this server: 403 (DNS rebinding); a POST from a foreign Origin: 403', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const rebound = await request(link.port, '/v1/id', { headers: { ...auth, host: `evil.example:${link.port}` } })
    assert.equal(rebound.status, 403)
    assert.equal((await request(link.port, '/', { headers: { host: `evil.example:${link.port}` } })).status, 403)
    assert.equal((await request(link.port, '/v1/id', { headers: { ...auth, host: 'localhost:1' } })).status, 403)
    assert.equal((await request(link.port, '/v1/id', { headers: { ...auth, host: `localhost:${link.port}` } })).status, 200)
    const post = (origin: string) =>
      request(link.port, '/v1/visibility', {
        method: 'POST',
        headers: { ...auth, origin, 'content-type': 'application/json' },
        body: JSON.stringify({ visibility: 'contacts' })
      })
    assert.equal((await post('http://evil.example')).status, 403)
    assert.equal((await alice.json<{ visibility: string }>(['visibility'])).visibility, 'everyone')
    assert.equal((await post(`http://127.0.0.1:${link.port}`)).status, 200)
    assert.equal((await alice.json<{ visibility: string }>(['visibility'])).visibility, 'contacts')
    await alice.json(['visibility', 'everyone'])
  })

  it('received files: nosniff; HTML and SVG as sandboxed attachments, PNG inline', async () => {
    await alice.json(['contacts', 'add', bob.peerId])
    await bob.json(['dial', (await alice.json<IdInfo>(['id'])).addrs[0]])
    const dir = await fleet.dir()
    const sent: Record<string, string> = {}
    for (const [name, content] of [
      ['page.html', '<script>document.title = "pwned"</script>'],
      ['pic.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
      ['pic.png', randomBytes(100).toString('binary')]
    ]) {
      await writeFile(join(dir, name), content, 'binary')
      sent[name] = (await bob.json<FileInfo>(['send-file', alice.peerId, join(dir, name)])).id
    }
    const auth = { authorization: `Bearer ${token}` }
    for (const [name, id] of Object.entries(sent)) {
      await waitFor(async () => (await alice.json<FileInfo[]>(['files'])).find((f) => f.id === id)?.status === 'complete', {
        what: `${name} received`
      })
      const res = await request(link.port, `/v1/files/${id}/content`, { headers: auth })
      assert.equal(res.status, 200, res.body)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
      assert.match(res.headers.get('content-security-policy') ?? '', /^sandbox/)
      if (name === 'pic.png') {
        assert.equal(res.headers.get('content-type'), 'image/png')
        assert.match(res.headers.get('content-disposition') ?? '', /^inline/)
      } else {
        assert.equal(res.headers.get('content-type'), 'application/octet-stream')
        assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="/)
      }
    }
    assert.equal((await request(link.port, `/v1/files/${sent['pic.png']}/content`)).status, 401)
  })

  it('an upload streams to disk and is offered as send-file does', async () => {
    await bob.json(['contacts', 'add', alice.peerId])
    const body = randomBytes(3 * 1024 * 1024)
    const { request: httpRequest } = await import('node:http')
    const info = await new Promise<FileInfo>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: link.port,
          method: 'POST',
          path: `/v1/files/upload?peer=${bob.peerId}&name=${encodeURIComponent('../up load.bin')}`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }
        },
        (res) => {
          let text = ''
          res.on('data', (d) => (text += d))
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text) as FileInfo) : reject(new Error(text))))
        }
      )
      req.on('error', reject)
      // In pieces, as a browser sends a large file.
      for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024))
      req.end()
    })
    assert.equal(info.name, 'up load.bin')
    assert.equal(info.size, body.length)
    assert.ok(info.path.startsWith(join(alice.dataDir, 'uploads')), info.path)
    const got = await waitFor(
      async () => (await bob.json<FileInfo[]>(['files'])).find((f) => f.id === info.id && f.status === 'complete'),
      { what: 'bob has the upload' }
    )
    assert.deepEqual(await readFile(got.path), body)
  })

  it('--rotate: the old link and sessions stop working', async () => {
    const before = await request(link.port, new URL(link.url).pathname + new URL(link.url).search)
    const jar = (before.headers.get('set-cookie') ?? '').split(';')[0]
    const rotated = await alice.json<WebLink>(['web', '--rotate'])
    assert.notEqual(rotated.url, link.url)
    assert.equal((await request(link.port, '/v1/id', { headers: { cookie: jar } })).status, 401)
    assert.equal((await request(link.port, new URL(link.url).pathname + new URL(link.url).search)).status, 401)
    assert.equal((await request(link.port, new URL(rotated.url).pathname + new URL(rotated.url).search)).status, 303)
    link = rotated
    token = new URL(rotated.url).searchParams.get('token') ?? ''
  })

  it('--no-web: nothing served, and p2pnode web says so (WEB_OFF) with a hint', async () => {
    const res = await bob.run(['web'])
    assert.equal(res.code, 11)
    assert.match(res.stderr, /error: the web app is off/)
    assert.match(res.stderr, /hint: /)
    await assert.rejects(stat(join(bob.dataDir, 'web.json')))
  })

  it('--web HOST:PORT on a taken port: a clear error; a bad address: usage', async () => {
    const taken = await listenOn(0)
    const port = (taken?.address() as { port: number }).port
    const res = await cli(['start', '--data', await fleet.dir(), ...LOCAL, '--web', `127.0.0.1:${port}`])
    taken?.close()
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, new RegExp(`error: the web app cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
    assert.match(res.stderr, /hint: .*--web HOST:PORT/)
    const open = await fleet.start(await fleet.dir(), ['--web', '0.0.0.0:0'])
    await waitFor(() => /warning: the web app listens on 0\.0\.0\.0:\d+, reachable from other machines/.test(open.stderr), {
      what: 'the warning on stderr'
    })
    await open.stop()
    const bad = await cli(['start', '--data', await fleet.dir(), ...LOCAL, '--web', 'nonsense'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /HOST:PORT/)
  })

  it('a clean stop removes web.json', async () => {
    await alice.stop()
    await assert.rejects(stat(join(alice.dataDir, 'web.json')))
  })
})
