import { randomBytes } from 'node:crypto'
import { fromHex } from '../util.ts'
import type { GroupHooks, OutboxEntry } from './index.ts'
import { Frame } from './pb/chat.ts'

/**
 * The frames for the group entries of one outbound chat stream: a message (after the group's newest signed state,
 * the first time on this stream or when it changed, so that a member who missed a change can check the sender),
 * a change, a leave.
 */
export class GroupFrames {
  /** Membership versions of the groups whose signed state this stream has carried. */
  private readonly statesSent = new Map<string, number>()
  private readonly signedState: GroupHooks['signedState']

  constructor(signedState: GroupHooks['signedState']) {
    this.signedState = signedState
  }

  /** The frames for a group entry, or undefined when this version can send nothing for it (a file to a group). */
  of(entry: OutboxEntry): Uint8Array[] | undefined {
    const m = entry.message
    const group = m.group ?? ''
    if (m.kind === 'system' && m.signed != null) {
      return [
        Frame.encode({
          groupChange: {
            id: fromHex(m.id),
            state: Buffer.from(m.signed.state, 'base64'),
            signature: Buffer.from(m.signed.signature, 'base64')
          }
        })
      ]
    }
    if (m.kind === 'system' && m.system?.type === 'left') {
      return [Frame.encode({ groupLeave: { id: fromHex(m.id), group: fromHex(group) } })]
    }
    if (m.kind !== 'text' && m.kind != null) return undefined
    const frames: Uint8Array[] = []
    const signed = this.signedState(group)
    if (signed != null && this.statesSent.get(group) !== signed.version) {
      this.statesSent.set(group, signed.version)
      frames.push(Frame.encode({ groupChange: { id: randomId(), state: signed.state, signature: signed.signature } }))
    }
    frames.push(
      Frame.encode({
        groupMessage: {
          id: fromHex(m.id),
          timestamp: BigInt(m.timestamp),
          text: m.text,
          group: fromHex(group),
          groupVersion: BigInt(signed?.version ?? 0),
          ...(m.replyTo != null ? { replyTo: fromHex(m.replyTo) } : {})
        }
      })
    )
    return frames
  }
}

function randomId(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(16))
}
