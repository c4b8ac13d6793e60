/**
 * p2pnode's protocols as libp2p services (see build-libp2p.ts), with the hooks that tie each to the node's other
 * parts. The hooks are called only once libp2p runs, when every part of the node exists: `parts()` gives them.
 */
import type { ServiceFactoryMap } from 'libp2p'
import type { ChatProtocol } from '../protocols/chat/index.ts'
import { chat } from '../protocols/chat/index.ts'
import type { FileTransferProtocol } from '../protocols/file/index.ts'
import type { Store } from '../store/index.ts'
import type { NodeGroups } from './groups.ts'
import type { NodeMailbox } from './mailbox.ts'
import type { NodeOptions } from './options.ts'
import type { Policy } from './policy.ts'
import { VERSION } from './version.ts'

/** The node's parts the protocols' hooks reach. */
export interface ServiceParts {
  files: Pick<FileTransferProtocol, 'deliver'>
  mailbox: Pick<NodeMailbox, 'ownMailbox'>
  groups: Pick<NodeGroups, 'hooks'>
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
  return {
    chat: chat({
      store,
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
    })
  }
}

/** The protocol services p2pnode's libp2p node runs, by name (a type, not an interface: libp2p wants an index). */
export type ProtocolServices = {
  chat: ChatProtocol
}
