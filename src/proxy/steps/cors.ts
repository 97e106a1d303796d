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

/** Sets the CORS headers on every answer of the route and answers the preflight itself. */
export const cors: Step = async (x, next) => {
  for (const [name, value] of Object.entries(MCP_CORS)) x.res.setHeader(name, value);
  if (x.req.method === 'OPTIONS') {
    x.res.writeHead(204, PREFLIGHT).end();
    return;
  }
  await next();
};
