/** Protocol id of mailbox streams (deposit and collect share it; the first frame says which). */
export const PROTOCOL = '/chat/1.0/mailbox'

/** Envelope and message ids are 128 random bits. */
export const ID_BYTES = 16

/**
 * Largest encoded envelope: one full-size chat message (64 KiB of text in a 65,792-byte frame) fits with room for
 * a batch of small ones, keys, nonce and signature; small enough that a mailbox holding many stays cheap to read.
 */
export const MAX_ENVELOPE_BYTES = 160 * 1024

/** Largest plaintext a sender puts in one envelope (the rest of MAX_ENVELOPE_BYTES is keys, tag, signature). */
export const MAX_LETTER_BYTES = 150 * 1024

/** Most chat frames in one letter: the receiver stores them in one batch, as it does for a chat stream. */
export const MAX_LETTER_FRAMES = 256

/** Envelopes per Batch frame the mailbox sends at most: bounded by MAX_BATCH_BYTES too. */
export const MAX_BATCH_ENVELOPES = 64

/** Bytes of envelopes per Batch at most: well under the byte stream's 4 MiB buffer. */
export const MAX_BATCH_BYTES = 1024 * 1024

/** Largest mailbox frame: a full batch, or a deposit of the largest envelope, plus protobuf overhead. */
export const MAX_FRAME_BYTES = MAX_BATCH_BYTES + MAX_ENVELOPE_BYTES + 1024

/** Longest peer id string in an envelope (an Ed25519 peer id is 52 characters). */
export const MAX_PEER_ID_CHARS = 128

/** Longest detail or refusal text. */
export const MAX_DETAIL_BYTES = 256

/** How long a mailbox holds an envelope nobody collects: a week away covers most holidays. */
export const DEFAULT_TTL_MS = 7 * 24 * 3600_000

/**
 * What one sender may have held for one recipient: enough for a long conversation while the recipient is away,
 * little enough that a flood from one sender leaves room for everyone else.
 */
export const DEFAULT_PER_SENDER = { envelopes: 1000, bytes: 8 * 1024 * 1024 }

/** What one recipient may have held, from all senders together. */
export const DEFAULT_PER_RECIPIENT = { envelopes: 20_000, bytes: 128 * 1024 * 1024 }

/** Distinct senders with envelopes held for one recipient (anyone can make new peer ids). */
export const DEFAULT_MAX_SENDERS = 256

/** Peers that may use one mailbox node (each registers by collecting). */
export const DEFAULT_MAX_OWNERS = 64

/** A peer has this long to send its next frame (a deposit answer, a batch, a confirmation). */
export const FRAME_TIMEOUT_MS = 30_000

/** Mailbox streams a peer may hold open to us per connection. */
export const MAX_INBOUND_STREAMS = 4

/** Expired envelopes are looked for this often (and at every collect). */
export const SWEEP_INTERVAL_MS = 60_000

/** Envelope timestamps further ahead than this are malformed. */
export const MAX_CLOCK_SKEW_MS = 365 * 24 * 3600_000
