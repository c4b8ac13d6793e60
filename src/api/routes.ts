import type { EventLog } from './events.ts'
import type { FilesApi } from './files.ts'
import type { MailboxApi } from './mailbox.ts'
import { NAME, obj, TEXT, TRANSFER_ID } from './schema.ts'
import type { GroupsApi, NodeCoreApi, PeopleApi, ReachApi, WebControlApi } from './types.ts'
import type { VoiceApi } from './voice.ts'

/**
 * The local API's contract: every route once, with its method, path, the JSON schema of what it takes, and the
 * method of the node's API it calls. The fastify server (registerApiRoutes) and the client (ApiClient) are both
 * built from this table, and so is the web app's client (src/web/api.ts, which loads this file and schema.ts);
 * the result types are those of the methods. A new call is one entry here and its method (and its CLI command).
 */

/** The node's API, as the modules that implement it (P2pNode.api). */
export interface ApiParts {
  /** Identity, peers, dialling, messages, stop: P2pNode itself. */
  node: NodeCoreApi
  /** Contacts, visibility, blocking, search, export: node/people.ts. */
  people: PeopleApi
  /** File transfers: node/files.ts. */
  files: FilesApi
  /** The web app's login link (`p2pnode web`): api/web-control.ts, the web server attached by `p2pnode start`. */
  web: WebControlApi
  /** The mailbox we use, the ones contacts told us, the service we run: node/mailbox.ts. */
  mailbox: MailboxApi
  /** Voice notes and their transcripts: node/voice.ts. */
  voice: VoiceApi
  /** Groups: node/groups.ts. */
  groups: GroupsApi
  /** Relays and invites: node/reach.ts. */
  reach: ReachApi
  /** What happens, streamed by `GET /v1/events` (api/events-route.ts): the node's EventLog. */
  events: EventLog
}

/** The parts whose methods routes call (events is a stream of its own). */
export type Part = Exclude<keyof ApiParts, 'events'>

export interface RouteSpec<P extends Part = Part, M extends string = string> {
  method: 'GET' | 'POST'
  /** With `:name` path parameters (each also a field of the input). */
  path: string
  part: P
  /** The method of `ApiParts[part]` it calls. */
  call: M
  /**
   * How the request's fields become the method's arguments, in order: a field name each, or '*' for an object of
   * all the fields not named (the method's options).
   */
  args: readonly string[]
  /** JSON schema of the query (GET) or body (POST): exact, nothing else accepted. @default no fields */
  input?: object
  /** JSON schema of the path parameters. */
  params?: object
  /** The call does work that grows with the data (hashing a file, an export): the client waits as long as it takes. */
  unbounded?: boolean
  /** Answer this at once, and call the method once the answer has gone (stop: the caller waits for the socket). */
  respondFirst?: unknown
  /** On the unix socket only, not over HTTP (the web app's own login token). */
  socketOnly?: boolean
}

/** Declares one route, checking that `call` is a method of `part`. */
function route<P extends Part, M extends keyof ApiParts[P] & string>(spec: RouteSpec<P, M>): RouteSpec<P, M> {
  return spec
}

const peerInput = (extra: Record<string, object> = {}, required: string[] = []) =>
  obj({ peer: TEXT, ...extra }, ['peer', ...required])
/** Members named in one request: a group's worth. */
const PEERS = { type: 'array', items: TEXT, minItems: 1, maxItems: 256 }
const byId = { params: obj({ id: TRANSFER_ID }, ['id']), args: ['id'] } as const

