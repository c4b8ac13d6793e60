/** Protocol id of the chat stream. */
export const PROTOCOL = '/chat/1.0'

/** Largest message text, in UTF-8 bytes: generous for chat, small enough to keep frames cheap to buffer. */
export const MAX_TEXT_BYTES = 64 * 1024

/** Largest display name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64

/** Largest frame on the wire: one full-size message plus ids, timestamp and protobuf overhead. */
export const MAX_FRAME_BYTES = MAX_TEXT_BYTES + 256

/** Message ids are 128 random bits. */
export const ID_BYTES = 16

/** Most ids one Ack frame may carry: the sender never has more unacknowledged messages than this. */
export const MAX_IN_FLIGHT = 1024

/**
 * Most unacknowledged bytes per stream. The receiver's byte stream buffers whatever arrives (4 MiB default)
 * while it stores earlier messages; staying well below that keeps an honest sender from being reset.
 */
export const MAX_IN_FLIGHT_BYTES = 1024 * 1024

/** A peer must greet within this time after a stream opens. */
export const HELLO_TIMEOUT_MS = 10_000

/** With messages in flight, an ack must arrive within this time or the stream is reset and retried. */
export const ACK_TIMEOUT_MS = 30_000

/** A chat stream with no frame for this long is closed; the next message opens a new one. */
export const IDLE_TIMEOUT_MS = 10 * 60_000

/** First wait before reopening a chat stream that failed while the peer stayed connected; doubles per failure. */
export const RETRY_DELAY_MS = 1000

/** Longest wait between such tries: a peer that keeps failing costs one stream a minute at most. */
export const MAX_RETRY_DELAY_MS = 60_000

/**
 * A peer that accepts this many chat streams in a row without greeting is no p2pnode node (a p2pnode node greets at
 * once; other programs register /chat/1.0 too) and is not tried again.
 */
export const MAX_HELLO_STRIKES = 3

/**
 * Peers whose retry state or not-p2pnode verdict is kept in memory at most: anyone can connect under ever new peer
 * ids, so beyond this the oldest are forgotten (a forgotten peer is merely tried afresh).
 */
export const MAX_TRACKED_PEERS = 4096

/** Chat streams a peer may hold open to us per connection (one is normal; more after reconnect races). */
export const MAX_INBOUND_STREAMS = 4

/** Timestamps further than this in the future are rejected as malformed. */
export const MAX_CLOCK_SKEW_MS = 365 * 24 * 3600_000

/** Most members of a group, the admin among them: a message to a group is one copy per member to store and ack. */
export const MAX_GROUP_MEMBERS = 256

/** Largest group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 64

/** Group ids are 128 bits (see group-state.ts). */
export const GROUP_ID_BYTES = 16
