/** What P2pNode.start takes, and the events a P2pNode emits. */
import type { EventLogOptions } from '../api/events.ts'
import type { ChatInit } from '../protocols/chat/index.ts'
import type { FileInit } from '../protocols/file/index.ts'
import type { StoredMessage } from '../store/index.ts'
import type { MailboxOptions } from './mailbox.ts'
import type { Visibility } from './policy.ts'
import type { NodeVoiceOptions } from './voice.ts'

export interface NodeOptions {
  /** Absolute path of the data dir (created if missing). */
  dataDir: string
  /** Display name; remembered in the data dir. @default the remembered name, else the host name */
  name?: string
  /** Listen addresses. @default one TCP port on all IPv4 interfaces, picked on the first start and remembered */
  listen?: string[]
  /** Multiaddrs to dial once started (failures are logged, not fatal). */
  dial?: string[]
  /** mDNS discovery on the LAN. @default true */
  mdns?: boolean
  /** The first interval between mDNS queries, ms; it doubles after each query, up to an hour. @default 1000 */
  mdnsInterval?: number
  /** How often peers with waiting messages are redialled at their last known addresses, ms. @default 3000 */
  reconnectInterval?: number
  /** How long `dial` and `send` wait for a peer's greeting, ms. @default 3000 */
  helloWait?: number
  /** Who may find and reach us; remembered. @default the remembered one, else 'everyone' */
  visibility?: Visibility
  /**
   * How long a new inbound connection may take to finish its handshakes (multistream-select, Noise, Yamux) before
   * it is dropped, ms. Bounds what a silent or garbage-sending socket can hold. @default 10000
   */
  upgradeTimeout?: number
  /** Protocol timeouts and back-off (tests shorten them). */
  chat?: Pick<ChatInit, 'ackTimeout' | 'helloTimeout' | 'idleTimeout' | 'retryDelay' | 'maxRetryDelay'>
  /** Where received files go. @default DATA/downloads */
  downloads?: string
  /** File transfer settings: auto-accept limit, chunk size, window, timeouts (tests shorten them). */
  files?: Omit<FileInit, 'downloadsDir'>
  /** How many recent events (GET /v1/events) are kept for clients that reconnect, and for how long. */
  events?: EventLogOptions
  /** Mailbox: serve as one for others (`--mailbox-service`), deposit and collect timings (tests shorten them). */
  mailbox?: MailboxOptions
  /** Voice notes' speech-to-text engine (`--asr-engine`, `--asr-model`). @default pocketsphinx */
  voice?: NodeVoiceOptions
  /**
   * Serve others as a circuit relay v2 (with p2pnode's limits, see relay-service.ts) and a STUN server on the UDP
   * port of the same number as the TCP port. For a node with a public address. @default false
   */
  relayService?: boolean
  /** Relays to keep a reservation on (`/ip4/…/tcp/…/p2p/<relay id>`), added to the remembered ones. */
  relays?: string[]
  /** Addresses to tell peers instead of the listen addresses (a relay's public address). */
  announce?: string[]
}

export interface NodeEvents {
  /** A new message arrived and was stored. */
  message: CustomEvent<{ message: StoredMessage; name: string; muted: boolean }>
  /** Our messages were written to the peer (status `sent`, no ack yet); a resend fires again. */
  sent: CustomEvent<{ peer: string; ids: string[] }>
  /** Our messages were acknowledged (status `delivered`). */
  delivered: CustomEvent<{ peer: string; ids: string[] }>
  /**
   * Presence changed, exactly then: `connected` true when the peer greeted us on an open connection, false when its
   * last such connection closed (idle chat streams closing change nothing). `name` is its display name.
   */
  peer: CustomEvent<{ peerId: string; name: string; connected: boolean }>
  /** A peer told us a new name (its display name changes unless we gave it a local one). */
  renamed: CustomEvent<{ peerId: string; name: string; formerName: string }>
  /** The node stopped (e.g. through the API). */
  stopped: CustomEvent
}