export const ROUTES = {
  id: route({ method: 'GET', path: '/v1/id', part: 'node', call: 'id', args: [] }),
  peers: route({ method: 'GET', path: '/v1/peers', part: 'node', call: 'peers', args: [] }),
  dial: route({
    method: 'POST',
    path: '/v1/dial',
    part: 'node',
    call: 'dial',
    args: ['multiaddr'],
    input: obj({ multiaddr: TEXT }, ['multiaddr'])
  }),
  send: route({
    method: 'POST',
    path: '/v1/messages',
    part: 'node',
    call: 'send',
    args: ['peer', 'text', '*'],
    input: peerInput(
      {
        text: { type: 'string' },
        replyTo: { type: 'string', pattern: '^[0-9a-f]{32}$' },
        waitMs: { type: 'integer', minimum: 0, maximum: 60000 }
      },
      ['text']
    )
  }),
  history: route({
    method: 'GET',
    path: '/v1/messages',
    part: 'node',
    call: 'history',
    args: ['peer', '*'],
    input: peerInput({
      limit: { type: 'integer', minimum: 1, maximum: 10000 },
      before: { type: 'integer', minimum: 0 },
      after: { type: 'integer', minimum: 0 }
    })
  }),
  resolve: route({
    method: 'GET',
    path: '/v1/resolve',
    part: 'node',
    call: 'resolve',
    args: ['peer', '*'],
    input: peerInput({ dial: { type: 'boolean' } })
  }),
  contacts: route({ method: 'GET', path: '/v1/contacts', part: 'people', call: 'contacts', args: [] }),
  addContact: route({
    method: 'POST',
    path: '/v1/contacts',
    part: 'people',
    call: 'addContact',
    args: ['peer', '*'],
    input: peerInput({ name: NAME })
  }),
  renameContact: route({
    method: 'POST',
    path: '/v1/contacts/rename',
    part: 'people',
    call: 'renameContact',
    args: ['peer', 'name'],
    input: peerInput({ name: NAME }, ['name'])
  }),
  removeContact: route({
    method: 'POST',
    path: '/v1/contacts/remove',
    part: 'people',
    call: 'removeContact',
    args: ['peer'],
    input: peerInput()
  }),
  setPeerState: route({
    method: 'POST',
    path: '/v1/peer-state',
    part: 'people',
    call: 'setPeerState',
    args: ['peer', '*'],
    input: peerInput({ blocked: { type: 'boolean' }, muted: { type: 'boolean' } })
  }),
  blocked: route({ method: 'GET', path: '/v1/blocked', part: 'people', call: 'blocked', args: [] }),
  verify: route({ method: 'GET', path: '/v1/verify', part: 'people', call: 'verify', args: ['peer'], input: peerInput() }),
  visibility: route({ method: 'GET', path: '/v1/visibility', part: 'people', call: 'visibility', args: [] }),
  setVisibility: route({
    method: 'POST',
    path: '/v1/visibility',
    part: 'people',
    call: 'visibility',
    args: ['visibility'],
    input: obj({ visibility: { type: 'string', enum: ['everyone', 'contacts', 'hidden'] } }, ['visibility'])
  }),
  search: route({
    method: 'GET',
    path: '/v1/search',
    part: 'people',
    call: 'search',
    args: ['q', '*'],
    input: obj({ q: { type: 'string', maxLength: 1024 }, peer: TEXT, limit: { type: 'integer', minimum: 1, maximum: 10000 } }, [
      'q'
    ])
  }),
  export: route({
    method: 'POST',
    path: '/v1/export',
    part: 'people',
    call: 'export',
    args: ['*'],
    input: obj({ out: TEXT, anonymize: { type: 'boolean' } }, ['out']),
    unbounded: true
  }),
  sendFile: route({
    method: 'POST',
    path: '/v1/files',
    part: 'files',
    call: 'sendFile',
    args: ['peer', 'path'],
    input: peerInput({ path: TEXT }, ['path']),
    unbounded: true
  }),
  files: route({ method: 'GET', path: '/v1/files', part: 'files', call: 'files', args: [] }),
  file: route({ method: 'GET', path: '/v1/files/:id', part: 'files', call: 'file', ...byId }),
  accept: route({ method: 'POST', path: '/v1/files/:id/accept', part: 'files', call: 'accept', ...byId }),
  cancel: route({ method: 'POST', path: '/v1/files/:id/cancel', part: 'files', call: 'cancel', ...byId }),
  mailbox: route({ method: 'GET', path: '/v1/mailbox', part: 'mailbox', call: 'mailbox', args: [] }),
  setMailbox: route({
    method: 'POST',
    path: '/v1/mailbox',
    part: 'mailbox',
    call: 'setMailbox',
    args: ['peer'],
    input: peerInput()
  }),
  removeMailbox: route({ method: 'POST', path: '/v1/mailbox/remove', part: 'mailbox', call: 'removeMailbox', args: [] }),
  sendVoice: route({
    method: 'POST',
    path: '/v1/voice',
    part: 'voice',
    call: 'sendVoice',
    args: ['peer', 'path'],
    input: peerInput({ path: TEXT }, ['path']),
    unbounded: true
  }),
  transcript: route({ method: 'GET', path: '/v1/voice/:id', part: 'voice', call: 'transcript', ...byId }),
  groups: route({ method: 'GET', path: '/v1/groups', part: 'groups', call: 'groups', args: [] }),
  createGroup: route({
    method: 'POST',
    path: '/v1/groups',
    part: 'groups',
    call: 'createGroup',
    args: ['name', 'peers'],
    input: obj({ name: TEXT, peers: PEERS }, ['name', 'peers'])
  }),
  addMembers: route({
    method: 'POST',
    path: '/v1/groups/add',
    part: 'groups',
    call: 'addMembers',
    args: ['group', 'peers'],
    input: obj({ group: TEXT, peers: PEERS }, ['group', 'peers'])
  }),
  removeMember: route({
    method: 'POST',
    path: '/v1/groups/remove',
    part: 'groups',
    call: 'removeMember',
    args: ['group', 'peer'],
    input: obj({ group: TEXT, peer: TEXT }, ['group', 'peer'])
  }),
  renameGroup: route({
    method: 'POST',
    path: '/v1/groups/rename',
    part: 'groups',
    call: 'renameGroup',
    args: ['group', 'name'],
    input: obj({ group: TEXT, name: TEXT }, ['group', 'name'])
  }),
  leaveGroup: route({
    method: 'POST',
    path: '/v1/groups/leave',
    part: 'groups',
    call: 'leaveGroup',
    args: ['group'],
    input: obj({ group: TEXT }, ['group'])
  }),
  relays: route({ method: 'GET', path: '/v1/relays', part: 'reach', call: 'relays', args: [] }),
  addRelay: route({
    method: 'POST',
    path: '/v1/relays',
    part: 'reach',
    call: 'addRelay',
    args: ['multiaddr'],
    input: obj({ multiaddr: TEXT }, ['multiaddr'])
  }),
  removeRelay: route({
    method: 'POST',
    path: '/v1/relays/remove',
    part: 'reach',
    call: 'removeRelay',
    args: ['multiaddr'],
    input: obj({ multiaddr: TEXT }, ['multiaddr'])
  }),
  invite: route({ method: 'GET', path: '/v1/invite', part: 'reach', call: 'invite', args: [] }),
  stop: route({ method: 'POST', path: '/v1/stop', part: 'node', call: 'stop', args: [], respondFirst: { stopping: true } }),
  webLink: route({ method: 'GET', path: '/v1/web', part: 'web', call: 'link', args: [], socketOnly: true }),
  rotateWebToken: route({ method: 'POST', path: '/v1/web/rotate', part: 'web', call: 'rotate', args: [], socketOnly: true })
} as const

