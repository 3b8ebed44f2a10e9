import { allCustomMatcherWithAliases } from 'aws-sdk-client-mock-vitest';
import { expect } from 'vitest';

// The lockfile pins SDK releases that support Node 20; keep their future-version notice out of test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// expect(client).toHaveReceivedCommandWith(Command, {...}) for the clients checked with aws-sdk-client-mock.
expect.extend(allCustomMatcherWithAliases);
