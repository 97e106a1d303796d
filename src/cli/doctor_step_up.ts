// The 403 step-up replay (docs/operating.md#doctor; docs/proxy.md#step-up-and-agents-that-cannot):
// with the test user's token, which holds what the 401 challenge named, the doctor calls a tool
// no MCP server has. A tool the proxy cannot know as read-only needs the write scope, so the call
// must be refused, before it reaches the MCP server, with a challenge an agent can act on: 403
// `insufficient_scope` naming every scope the call needs and the resource metadata (RFC 6750 §3.1,
// RFC 9728 §5.1). The doctor then does what the MCP SDK v2 does: it authorizes again for the
// scopes it holds plus the challenged ones, and calls again. A route that also demands a stronger
// sign-in answers 401 `insufficient_user_authentication` (RFC 9470) then: its `acr_values` must be
// ones the authorization server advertises, and asking for them must lead to a stronger sign-in.
import { splitScope } from '../lib/scopes.js';
import { authorizationUrl, type Connection, challengeParams, connect, type TestAgent } from './doctor_agent.js';
import { DoctorBrowser } from './doctor_browser.js';
import { AGENTS, add, type DoctorContext, describeFailure, list, REPLAY } from './doctor_checks.js';
import { isFailure, type ProbeResponse } from './doctor_probe.js';

/** A name no MCP server uses: the call changes nothing even where it is let through. */
const PROBE_TOOL = 'mcp_oauth_doctor_step_up_probe';

const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

function call(c: DoctorContext, resource: string, token?: string) {
  return c.probe.request(resource, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: PROBE_TOOL, arguments: {} } }),
  });
}

/** The scope the route's 401 challenge names: what an agent asks for first. */
export async function unauthenticatedScope(c: DoctorContext, resource: string): Promise<string | undefined> {
  const res = await call(c, resource);
  if (isFailure(res)) return undefined;
  return challengeParams(res.headers.get('www-authenticate')).scope || undefined;
}

const refused = (res: ProbeResponse) => res.status === 401 || res.status === 403;
const STEP_UP_FIX =
  'answer 403 with WWW-Authenticate: Bearer error="insufficient_scope", scope="<every scope the call needs, those held included>", resource_metadata="<the route\'s RFC 9728 URL>" (mcp-oauth proxy does)';

export async function stepUp(
  c: DoctorContext,
  agent: TestAgent,
  meta: Record<string, unknown>,
  conn: Connection,
): Promise<void> {
  const id = `${REPLAY.stepUp} ${conn.resource}`;
  const held = conn.scopes;
  const first = await call(c, conn.resource, conn.access);
  if (isFailure(first)) {
    add(c, { id, status: 'fail', summary: `the call got ${describeFailure(first)}`, agents: AGENTS.all });
    return;
  }
  if (!refused(first)) {
    add(c, {
      id,
      status: 'warn',
      summary: `with only "${held.join(' ')}" a call to a tool the route cannot know as read-only was let through (HTTP ${first.status}): writes are not limited by scope`,
      agents: 'none break, but a read-only grant is not read-only',
      fix: 'put the route behind mcp-oauth proxy, whose tool policy needs the write scope for every tool not known to be read-only (docs/proxy.md)',
    });
    return;
  }
  const ch = challengeParams(first.headers.get('www-authenticate'));
  if (first.status === 401 && ch.error === 'insufficient_user_authentication') {
    await signInChallenge(c, id, agent, meta, conn, ch);
    return;
  }
  if (first.status !== 403 || ch.error !== 'insufficient_scope') {
    add(c, {
      id,
      status: 'fail',
      summary: `a call beyond the token's scopes got HTTP ${first.status}${ch.error ? ` ${ch.error}` : ''} instead of 403 insufficient_scope`,
      agents: AGENTS.stepUp,
      fix: STEP_UP_FIX,
    });
    return;
  }
  const challenged = splitScope(ch.scope);
  const wanted = challenged.filter((s) => !held.includes(s));
  const problems: string[] = [];
  if (challenged.length === 0) problems.push('the 403 names no scope=, so agents cannot tell what to ask for');
  else if (wanted.length === 0)
    problems.push(`scope="${ch.scope}" names only scopes the token holds: asking again gets the same token`);
  if (!ch.resource_metadata) problems.push('the 403 has no resource_metadata=');
  else {
    const prm = await c.probe.request(ch.resource_metadata);
    if (isFailure(prm) || prm.status !== 200 || prm.json?.resource !== conn.resource) {
      problems.push(
        `resource_metadata ${ch.resource_metadata} does not describe this resource (${describeFailure(prm)})`,
      );
    }
  }
  if (problems.length > 0) {
    add(c, { id, status: 'fail', summary: problems.join('; '), agents: AGENTS.stepUp, fix: STEP_UP_FIX });
    return;
  }
  // What the MCP SDK v2 asks for: what it holds and what the challenge names.
  const again = await connect(c, agent, conn.resource, [...new Set([...held, ...challenged])].join(' '));
  if ('failed' in again) {
    add(
      c,
      again.atSignIn
        ? {
            id,
            status: 'skip',
            summary: `not finished: allowing "${wanted.join(' ')}" needs a stronger sign-in than the test user's password (${again.failed})`,
          }
        : {
            id,
            status: 'fail',
            summary: `authorizing again for "${[...held, ...wanted].join(' ')}" failed: ${again.failed}`,
            agents: AGENTS.stepUp,
            fix: 'name in the challenge only scopes this authorization server offers for the resource and this user may be granted',
          },
    );
    return;
  }
  const missing = wanted.filter((s) => !again.scopes.includes(s));
  if (missing.length > 0) {
    add(c, {
      id,
      status: 'warn',
      summary: `the test user was not granted "${missing.join(' ')}" on asking again (an agent policy or the consent page left it out): the step-up could not be finished`,
      agents: AGENTS.stepUp,
      fix: 'let the test user be granted every scope of the resource to replay the step-up',
    });
    return;
  }
  const second = await call(c, conn.resource, again.access);
  const after = isFailure(second) ? {} : challengeParams(second.headers.get('www-authenticate'));
  if (!isFailure(second) && second.status === 401 && after.error === 'insufficient_user_authentication') {
    await signInChallenge(c, `${REPLAY.stepUp}.sign_in ${conn.resource}`, agent, meta, again, after);
  } else if (isFailure(second) || refused(second)) {
    add(c, {
      id,
      status: 'fail',
      summary: `with the challenged scopes the call still got ${describeFailure(second)}${after.error ? ` ${after.error}` : ''}`,
      agents: AGENTS.stepUp,
      fix: 'name in the challenge every scope the call needs',
    });
    return;
  }
  const lost = held.filter((s) => !challenged.includes(s));
  add(
    c,
    lost.length > 0
      ? {
          id,
          status: 'warn',
          summary: `403 insufficient_scope names "${ch.scope}" without the held "${lost.join(' ')}": agents that ask only for the challenged scopes lose it`,
          agents: 'agents that ask only for the challenged scopes (MCP SDK v1)',
          fix: 'name every scope the call needs in the 403, those already held included',
        }
      : {
          id,
          status: 'pass',
          summary: `403 insufficient_scope named "${ch.scope}" and its resource metadata; after consenting to "${wanted.join(' ')}" the call passes`,
        },
  );
}

