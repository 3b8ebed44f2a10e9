/** The transport-neutral request and response that both API Gateway and the local server translate to. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly pathParams?: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** Set by a transport that stopped reading a body past the configured limit. */
  readonly bodyTooLarge?: boolean;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * The 503 for a dependency that is down: Alertmanager retries it. Names the kind of dependency only
 * (the caller may not be authenticated yet), never an id or ARN.
 */
export function unavailable(error: { readonly dependency: string }): HttpResponse {
  return problem(503, `${error.dependency} is unavailable; retry later`, undefined, { 'retry-after': '5' });
}

export function problem(
  statusCode: number,
  error: string,
  details?: unknown,
  headers?: Record<string, string>,
) {
  return json(statusCode, details === undefined ? { error } : { error, details }, headers);
}
