import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  verify as cryptoVerify
} from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import {
  ID_BYTES,
  MAX_CLOCK_SKEW_MS,
  MAX_ENVELOPE_BYTES,
  MAX_LETTER_BYTES,
  MAX_LETTER_FRAMES,
  MAX_PEER_ID_CHARS
} from './constants.ts'
import { EnvelopeError } from './errors.ts'
import { Envelope, Letter } from './pb/mailbox.ts'

/**
 * Sealing: an envelope is encrypted to the recipient and signed by the sender, with the keys their peer ids carry
 * (Ed25519). Encryption is ECIES-style: an ephemeral X25519 key per envelope, Diffie-Hellman with the recipient's
 * Ed25519 key in its Montgomery form (RFC 7748's birational map, as libsodium's crypto_sign_ed25519_pk_to_curve25519
 * does; @noble/curves converts, node:crypto does the curve work natively), HKDF-SHA256 to a ChaCha20-Poly1305 key.
 * Measured here (2 cores shared with a full test run): 1.6–1.9 ms to seal and 2.2–2.9 ms to open an envelope with
 * node:crypto doing X25519 and Ed25519, against ~14 and ~17 ms with @noble/curves doing them in JavaScript. The sender signs the whole envelope (the ciphertext and the
 * routing fields), so the mailbox can check who deposited what for whom without being able to read it, and the
 * recipient knows who wrote it. An ephemeral key per envelope gives sender-side forward secrecy: the sender keeps
 * nothing that could open its envelopes later.
 */

/** Signed with the envelope, so that a signature can never be taken for one over something else. */
const SIGNING_CONTEXT = new TextEncoder().encode('p2pnode-mailbox-envelope-v1')
const KDF_INFO = 'p2pnode-mailbox-v1 chacha20-poly1305'
const NONCE_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32

/** An envelope checked by its signature (not opened): what the mailbox knows of it. */
export interface CheckedEnvelope {
  id: Uint8Array<ArrayBuffer>
  sender: string
  recipient: string
  prev: Uint8Array<ArrayBuffer>
  timestamp: number
  envelope: Envelope
}

export interface SealOptions {
  /** The envelope's id. @default 16 random bytes */
  id?: Uint8Array<ArrayBuffer>
  /** The previous envelope's id in this sender's run for this recipient (empty: a new run). */
  prev?: Uint8Array<ArrayBuffer>
  /** @default Date.now() */
  timestamp?: number
}

/** The 32-byte Ed25519 public key a peer id carries; EnvelopeError for any other kind of peer id. */
function edPublicKey(peerId: string): Uint8Array<ArrayBuffer> {
  let id
  try {
    id = peerIdFromString(peerId)
  } catch (err) {
    throw new EnvelopeError(`not a peer id: ${(err as Error).message}`)
  }
  if (id.type !== 'Ed25519' || id.publicKey == null) throw new EnvelopeError('not an Ed25519 peer id')
  return new Uint8Array(id.publicKey.raw)
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')

function x25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' })
}

function x25519Private(secret: Uint8Array, publicKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(secret), x: b64url(publicKey) }, format: 'jwk' })
}

/** Ed25519 verification by node:crypto (OpenSSL), as libp2p's own keys do it. */
function verifyEd25519(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(publicKey) }, format: 'jwk' })
  return cryptoVerify(null, data, key, signature)
}

function deriveKey(shared: Uint8Array, ephemeral: Uint8Array, recipientX: Uint8Array): Buffer {
  const salt = Buffer.concat([ephemeral, recipientX])
  return Buffer.from(hkdfSync('sha256', shared, salt, KDF_INFO, KEY_BYTES))
}

/** The bytes the sender signs: the context and the envelope without its signature. */
function signedBytes(envelope: Envelope): Uint8Array<ArrayBuffer> {
  const body = Envelope.encode({ ...envelope, signature: new Uint8Array(0) })
  const out = new Uint8Array(SIGNING_CONTEXT.byteLength + body.byteLength)
  out.set(SIGNING_CONTEXT)
  out.set(body, SIGNING_CONTEXT.byteLength)
  return out
}

/** Associated data of the AEAD: who sent it for whom, under which id. */
function aad(envelope: Pick<Envelope, 'id' | 'sender' | 'recipient'>): Buffer {
  return Buffer.concat([Buffer.from(envelope.id), Buffer.from(`${envelope.sender}\n${envelope.recipient}`)])
}

/**
 * Seal `frames` (the letter) from `sender` (our key) to `recipient` (a peer id). Returns the encoded envelope and
 * its id. Throws RangeError when the letter is too large or holds too many frames.
 */
