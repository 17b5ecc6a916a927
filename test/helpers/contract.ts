import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

/**
 * The gate's contract (openapi.json at the repository root), as a validator: every answer a test receives through
 * test/helpers/serve.ts get() is held to it, so a field, a status or a reason the document does not list fails the
 * test that saw it.
 */
export const OPENAPI = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, { get: { responses: Record<string, { content?: Record<string, { schema: object }> }> } }>;
  components: { schemas: Record<string, object & { enum?: string[] }> };
};

const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'vmgate', components: OPENAPI.components });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** Why a response does not follow the contract, or null. Paths the document does not list are not its business. */
export function contractViolation(path: string, status: number, contentType: string | null, body: unknown): string | null {
  const op = OPENAPI.paths[path]?.get;
  if (!op) return null;
  const resp = op.responses[String(status)];
  if (!resp) return `GET ${path} answered ${status}, a status the contract does not list`;
  const type = (contentType ?? '').split(';')[0]!.trim();
  const media = resp.content?.[type];
  if (!media) return `GET ${path} ${status} answered ${type || 'no content type'}, not one the contract lists (${Object.keys(resp.content ?? {}).join(', ')})`;
  if (type !== 'application/json') return null;
  const key = `${path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    // the response schema, its $refs resolved against the document's components
    const schema = JSON.parse(JSON.stringify(media.schema).replace(/"#\/components\//g, '"vmgate#/components/'));
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate(body) ? null : `GET ${path} ${status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`;
}
