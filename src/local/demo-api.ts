import { authenticate, type CredentialSource, UNAUTHORIZED_HEADERS } from '../http/auth.ts';
import { type HttpRequest, type HttpResponse, json, problem } from '../http/types.ts';
import type { DemoEnvironment, DemoSiteName } from './demo-environment.ts';

const SITE_PATH = /^\/api\/demo\/sites\/(primary|dr)$/;
const REBUILD_PATH = /^\/api\/demo\/databases\/(primary|dr)\/rebuild$/;

/** Local runtime only: `/api/demo/...` is the demo environment's, never a route of the deployed API. */
export const isDemoPath = (path: string) => path === '/api/demo' || path.startsWith('/api/demo/');

/**
 * The demo environment's controls, authenticated like the API: `GET /api/demo/sites` shows each demo
 * site's health, `POST /api/demo/sites/{primary|dr}` with `{"healthy": false}` makes its health
 * endpoints answer 503 (`responder demo fail primary`) and `{"healthy": true}` recovers it;
 * `POST /api/demo/databases/{primary|dr}/rebuild` makes that site's database a streaming standby of
 * the other's (`responder demo rebuild primary`, before failing back). Without the demo environment,
 * 404 as any unknown path.
 */
export async function handleDemoRequest(
  req: HttpRequest,
  deps: { readonly demo?: DemoEnvironment; readonly credentials: CredentialSource },
): Promise<HttpResponse> {
  const { demo } = deps;
  const rebuild = REBUILD_PATH.exec(req.path)?.[1] as DemoSiteName | undefined;
  const site = (SITE_PATH.exec(req.path)?.[1] ?? rebuild) as DemoSiteName | undefined;
  const known = req.path === '/api/demo/sites' || site !== undefined;
  if (!demo || !known) {
    return problem(
      404,
      `no route ${req.method.slice(0, 10)} ${req.path.slice(0, 200)}${demo ? '' : ' (the demo environment is off: local.demoEnvironment)'}`,
    );
  }
  const allowed = site ? 'POST' : 'GET';
  if (req.method === 'OPTIONS') return { statusCode: 204, headers: { allow: allowed }, body: '' };
  const auth = authenticate(req.headers.authorization, await deps.credentials.get());
  if (!auth.ok) return problem(401, 'unauthorized', undefined, UNAUTHORIZED_HEADERS);
  if (req.method !== allowed) return problem(405, 'method not allowed', undefined, { allow: allowed });
  if (!site) return json(200, { sites: demo.sites() });
  if (rebuild) {
    // What an operator does to the old primary before failing back: pg_basebackup -R from the other.
    if (!demo.rebuildStandby) return problem(409, 'the demo PostgreSQL pair is not running');
    try {
      return json(200, {
        database: rebuild,
        rebuilt: await demo.rebuildStandby(rebuild),
        by: auth.principal,
      });
    } catch (error) {
      return problem(
        409,
        `the ${rebuild} database was not rebuilt: ${(error as Error).message.slice(0, 300)}`,
      );
    }
  }
  if (req.bodyTooLarge) return problem(413, 'body too large');
  const media = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (media !== 'application/json') return problem(415, 'send the body as application/json');
  let healthy: unknown;
  try {
    healthy = (JSON.parse(req.body.toString('utf8')) as { healthy?: unknown } | null)?.healthy;
  } catch {
    return problem(400, 'invalid body', [
      'the body is not JSON: send {"healthy": false} or {"healthy": true}',
    ]);
  }
  if (typeof healthy !== 'boolean') {
    return problem(400, 'invalid body', ['healthy: send {"healthy": false} or {"healthy": true}']);
  }
  demo.setSiteHealthy(site, healthy);
  return json(200, { site, ...demo.sites()[site], by: auth.principal });
}
