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
import { registerFileCommands } from './files.ts'
import { EXIT, reportError } from './output.ts'

const DATA_HELP = 'data directory (default: $P2PNODE_HOME, else ~/.p2pnode)'

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
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

interface StartCliOptions {
  data?: string
  name?: string
  listen?: string[]
  dial?: string[]
  mdns: boolean
  downloads?: string
  autoAcceptMax?: number
}

/** Run the CLI; resolves with the process exit status. */
export async function main(argv: string[]): Promise<number> {
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
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })

  const command = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option('--data <dir>', DATA_HELP)
      .option('--json', 'print machine-readable JSON')
      .exitOverride()
      .showHelpAfterError('(add --help for usage)')

  program
    .command('start')
    .description('run the node in the foreground; prints "ready <peerId>" when up (interactive chat on a terminal)')
    .option('--data <dir>', DATA_HELP)
    .option('--name <name>', 'display name told to peers (remembered)')
    .option('--listen <multiaddr>', 'listen address, repeatable (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--dial <multiaddr>', 'dial this address on start, repeatable', collect)
    .addOption(new Option('--no-mdns', 'do not discover or answer peers on the local network'))
    .option('--downloads <dir>', 'where received files go (default: DATA/downloads)')
    .option('--auto-accept-max <bytes>', 'larger files wait for p2pnode accept (default 104857600)', byteCount)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .action(
      run(async (opts: StartCliOptions) => {
        // Loaded only here: the other commands stay quick because they never load libp2p.
        const { startCommand } = await import('./start.ts')
        return startCommand(opts)
      })
    )

  command('id', 'this node: {"peerId","name","addrs"}').action(run((opts: CommonOptions) => idCommand(opts)))
  command('peers', 'peers discovered and known: [{"peerId","name","connected","addrs"}]').action(
    run((opts: CommonOptions) => peersCommand(opts))
  )
  command('dial', 'connect to a node by multiaddr: {"peerId","name"}')
    .argument('<multiaddr>', 'e.g. /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW...')
    .action(run((ma: string, opts: CommonOptions) => dialCommand(ma, opts)))
  command('send', 'send a message (queued if the peer is offline): {"id","status"}')
    .argument('<peer>', 'peer id, display name or multiaddr')
    .argument('<text...>', 'message text')
    .action(run((peer: string, text: string[], opts: CommonOptions) => sendCommand(peer, text.join(' '), opts)))
  command('history', 'messages with a peer, oldest first')
    .argument('<peer>', 'peer id, display name or multiaddr')
    .option('--limit <n>', 'the last N messages (default 50)', positiveInt)
    .action(run((peer: string, opts: CommonOptions & { limit?: number }) => historyCommand(peer, opts)))
  registerFileCommands(command, run)
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
