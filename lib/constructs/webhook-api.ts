import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The route Alertmanager posts to. */
export const WEBHOOK_ROUTE = 'POST /alertmanager';

export interface WebhookApiProps {
  /** Handles `POST /alertmanager`. */
  readonly ingest: IFunction;
  /** Handles `GET /healthz`, the `/api/...` routes and the acknowledge links (`/ack/{token}`). */
  readonly api: IFunction;
  /** Steady-state requests per second of each route but the webhook (the stage's default). */
  readonly rateLimit: number;
  /** Burst capacity of each route but the webhook (the stage's default). */
  readonly burstLimit: number;
  /**
   * Throttling of `POST /alertmanager` alone (a route setting of the stage), so Alertmanager's
   * deliveries and the other routes cannot use up each other's allowance.
   * @default - the stage's rateLimit and burstLimit
   */
  readonly webhookThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
}

/** The HTTP API in front of ingest and the incident API: throttled, access-logged, one route per operation. */
export class WebhookApi extends Construct {
  public readonly httpApi: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;
  /** Each route by its route key, e.g. `POST /alertmanager`. */
  public readonly routes: Readonly<Record<string, HttpRoute>>;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    if (props.rateLimit <= 0 || props.burstLimit <= 0) {
      throw new Error('rateLimit and burstLimit must be positive: API Gateway would reject every request');
    }
    if (
      props.webhookThrottle &&
      (props.webhookThrottle.rateLimit <= 0 || props.webhookThrottle.burstLimit <= 0)
    ) {
      throw new Error(
        'webhookThrottle rateLimit and burstLimit must be positive: API Gateway would reject every delivery',
      );
    }
    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Responder: Alertmanager webhook and incident API',
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A sibling HttpStage rather than httpApi.addStage(): in aws-cdk-lib 2.276 addStage() makes the
    // API's resource appear twice in the template ("section 'Resources' already contains ...").
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            sourceIp: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const ingest = new HttpLambdaIntegration('Ingest', props.ingest);
    const api = new HttpLambdaIntegration('IncidentApi', props.api);
    const routes: Record<string, HttpRoute> = {};
    const add = (path: string, methods: HttpMethod[], integration: HttpLambdaIntegration) => {
      // addRoutes answers one route per method, in the order given.
      this.httpApi.addRoutes({ path, methods, integration }).forEach((route, index) => {
        routes[`${methods[index]} ${path}`] = route;
      });
    };
    add('/alertmanager', [HttpMethod.POST], ingest);
    add('/healthz', [HttpMethod.GET], api);
    add('/api/incidents', [HttpMethod.GET], api);
    add('/api/incidents/{id}', [HttpMethod.GET], api);
    add('/api/automation', [HttpMethod.GET, HttpMethod.PUT], api);
    add('/api/probes', [HttpMethod.GET, HttpMethod.POST], api);
    // Acknowledging a page: by an operator with the API token, or from the signed link in the page
    // (GET shows a confirmation page, POST acknowledges; the function checks the HMAC in the path).
    add('/api/incidents/{id}/ack', [HttpMethod.POST], api);
    add('/ack/{token}', [HttpMethod.GET, HttpMethod.POST], api);
    // Every other method on these paths reaches the API function too, so clients get what the local
    // runtime answers (405 with Allow, HEAD /healthz, OPTIONS with Allow) rather than API Gateway's
    // bare 404; a route for a named method always wins over ANY.
    add('/alertmanager', [HttpMethod.ANY], api);
    add('/healthz', [HttpMethod.ANY], api);
    add('/api/{proxy+}', [HttpMethod.ANY], api);
    this.routes = routes;

    if (props.webhookThrottle) {
      // HttpStage has no per-route settings; the stage resource takes them by route key, as raw
      // CloudFormation JSON (hence the capitalised names).
      (this.stage.node.defaultChild as CfnStage).routeSettings = {
        [WEBHOOK_ROUTE]: {
          ThrottlingRateLimit: props.webhookThrottle.rateLimit,
          ThrottlingBurstLimit: props.webhookThrottle.burstLimit,
        },
      };
      // API Gateway refuses route settings for a route that does not exist yet.
      const webhookRoute = routes[WEBHOOK_ROUTE];
      if (webhookRoute) this.stage.node.addDependency(webhookRoute);
    }
  }

  /** The URL Alertmanager's webhook_configs should post to. */
  get webhookUrl(): string {
    return `${this.stage.url.replace(/\/$/, '')}/alertmanager`;
  }
}
