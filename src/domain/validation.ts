import { en } from 'zod/locales';
import * as z from 'zod/mini';

/*
 * What the Lambda functions validate while they run (webhook payloads, action requests, API bodies)
 * is written with zod/mini: the same checks and messages as zod's classic API at about half its
 * cold-start cost, as the checks are functions esbuild can drop when unused rather than methods on
 * every schema. Classic zod (the config schema) registers its English messages itself; zod/mini
 * leaves the choice to its user, so a module with zod/mini schemas imports this one.
 */
z.config(en());
