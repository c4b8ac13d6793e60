/** Sample rate every engine gets: speech models are trained on 16 kHz mono. */
export const SAMPLE_RATE = 16000
/** Longest voice note decoded (10 min): bounds the memory of one decode (19 MB of 16-bit PCM). */
export const MAX_DURATION_MS = 10 * 60_000
/** Largest voice note file: Opus at 32 kbit/s is 2.4 MB for 10 min; 16-bit 48 kHz stereo WAV 115 MB: take 16 MiB. */
export const MAX_VOICE_BYTES = 16 * 1024 * 1024
/** Longest a transcription may take before it counts as failed: 2× real time for the longest note, at least 60 s. */
export const TRANSCRIBE_TIMEOUT_MS = 2 * MAX_DURATION_MS
/** Most transcript text kept (a 10-minute note at 200 words a minute is ~12 KB). */
export const MAX_TRANSCRIPT_CHARS = 32 * 1024
