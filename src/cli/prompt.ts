import { createInterface, type Interface } from 'node:readline'
import { isP2pError } from '../errors.ts'
import type { ApiClient } from '../api/client.ts'
import type { StreamEvent } from '../api/event-stream.ts'
import { formatHistory, formatPeers } from './commands.ts'
import { formatFiles, promptFiles } from './files.ts'
import { PeerNames } from './peer-names.ts'
import { clock, displayText, padEnd, width } from './output.ts'
import { pathArgument } from './prompt-args.ts'
import { Screen, type ScreenLine } from './prompt-screen.ts'
import { clockOf, transcriptText } from './voice.ts'

const HELP = `Type a line to send it to the current conversation. Commands:
  /peers                  peers seen on the network and known from before (● = connected)
  /to <peer>              talk to <peer> (a name, a peer id or a multiaddr)
  /to #<group>            talk to a group (its name or id; p2pnode groups lists them)
  /msg <peer> <text>      send one message without switching
  /history [peer]         recent messages with <peer> (default: the current conversation)
  /dial <multiaddr>       connect to a node that is not on your network
  /send <path>            send a file to the current conversation ("quotes", ~ and drag-and-drop work)
  /files                  file transfers both ways
  /accept <id>            take a file that waits for you (the first 8 characters of its id will do)
  /cancel <id>            cancel a transfer, either way
  /blocked                peers you blocked
  /help                   this text
  /quit                   stop the node (Ctrl+D too; Ctrl+C clears the line, twice quits)

Your lines show … until the peer has them, then ✓.`

/** Marks after a sent line: not yet stored by the peer, or delivered. */
const WAITING = '…'
const DELIVERED = '✓'

/**
 * The interactive chat on a terminal: incoming messages appear live as `12:03 [name] text` above the input line;
 * sent ones as `12:03 [me] text …`, the mark turning to ✓ in place when the peer has stored them.
 * A client of the node's API, as the CLI commands are: calls over the socket, live news from GET /v1/events
 * (from `lastEventId` on: what happened while the prompt was connecting is shown too).
 */
