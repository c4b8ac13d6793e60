import { createInterface, type Interface } from 'node:readline'
import { isP2pError } from '../errors.ts'
import type { P2pNode } from '../node/node.ts'
import { formatHistory, formatPeers } from './commands.ts'
import { displayText } from './output.ts'
import { promptFiles } from './files.ts'

const HELP = `Type a line to send it to the current conversation. Commands:
  /peers                  peers seen on the network and known from before (● = connected)
  /to <peer>              talk to <peer> (a name, a peer id or a multiaddr)
  /msg <peer> <text>      send one message without switching
  /history [peer]         recent messages with <peer> (default: the current conversation)
  /dial <multiaddr>       connect to a node that is not on your network
  /send <path>            send a file to the current conversation (progress is shown)
  /help                   this text
  /quit                   stop the node (Ctrl+D and Ctrl+C too)`

/**
 * The interactive chat on a terminal: incoming messages appear live as `[name] text` above the input line.
 * Uses the node in-process (same NodeApi as the CLI commands use over the socket).
 */
export function startPrompt(node: P2pNode, quit: () => void): Interface {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  let current: string | undefined
  let closed = false
  rl.on('close', () => {
    closed = true
  })

  const setPrompt = () => rl.setPrompt(current == null ? '> ' : `${node.displayName(current)}> `)
  /** Print above the input line without losing what the user is typing. */
  const print = (text: string) => {
    process.stdout.write('\r\x1b[2K')
    process.stdout.write(`${text}\n`)
    // After /quit (or Ctrl+D) the node still reports peers leaving; prompting a closed readline throws.
    if (!closed) rl.prompt(true)
  }

  // Anything else written to the terminal (log lines on stderr) also goes above the input line.
  const stderrWrite = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((...args: Parameters<typeof stderrWrite>) => {
    if (closed) return stderrWrite(...args)
    process.stdout.write('\r\x1b[2K')
    const written = stderrWrite(...args)
    rl.prompt(true)
    return written
  }) as typeof process.stderr.write
  rl.on('close', () => {
    process.stderr.write = stderrWrite
  })

  node.addEventListener('message', (evt) => {
    const { message, muted } = evt.detail
    if (muted) return
    print(`[${node.displayName(message.peer)}] ${displayText(message.text)}`)
  })
  node.addEventListener('peer', (evt) => {
    const { peerId, connected, name } = evt.detail
    // A new peer is announced once its greeting has told us its name.
    if (connected && name === '') return
    print(`* ${node.displayName(peerId)} ${connected ? 'is here' : 'left'}`)
    if (peerId === current) setPrompt()
  })

  const sendFile = promptFiles(node, print)

  const send = async (peer: string, text: string) => {
    const res = await node.send(peer, text, { waitMs: 0 })
    // With waitMs 0 a message to a connected peer is still 'pending' (queued, not yet on the wire): not offline.
    if (res.status === 'pending' && !node.chat.isConnected(peer)) {
      print(`  (${node.displayName(peer)} is offline: queued, sent when they are back)`)
    }
  }

  const handle = async (line: string) => {
    const text = line.trim()
    if (text === '') return
    if (!text.startsWith('/')) {
      if (current == null) return print('no conversation yet: /to <peer> first (/peers lists them)')
      return send(current, line)
    }
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
        if (m == null) return print('usage: /msg <peer> <text>')
        return send(await node.resolvePeer(m[1], { dial: true }), m[2])
      }
      case '/history': {
        const peer = arg !== '' ? arg : current
        if (peer == null) return print('usage: /history <peer> (or /to <peer> first)')
        return print(formatHistory(await node.history(peer, { limit: 20 }), (id) => node.displayName(id)))
      }
      case '/send':
        if (arg === '') return print('usage: /send <path>')
        if (current == null) return print('no conversation yet: /to <peer> first (/peers lists them)')
        return sendFile(current, arg)
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
    queue = queue
      .then(() =>
        handle(line).catch((err: unknown) => {
          print(`error: ${(err as Error).message}${isP2pError(err) && err.hint != null ? `\nhint: ${err.hint}` : ''}`)
        })
      )
      .then(() => {
        // readline does not prompt again by itself after a line: without this a sent message leaves no prompt.
        if (!closed) rl.prompt(true)
      })
  })
  rl.on('SIGINT', quit)
  rl.on('close', quit)
  print('p2pnode interactive chat — /help for commands')
  setPrompt()
  rl.prompt()
  return rl
}
