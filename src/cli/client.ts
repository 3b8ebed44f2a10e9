import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { parseArgs } from 'node:util';

/** One `responder <command>`: its help, its options and what it runs. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly help: string;
  readonly options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

export class UsageError extends Error {}

export const connectionHelp = `Connection: RESPONDER_URL (default http://127.0.0.1:$PORT, PORT default 9095) and
RESPONDER_WEBHOOK_TOKEN (default: the token the local runtime keeps in $RESPONDER_DATA_DIR/webhook-token).`;

export function dataDir() {
  return resolve(process.env.RESPONDER_DATA_DIR ?? '.responder');
}

export function connection() {
  const url = (process.env.RESPONDER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 9095}`).replace(
    /\/$/,
    '',
  );
  let token = process.env.RESPONDER_WEBHOOK_TOKEN;
  const tokenFile = join(dataDir(), 'webhook-token');
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) {
    throw new Error(
      `no token: set RESPONDER_WEBHOOK_TOKEN or start the local runtime (it writes ${tokenFile})`,
    );
  }
  return { url, token };
}

export async function call(method: string, path: string, body?: string) {
  const { url, token } = connection();
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'user-agent': 'responder-cli',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
  } catch (error) {
    throw new Error(
      `cannot reach the responder at ${url} (${(error as Error).cause ?? (error as Error).message}); is it running? (npm start)`,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}
