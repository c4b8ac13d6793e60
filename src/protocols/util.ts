/** Small helpers every wire protocol here uses. */

/** The remote closed the stream (at a frame boundary or not). */
export function isEOF(err: unknown): boolean {
  return (err as Error)?.name === 'UnexpectedEOFError'
}

/** An error as one log-friendly line. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  // libp2p ends streams with events (a stream's `close` event carries the error, if any): not "[object Event]".
  if (err instanceof Event) {
    const inner = (err as Event & { error?: unknown }).error
    return inner != null ? errorText(inner) : `the stream ended (${err.type} event)`
  }
  return String(err)
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(Buffer.from(text, 'hex'))
}

/**
 * The one field a `oneof`-style frame carries, checked to be `key`: more or fewer than one field set is the
 * protocol error `makeError` builds.
 */
export function onlyField<F extends object, K extends keyof F>(
  frame: F,
  key: K,
  keys: ReadonlyArray<keyof F>,
  makeError: (message: string) => Error
): NonNullable<F[K]> {
  const set = keys.filter((k) => frame[k] != null)
  if (set.length !== 1 || set[0] !== key) {
    throw makeError(`expected a ${String(key)} frame, got ${set.length === 0 ? 'an empty frame' : set.join('+')}`)
  }
  return frame[key] as NonNullable<F[K]>
}
