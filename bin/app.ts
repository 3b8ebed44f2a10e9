#!/usr/bin/env node
// The CDK app (cdk.json runs it with tsx): synthesizes both stacks from responder.config.ts, offline.
import { buildApp } from '../lib/app.ts';
import { loadConfigFile } from '../src/config/load.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const config = await loadConfigFile();
buildApp(config);
