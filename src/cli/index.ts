import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { VERSION } from '../node/version.ts'
import {
  type CommonOptions,
  dialCommand,
  historyCommand,
  idCommand,
  peersCommand,
  sendCommand,
  stopCommand
} from './commands.ts'
import { doctorCommand } from './doctor.ts'
import { inviteCommand, relayAdd, relayList, relayRemove } from './reach.ts'
import { webCommand } from './web.ts'
import { registerFileCommands } from './files.ts'
import { mailboxCommand, mailboxRemove, mailboxSet } from './mailbox.ts'
import { registerVoiceCommands } from './voice.ts'
import { registerGroupCommands } from './groups.ts'
import { EXIT, reportError } from './output.ts'
import {
  blockedCommand,
  contactsAdd,
  contactsList,
  contactsRemove,
  contactsRename,
  exportCommand,
  peerStateCommand,
  searchCommand,
  verifyCommand,
  visibilityCommand
} from './people.ts'

const DATA_HELP = 'data directory (default: $P2PNODE_HOME, else ~/.p2pnode)'

interface StartFlags {
  data?: string
  name?: string
  listen?: string[]
  dial?: string[]
  mdns: boolean
  visibility?: 'everyone' | 'contacts' | 'hidden'
  downloads?: string
  autoAcceptMax?: number
  web?: { host: string; port: number } | false
  mailboxService?: boolean
  asrEngine?: 'pocketsphinx' | 'sherpa-onnx'
  asrModel?: string
  relayService?: boolean
  relay?: string[]
  announce?: string[]
}

/** `--web HOST:PORT` (an IPv6 host in brackets: [::1]:7463). */
function webAddress(value: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m == null || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:7463 or [::1]:7463')
  return { host: m[1].replace(/^\[|\]$/g, ''), port }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** A time for --before/--after: ms since the epoch, or a date/time such as 2026-11-21 or 2026-11-21T09:30. */
function time(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a date such as 2026-11-21T09:30, or ms since the epoch')
  return n
}

function visibilityLevel(value: string): string {
  if (!['everyone', 'contacts', 'hidden'].includes(value)) {
    throw new InvalidArgumentError('expected one of: everyone, contacts, hidden')
  }
  return value
}

function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new InvalidArgumentError('expected a whole number from 1 to 10000')
  return n
}

function byteCount(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a number of bytes')
  return n
}


/**
 * Output to a reader that went away (`p2pnode history bob | head -1`) is not an error: a command stops quietly, as
 * Unix tools do; a running node ignores it and goes on. Any other error of stdout is reported as one.
 */
function closedStdout(isNode: boolean): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    if (!isNode) process.exit(process.exitCode ?? 0)
  })
}

