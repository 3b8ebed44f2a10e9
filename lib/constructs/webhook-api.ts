import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface WebhookApiProps {
  /** Handles `POST /alertmanager`. */
  readonly ingest: IFunction;
  /** Handles `GET /healthz`, the `/api/...` routes and the acknowledge links (`/ack/{token}`). */
  readonly api: IFunction;
  /** Steady-state requests per second across the stage. */
  readonly rateLimit: number;
  /** Burst capacity across the stage. */
  readonly burstLimit: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
}

/** The HTTP API in front of ingest and the incident API: throttled, access-logged, one route per operation. */
export class WebhookApi extends Construct {
  public readonly httpApi: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    if (props.rateLimit <= 0 || props.burstLimit <= 0) {
      throw new Error('rateLimit and burstLimit must be positive: API Gateway would reject every request');
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
    this.httpApi.addRoutes({ path: '/alertmanager', methods: [HttpMethod.POST], integration: ingest });
    this.httpApi.addRoutes({ path: '/healthz', methods: [HttpMethod.GET], integration: api });
    this.httpApi.addRoutes({ path: '/api/incidents', methods: [HttpMethod.GET], integration: api });
    this.httpApi.addRoutes({ path: '/api/incidents/{id}', methods: [HttpMethod.GET], integration: api });
    this.httpApi.addRoutes({
      path: '/api/automation',
      methods: [HttpMethod.GET, HttpMethod.PUT],
      integration: api,
    });
    this.httpApi.addRoutes({
      path: '/api/probes',
      methods: [HttpMethod.GET, HttpMethod.POST],
      integration: api,
    });
    // Acknowledging a page: by an operator with the API token, or from the signed link in the page
    // (GET shows a confirmation page, POST acknowledges; the function checks the HMAC in the path).
    this.httpApi.addRoutes({ path: '/api/incidents/{id}/ack', methods: [HttpMethod.POST], integration: api });
    this.httpApi.addRoutes({
      path: '/ack/{token}',
      methods: [HttpMethod.GET, HttpMethod.POST],
      integration: api,
    });
  }

  /** The URL Alertmanager's webhook_configs should post to. */
  get webhookUrl(): string {
    return `${this.stage.url.replace(/\/$/, '')}/alertmanager`;
  }
}