export async function seal(
  sender: PrivateKey,
  recipient: string,
  frames: Uint8Array<ArrayBuffer>[],
  options: SealOptions = {}
): Promise<{ id: Uint8Array<ArrayBuffer>; bytes: Uint8Array<ArrayBuffer> }> {
  if (frames.length > MAX_LETTER_FRAMES) throw new RangeError(`at most ${MAX_LETTER_FRAMES} frames in one envelope`)
  const letter = Letter.encode({ frames })
  if (letter.byteLength > MAX_LETTER_BYTES) throw new RangeError(`a letter is at most ${MAX_LETTER_BYTES} bytes`)
  const recipientX = ed25519.utils.toMontgomery(edPublicKey(recipient))
  const pair = generateKeyPairSync('x25519')
  const ephemeral = new Uint8Array(Buffer.from(pair.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'))
  const shared = diffieHellman({ privateKey: pair.privateKey, publicKey: x25519Public(recipientX) })
  const key = deriveKey(shared, ephemeral, recipientX)
  const nonce = randomBytes(NONCE_BYTES)
  const id = options.id ?? new Uint8Array(randomBytes(ID_BYTES))
  // The sender's peer id: what recipients and mailboxes check the signature against.
  const head = { id, sender: peerIdOfKey(sender), recipient }
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad(head), { plaintextLength: letter.byteLength })
  const ciphertext = Buffer.concat([cipher.update(letter), cipher.final(), cipher.getAuthTag()])
  const envelope: Envelope = {
    ...head,
    prev: options.prev ?? new Uint8Array(0),
    timestamp: BigInt(options.timestamp ?? Date.now()),
    ephemeral,
    nonce: new Uint8Array(nonce),
    ciphertext: new Uint8Array(ciphertext),
    signature: new Uint8Array(0)
  }
  return { id, bytes: await sign(sender, envelope) }
}

/** Sign an envelope (its signature field is replaced) and encode it. */
export async function sign(sender: PrivateKey, envelope: Envelope): Promise<Uint8Array<ArrayBuffer>> {
  const signature = new Uint8Array(await sender.sign(signedBytes({ ...envelope, signature: new Uint8Array(0) })))
  return Envelope.encode({ ...envelope, signature })
}

/** The peer id string of a private key. */
function peerIdOfKey(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/**
 * Decode an envelope and check its fields and its sender's signature (what a mailbox does before holding it). Throws
 * EnvelopeError when anything is wrong.
 */
export async function check(bytes: Uint8Array<ArrayBuffer>, now = Date.now()): Promise<CheckedEnvelope> {
  if (bytes.byteLength > MAX_ENVELOPE_BYTES) throw new EnvelopeError(`an envelope is at most ${MAX_ENVELOPE_BYTES} bytes`)
  let envelope: Envelope
  try {
    envelope = Envelope.decode(bytes)
  } catch (err) {
    throw new EnvelopeError(`malformed envelope (${(err as Error).message})`)
  }
  if (envelope.id.byteLength !== ID_BYTES) throw new EnvelopeError(`an envelope id is ${ID_BYTES} bytes`)
  if (envelope.prev.byteLength !== 0 && envelope.prev.byteLength !== ID_BYTES) {
    throw new EnvelopeError(`prev is empty or ${ID_BYTES} bytes`)
  }
  if (envelope.sender.length > MAX_PEER_ID_CHARS || envelope.recipient.length > MAX_PEER_ID_CHARS) {
    throw new EnvelopeError('peer id too long')
  }
  if (envelope.ephemeral.byteLength !== 32) throw new EnvelopeError('the ephemeral key is 32 bytes')
  if (envelope.nonce.byteLength !== NONCE_BYTES) throw new EnvelopeError(`the nonce is ${NONCE_BYTES} bytes`)
  if (envelope.ciphertext.byteLength < TAG_BYTES) throw new EnvelopeError('the ciphertext is shorter than its tag')
  if (envelope.signature.byteLength !== 64) throw new EnvelopeError('the signature is 64 bytes')
  const timestamp = Number(envelope.timestamp)
  if (timestamp > now + MAX_CLOCK_SKEW_MS) throw new EnvelopeError('timestamp too far in the future')
  const senderKey = edPublicKey(envelope.sender)
  edPublicKey(envelope.recipient)
  let valid = false
  try {
    valid = verifyEd25519(senderKey, signedBytes(envelope), envelope.signature)
  } catch {
    valid = false
  }
  if (!valid) throw new EnvelopeError(`the signature is not ${envelope.sender}'s`)
  return {
    id: envelope.id,
    sender: peerIdFromString(envelope.sender).toString(),
    recipient: peerIdFromString(envelope.recipient).toString(),
    prev: envelope.prev,
    timestamp,
    envelope
  }
}

/**
 * Open an envelope meant for us (`self`, with our private key): checks the signature, that we are its recipient,
 * and decrypts. Returns the sender and the letter's frames. Throws EnvelopeError otherwise.
 */
export async function open(
  self: PrivateKey,
  bytes: Uint8Array<ArrayBuffer>,
  now = Date.now()
): Promise<CheckedEnvelope & { frames: Uint8Array<ArrayBuffer>[] }> {
  const checked = await check(bytes, now)
  const me = peerIdOfKey(self)
  if (checked.recipient !== me) throw new EnvelopeError(`the envelope is for ${checked.recipient}, not for us`)
  const { envelope } = checked
  // libp2p's Ed25519 private key: the 32-byte seed followed by the public key.
  const recipientX = ed25519.utils.toMontgomery(self.publicKey.raw)
  const secretX = ed25519.utils.toMontgomerySecret(self.raw.subarray(0, 32))
  let letter: Buffer
  try {
    const shared = diffieHellman({ privateKey: x25519Private(secretX, recipientX), publicKey: x25519Public(envelope.ephemeral) })
    const key = deriveKey(shared, envelope.ephemeral, recipientX)
    const body = envelope.ciphertext.subarray(0, envelope.ciphertext.byteLength - TAG_BYTES)
    const tag = envelope.ciphertext.subarray(envelope.ciphertext.byteLength - TAG_BYTES)
    const decipher = createDecipheriv('chacha20-poly1305', key, envelope.nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(aad(envelope), { plaintextLength: body.byteLength })
    decipher.setAuthTag(tag)
    letter = Buffer.concat([decipher.update(body), decipher.final()])
  } catch (err) {
    throw new EnvelopeError(`the envelope does not decrypt (${(err as Error).message})`)
  }
  try {
    const { frames } = Letter.decode(letter, { limits: { frames: MAX_LETTER_FRAMES } })
    return { ...checked, frames }
  } catch (err) {
    throw new EnvelopeError(`malformed letter (${(err as Error).message})`)
  }
}
