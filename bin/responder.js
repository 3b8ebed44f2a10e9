#!/usr/bin/env node
// The `responder` command. tsx lets it run the TypeScript sources and load responder.config.ts directly.
import { register } from 'tsx/esm/api';

// The lockfile pins SDK releases that support Node 20; the deployed functions run on Node 22+.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
