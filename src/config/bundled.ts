import type { ResponderConfig } from './schema.ts';

// Replaced at bundle time by esbuild's `define` with the config the stack was synthesized from, so a
// function never depends on a 4 KB environment or a network call to learn its routes.
declare const __RESPONDER_CONFIG__: string | undefined;

/** Each top-level field of the config and what JSON gives back for it (arrays are objects). */
const CONFIG_FIELDS: Record<keyof ResponderConfig, 'string' | 'number' | 'object' | 'optional-object'> = {
  service: 'string',
  aws: 'object',
  webhook: 'object',
  api: 'object',
  lambda: 'object',
  severity: 'object',
  routes: 'object',
  probes: 'object',
  backups: 'object',
  secrets: 'object',
  // Optional: without it failover is off.
  failover: 'optional-object',
  escalation: 'object',
  floodLimits: 'object',
  safety: 'object',
  local: 'object',
  logRetentionDays: 'number',
  auditRetentionDays: 'number',
};

/**
 * The config baked into this Lambda bundle. `configDefine` (lib/bundling.ts) bakes in the config the
 * schema produced when the stack was synthesized, defaults filled in, so cold start does not load and
 * run the whole schema again: it checks that a config of that shape is there, and fails init loudly if
 * not (a bundle built without the CDK app or from another version of the config).
 */
export function bundledConfig(): ResponderConfig {
  if (typeof __RESPONDER_CONFIG__ !== 'string') {
    throw new Error('no bundled config: build this function with the CDK app (lib/bundling.ts configDefine)');
  }
  const config = JSON.parse(__RESPONDER_CONFIG__) as Record<string, unknown> | null;
  const wrong = Object.entries(CONFIG_FIELDS)
    .filter(([field, type]) =>
      type === 'optional-object'
        ? config?.[field] !== undefined && typeof config?.[field] !== 'object'
        : typeof config?.[field] !== type,
    )
    .map(([field]) => field);
  if (wrong.length > 0) {
    throw new Error(
      `the config bundled into this function is not a validated Responder config (check ${wrong.join(', ')}): rebuild it with the CDK app`,
    );
  }
  return config as unknown as ResponderConfig;
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set; the CDK stack sets it, so redeploy`);
  return value;
}
