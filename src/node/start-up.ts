/**
 * What a node settles before libp2p exists: the user's addresses and engine checked, the data dir opened (one node
 * per data dir), the display name and visibility (given now or remembered), the listen addresses, and the policy
 * loaded from the peer records.
 */
import { hostname } from 'node:os'
import { ErrorCode, isP2pError, P2pError } from '../errors.ts'
import { sanitizeName } from '../protocols/chat/frames.ts'
import type { PeerRecord } from '../store/index.ts'
import { type DataPaths, dataPaths, ensureDataDir } from './data-dir.ts'
import { isInvite } from './invite.ts'
import { chooseListen, type ListenChoice } from './listen.ts'
import { type OpenedData, openDataDir } from './open-data.ts'
import type { NodeOptions } from './options.ts'
import { parseMultiaddr } from './peer-ref.ts'
import { checkName, MAX_NAME_BYTES } from './people.ts'
import { isVisibility, Policy, type Visibility } from './policy.ts'
import { checkRelayAddr } from './reach.ts'
import { checkEngine } from './voice.ts'

/** The host name, cut to a legal display name. */
function defaultName(): string {
  const name = sanitizeName(hostname())
  return (Buffer.byteLength(name) <= MAX_NAME_BYTES ? name : name.slice(0, 32)) || 'p2pnode'
}

/** Check what the user typed before anything starts: addresses (INVALID_MULTIADDR), the speech engine (INVALID_ARGUMENT). */
export async function checkOptions(options: NodeOptions): Promise<void> {
  for (const addr of [...(options.listen ?? []), ...(options.announce ?? [])]) parseMultiaddr(addr)
  for (const addr of options.dial ?? []) if (!isInvite(addr)) parseMultiaddr(addr)
  for (const addr of options.relays ?? []) checkRelayAddr(addr)
  // An engine asked for by name that cannot run is an error; the default one missing is none.
  await checkEngine(options.voice ?? {})
}

/**
 * Open the data dir. LEVEL_LOCKED when a node already runs on it (with a hint), DATA_DIR_INVALID when it is
 * unusable, STORE_DAMAGED (open-data.ts) when its files disagree. Notices for the user go to `notices`.
 */
export async function openData(options: NodeOptions, notices: string[]): Promise<{ paths: DataPaths; data: OpenedData }> {
  const paths = dataPaths(options.dataDir)
  await ensureDataDir(paths.dir, notices)
  try {
    return { paths, data: await openDataDir(paths, notices) }
  } catch (err) {
    if (isP2pError(err) && err.code === ErrorCode.LEVEL_LOCKED) {
      throw new P2pError(ErrorCode.LEVEL_LOCKED, `a node is already running on ${paths.dir}`, {
        hint: 'talk to it with p2pnode commands (p2pnode id), stop it with p2pnode stop, or use another --data DIR',
        cause: err
      })
    }
    throw err
  }
}

export interface Settled {
  name: string
  policy: Policy
  listen: ListenChoice
  /** The peer records that passed their integrity check. */
  peers: PeerRecord[]
  /** Keys of peer records that failed it (their peers are treated as blocked). */
  tampered: string[]
}

/** Name, visibility and listen addresses (given now: remembered), and the policy from the peer records. */
export async function settle(options: NodeOptions, store: OpenedData['store']): Promise<Settled> {
  const name = options.name != null ? checkName(options.name) : ((await store.getSetting<string>('name')) ?? defaultName())
  if (options.name != null) await store.setSetting('name', name)
  const visibility = options.visibility ?? (await store.getSetting<Visibility>('visibility')) ?? 'everyone'
  if (!isVisibility(visibility)) throw new TypeError(`unknown visibility ${visibility}`)
  if (options.visibility != null) await store.setSetting('visibility', options.visibility)
  const policy = new Policy(visibility)
  const listen = await chooseListen(options.listen, store)
  const { peers, tampered } = await store.peers.list()
  for (const record of peers) policy.apply(record)
  // Fail closed: a record that fails its check might have been a block that someone edited away.
  for (const t of tampered) {
    if (t.claimedPeerId != null) policy.apply({ peerId: t.claimedPeerId, contact: false, blocked: true, muted: false })
  }
  return { name, policy, listen, peers, tampered: tampered.map((t) => t.key) }
}
