// Browser-based agents (MCP Inspector, web IDEs) call the MCP endpoint cross-origin. The endpoint
// takes tokens in the Authorization header only, never cookies, so any origin may call it (and no credentials mode is
// offered); it must be able to read the challenge and the session id, and send a DPoP proof.
import type { Step } from '../pipeline.js';

export const MCP_CORS: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, X-Request-Id',
});
const PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST, DELETE',
  'access-control-allow-headers':
    'Authorization, DPoP, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, X-Request-Id',
  'access-control-max-age': '600',
};

/** The 2026-07-28 request headers mirrored from the body (basic/transports/streamable-http). */
const MIRRORED = 'Mcp-Method, Mcp-Name';
/** `Mcp-Param-{Name}`: any field-name token after the prefix (RFC 9110 §5.1). */
const PARAM_HEADER = /^mcp-param-[!#$%&'*+.^_`|~0-9a-z-]+$/;
const MAX_PARAM_HEADERS = 64;

/**
 * The allowed request headers for one preflight: the fixed list, the mirrored headers, and the
 * Mcp-Param-* names the browser asks for (CORS has no prefix wildcard, and `*` would not cover
 * Authorization).
 */
function allowedHeaders(requested: string | undefined): string {
  const params = (requested ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => PARAM_HEADER.test(h))
    .slice(0, MAX_PARAM_HEADERS);
  return [PREFLIGHT['access-control-allow-headers'], MIRRORED, ...new Set(params)].join(', ');
}

/** Sets the CORS headers on every answer of the route and answers the preflight itself. */
export const cors: Step = async (x, next) => {
  for (const [name, value] of Object.entries(MCP_CORS)) x.res.setHeader(name, value);
  if (x.req.method === 'OPTIONS') {
    const requested = x.req.headers['access-control-request-headers'];
    x.res
      .writeHead(204, {
        ...PREFLIGHT,
        'access-control-allow-headers': allowedHeaders(typeof requested === 'string' ? requested : undefined),
        vary: 'Access-Control-Request-Headers',
      })
      .end();
    return;
  }
  await next();
};
