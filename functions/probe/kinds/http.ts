import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpTarget } from '../../../src/config/probe-targets.ts';
import type { SecretStore } from '../../../src/ports.ts';
import { describeError, fail, type ProbeKindRunner, pass, secretField } from '../probe-result.ts';

/** Reads at most this much of a body: enough for any health document. */
const MAX_BODY_BYTES = 64 * 1024;

export function statusMatches(status: number, expected: HttpTarget['expectStatus']): boolean {
  if (typeof expected === 'number') return status === expected;
  if (Array.isArray(expected)) return expected.includes(status);
  const [low = 0, high = 0] = expected.split('-').map(Number);
  return status >= low && status <= high;
}

/** Follows a dotted path ("checks.db.status") into parsed JSON. */
function fieldAt(document: unknown, path: string): unknown {
  let current = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

async function resolveHeaders(headers: HttpTarget['headers'], secrets: SecretStore) {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') {
      resolved[name] = value;
      continue;
    }
    const secret = await secrets.getSecretString(value.secret);
    const field = value.key ? secretField(secret, value.key) : secret;
    if (field === undefined)
      throw new Error(`secret ${value.secret} has no "${value.key}" for header ${name}`);
    resolved[name] = `${value.prefix}${field}`;
  }
  return resolved;
}

/** Requests the URL and checks the status, and optionally a JSON field or a substring of the body. */
export const probeHttp: ProbeKindRunner<HttpTarget> = async (target, { signal, secrets }) => {
  let headers: Record<string, string>;
  try {
    headers = await resolveHeaders(target.headers, secrets);
  } catch (error) {
    return fail(`cannot build request headers: ${describeError(error)}`);
  }
  const url = new URL(target.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let response: { status: number; body: string };
  try {
    response = await new Promise((resolve, reject) => {
      const req = send(
        url,
        { method: target.method, headers, signal, ca: target.caPem },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_BODY_BYTES) chunks.push(chunk);
            size += chunk.length;
            if (size >= MAX_BODY_BYTES) res.destroy();
          });
          const finish = () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          res.once('end', finish);
          res.once('close', finish);
          res.once('error', reject);
        },
      );
      req.once('error', reject);
      req.end();
    });
  } catch (error) {
    return fail(`${target.method} ${target.url} failed: ${describeError(error)}`);
  }
  const observed = { status: response.status };
  if (!statusMatches(response.status, target.expectStatus)) {
    return fail(
      `${target.method} ${target.url} answered ${response.status}, expected ${target.expectStatus}`,
      observed,
    );
  }
  if (target.body && 'contains' in target.body && !response.body.includes(target.body.contains)) {
    return fail(`body of ${target.url} does not contain '${target.body.contains}'`, observed);
  }
  if (target.body && 'json' in target.body) {
    let document: unknown;
    try {
      document = JSON.parse(response.body);
    } catch {
      return fail(
        `body of ${target.url} is not JSON; expected ${target.body.json} == ${target.body.equals}`,
        observed,
      );
    }
    const actual = fieldAt(document, target.body.json);
    if (actual !== target.body.equals) {
      return fail(
        `${target.body.json} is ${JSON.stringify(actual)} at ${target.url}, expected ${JSON.stringify(target.body.equals)}`,
        observed,
      );
    }
  }
  return pass(`${target.method} ${target.url} answered ${response.status}`, observed);
};
