import * as z from 'zod';
import { parseMatcher } from '../domain/matchers.ts';

import { SEVERITIES, type Severity } from '../domain/severity.ts';

export { SEVERITIES, type Severity };

/** A label matcher in Alertmanager's syntax; the error says how to write one. */
export const matcherString = z.string().superRefine((value, ctx) => {
  try {
    parseMatcher(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** An EventBridge Scheduler expression; the local runtime runs the same ones on timers. */
export const scheduleExpression = z
  .string()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$/,
    'use an EventBridge Scheduler expression such as "rate(5 minutes)" or "cron(0 3 * * ? *)"',
  );

/** A Secrets Manager secret by name or ARN: config files hold references, never values. */
export const secretRef = z
  .string()
  .min(1)
  .regex(
    /^(arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$/,
    'reference the secret by its Secrets Manager name or ARN; never put the secret value itself here',
  );

/** Where a function runs inside a VPC, to reach private databases. */
export const vpcPlacement = z.strictObject({
  vpcId: z.string().regex(/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/, 'use a VPC id such as vpc-0123abcd'),
  availabilityZones: z.array(z.string()).min(1),
  privateSubnetIds: z
    .array(z.string().regex(/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, 'use subnet ids such as subnet-0123abcd'))
    .min(1),
  securityGroupIds: z
    .array(z.string().regex(/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/, 'use security group ids such as sg-0123abcd'))
    .min(1),
});

export type VpcPlacement = z.output<typeof vpcPlacement>;

/** One issue per name seen before in the list, at that entry's path, with `message` about it. */
export function flagRepeats(
  names: readonly string[],
  pathOf: (index: number) => PropertyKey[],
  message: (name: string) => string,
  ctx: z.RefinementCtx,
) {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (seen.has(name)) ctx.addIssue({ code: 'custom', path: pathOf(index), message: message(name) });
    seen.add(name);
  });
}
