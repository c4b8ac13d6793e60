import { Ajv, type ErrorObject } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'
import { TEXT } from './schema.ts'

/**
 * Request validation for the local API. Bodies are checked as sent: no type coercion (`"text": 123` is an error,
 * not the text "123") and no silent removal of unknown fields (an unknown field is an error). Query strings and
 * path parameters arrive as text, so there numbers are read from their digits; unknown ones are errors too.
 */
const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false })
const fromText = new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: false, allErrors: false })

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : fromText).compile(schema)

export { NAME, NO_QUERY, obj, TEXT, TRANSFER_ID } from './schema.ts'

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
