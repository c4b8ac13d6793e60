/**
 * The JSON schemas the route table (routes.ts) is written with. No imports: routes.ts and this file are also what
 * the web app loads to build its client from the table.
 */

/** A JSON object schema with exactly these properties (the required ones listed), nothing else. */
export function obj(properties: Record<string, object>, required: string[] = []) {
  return { type: 'object', properties, required, additionalProperties: false }
}

/** Route options for a GET without parameters: an unknown query parameter is an error too. */
export const NO_QUERY = { schema: { querystring: obj({}) } }

/** A non-empty string without NUL bytes (paths, names, references). */
export const TEXT = { type: 'string', minLength: 1, pattern: '^[^\\u0000]*$' }

/** A display name given by the user (checked further by the node). */
export const NAME = { ...TEXT, maxLength: 256 }

/** A transfer id, or a unique prefix of it (8+ characters): checked by the node, which says what is wrong. */
export const TRANSFER_ID = { type: 'string', minLength: 1, maxLength: 64 }
