import { createActionHandler } from '../../src/aws/action-handler.ts';
import { bundledConfig } from '../../src/config/bundled.ts';
import { createProbeAction } from './run-probes.ts';

// Backup freshness targets read the catalog; without them the function is granted no catalog read.
const readsBackups = bundledConfig().probes.targets.some((target) => target.kind === 'backup');

export const handler = await createActionHandler('probe', createProbeAction, { backupCatalog: readsBackups });
