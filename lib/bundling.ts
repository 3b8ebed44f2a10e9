import type { BuildOptions } from 'esbuild';
import type { ResponderConfig } from '../src/config/schema.ts';

/** Node.js version the functions are bundled for; the Lambda runtime is this or newer. */
export const LAMBDA_NODE_TARGET = 'node22';

/**
 * ESM bundles need `require` for the few CommonJS dependencies that call it at run time
 * (the AWS SDK's and Powertools' transitive packages).
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __responderCreateRequire } from 'node:module'; const require = __responderCreateRequire(import.meta.url);";

/** Optional native add-ons that are never present in Lambda. */
export const EXTERNAL_MODULES = ['pg-native'];

/**
 * Bakes the validated config into the bundle (see src/config/bundled.ts): only references to secrets
 * live in it, and it sidesteps Lambda's 4 KB environment limit.
 */
export function configDefine(config: ResponderConfig): Record<string, string> {
  return { __RESPONDER_CONFIG__: JSON.stringify(JSON.stringify(config)) };
}

/** The same options as the CDK's NodejsFunction bundling, for the benchmark's direct esbuild runs. */
export function esbuildOptions(entry: string, config: ResponderConfig): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: LAMBDA_NODE_TARGET,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    external: EXTERNAL_MODULES,
    define: configDefine(config),
    logLevel: 'silent',
  };
}

export const FUNCTION_NAMES = [
  'ingest',
  'api',
  'probe',
  'backup',
  'rotate',
  'failover',
  'escalate',
  // The DR region's switch endpoint that Route 53's health check reads (failover `switch` mode).
  'failover-switch',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
