/**
 * p2pnode's protocols as libp2p services (see build-libp2p.ts): chat, files, mailbox, each with the hooks that tie
 * it to the node's other parts, and the streams of connectivity (node/paths.ts). The hooks are called only once
 * libp2p runs, when every part of the node exists: `parts()` gives them.
 */
import type { ServiceFactoryMap } from 'libp2p'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import { chat } from '../protocols/chat/index.ts'
import { join } from 'node:path'
import { files, type FileTransferProtocol } from '../protocols/file/index.ts'
import { mailbox, type MailboxProtocol } from '../protocols/mailbox/index.ts'
import type { PeerStreams } from '../protocols/peer-streams.ts'
import { type Store, Transfers } from '../store/index.ts'
import type { NodeGroups } from './groups.ts'
import type { NodeMailbox } from './mailbox.ts'
import type { NodeOptions } from './options.ts'
import type { Policy } from './policy.ts'
import { VERSION } from './version.ts'

/** The node's parts the protocols' hooks reach. */
export interface ServiceParts {
  files: Pick<FileTransferProtocol, 'deliver'>
  chat: Pick<ChatProtocol, 'flush'>
  mailbox: Pick<NodeMailbox, 'ownMailbox' | 'hold'>
  groups: Pick<NodeGroups, 'hooks'>
  connectivity: { readonly streams: PeerStreams; redial(peerId: string): Promise<void> }
}

export interface ServicesArgs {
  options: NodeOptions
  store: Store
  policy: Policy
  /** Our display name. */
  name: string
  /** Our circuit addresses through our relays (told to peers beside our greeting). */
  relayAddrs(): string[]
  parts(): ServiceParts
}

/** The services map for createLibp2p. */
export function protocolServices(args: ServicesArgs): ServiceFactoryMap<ProtocolServices> {
  const { options, store, policy, parts } = args
  // Each stream goes on the connection connectivity picks (node/paths.ts).
  const streams: PeerStreams = { open: (peer, protocols, o) => parts().connectivity.streams.open(peer, protocols, o) }
  return {
    chat: chat({
      store,
      streams,
      allows: (peer) => policy.allows(peer),
      // Files we send travel through the outbox too: offered in their turn, in order with the texts.
      deliverFile: (peer, id, signal) => parts().files.deliver(peer, id, signal),
      mailbox: () => parts().mailbox.ownMailbox(),
      groups: {
        receive: (peer, item) => parts().groups.hooks.receive(peer, item),
        signedState: (group) => parts().groups.hooks.signedState(group)
      },
      relayAddrs: () => args.relayAddrs(),
      ...options.chat,
      name: args.name,
      version: `p2pnode/${VERSION}`
    }),
    // File transfer: its own records on the same database; offers from peers the policy refuses are refused.
    files: files({
      store: new Transfers(store),
      streams,
      isBlocked: (peer) => !policy.allows(peer),
      connect: (peerId) => void parts().connectivity.redial(peerId),
      // Files are fetched without asking only from contacts and peers we wrote to; strangers' offers wait.
      trusts: async (peer) => policy.isContact(peer) || (await store.hasWritten(peer)),
      queued: (peer) => parts().chat.flush(peer),
      ...options.files,
      downloadsDir: options.downloads ?? join(options.dataDir, 'downloads')
    }),
    // Store-and-forward: deposits and collection for every node; serving others with the hold the node opened.
    mailbox: mailbox({
      streams,
      hold: () => parts().mailbox.hold,
      allows: (peer) => !policy.isBlocked(peer),
      ...options.mailbox?.protocol
    })
  }
}

/** The protocol services p2pnode's libp2p node runs, by name (a type, not an interface: libp2p wants an index). */
export type ProtocolServices = {
  chat: ChatProtocol
  files: FileTransferProtocol
  mailbox: MailboxProtocol
}
