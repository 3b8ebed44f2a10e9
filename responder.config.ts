import { defineConfig } from './src/config/schema.ts';

/**
 * Responder's configuration: read by the CDK app at synth time (and baked into each function's bundle)
 * and by the local runtime (`npm start`). Every field is documented in the README's "Configuration"
 * section; secrets are referenced by Secrets Manager name, never written here.
 */
export default defineConfig({
  service: 'payments-api',
  aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },

  webhook: {
    // Omit credentialSecret to let the stack create one ({"token", "username"}); its name is a stack output.
    basicAuthUsername: 'alertmanager',
    maxBodyBytes: 1024 * 1024,
    dedupeTtlSeconds: 24 * 3600,
  },

  api: { throttle: { rateLimit: 50, burstLimit: 100 } },

  // severity=critical -> P1 ... info -> P4; a `priority="P2"` label wins over `severity`.
  severity: { labels: ['priority', 'severity'], default: 'P3' },

  // Ordered like Alertmanager's routing tree: the first matching route takes an alert unless `continue`.
  routes: [
    {
      name: 'primary-site-down',
      matchers: ['alertname="PrimarySiteDown"', 'severity="critical"'],
      // An alert never moves DNS by itself: failover.policy.alert is "approve", so this opens a P1
      // page with the gate results and the command that approves it (every gate runs again then).
      actions: [{ kind: 'failover', params: { to: 'dr' } }],
    },
    {
      name: 'database-trouble',
      matchers: ['alertname=~"Postgres.*"'],
      actions: [{ kind: 'probe', params: { targets: ['database'] } }],
    },
    {
      name: 'secret-exposed',
      matchers: ['category="security"', 'alertname="SecretExposed"'],
      actions: [{ kind: 'rotate', params: { secret: 'payments/jwt-signing-key' } }],
    },
    {
      name: 'backup-missing',
      matchers: ['alertname="BackupMissing"'],
      actions: [{ kind: 'backup', params: { database: 'payments' } }],
    },
  ],

  // The runbooks' five-minute checks. These point at the demo environment `npm start` brings up
  // (local.demoEnvironment); replace them with your endpoints.
  probes: {
    schedule: 'rate(5 minutes)',
    targets: [
      {
        name: 'api-health',
        kind: 'http',
        url: 'http://127.0.0.1:18081/api/v1/health',
        body: { json: 'status', equals: 'ok' },
        severity: 'P1',
        labels: { service: 'payments-api' },
      },
      { name: 'api-readiness', kind: 'http', url: 'http://127.0.0.1:18081/api/v1/readiness', severity: 'P2' },
      { name: 'dr-site-health', kind: 'http', url: 'http://127.0.0.1:18082/api/v1/health', severity: 'P3' },
      {
        name: 'database',
        kind: 'postgres',
        host: '127.0.0.1',
        port: 15432,
        secret: 'responder/demo-db',
        thresholds: { maxConnections: 80, longRunningQuerySeconds: 300, maxLongRunningQueries: 5 },
        severity: 'P1',
        labels: { service: 'payments-api', category: 'database' },
      },
      {
        // The application's own login, whose password rotates (secrets.rotations): it keeps logging in.
        name: 'payments-app-login',
        kind: 'postgres',
        host: '127.0.0.1',
        port: 15432,
        database: 'payments',
        secret: 'responder/demo-app-db',
        severity: 'P2',
        labels: { service: 'payments-api', category: 'database' },
      },
      { name: 'localhost-dns', kind: 'dns', hostname: 'localhost', expect: '127.0.0.1', severity: 'P4' },
      // The failover record, asked of the zone's name server (locally: the DNS listener on local.dnsPort),
      // never of a cache: after `responder demo fail primary` and a failover it answers the DR site.
      {
        name: 'api-dns',
        kind: 'dns',
        hostname: 'api.payments.test',
        server: '127.0.0.1:15353',
        severity: 'P3',
      },
      // Pages when the newest verified backup is older than a day and two hours: a stopped schedule.
      { name: 'payments-backup', kind: 'backup', database: 'payments', maxAgeHours: 26, severity: 'P2' },
    ],
  },
  // The runbooks' nightly pg_dump, streamed to S3 and proven restorable before it counts. `npm start`
  // backs up the demo's payments database into the embedded S3; `responder backup payments` runs one now.
  backups: {
    schedule: 'cron(0 3 * * ? *)',
    retention: { days: 30, keepLast: 3 },
    databases: [
      {
        name: 'payments',
        // RDS format: {engine, host, port, username, password, dbname}.
        secret: 'responder/demo-db',
        // Restore every backup into a scratch database and compare row counts.
        verify: 'restore',
        scratch: { database: 'payments_verify' },
      },
    ],
  },
  // Secret rotation through Secrets Manager's four steps, on a schedule and on demand (`responder rotate
  // <secret>`). The SecretExposed route above rotates the JWT signing key at once; its consumers accept
  // AWSPREVIOUS for graceMinutes (tokens signed before stay valid). The demo's application login changes
  // its own password (a SCRAM verifier is sent, never the password); the probe above keeps logging in.
  secrets: {
    rotations: [
      {
        secret: 'payments/jwt-signing-key',
        strategy: 'generated',
        field: 'key',
        bytes: 32,
        schedule: 'rate(30 days)',
        graceMinutes: 60,
      },
      { secret: 'responder/demo-app-db', strategy: 'postgres-single-user', schedule: 'rate(30 days)' },
    ],
  },
  // Paging. Every incident from an alert pages its severity's first tier; unacknowledged, the next
  // tier follows. The policy left out here is the runbook matrix: P1 On-Call → Team Lead → CTO
  // (15 minutes each), P2 On-Call → Team Lead (1 hour), P3 On-Call (4 hours), P4 On-Call (next
  // business day); category="security" also pages `security`, category="database" pages `dba`.
  escalation: {
    sweepSchedule: 'rate(1 minute)',
    topics: {
      // One SNS topic each. Subscribers confirm by email/HTTPS; `filter` keeps P3/P4 off phones.
      'on-call': {
        subscriptions: [
          // { protocol: 'email', endpoint: 'oncall@example.com' },
          // { protocol: 'sms', endpoint: '+14155550100', filter: { severity: ['P1', 'P2'] } },
          // { protocol: 'https', endpoint: 'https://chat.example.com/hooks/responder' },
        ],
      },
      'team-lead': { subscriptions: [] },
      cto: { subscriptions: [] },
      security: { subscriptions: [] },
      dba: { subscriptions: [] },
    },
    ackLinkTtlHours: 24,
  },

  // DNS failover to the DR site. The demo zone payments.test is served locally by the DNS listener
  // (`dig @127.0.0.1 -p 15353 api.payments.test`): 127.0.0.1 is the primary site, 127.0.0.2 the DR site
  // (Linux routes all of 127/8 to loopback; the demo DR site also listens on 127.0.0.2:18081). Try it:
  // `npx responder demo fail primary`, then `npx responder probe`. Replace the zone, record and values
  // with yours before deploying.
  failover: {
    mode: 'switch',
    hostedZoneId: 'Z0DEMOPAYMENTSTEST',
    zoneName: 'payments.test',
    record: { name: 'api.payments.test', type: 'A', ttl: 10 },
    // The probe targets that must fail to call the primary down, and pass to call the DR site ready.
    primary: { record: { values: ['127.0.0.1'] }, targets: ['api-health', 'api-readiness'] },
    dr: { record: { values: ['127.0.0.2'] }, targets: ['dr-site-health'] },
    // An alert asks a human (an approve link is paged); an operator's command runs at once.
    policy: { alert: 'approve', operator: 'auto' },
    // Before DNS moves: fence the old primary (read-only, its sessions ended), check the DR standby's
    // replay lag, promote it. The demo's DR database is a streaming standby of its PostgreSQL on 15433.
    database: {
      engine: 'postgres-standby',
      primarySecret: 'responder/demo-db',
      drSecret: 'responder/demo-dr-db',
      maxLagSeconds: 30,
      promoteTimeoutSeconds: 60,
    },
    // `responder drill failover --and-back` rehearses it all with marker rows; "production" refuses it.
    drill: { environment: 'demo' },
  },

  safety: { automationEnabled: true, dryRun: false },
  // escalationDelayScale: 0.01 turns P1's 15-minute tiers into 9 seconds to try paging out locally.
  // dnsPort: the local DNS listener for failover.zoneName (0 picks a free port).
  local: { demoEnvironment: true, escalationDelayScale: 1, dnsPort: 15353 },
  logRetentionDays: 30,
  auditRetentionDays: 400,
});
