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

export function problem(
  statusCode: number,
  error: string,
  details?: unknown,
  headers?: Record<string, string>,
) {
  return json(statusCode, details === undefined ? { error } : { error, details }, headers);
}
