import 'vitest';
import type { CustomMatcher } from 'aws-sdk-client-mock-vitest';

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: mirrors vitest's own Assertion<T = any>
  interface Assertion<T = any> extends CustomMatcher<T> {}
  interface AsymmetricMatchersContaining extends CustomMatcher {}
}
