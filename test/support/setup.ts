// The lockfile pins SDK releases that support Node 20; keep their future-version notice out of test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