export type Routes = typeof ROUTES
export type RouteName = keyof Routes

/** The API as one object of calls, one per route: what the client offers and what `bindApi` makes of the parts. */
export type NodeApi = {
  [K in RouteName]: MethodOf<Routes[K]>
}

/** The method a route calls, with its type. */
type MethodOf<R> = R extends RouteSpec<infer P, infer M> ? (M extends keyof ApiParts[P] ? ApiParts[P][M] : never) : never

/** The method's arguments from a request's fields (see RouteSpec.args). */
export function argsOf(spec: RouteSpec, fields: Record<string, unknown>): unknown[] {
  const named = new Set(spec.args)
  return spec.args.map((a) => {
    if (a !== '*') return fields[a]
    const rest: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(fields)) if (!named.has(k) && v !== undefined) rest[k] = v
    return rest
  })
}

/** A request's fields from the method's arguments (the inverse of argsOf). */
export function fieldsOf(spec: RouteSpec, args: readonly unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  spec.args.forEach((a, i) => {
    const v = args[i]
    if (a === '*') {
      for (const [k, x] of Object.entries((v ?? {}) as Record<string, unknown>)) if (x !== undefined) fields[k] = x
    } else if (v !== undefined) fields[a] = v
  })
  return fields
}

/**
 * The HTTP request that makes a call: the path with its `:name` parameters filled in, the other fields as the
 * query string (GET) or the JSON body (POST). Used by both clients (undici over the socket, fetch in the browser).
 */
export function requestOf(spec: RouteSpec, args: readonly unknown[]): { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown> } {
  const fields = fieldsOf(spec, args)
  const path = spec.path.replace(/:(\w+)/g, (_m, name: string) => {
    const value = String(fields[name])
    delete fields[name]
    return encodeURIComponent(value)
  })
  if (spec.method === 'POST') return { method: 'POST', path, body: fields }
  const query = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) if (v != null) query.set(k, String(v))
  const text = query.toString()
  return { method: 'GET', path: text === '' ? path : `${path}?${text}` }
}

/** The parts as one NodeApi object, in-process (each call goes straight to its module). */
export function bindApi(parts: ApiParts): NodeApi {
  const api: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(ROUTES) as Array<[string, RouteSpec]>) {
    const part = parts[spec.part] as unknown as Record<string, (...args: unknown[]) => unknown>
    api[name] = (...args: unknown[]) => part[spec.call](...args)
  }
  return api as NodeApi
}
