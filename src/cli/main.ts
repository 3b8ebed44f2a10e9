import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.ts';
import { ConfigError } from '../config/schema.ts';
import { consoleLog } from '../local/console-log.ts';
import { printable, printableJson } from '../local/terminal-text.ts';
import { backupCommands } from './backup-commands.ts';
import { type Command, call, connectionHelp, UsageError } from './client.ts';
import { drillCommand, failoverCommand } from './failover-command.ts';
import { formatProbeTable } from './probe-table.ts';

const commands: Record<string, Command> = {
  dev: {
    summary: 'run the responder locally (what `npm start` runs)',
    usage: 'responder dev [--config FILE] [--port N]',
    help: `Starts the HTTP API on 127.0.0.1, embedded dynalite and s3rver (data in $RESPONDER_DATA_DIR,
default .responder/), in-process dispatch and the schedules on timers. Ctrl-C stops it; incidents survive a restart.
With a failover section, a DNS listener answers for its zone on 127.0.0.1:local.dnsPort (15353).
Environment: PORT (9095), RESPONDER_DATA_DIR, RESPONDER_WEBHOOK_TOKEN, RESPONDER_CONFIG, RESPONDER_LOG_LEVEL,
RESPONDER_DNS_PORT (overrides local.dnsPort; 0 picks a free port).`,
    options: { config: { type: 'string' }, port: { type: 'string' } },
    async run(values) {
      // What the embedded servers write deep in the data folder (LevelDB tables, S3 objects) is owner-only too.
      process.umask(0o077);
      const config = await loadConfigFile(values.config as string | undefined);
      const log = consoleLog();
      // Loaded here, not at the top: every other command is a small HTTP client, and loading dynalite,
      // s3rver and the handlers for each of them cost a second a call.
      const dnsPort = process.env.RESPONDER_DNS_PORT;
      if (dnsPort !== undefined && !/^\d{1,5}$/.test(dnsPort)) {
        throw new UsageError(`RESPONDER_DNS_PORT: use a port between 0 and 65535, got '${dnsPort}'`);
      }
      const { startLocalRuntime } = await import('../local/runtime.ts');
      const runtime = await startLocalRuntime({
        config,
        log,
        port: values.port ? Number(values.port) : undefined,
        dnsPort: dnsPort === undefined ? undefined : Number(dnsPort),
      });
      const example = 'npx responder send events/firing.json';
      console.log(`Responder is running (service ${config.service}).
  Webhook URL : ${runtime.webhookUrl}
  API         : ${runtime.url}/api/incidents   health: ${runtime.url}/healthz
  Token       : ${runtime.token}   (Bearer, or basic auth as '${runtime.username}')
  Data        : ${runtime.dataDir}
  Pages       : console and ${runtime.dataDir}/outbox.jsonl${config.local.pagerWebhookUrl ? ` and ${config.local.pagerWebhookUrl}` : ''}${config.local.escalationDelayScale < 1 ? ` (delays x${config.local.escalationDelayScale})` : ''}
  Automation  : ${config.safety.automationEnabled ? 'enabled' : 'DISABLED by config'}${config.safety.dryRun ? ', dry run' : ''}${
    runtime.dns && config.failover
      ? `\n  DNS         : ${runtime.dns.address} answers for ${config.failover.zoneName} (dig @${runtime.dns.host} -p ${runtime.dns.port} ${config.failover.record.name})`
      : ''
  }
Try: ${example}    then: npx responder incidents
Press Ctrl-C to stop.`);
      if (config.probes.targets.length > 0) {
        const report = await runtime.probeNow();
        if (report)
          console.log(
            `\nFirst probe run (then ${config.probes.schedule}):\n${formatProbeTable(report.results)}\n`,
          );
      }
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          console.log('\nStopping: requests in flight finish first...');
          runtime.stop().then(done, (error: Error) => {
            console.error(`stop failed: ${error.message}`);
            done();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      console.log('Stopped.');
      return 0;
    },
  },
  send: {
    summary: 'post a sample Alertmanager payload to a running responder',
    usage: 'responder send <event.json>',
    help: `Posts the file as Alertmanager would (POST /alertmanager, Bearer token) and prints the answer:
202 accepted, 200 duplicate (the same delivery again), 4xx for a bad payload. ${connectionHelp}`,
    options: {},
    async run(_values, positionals) {
      const file = positionals[0];
      if (!file) throw new UsageError('name the event file, e.g. responder send events/firing.json');
      const body = await readFile(file, 'utf8');
      const result = await call('POST', '/alertmanager', body);
      console.log(`${result.status} ${printableJson(result.body, 2)}`);
      return result.status < 300 ? 0 : 1;
    },
  },
  incidents: {
    summary: 'list incidents from a running responder',
    usage: 'responder incidents [--status open|resolved] [--limit N] [--json]',
    help: `Lists incidents, newest first. --json prints the API's JSON. ${connectionHelp}`,
    options: { json: { type: 'boolean' }, status: { type: 'string' }, limit: { type: 'string' } },
    async run(values) {
      const query = new URLSearchParams();
      if (values.status) query.set('status', String(values.status));
      if (values.limit) query.set('limit', String(values.limit));
      const result = await call('GET', `/api/incidents${query.size ? `?${query}` : ''}`);
      if (result.status !== 200) {
        console.error(`${result.status} ${printableJson(result.body)}`);
        return 1;
      }
      const { incidents } = result.body as {
        incidents: Array<{
          id: string;
          status: string;
          severity: string;
          title: string;
          openedAt: string;
          alerts: { firing: number };
        }>;
      };
      if (values.json) {
        console.log(printableJson(incidents, 2));
        return 0;
      }
      if (incidents.length === 0) {
        console.log('No incidents.');
        return 0;
      }
      console.log(
        ['ID'.padEnd(18), 'STATUS'.padEnd(9), 'SEV', 'FIRING', 'OPENED'.padEnd(20), 'TITLE'].join(' '),
      );
      for (const incident of incidents) {
        console.log(
          [
            printable(incident.id).padEnd(18),
            printable(incident.status).padEnd(9),
            printable(incident.severity).padEnd(3),
            printable(incident.alerts?.firing).padEnd(6),
            printable(String(incident.openedAt).slice(0, 19)).padEnd(20),
            printable(incident.title),
          ].join(' '),
        );
      }
      return 0;
    },
  },
  probe: {
    summary: 'probe the configured targets now and print their health',
    usage: 'responder probe [--target NAME ...] [--json]',
    help: `Runs the probes of responder.config.ts now (all targets, or each --target), through the running
responder so results count toward each target's health (thresholds, incidents, pages) like a scheduled run.
Prints a table, or with --json an array of results. Exits 1 when any probed target failed or is unhealthy.
${connectionHelp}`,
    options: { target: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    async run(values) {
      const targets = values.target as string[] | undefined;
      const result = await call('POST', '/api/probes', JSON.stringify(targets ? { targets } : {}));
      if (result.status !== 200) {
        console.error(`${result.status} ${printableJson(result.body)}`);
        return 1;
      }
      const report = result.body as {
        results: Array<{
          target: string;
          kind: string;
          ok: boolean;
          healthy: boolean;
          latencyMs: number;
          detail: string;
        }>;
      };
      console.log(values.json ? printableJson(report.results, 2) : formatProbeTable(report.results));
      return report.results.every((r) => r.ok && r.healthy) ? 0 : 1;
    },
  },
  ack: {
    summary: 'acknowledge an incident: stop paging further tiers',
    usage: 'responder ack <incident-id> [--by NAME] [--json]',
    help: `Acknowledges the incident (POST /api/incidents/{id}/ack): no further tier is paged, and the tiers
already paged are told who acknowledged. --by names you (default: $USER, else your login name).
Exits 1 when the incident is unknown or already resolved. ${connectionHelp}`,
    options: { by: { type: 'string' }, json: { type: 'boolean' } },
    async run(values, positionals) {
      const id = positionals[0];
      if (!id) throw new UsageError('name the incident, e.g. responder ack 20261123-0a1b2c3d');
      const by =
        (values.by as string | undefined) || process.env.USER || process.env.USERNAME || userInfo().username;
      const result = await call(
        'POST',
        `/api/incidents/${encodeURIComponent(id)}/ack`,
        JSON.stringify(by ? { by } : {}),
      );
      if (values.json || result.status !== 200) {
        const out = `${result.status === 200 ? '' : `${result.status} `}${printableJson(result.body, 2)}`;
        (result.status === 200 ? console.log : console.error)(out);
        return result.status === 200 ? 0 : 1;
      }
      const body = result.body as {
        outcome: string;
        acknowledged: { by: string; at: string };
        escalation: { sent: Array<{ event: string; tier: string; topic: string }> } | null;
      };
      const paged = [
        ...new Set(
          (body.escalation?.sent ?? []).filter((s) => s.event === 'page').map((s) => printable(s.tier)),
        ),
      ];
      const who = printable(body.acknowledged.by);
      console.log(
        body.outcome === 'already-acknowledged'
          ? `${printable(id)} was already acknowledged by ${who} at ${printable(body.acknowledged.at)}.`
          : `${printable(id)} acknowledged by ${who}. No further tiers will be paged${paged.length ? `; telling ${paged.join(', ')}` : ''}.`,
      );
      return 0;
    },
  },
  ...backupCommands,
  failover: failoverCommand,
  drill: drillCommand,
  demo: {
    summary: "make the demo environment's primary (or DR) site fail, or recover",
    usage: 'responder demo [fail|recover|rebuild primary|dr]',
    help: `Local runtime with local.demoEnvironment only. 'fail primary' makes the demo primary site's health
endpoints answer 503, so its probes turn it unhealthy (and a failover can be asked for); 'recover primary'
makes them answer 200 again. 'rebuild primary' makes the demo primary database a streaming standby of
the DR database (pg_basebackup -R), what an operator does before failing back after a failover.
Without arguments, shows both sites. ${connectionHelp}`,
    options: { json: { type: 'boolean' } },
    async run(values, positionals) {
      const [verb, site] = positionals;
      if (verb !== undefined && verb !== 'fail' && verb !== 'recover' && verb !== 'rebuild') {
        throw new UsageError(`expected 'fail', 'recover' or 'rebuild', got '${verb}'`);
      }
      if (verb && site !== 'primary' && site !== 'dr') {
        throw new UsageError(`name the site: responder demo ${verb} primary (or dr)`);
      }
      if (verb === 'rebuild') {
        const rebuilt = await call('POST', `/api/demo/databases/${site}/rebuild`, '{}');
        if (rebuilt.status !== 200) {
          console.error(`${rebuilt.status} ${printableJson(rebuilt.body)}`);
          return 1;
        }
        console.log(printable(`${site} database rebuilt: ${(rebuilt.body as { rebuilt: string }).rebuilt}`));
        return 0;
      }
      const result = verb
        ? await call('POST', `/api/demo/sites/${site}`, JSON.stringify({ healthy: verb === 'recover' }))
        : await call('GET', '/api/demo/sites');
      if (result.status !== 200 || values.json) {
        (result.status === 200 ? console.log : console.error)(
          `${result.status === 200 ? '' : `${result.status} `}${printableJson(result.body, 2)}`,
        );
        return result.status === 200 ? 0 : 1;
      }
      const describe = (name: string, view: { healthy: boolean; url?: string }) =>
        `${name.padEnd(7)} ${view.healthy ? 'healthy: its health endpoints answer 200' : 'FAILED: its health endpoints answer 503'}${view.url ? ` (${printable(view.url)})` : ''}`;
      if (verb) {
        const body = result.body as { site: string; healthy: boolean; url?: string };
        console.log(describe(printable(body.site), body));
        console.log(
          verb === 'fail'
            ? 'Its probes turn it unhealthy after their failure threshold: watch with responder probe.'
            : 'Its probes turn it healthy again after their recovery threshold.',
        );
        return 0;
      }
      const { sites } = result.body as { sites: Record<string, { healthy: boolean; url?: string }> };
      for (const [name, view] of Object.entries(sites)) console.log(describe(printable(name), view));
      return 0;
    },
  },
  automation: {
    summary: 'show or flip the runtime kill switch',
    usage: 'responder automation [on|off --reason TEXT]',
    help: `Without an argument, shows whether remediation (backup, rotate, failover) runs. 'off' turns every
remediation into a recorded "skipped: automation disabled" until 'on'. ${connectionHelp}`,
    options: { reason: { type: 'string' } },
    async run(values, positionals) {
      const wanted = positionals[0];
      if (wanted !== undefined && wanted !== 'on' && wanted !== 'off') {
        throw new UsageError(`expected 'on' or 'off', got '${wanted}'`);
      }
      if (wanted && !values.reason)
        throw new UsageError('say why with --reason "...": it goes into the audit trail');
      const result = wanted
        ? await call(
            'PUT',
            '/api/automation',
            JSON.stringify({ enabled: wanted === 'on', reason: values.reason }),
          )
        : await call('GET', '/api/automation');
      console.log(`${result.status} ${printableJson(result.body, 2)}`);
      return result.status === 200 ? 0 : 1;
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return `Responder: Alertmanager webhooks and schedules in, probes, backups, rotations, failover and pages out.

Usage: responder <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
  .join('\n')}

Run 'responder <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (parsed.values.help) {
      console.log(`Usage: ${command.usage}\n\n${command.help}`);
      return 0;
    }
    return await command.run(parsed.values, parsed.positionals);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\nUsage: ${command.usage}`);
      return 2;
    }
    console.error(`responder ${name}: ${(error as Error).message}`);
    return 1;
  }
}