/**
 * RFC 9470: the challenge must name acr_values the authorization server advertises, and an
 * authorization asking for them must not end with the same password-only sign-in.
 */
async function signInChallenge(
  c: DoctorContext,
  id: string,
  agent: TestAgent,
  meta: Record<string, unknown>,
  conn: Connection,
  ch: Record<string, string>,
): Promise<void> {
  const acr = splitScope(ch.acr_values);
  const supported = list(meta.acr_values_supported);
  const problems: string[] = [];
  if (acr.length === 0) problems.push('insufficient_user_authentication without acr_values=');
  const unknown = acr.filter((v) => !supported.includes(v));
  if (unknown.length > 0) problems.push(`acr_values the authorization server does not advertise: ${unknown.join(' ')}`);
  if (!ch.resource_metadata) problems.push('no resource_metadata=');
  if (ch.max_age !== undefined && !/^\d+$/.test(ch.max_age))
    problems.push(`max_age=${ch.max_age} is not a number of seconds`);
  const fix =
    'answer 401 with WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="<values in acr_values_supported>", resource_metadata="…" (mcp-oauth proxy with writeSignIn does)';
  const agents = 'agents that step up their sign-in (RFC 9470) before writing';
  if (problems.length > 0) {
    add(c, { id, status: 'fail', summary: problems.join('; '), agents, fix });
    return;
  }
  // A browser without the doctor's session: the sign-in page must ask for more than the password.
  const { url } = authorizationUrl(agent, {
    resource: conn.resource,
    scope: conn.scopes.join(' '),
    acr_values: acr.join(' '),
    ...(ch.max_age ? { max_age: ch.max_age } : {}),
  });
  const outcome = await new DoctorBrowser(c.probe, c.input.issuer).authorize(url, agent.redirectUri, agent.user, {
    signInOnly: true,
  });
  const ignored =
    'redirect' in outcome
      ? `the authorization with acr_values ended at the agent (${outcome.redirect.searchParams.get('error') ?? 'with a code'})`
      : outcome.stopped === 'consent'
        ? 'a password alone satisfied an authorization asking for acr_values'
        : outcome.signInSeen
          ? undefined
          : `the authorization with acr_values never reached a sign-in page (${outcome.stopped})`;
  add(
    c,
    ignored
      ? {
          id,
          status: 'fail',
          summary: `${ignored}: the agent gets the same sign-in back and is refused again`,
          agents,
          fix: 'honour acr_values (and max_age) in plain OAuth authorization requests, and ask the user for that sign-in',
        }
      : {
          id,
          status: 'pass',
          summary: `401 insufficient_user_authentication asks for acr_values="${acr.join(' ')}"; asking for them leads to a stronger sign-in (${'stopped' in outcome ? outcome.stopped : ''})`,
        },
  );
}
