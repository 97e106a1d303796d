// The MCP route: a Streamable HTTP endpoint (POST calls, GET event stream, DELETE session) behind
// the proxy's checks. The pipeline is built from named steps so another composition (the benchmark's
// checks-off baseline) is a different list, not a flag inside the security code.
import { audit } from '../audit.js';
import type { ProxyContext } from '../context.js';
import { deny, type Exchange, jsonRpcError } from '../exchange.js';
import { compose, type Step } from '../pipeline.js';
import { authenticate, requireScopes } from '../steps/authenticate.js';
import { readBody } from '../steps/body.js';
import { cors } from '../steps/cors.js';
import { forward } from '../steps/forward.js';
import { relay } from '../steps/relay.js';
import { bindSession } from '../steps/session.js';
import { requireToolLabels } from '../steps/tool_labels.js';
import { requireUserAuthentication } from '../steps/user_authentication.js';

const allowMethods: Step = async (x, next) => {
  if (x.method === 'POST' || x.method === 'GET' || x.method === 'DELETE') return next();
  deny(x, 'method_not_allowed', () =>
    jsonRpcError(x.res, 405, -32000, 'method not allowed', { allow: 'GET, POST, DELETE' }),
  );
};

/** The MCP route's steps, by name, for composing a pipeline. */
export interface McpSteps {
  allowMethods: Step;
  authenticate: Step;
  bindSession: Step;
  readBody: Step;
  requireScopes: Step;
  requireToolLabels: Step;
  requireUserAuthentication: Step;
  forward: Step;
  relay: Step;
}

export type McpComposition = (steps: McpSteps) => Step[];

/** Every check, in order: the only composition a deployed proxy runs. */
export const checkedMcpPipeline: McpComposition = (s) => [
  s.allowMethods,
  s.authenticate,
  s.readBody,
  s.bindSession,
  s.requireScopes,
  s.requireToolLabels,
  s.requireUserAuthentication,
  s.forward,
  s.relay,
];

export function mcpSteps(ctx: ProxyContext): McpSteps {
  return {
    allowMethods,
    authenticate: authenticate(ctx),
    bindSession: bindSession(ctx),
    readBody: readBody(ctx),
    requireScopes,
    requireToolLabels,
    requireUserAuthentication: requireUserAuthentication(),
    forward: forward(ctx),
    relay: relay(ctx),
  };
}

/** CORS, then the audit record around whatever the composition decides. */
export function mcpEndpoint(ctx: ProxyContext, composition: McpComposition): (x: Exchange) => Promise<void> {
  return compose([cors, audit(ctx.log, ctx.metrics), ...composition(mcpSteps(ctx))]);
}
