import { createInterface, type Interface } from 'node:readline'
import { isP2pError } from '../errors.ts'
import type { P2pNode } from '../node/node.ts'
import { formatHistory, formatPeers } from './commands.ts'
import { formatFiles, promptFiles } from './files.ts'
import { clock, displayText, padEnd, width } from './output.ts'
import { pathArgument } from './prompt-args.ts'
import { Screen, type ScreenLine } from './prompt-screen.ts'

const HELP = `Type a line to send it to the current conversation. Commands:
  /peers                  peers seen on the network and known from before (● = connected)
  /to <peer>              talk to <peer> (a name, a peer id or a multiaddr)
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
 * Uses the node in-process (same NodeApi as the CLI commands use over the socket).
 */
export function startPrompt(node: P2pNode, quit: () => void): Interface {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  const screen = new Screen(rl, process.stdout)
  // Relative paths in /send are the prompt's, taken where it started.
  const cwd = process.cwd()
  let current: string | undefined

  const setPrompt = () => rl.setPrompt(current == null ? '> ' : `${node.displayName(current)}> `)
  const print = (text: string) => void screen.print(text)

  // Anything else written to the terminal (log lines on stderr) also goes above the input line.
  const stderrWrite = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((...args: Parameters<typeof stderrWrite>) =>
    screen.around(String(args[0]).replace(/\n$/, ''), () => stderrWrite(...args))) as typeof process.stderr.write
  rl.on('close', () => {
    process.stderr.write = stderrWrite
  })

  node.addEventListener('message', (evt) => {
    const { message, muted } = evt.detail
    if (muted) return
    print(`${clock(message.timestamp)} [${node.displayName(message.peer)}] ${displayText(message.text)}`)
  })
  node.addEventListener('peer', (evt) => {
    const { peerId, connected, name } = evt.detail
    // A new peer is announced once its greeting has told us its name.
    if (connected && name === '') return
    print(`* ${node.displayName(peerId)} ${connected ? 'is here' : 'left'}`)
    if (peerId === current) setPrompt()
  })
  node.addEventListener('renamed', (evt) => {
    const { peerId, name, formerName } = evt.detail
    const shown = node.displayName(peerId)
    if (formerName === '') return
    print(shown === name ? `* ${formerName} is now called ${name}` : `* ${shown} now calls itself ${name}`)
    if (peerId === current) setPrompt()
  })

  // Sent lines waiting for their ack: id → where the line is and what it says.
  const unacked = new Map<string, { line: ScreenLine; text: string }>()
  node.addEventListener('delivered', (evt) => {
    for (const id of evt.detail.ids) {
      const sent = unacked.get(id)
      if (sent == null) continue
      unacked.delete(id)
      screen.rewrite(sent.line, `${sent.text} ${DELIVERED}`)
    }
  })

  const sendFile = promptFiles(node, print)

  const send = async (peer: string, text: string) => {
    const res = await node.send(peer, text, { waitMs: 0 })
    const to = peer === current ? 'me' : `me → ${node.displayName(peer)}`
    const line = `${clock(Date.now())} [${to}] ${displayText(text)}`
    if (res.status === 'delivered') return print(`${line} ${DELIVERED}`)
    unacked.set(res.id, { line: screen.print(`${line} ${WAITING}`), text: line })
    if (unacked.size > 1000) unacked.delete(unacked.keys().next().value as string)
    // With waitMs 0 a message to a connected peer is still 'pending' (queued, not yet on the wire): not offline.
    if (res.status === 'pending' && !node.chat.isConnected(peer)) {
      print(`  (${node.displayName(peer)} is offline: queued, sent when they are back)`)
    }
  }

  const needConversation = () => print('no conversation yet: /to <peer> first (/peers lists them)')

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
        return print(formatPeers(await node.peers()))
      case '/to':
        if (arg === '') return print('usage: /to <peer>')
        current = await node.resolvePeer(arg, { dial: true })
        setPrompt()
        return print(`talking to ${node.displayName(current)} (${current})`)
      case '/msg': {
        // The text is everything after the second word, spacing kept.
        const m = /^\/msg\s+(\S+)\s+([\s\S]+)$/.exec(text)
        if (m == null || m[2].trim() === '') return print('usage: /msg <peer> <text>')
        return send(await node.resolvePeer(m[1], { dial: true }), m[2])
      }
      case '/history': {
        const peer = arg !== '' ? arg : current
        if (peer == null) return print('usage: /history <peer> (or /to <peer> first)')
        return print(formatHistory(await node.history(peer, { limit: 20 }), (id) => node.displayName(id)))
      }
      case '/send': {
        // What follows /send as typed, quotes and all (the split above would lose runs of spaces).
        const typed = line.trim().slice('/send'.length)
        if (typed.trim() === '') return print('usage: /send <path>')
        if (current == null) return needConversation()
        return sendFile(current, pathArgument(typed, cwd))
      }
      case '/files': {
        const files = await node.fileApi.files()
        return print(formatFiles(files, new Map(files.map((f) => [f.peer, node.displayName(f.peer)]))))
      }
      case '/accept':
      case '/cancel': {
        if (arg === '') return print(`usage: ${cmd} <id> (/files lists them)`)
        const t = cmd === '/accept' ? await node.fileApi.accept(arg) : await node.fileApi.cancel(arg)
        return print(`  ${t.status} ${t.id.slice(0, 8)} ${t.name}`)
      }
      case '/blocked': {
        const list = await node.people.blocked()
        if (list.length === 0) return print('nobody is blocked')
        const columns = Math.max(...list.map((p) => width(node.displayName(p.peerId))))
        return print(list.map((p) => `  ${padEnd(node.displayName(p.peerId), columns)}  ${p.peerId}`).join('\n'))
      }
      case '/dial': {
        if (arg === '') return print('usage: /dial <multiaddr>')
        const res = await node.dial(arg)
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
