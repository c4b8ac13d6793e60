import { MAX_NAME_BYTES } from './constants.ts'
import { UnsafeFileNameError } from './errors.ts'

/** Windows device names: a file called `CON` or `nul.txt` is a device there, not a file. */
const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i

// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * Invisible format characters (Unicode Cf): bidi overrides and isolates, marks, zero-width spaces, the BOM. Shown in
 * a terminal they make `\u202Egnp.exe` read `exe.png`, so they are stripped, as from display names. The zero-width
 * joiner and non-joiner stay: emoji sequences and several scripts (Persian, Indic) need them, and they reorder
 * nothing.
 */
const FORMAT = /(?![\u200c\u200d])\p{Cf}/gu

/**
 * A peer's file name is only a suggestion. Returns the last path component, checked: throws UnsafeFileNameError
 * for `..` anywhere in the path, control characters and device names. Invisible format characters (bidi
 * controls and the like) are stripped first. Leading dots are removed (no hidden files, and our own temp files
 * start with a dot), as are trailing dots and spaces (Windows drops them).
 */
export function safeFileName(suggested: string): string {
  if (CONTROL.test(suggested)) throw new UnsafeFileNameError('file name has control characters')
  const parts = stripFormat(suggested).split(/[/\\]/)
  if (parts.some((p) => p.trim() === '..')) throw new UnsafeFileNameError('file name has a ".." path component')
  const base = (parts.at(-1) ?? '').replace(/^[.\s]+/, '').replace(/[.\s]+$/, '')
  if (base === '') throw new UnsafeFileNameError('file name is empty')
  if (DEVICE.test(base)) throw new UnsafeFileNameError(`"${base}" is a device name`)
  if (Buffer.byteLength(base) > MAX_NAME_BYTES) throw new UnsafeFileNameError('file name too long')
  return base
}

/** `photo.jpg`, then `photo (1).jpg`, `photo (2).jpg`, ... */
export function withSuffix(name: string, n: number): string {
  if (n === 0) return name
  const dot = name.lastIndexOf('.')
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`
}

/** The name without invisible format characters (bidi controls, zero-width spaces, ...): what is shown is what is saved. */
export function stripFormat(name: string): string {
  return name.replace(FORMAT, '')
}
