import { Ajv, type ErrorObject } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'

/**
 * Request validation for the local API. Bodies are checked as sent: no type coercion (`"text": 123` is an error,
 * not the text "123") and no silent removal of unknown fields (an unknown field is an error). Query strings and
 * path parameters arrive as text, so there numbers are read from their digits; unknown ones are errors too.
 */
const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false })
const fromText = new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: false, allErrors: false })

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : fromText).compile(schema)

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

/** A validation failure in words: which field, and what is wrong with it. */
export function describeValidation(errors: ErrorObject[], part: string | undefined): string {
  const e = errors[0]
  if (e == null) return 'invalid request'
  const where = `${part ?? 'request'}${e.instancePath.replaceAll('/', '.')}`
  if (e.keyword === 'additionalProperties') {
    return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}" in the ${part ?? 'request'}`
  }
  if (e.keyword === 'required') {
    return `missing field "${(e.params as { missingProperty: string }).missingProperty}" in the ${part ?? 'request'}`
  }
  if (e.keyword === 'pattern' && (e.params as { pattern: string }).pattern === TEXT.pattern) {
    return `${where} contains a NUL byte`
  }
  return `${where} ${e.message ?? 'is invalid'}`
}