export function startPrompt(api: ApiClient, quit: () => void, options: { lastEventId?: string } = {}): Interface {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  const screen = new Screen(rl, process.stdout)
  // Relative paths in /send are the prompt's, taken where it started.
  const cwd = process.cwd()
  let current: string | undefined
  const names = new PeerNames(api)
  /** Peers here now (from `peer` events; at first from the peer list). */
  const here = new Set<string>()

  const setPrompt = () => rl.setPrompt(current == null ? '> ' : `${names.shown(current)}> `)
  const print = (text: string) => void screen.print(text)

  // Anything else written to the terminal (log lines on stderr) also goes above the input line.
  const stderrWrite = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((...args: Parameters<typeof stderrWrite>) =>
    screen.around(String(args[0]).replace(/\n$/, ''), () => stderrWrite(...args))) as typeof process.stderr.write
  rl.on('close', () => {
    process.stderr.write = stderrWrite
  })

  // Sent lines waiting for their ack: id → where the line is and what it says.
  const unacked = new Map<string, { line: ScreenLine; text: string }>()
  const files = promptFiles(api, names, print, (peer) => here.has(peer))

  /** What the node tells, in order (names are looked up before a line is printed). */
  const onEvent = async (e: StreamEvent) => {
    switch (e.type) {
      case 'message': {
        const { message, muted } = e
        if (message.direction !== 'in' || muted || message.kind === 'file' || message.kind === 'voice') return
        const who = await names.of(message.from)
        return print(`${clock(message.timestamp)} [${who}] ${displayText(message.text)}`)
      }
      case 'peer': {
        const { peerId, connected, name } = e
        if (connected) here.add(peerId)
        else here.delete(peerId)
        names.forget(peerId)
        // A new peer is announced once its greeting has told us its name.
        if (connected && name === '') return
        print(`* ${await names.of(peerId)} ${connected ? 'is here' : 'left'}`)
        if (peerId === current) setPrompt()
        return
      }
      case 'renamed': {
        const { peerId, name, formerName } = e
        names.forget(peerId)
        const shown = await names.of(peerId)
        if (formerName === '') return
        print(shown === name ? `* ${formerName} is now called ${name}` : `* ${shown} now calls itself ${name}`)
        if (peerId === current) setPrompt()
        return
      }
      case 'peer-state':
        names.forget(e.state.peerId)
        if (e.state.peerId === current) await names.of(current).then(setPrompt)
        return
      case 'status':
        if (e.status !== 'delivered') return
        for (const id of e.ids) {
          const sent = unacked.get(id)
          if (sent == null) continue
          unacked.delete(id)
          screen.rewrite(sent.line, `${sent.text} ${DELIVERED}`)
        }
        return
      case 'transcript': {
        const who = e.direction === 'out' ? 'me' : await names.of(e.peer)
        return print(`${clock(e.timestamp)} [${who}] 🎤 ${clockOf(e.duration)} ${transcriptText(e.transcript, 200)}`)
      }
      case 'group-message': {
        const { message, group, name } = e
        if (message.direction !== 'in') return
        return print(`${clock(message.timestamp)} [#${displayText(group.name)}] [${displayText(name)}] ${displayText(message.text)}`)
      }
      case 'group':
        return print(`* #${displayText(e.group.name)}: ${e.status === 'member' ? 'members now ' + e.group.members.map((m) => displayText(m.name)).join(', ') : 'you are no longer in it'}`)
      case 'group-status': {
        const sent = groupUnacked.get(e.id)
        if (sent == null || e.delivered < e.recipients) return
        groupUnacked.delete(e.id)
        screen.rewrite(sent.line, `${sent.text} ${DELIVERED}`)
        return
      }
      case 'transfer':
      case 'progress':
        return files.onEvent(e)
      default:
    }
  }
  let events = Promise.resolve()
  const stopEvents = new AbortController()
  rl.on('close', () => stopEvents.abort())
  void api
    .follow((e) => (events = events.then(() => onEvent(e)).catch(() => {})), {
      signal: stopEvents.signal,
      lastEventId: options.lastEventId
    })
    .catch((err: unknown) => print(`error: the node's events stopped: ${(err as Error).message}`))
  void api
    .peers()
    .then((peers) => {
      for (const p of peers) if (p.connected) here.add(p.peerId)
    })
    .catch(() => {})

  /** Our group messages waiting to reach every member. */
  const groupUnacked = new Map<string, { line: ScreenLine; text: string }>()
  const send = async (peer: string, text: string) => {
    const res = await api.send(peer, text, { waitMs: 0 })
    if (res.recipients != null) {
      const line = `${clock(Date.now())} [me → ${names.shown(peer)}] ${displayText(text)}`
      if (res.delivered === res.recipients) return print(`${line} ${DELIVERED}`)
      groupUnacked.set(res.id, { line: screen.print(`${line} ${WAITING}`), text: line })
      if (groupUnacked.size > 1000) groupUnacked.delete(groupUnacked.keys().next().value as string)
      return
    }
    const to = peer === current ? 'me' : `me → ${await names.of(peer)}`
    const line = `${clock(Date.now())} [${to}] ${displayText(text)}`
    if (res.status === 'delivered') return print(`${line} ${DELIVERED}`)
    unacked.set(res.id, { line: screen.print(`${line} ${WAITING}`), text: line })
    if (unacked.size > 1000) unacked.delete(unacked.keys().next().value as string)
    // With waitMs 0 a message to a connected peer is still 'pending' (queued, not yet on the wire): not offline.
    if (res.status === 'pending' && !here.has(peer)) {
      print(`  (${await names.of(peer)} is offline: queued, sent when they are back)`)
    }
  }

  const needConversation = () => print('no conversation yet: /to <peer> first (/peers lists them)')
  const resolve = async (ref: string) => {
    if (ref.startsWith('#')) {
      // A group: `#name` or `#id`; sent to as `#id`.
      const bare = ref.slice(1)
      const g = (await api.groups()).find((x) => x.id === bare || x.name.toLowerCase() === bare.toLowerCase())
      if (g == null) throw new Error(`no group called ${bare} (p2pnode groups lists yours)`)
      names.set(`#${g.id}`, `#${g.name}`)
      return `#${g.id}`
    }
    const r = await api.resolve(ref, { dial: true })
    names.set(r.peerId, r.name)
    return r.peerId
  }

  const handle = async (line: string) => {
    const text = line.trim()
    if (text === '') return
    if (!text.startsWith('/')) return current == null ? needConversation() : send(current, line)
    const [cmd, ...rest] = text.split(/\s+/)
    const arg = rest.join(' ')
    switch (cmd) {
      case '/help':
        return print(HELP)
      case '/quit':
      case '/exit':
        return quit()
      case '/peers':
        return print(formatPeers(await api.peers()))
      case '/to':
        if (arg === '') return print('usage: /to <peer>')
        current = await resolve(arg)
        setPrompt()
        return print(`talking to ${names.shown(current)} (${current.replace(/^#/, 'group ')})`)
      case '/msg': {
        // The text is everything after the second word, spacing kept.
        const m = /^\/msg\s+(\S+)\s+([\s\S]+)$/.exec(text)
        if (m == null || m[2].trim() === '') return print('usage: /msg <peer> <text>')
        return send(await resolve(m[1]), m[2])
      }
      case '/history': {
        const peer = arg !== '' ? arg : current
        if (peer == null) return print('usage: /history <peer> (or /to <peer> first)')
        const entries = await api.history(peer, { limit: 20 })
        await names.load(entries.map((m) => m.from))
        return print(formatHistory(entries, (id) => names.shown(id)))
      }
      case '/send': {
        // What follows /send as typed, quotes and all (the split above would lose runs of spaces).
        const typed = line.trim().slice('/send'.length)
        if (typed.trim() === '') return print('usage: /send <path>')
        if (current == null) return needConversation()
        return files.send(current, pathArgument(typed, cwd))
      }
      case '/files': {
        const list = await api.files()
        await names.load(list.map((f) => f.peer))
        return print(formatFiles(list, new Map(list.map((f) => [f.peer, names.shown(f.peer)]))))
      }
      case '/accept':
      case '/cancel': {
        if (arg === '') return print(`usage: ${cmd} <id> (/files lists them)`)
        const t = cmd === '/accept' ? await api.accept(arg) : await api.cancel(arg)
        return print(`  ${t.status} ${t.id.slice(0, 8)} ${t.name}`)
      }
      case '/blocked': {
        const list = await api.blocked()
        if (list.length === 0) return print('nobody is blocked')
        await names.load(list.map((p) => p.peerId))
        const columns = Math.max(...list.map((p) => width(names.shown(p.peerId))))
        return print(list.map((p) => `  ${padEnd(names.shown(p.peerId), columns)}  ${p.peerId}`).join('\n'))
      }
      case '/dial': {
        if (arg === '') return print('usage: /dial <multiaddr>')
        const res = await api.dial(arg)
        return print(`connected to ${res.name || '(no name)'} ${res.peerId}`)
      }
      default:
        return print(`unknown command ${cmd} — /help lists them`)
    }
  }

  // Lines are handled one at a time so that messages go out in the order typed.
  let queue = Promise.resolve()
  rl.on('line', (line) => {
    // A message is shown again formatted (time, mark) once sent; anything else stays as typed.
    const message = line.trim() !== '' && (!line.trim().startsWith('/') || /^\/msg\s+\S+\s+\S/.test(line.trim()))
    const echo = rl.getPrompt() + line
    const erased = message && (current != null || line.trim().startsWith('/'))
    if (erased) screen.eraseEcho(line)
    else screen.counted(echo)
    queue = queue
      .then(() =>
        handle(line).catch((err: unknown) => {
          // What was typed is shown again above the error, so that it can be read (and typed again).
          if (erased) print(echo)
          print(`error: ${(err as Error).message}${isP2pError(err) && err.hint != null ? `\nhint: ${err.hint}` : ''}`)
        })
      )
      .then(() => {
        // readline does not prompt again by itself after a line: without this a sent message leaves no prompt.
        if (!closed) rl.prompt(true)
      })
  })

  // Ctrl+C clears a half-typed line (as shells do); a second one in a row quits, as Ctrl+D and /quit do.
  let armed = false
  rl.on('SIGINT', () => {
    if (armed) return quit()
    armed = true
    if (rl.line !== '') {
      rl.write(null, { ctrl: true, name: 'e' })
      rl.write(null, { ctrl: true, name: 'u' })
    } else print('(Ctrl+C again or Ctrl+D to quit)')
  })
  process.stdin.on('keypress', (_s: string, key: { ctrl?: boolean; name?: string } | undefined) => {
    if (!(key?.ctrl === true && key.name === 'c')) armed = false
  })
  let closed = false
  rl.on('close', () => {
    closed = true
    quit()
  })
  print('p2pnode interactive chat — /help for commands')
  setPrompt()
  rl.prompt()
  return rl
}