/** Run the CLI; resolves with the process exit status. */
export async function main(argv: string[]): Promise<number> {
  closedStdout(argv[2] === 'start')
  let status = EXIT.OK
  let json = false
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      const opts = args.find(
        (a): a is CommonOptions => typeof a === 'object' && a !== null && !Array.isArray(a) && !(a instanceof Command)
      )
      json = opts?.json === true
      const res = await fn(...args)
      if (typeof res === 'number') status = res
    }

  const program = new Command('p2pnode')
    .description('A decentralized chat node: peers on your network find each other by themselves; no server.')
    .version(VERSION)
    .showHelpAfterError('hint: add --help to the command for its usage')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })

  /** The options and error handling every command shares. */
  const common = (cmd: Command) =>
    cmd
      .option('--data <dir>', DATA_HELP)
      .option('--json', 'print machine-readable JSON')
      .exitOverride()
      .showHelpAfterError('hint: add --help to the command for its usage')
  const command = (name: string, description: string) => common(program.command(name).description(description))

  program
    .command('start')
    .description('run the node in the foreground; prints "ready <peerId>" when up (interactive chat on a terminal)')
    .option('--data <dir>', DATA_HELP)
    .option('--name <name>', 'display name told to peers (remembered)')
    .option('--listen <multiaddr>', 'listen address, repeatable (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--dial <multiaddr>', 'dial this address on start, repeatable', collect)
    .addOption(new Option('--no-mdns', 'do not discover or answer peers on the local network'))
    .option('--visibility <level>', 'everyone|contacts|hidden (remembered; see p2pnode visibility)', visibilityLevel)
    .option('--downloads <dir>', 'where received files go (default: DATA/downloads)')
    .option('--auto-accept-max <bytes>', 'larger files wait for p2pnode accept (default 104857600)', byteCount)
    .option('--web <host:port>', 'where the web app listens (default 127.0.0.1:7463, another port if taken)', webAddress)
    .addOption(new Option('--no-web', 'do not serve the web app'))
    .option('--mailbox-service', 'also be a mailbox: hold sealed messages for peers that use this node while they are away')
    .addOption(
      new Option('--asr-engine <engine>', "voice notes' speech-to-text engine (default pocketsphinx)").choices(['pocketsphinx', 'sherpa-onnx'])
    )
    .option('--asr-model <dir>', "the engine's model directory (sherpa-onnx: required; pocketsphinx: an acoustic model)")
    .option('--relay <multiaddr>', "keep a reservation on this relay, repeatable (remembered; see p2pnode relay)", collect)
    .option('--relay-service', 'serve others as a relay and STUN server (for a node with a public address)')
    .option('--announce <multiaddr>', 'tell peers this address instead of the listen ones, repeatable (a relay\'s public address)', collect)
    .exitOverride()
    .showHelpAfterError('hint: add --help to the command for its usage')
    .action(
      run(async (opts: StartFlags) => {
        // Loaded only here: the other commands stay quick because they never load libp2p.
        const { startCommand } = await import('./start.ts')
        return startCommand(opts)
      })
    )

  command('id', 'this node: {"peerId","name","addrs"}').action(run((opts: CommonOptions) => idCommand(opts)))
  command('invite', 'one line to give a friend (peer id, name, addresses incl. relays) for p2pnode dial: {"invite",...}')
    .action(run((opts: CommonOptions) => inviteCommand(opts)))
  const relay = command('relay', 'the relays this node keeps a reservation on: list, or add/rm')
    .enablePositionalOptions()
    .action(run((opts: CommonOptions) => relayList(opts)))
  const relaySub = (name: string, description: string) => common(relay.command(name).description(description))
  relaySub('ls', 'list them: [{"addr","peerId","connected","circuitAddrs"}]').action(
    run((opts: CommonOptions) => relayList(opts))
  )
  relaySub('add', 'use a relay from now on (remembered)')
    .argument('<multiaddr>', 'the relay\'s address with its peer id: /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW...')
    .action(run((ma: string, opts: CommonOptions) => relayAdd(ma, opts)))
  relaySub('rm', 'stop using a relay')
    .argument('<multiaddr>', 'its address as relay ls shows it')
    .action(run((ma: string, opts: CommonOptions) => relayRemove(ma, opts)))
  command('peers', 'peers discovered and known: [{"peerId","name","connected","addrs","path"}]').action(
    run((opts: CommonOptions) => peersCommand(opts))
  )
  command('dial', 'connect to a node by multiaddr or invite: {"peerId","name"}')
    .argument('<multiaddr>', 'e.g. /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW..., or a p2pnode-invite:... line')
    .action(run((ma: string, opts: CommonOptions) => dialCommand(ma, opts)))
  command('send', 'send a message (queued if the peer is offline): {"id","status"}')
    .argument('<peer>', 'peer id, display name or multiaddr; or a group (name, #name or id)')
    .argument('<text...>', 'message text (- reads it from stdin)')
    .action(run((peer: string, text: string[], opts: CommonOptions) => sendCommand(peer, text.join(' '), opts)))
  command('history', 'messages with a peer or in a group, oldest first')
    .argument('<peer>', 'peer id, display name or multiaddr; or a group (name, #name or id)')
    .option('--limit <n>', 'the last N messages (default 50)', positiveInt)
    .option('--before <time>', 'only messages sent before this time (date or ms since the epoch)', time)
    .option('--after <time>', 'only messages sent after this time (date or ms since the epoch)', time)
    .action(run((peer: string, opts: CommonOptions & { limit?: number }) => historyCommand(peer, opts)))

  // Positional options: `contacts add X --data DIR` gives --data to `add`, not to `contacts`.
  const contacts = command('contacts', 'your address book: list, or add/rename/rm')
    .enablePositionalOptions()
    .action(run((opts: CommonOptions) => contactsList(opts)))
  const sub = (name: string, description: string) => common(contacts.command(name).description(description))
  sub('add', 'add a peer (id, name or multiaddr) to your contacts')
    .argument('<peer>', 'peer id, display name or multiaddr')
    .option('--name <name>', 'your own name for the contact (shown instead of theirs)')
    .action(run((peer: string, opts: CommonOptions & { name?: string }) => contactsAdd(peer, opts)))
  sub('rename', 'give a contact your own name')
    .argument('<peer>', 'peer id or display name')
    .argument('<name>', 'new name')
    .action(run((peer: string, name: string, opts: CommonOptions) => contactsRename(peer, name, opts)))
  sub('rm', 'remove a contact (its messages are kept)')
    .argument('<peer>', 'peer id or display name')
    .action(run((peer: string, opts: CommonOptions) => contactsRemove(peer, opts)))

  command('verify', 'print the safety number you and a peer can compare (the same on both ends)')
    .argument('<peer>', 'peer id or display name')
    .action(run((peer: string, opts: CommonOptions) => verifyCommand(peer, opts)))
  command('visibility', 'show or set who can find and reach you: everyone | contacts | hidden (takes effect at once)')
    .argument('[level]', 'everyone, contacts or hidden', visibilityLevel)
    .action(run((level: string | undefined, opts: CommonOptions) => visibilityCommand(level, opts)))
  for (const [name, change, description] of [
    ['block', { blocked: true }, 'refuse all contact with a peer: no connection either way, nothing they send is stored'],
    ['unblock', { blocked: false }, 'lift a block'],
    ['mute', { muted: true }, "store a peer's messages without showing them live"],
    ['unmute', { muted: false }, 'show them live again']
  ] as const) {
    command(name, description)
      .argument('<peer>', 'peer id or display name')
      .action(run((peer: string, opts: CommonOptions) => peerStateCommand(peer, change, opts)))
  }
  command('blocked', 'peers you blocked: [{"peerId","name","contact","blocked","muted"}]').action(
    run((opts: CommonOptions) => blockedCommand(opts))
  )
  command('search', 'find messages by words or word beginnings, newest first (case and accents ignored)')
    .argument('<query...>', 'words; each must start a word of the message')
    .option('--peer <peer>', 'only messages with this peer (or in this group)')
    .option('--limit <n>', 'at most N results (default 20)', positiveInt)
    .action(
      run((query: string[], opts: CommonOptions & { peer?: string; limit?: number }) =>
        searchCommand(query.join(' '), opts)
      )
    )
  command('export', 'write every message as JSON Lines, with a data card')
    .option('--out <file>', 'write to FILE (and FILE.card.md) instead of stdout')
    .option('--anonymize', 'pseudonymize peers and ids, remove personal data from text, round times to the hour')
    .action(run((opts: CommonOptions & { out?: string; anonymize?: boolean }) => exportCommand(opts)))
  registerFileCommands(command, run)
  const mailbox = command('mailbox', 'the mailbox you collect from while away (store-and-forward): show, set, rm')
    .enablePositionalOptions()
    .action(run((opts: CommonOptions) => mailboxCommand(opts)))
  const mailboxSub = (name: string, description: string) => common(mailbox.command(name).description(description))
  mailboxSub('set', 'use a node running p2pnode start --mailbox-service as your mailbox (your contacts are told)')
    .argument('<peer>', 'peer id, display name or multiaddr of the mailbox node')
    .action(run((peer: string, opts: CommonOptions) => mailboxSet(peer, opts)))
  mailboxSub('rm', 'use no mailbox (your contacts are told)').action(run((opts: CommonOptions) => mailboxRemove(opts)))
  registerVoiceCommands(command, run)
  registerGroupCommands(command, run, DATA_HELP)
  command('web', 'the link that opens the web app (it carries the login token): {"url","port"}')
    .option('--open', "open it in the system's browser")
    .option('--rotate', 'make a new token first: old links and signed-in browsers are signed out')
    .action(run((opts: CommonOptions & { open?: boolean; rotate?: boolean }) => webCommand(opts)))
  command('doctor', 'check the data dir (no node may run on it); --repair mends what it can, after a backup')
    .option('--repair', 'copy the data dir to DATA/backups/<time>/, then repair the database and rebuild the indexes')
    .option('--new-identity', 'with --repair: identity.key is lost for good; keep the history under a new peer id')
    .action(run((opts: CommonOptions & { repair?: boolean; newIdentity?: boolean }) => doctorCommand(opts)))
  command('stop', 'stop the node running on the data dir').action(run((opts: CommonOptions) => stopCommand(opts)))

  try {
    await program.parseAsync(argv)
    return status
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    return reportError(err, json)
  }
}
