// The checks-off baseline of the proxy scenario: the proxy's own MCP steps composed without
// `authenticate` and `requireScopes`, with a fixed identity in their place, so the difference
// between it and the checked proxy is exactly the cost of the checks (src/proxy/endpoints/mcp.ts
// has the checked composition).

/** Stands in for `authenticate`: every request acts as one identity holding every scope of the route. */
const assumeIdentity = async (x, next) => {
  x.token = {
    sub: 'bench',
    clientId: 'bench',
    scope: x.route.scopes.join(' '),
    scopes: new Set(x.route.scopes),
    grantId: undefined,
    iat: 0,
    exp: Number.MAX_SAFE_INTEGER,
  };
  await next();
};

/** @type {import('../../src/proxy/index.js').McpComposition} */
export const uncheckedPipeline = (s) => [s.allowMethods, assumeIdentity, s.readBody, s.bindSession, s.forward, s.relay];
