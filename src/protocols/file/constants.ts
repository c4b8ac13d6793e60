/** Offer stream: the sender announces a file and its chunk hashes; the receiver answers once. */
export const OFFER_PROTOCOL = '/chat/1.0/file/offer'

/** Fetch stream: the receiver asks for chunk ranges; the sender streams the chunks. */
export const FETCH_PROTOCOL = '/chat/1.0/file/fetch'

/** Transfer ids are 128 random bits, like message ids. */
export const ID_BYTES = 16

/** SHA-256 digests. */
export const HASH_BYTES = 32

/** Smallest chunk a sender may use: smaller chunks cost more frames and LevelDB records per byte. */
export const MIN_CHUNK_SIZE = 64 * 1024

/** Largest chunk: far below the byte stream's 4 MiB buffer, and big enough to run near the stream's speed. */
export const MAX_CHUNK_SIZE = 256 * 1024

/** Our chunk size: the largest allowed, which measured fastest. */
export const DEFAULT_CHUNK_SIZE = MAX_CHUNK_SIZE

/** Largest file: 64 GiB is 262,144 chunks of 256 KiB, whose hashes (8 MiB) are still cheap to hold and store. */
export const MAX_FILE_BYTES = 64 * 1024 ** 3

/** Chunk hashes per Hashes frame: 256 KiB of digests, one frame no bigger than a chunk. */
export const HASHES_PER_FRAME = 8192

/** Largest offer-stream frame: a full Hashes frame plus protobuf overhead (an Offer is far smaller). */
export const MAX_OFFER_FRAME_BYTES = HASHES_PER_FRAME * HASH_BYTES + 64

/** Largest fetch-stream frame: a full chunk plus its index and protobuf overhead. */
export const MAX_FETCH_FRAME_BYTES = MAX_CHUNK_SIZE + 64

/** Longest suggested file name or MIME type, in UTF-8 bytes (the common file-system limit). */
export const MAX_NAME_BYTES = 255

/** Longest reason or detail text in a reply. */
export const MAX_REASON_BYTES = 256

/**
 * Chunks the receiver asks for before earlier ones are written: 8 × 256 KiB = 2 MiB in flight, half the byte
 * stream's 4 MiB buffer. Measured on loopback (2 cores): 4 leaves the stream idle while chunks are hashed and
 * written (~75 MiB/s); 8 to 16 run at the machine's limit (~120–145 MiB/s warm). Every byte in flight sits in front
 * of chat messages on the same connection, so the smallest window that keeps the stream busy wins.
 */
export const WINDOW_CHUNKS = 8

/** Chunks a sender queues for one fetch stream; a receiver asking for more is misbehaving. */
export const MAX_QUEUED_CHUNKS = 64

/** Files up to this size are accepted without asking. */
export const DEFAULT_AUTO_ACCEPT_MAX = 100 * 1024 * 1024

/** Times one chunk may arrive corrupted before the transfer is declared failed (the sender lies or its file changed). */
export const MAX_CHUNK_RETRIES = 3

/** Time a peer has to answer an offer, or to send the next frame on a fetch stream. */
export const FRAME_TIMEOUT_MS = 30_000

/** Offer and fetch streams a peer may hold open to us per connection: a few concurrent transfers. */
export const MAX_INBOUND_STREAMS = 16

/** Longest wait between attempts to offer a queued file to a connected peer (the wait doubles from RETRY_DELAY_MS). */
export const MAX_OFFER_RETRY_MS = 30_000

/** Wait before a broken fetch is retried while the peer is still connected. */
export const RETRY_DELAY_MS = 2_000

/** How often peers with offers waiting or files half received are redialled while away (the node backs off). */
export const RECONNECT_INTERVAL_MS = 3_000

/**
 * Offer version 2: the offer carries the digest of the chunk hash list, not the list; the receiver fetches the list
 * once it accepts. Senders ask for it first and fall back to OFFER_PROTOCOL (peers of version 0.1).
 */
export const OFFER_PROTOCOL_V2 = '/chat/1.0/file/offer/2'

/** Offers one peer may have waiting for the user's accept: more are refused until the user deals with them. */
export const MAX_WAITING_PER_PEER = 32

/** Offers from all strangers together that may wait: new peer ids cost nothing, so a per-peer bound is not enough. */
export const MAX_WAITING_FROM_STRANGERS = 256

/** Files one peer may have accepted without asking per hour; beyond, its offers wait for the user. */
export const AUTO_ACCEPT_FILES_PER_HOUR = 100

/** Bytes one peer may have accepted without asking per hour; beyond, its offers wait for the user. */
export const AUTO_ACCEPT_BYTES_PER_HOUR = 1024 ** 3

/**
 * Offer version 3: the file is known by the root of its BLAKE3 hash tree (tree.ts), one hashing pass per side; its
 * chunks move on FETCH_PROTOCOL_V3. Senders ask for it first, then version 2, then version 1.
 */
export const OFFER_PROTOCOL_V3 = '/chat/1.0/file/offer/3'

/** Fetch for version-3 transfers: the receiver queues the ranges it lacks and grants credit; the sender streams. */
export const FETCH_PROTOCOL_V3 = '/chat/1.0/file/fetch/3'

/**
 * Chunks a version-3 receiver lets the sender have on their way or buffered here, not yet written: 16 × 256 KiB =
 * 4 MiB. Credit comes back as chunks are written, in grants of a quarter of it, so the sender never waits on a round
 * trip while the receiver keeps up.
 */
export const CREDIT_CHUNKS = 16

/** Want ranges a version-3 sender keeps queued: a receiver resuming a file with many holes sends more as these go. */
export const MAX_QUEUED_RANGES = 1024

/** Chunks a version-3 sender reads from disk ahead of the one going out. */
export const READ_AHEAD_CHUNKS = 4

/** Credit a version-3 receiver may have granted and the sender not yet used: more is misbehaving. */
export const MAX_CREDIT_CHUNKS = 256
/** Largest voice note (Offer.voice) taken without asking, over the auto-accept limit too (10 min of Opus is ~2.4 MB). */
export const MAX_VOICE_NOTE_BYTES = 16 * 1024 * 1024

/**
 * Largest file whose chunks go through a relay (a relayed connection carries 64 MiB at most on p2pnode's relays,
 * 128 KiB on libp2p's defaults, and the chat shares it): larger files wait for a direct path.
 */
export const MAX_RELAYED_FILE_BYTES = 1024 * 1024
