// The replays that need a signed-in user (docs/operating.md#doctor): with the operator's test
// account the doctor connects as a real agent would, then replays parallel refreshes with one
// refresh token and a 403 step-up on each --resource, and finally revokes what it was given and
// ends its sign-in. Without a test user these replays are reported as skipped.
import { readFile } from 'node:fs/promises';
import { connect, disconnect, type NotConnected, refresh, type TestAgent } from './doctor_agent.js';
import { DoctorBrowser, type TestUser } from './doctor_browser.js';
import { AGENTS, add, type DoctorContext, REPLAY, str } from './doctor_checks.js';
import { stepUp, unauthenticatedScope } from './doctor_step_up.js';
import { CliError } from './io.js';

/** `username:password` on the first line of the file (the password may contain colons). */
export async function readTestUserFile(path: string): Promise<TestUser> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --test-user-file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const line = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1) {
    throw new CliError(`--test-user-file ${path} must hold username:password on its first line`);
  }
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

const SIGN_IN_FIX =
  'give the doctor an enabled account that signs in with a password alone (no second factor), may use this MCP server, and is not waiting for an admin to approve new agents';

/** Runs the replays with the test user, on the doctor's registered loopback agent. */
export async function testUserReplays(
  c: DoctorContext,
  meta: Record<string, unknown>,
  agent: { clientId: string; redirectUri: string } | undefined,
): Promise<void> {
  const user = c.input.testUser;
  const [resource] = c.input.resources;
  const authorize = str(meta.authorization_endpoint);
  const token = str(meta.token_endpoint);
  if (!user || !resource) return;
  if (!agent || !authorize || !token) {
    REPLAY.skipAll(c, 'not run: the doctor could not register an agent to sign in with');
    return;
  }
  const a: TestAgent = {
    ...agent,
    authorize,
    token,
    revocation: str(meta.revocation_endpoint),
    user,
    browser: new DoctorBrowser(c.probe, c.input.issuer),
    live: new Set(),
  };
  try {
    const first = await connect(c, a, resource, await unauthenticatedScope(c, resource));
    if ('failed' in first) {
      add(c, {
        id: 'test_user.sign_in',
        status: 'fail',
        summary: `signing in as ${user.username} for ${resource}: ${first.failed}`,
        agents: AGENTS.all,
        fix: SIGN_IN_FIX,
      });
      REPLAY.skipAll(c, "not run: the test user's sign-in did not complete");
      return;
    }
    add(c, {
      id: 'test_user.sign_in',
      status: 'pass',
      summary: `signed in as ${user.username}, consented, and redeemed a code with PKCE for ${resource}`,
    });
    // A race that killed the grant leaves the step-up a revoked token: it starts over.
    const alive = await parallelRefreshes(c, a, first);
    for (const r of c.input.resources) {
      const conn = r === resource && alive ? first : await connect(c, a, r, await unauthenticatedScope(c, r));
      if ('failed' in conn) {
        add(c, {
          id: `${REPLAY.stepUp} ${r}`,
          status: 'fail',
          summary: `connecting: ${conn.failed}`,
          fix: SIGN_IN_FIX,
        });
      } else await stepUp(c, a, meta, conn);
    }
  } finally {
    await disconnect(c, a, resource).catch(() => undefined);
  }
}

type Conn = Exclude<Awaited<ReturnType<typeof connect>>, NotConnected>;

/**
 * Two refreshes with one refresh token at once, as agents with several processes send them. Right:
 * both get the same successor, or one gets it and the other a clean invalid_grant; and the chain
 * goes on from the successor. Wrong: the race revokes the grant, or forks it into two chains.
 */
async function parallelRefreshes(c: DoctorContext, a: TestAgent, conn: Conn): Promise<boolean> {
  const id = REPLAY.refresh;
  const token = conn.refresh;
  if (!token) {
    add(c, {
      id,
      status: 'fail',
      summary: 'no refresh token was issued with the code',
      agents: 'every agent: its user must sign in again whenever the access token expires',
      fix: 'issue refresh tokens to agents registered with the refresh_token grant (docs/pitfalls.md#refresh-tokens-for-agents)',
    });
    return true;
  }
  const racers = await Promise.all([refresh(c, a, token), refresh(c, a, token)]);
  a.live.delete(token);
  const fix =
    'keep a reuse grace window (MCP_OAUTH_REFRESH_REUSE_GRACE, default 10s) in which every presentation of a just-rotated token gets the same successor';
  const broken = racers.find((r) => !r.ok && !/^HTTP 400 invalid_grant\b/.test(r.why));
  if (broken && !broken.ok) {
    add(c, { id, status: 'fail', summary: `a parallel refresh got ${broken.why}`, agents: AGENTS.racing, fix });
    return false;
  }
  const won = racers.flatMap((r) => (r.ok ? [r] : []));
  for (const r of won) if (r.refresh) a.live.add(r.refresh);
  const [winner] = won;
  if (!winner?.refresh) {
    add(c, {
      id,
      status: 'fail',
      summary: winner ? 'a refresh returned no new refresh token' : 'both parallel refreshes were refused',
      agents: AGENTS.racing,
      fix,
    });
    return false;
  }
  const forked = new Set(won.map((r) => r.refresh)).size > 1;
  const next = await refresh(c, a, winner.refresh);
  a.live.delete(winner.refresh);
  if (!next.ok) {
    add(c, {
      id,
      status: 'fail',
      summary: `after two parallel refreshes the chain is dead: refreshing with the successor got ${next.why} (the race was taken for token theft and the grant revoked)`,
      agents: AGENTS.racing,
      fix,
    });
    return false;
  }
  if (next.refresh) a.live.add(next.refresh);
  conn.access = next.access;
  conn.refresh = next.refresh;
  add(
    c,
    forked
      ? {
          id,
          status: 'fail',
          summary:
            'each parallel refresh got a successor of its own: the grant forked into two chains, so a stolen refresh token replayed within the window is never detected',
          agents: 'no agent breaks; every user of an agent whose refresh token is stolen',
          fix,
        }
      : {
          id,
          status: 'pass',
          summary:
            won.length === 2
              ? 'both parallel refreshes got the same successor, and the chain goes on from it'
              : 'one parallel refresh got a successor and the other a clean invalid_grant; the chain goes on',
        },
  );
  return true;
}
