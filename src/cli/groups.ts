import type { Command } from 'commander'
import type { GroupInfo } from '../api/types.ts'
import { type CommonOptions, show, withApi } from './commands.ts'
import { displayText } from './output.ts'

type Run = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => (...args: A) => Promise<void>
type CommandFactory = (name: string, description: string) => Command

/** `p2pnode group create|add|remove|leave|rename` and `p2pnode groups`. */
export function registerGroupCommands(command: CommandFactory, run: Run, dataHelp: string): void {
  command('groups', 'your groups: [{"id","name","members":[{"peerId","name"}],"admin","unread"}]').action(
    run(async (opts: CommonOptions) => show(opts, await withApi(opts, (api) => api.groups()), formatGroups))
  )
  const group = command('group', 'make and change groups: create, add, remove, leave, rename').enablePositionalOptions()
  const sub = (name: string, description: string) =>
    group
      .command(name)
      .description(description)
      .option('--data <dir>', dataHelp)
      .option('--json', 'print machine-readable JSON')
      .exitOverride()
      .showHelpAfterError('hint: add --help to the command for its usage')
  const one = (g: GroupInfo) => formatGroups([g])
  sub('create', 'make a group with you as its admin, and tell its members')
    .argument('<name>', 'the group name (then send, history and search take it, or #name)')
    .argument('<peer...>', 'peer ids, names or multiaddrs of the members')
    .action(
      run(async (name: string, peers: string[], opts: CommonOptions) =>
        show(opts, await withApi(opts, (api) => api.createGroup(name, peers)), one)
      )
    )
  sub('add', 'add members (you must be its admin)')
    .argument('<group>', 'group name, #name or id')
    .argument('<peer...>', 'peer ids, names or multiaddrs')
    .action(
      run(async (g: string, peers: string[], opts: CommonOptions) =>
        show(opts, await withApi(opts, (api) => api.addMembers(g, peers)), one)
      )
    )
  sub('remove', 'remove a member: it gets nothing from then on (you must be its admin)')
    .argument('<group>', 'group name, #name or id')
    .argument('<peer>', 'peer id or name')
    .action(
      run(async (g: string, peer: string, opts: CommonOptions) =>
        show(opts, await withApi(opts, (api) => api.removeMember(g, peer)), one)
      )
    )
  sub('rename', 'rename a group (you must be its admin)')
    .argument('<group>', 'group name, #name or id')
    .argument('<name>', 'the new name')
    .action(
      run(async (g: string, name: string, opts: CommonOptions) =>
        show(opts, await withApi(opts, (api) => api.renameGroup(g, name)), one)
      )
    )
  sub('leave', 'leave a group; its members are told')
    .argument('<group>', 'group name, #name or id')
    .action(
      run(async (g: string, opts: CommonOptions) =>
        show(opts, await withApi(opts, (api) => api.leaveGroup(g)), (v) => `left ${displayText(v.name)} (${v.id})`)
      )
    )
}

export function formatGroups(groups: GroupInfo[]): string {
  if (groups.length === 0) return 'no groups yet (p2pnode group create <name> <peer>...)'
  return groups
    .map((g) => {
      const members = g.members.map((m) => (m.peerId === g.admin ? `${displayText(m.name)} (admin)` : displayText(m.name)))
      const unread = g.unread > 0 ? `  ${g.unread} unread` : ''
      return `#${displayText(g.name)}  ${g.id}${unread}\n  ${members.join(', ')}`
    })
    .join('\n')
}
