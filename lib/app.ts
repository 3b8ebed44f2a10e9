import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ResponderConfig } from '../src/config/schema.ts';
import { ResponderDrStack } from './responder-dr-stack.ts';
import { ResponderStack } from './responder-stack.ts';

export interface ResponderApp {
  readonly app: App;
  readonly primary: ResponderStack;
  readonly dr: ResponderDrStack;
}

/** Builds the primary- and DR-region stacks from a validated config, with cdk-nag's AwsSolutions checks. */
export function buildApp(config: ResponderConfig, app = new App(), version = '0.1.0'): ResponderApp {
  const account = config.aws.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const primary = new ResponderStack(app, `Responder-${config.service}`, {
    config,
    version,
    env: { account, region: config.aws.region },
    description: `Responder incident automation for ${config.service} (primary region)`,
  });
  const dr = new ResponderDrStack(app, `Responder-${config.service}-dr`, {
    config,
    env: { account, region: config.aws.drRegion },
    description: `Responder incident automation for ${config.service} (DR region: failover)`,
  });
  Tags.of(app).add('responder:service', config.service);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, primary, dr };
}
