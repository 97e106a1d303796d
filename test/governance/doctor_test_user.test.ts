// `mcp-oauth doctor --test-user-file`: with a dedicated test account the doctor signs in through the
// real pages, replays parallel refreshes and a 403 step-up against the real server and proxy, and
// leaves nothing behind. A deployment with the reuse grace window off, and a route whose 403 lacks
// `scope=`, are found; without the file both replays are reported as skipped.
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/cli/doctor_checks.js';
import { type Chain, freePort, PASSWORD, startChain } from '../proxy/helpers.js';
import { startTestServer } from '../support/app.js';
import { cliFor, tempDataDir } from '../support/cli.js';

const USERNAME = 'doctor-test';

function userFile(content = `${USERNAME}:${PASSWORD}\n`): string {
  const file = path.join(tempDataDir(), 'doctor-user');
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

async function doctor(args: string[]) {
  const result = await cliFor().run(['doctor', ...args, '--json']);
  const report = JSON.parse(result.out) as { ok: boolean; findings: Finding[] };
  const find = (id: string) => report.findings.find((f) => f.id === id);
  return { ...result, report, find, status: (id: string) => find(id)?.status };
}

/**
 * Nothing the doctor was given is still usable: no live refresh token, grant, registration or
 * signed-in browser session. (Unfinished authorizations, Interaction rows, expire on their own
 * within 15 minutes and carry no sign-in.)
 */
async function expectNothingLeft(chain: Chain): Promise<void> {
  const count = async (query: string) => (await chain.as.sql.get<{ n: number }>(query))?.n;
  expect(
    await count("SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'RefreshToken' AND consumed_at IS NULL"),
  ).toBe(0);
  expect(
    await count("SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'Session' AND payload LIKE '%accountId%'"),
  ).toBe(0);
  expect(await count("SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'Grant'")).toBe(0);
  expect(await count("SELECT COUNT(*) AS n FROM oidc_models WHERE model = 'Client'")).toBe(0);
  expect(await chain.as.app.stores.grantRecords.list({ state: 'active', limit: 100 })).toEqual([]);
}

describe('doctor with a test user on a healthy deployment', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await startChain();
    await chain.as.addUser(USERNAME, PASSWORD);
  });
  afterAll(() => chain.close());

  it('signs in, replays parallel refreshes and a 403 step-up, passes, and leaves nothing behind', async () => {
    const { code, report, status, out } = await doctor([
      chain.as.url,
      '--resource',
      chain.resource,
      '--test-user-file',
      userFile(),
    ]);
    expect(report.findings.filter((f) => f.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    expect(status('test_user.sign_in')).toBe('pass');
    expect(status('refresh.parallel')).toBe('pass');
    expect(status(`step_up ${chain.resource}`)).toBe('pass');
    expect(out).not.toContain(PASSWORD);
    await expectNothingLeft(chain);
    // The probe tool never reached the MCP server: the read-only call was refused by the proxy, and
    // the stepped-up one carried no session the upstream knew.
    expect(chain.upstream.notes).toEqual(['first note']);
  });

  it('without a test user both replays are skipped, in JSON and in text', async () => {
    const { status, find } = await doctor([chain.as.url, '--resource', chain.resource]);
    expect(status('refresh.parallel')).toBe('skip');
    expect(find(`step_up ${chain.resource}`)?.summary).toBe('skipped: needs --test-user-file');
    const human = await cliFor().run(['doctor', chain.as.url, '--resource', chain.resource]);
    expect(human.out).toMatch(/SKIP\s+refresh\.parallel: skipped: needs --test-user-file/);
    expect(human.out).toContain(`SKIP  step_up ${chain.resource}: skipped: needs --test-user-file`);
  });

  it('a wrong password fails the sign-in, skips the replays, and still leaves nothing behind', async () => {
    const { code, find, status } = await doctor([
      chain.as.url,
      '--resource',
      chain.resource,
      '--test-user-file',
      userFile(`${USERNAME}:not the password`),
    ]);
    expect(code).toBe(1);
    expect(find('test_user.sign_in')?.status).toBe('fail');
    expect(find('test_user.sign_in')?.summary).toContain('Wrong username or password');
    expect(find('test_user.sign_in')?.summary).not.toContain('not the password');
    expect(status('refresh.parallel')).toBe('skip');
    await expectNothingLeft(chain);
  });

  it('refuses a test-user file without username:password, and never reads a password from argv', async () => {
    const bad = await cliFor().run(['doctor', chain.as.url, '--test-user-file', userFile('just-a-name\n')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('username:password');
    const missing = await cliFor().run(['doctor', chain.as.url, '--test-user-file', '/nonexistent/doctor-user']);
    expect(missing.err).toContain('cannot read --test-user-file');
    expect((await cliFor().run(['doctor', '--help'])).out).not.toMatch(/--password/);
  });
});

describe('doctor with a test user: a route that asks for a stronger sign-in before writing', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await startChain({ route: { writeSignIn: 'mfa' } });
    await chain.as.addUser(USERNAME, PASSWORD);
  });
  afterAll(() => chain.close());

  it('checks the insufficient_user_authentication challenge and that acr_values lead to a stronger sign-in', async () => {
    const { code, status, find } = await doctor([
      chain.as.url,
      '--resource',
      chain.resource,
      '--test-user-file',
      userFile(),
    ]);
    expect(code).toBe(0);
    expect(status(`step_up ${chain.resource}`)).toBe('pass');
    expect(find(`step_up.sign_in ${chain.resource}`)?.status).toBe('pass');
    expect(find(`step_up.sign_in ${chain.resource}`)?.summary).toContain('acr_values=');
    await expectNothingLeft(chain);
  });
});

describe('doctor with a test user on a server without a refresh reuse grace window', () => {
  let chain: Chain;
  beforeAll(async () => {
    // Writing also needs a second factor here, which the test user has not: the step-up stops there.
    const as = await startTestServer({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0', MCP_OAUTH_SECOND_FACTOR: 'write' });
    chain = await startChain({ as });
    await chain.as.addUser(USERNAME, PASSWORD);
  });
  afterAll(async () => {
    await chain.close();
    await chain.as.close();
  });

  it('finds that racing refreshes break the grant, names the agents and the fix; a step-up it cannot finish is skipped', async () => {
    const { code, find } = await doctor([chain.as.url, '--resource', chain.resource, '--test-user-file', userFile()]);
    expect(code).toBe(1);
    const finding = find('refresh.parallel');
    expect(finding?.status).toBe('fail');
    expect(finding?.agents).toContain('Claude Code');
    expect(finding?.fix).toContain('MCP_OAUTH_REFRESH_REUSE_GRACE');
    // The step-up starts over on a new grant; allowing the write scope asks for a second factor.
    expect(find(`step_up ${chain.resource}`)?.status).toBe('skip');
    expect(find(`step_up ${chain.resource}`)?.summary).toContain("stronger sign-in than the test user's password");
    await expectNothingLeft(chain);
  });
});

describe('doctor with a test user: a route whose 403 challenge lacks scope=', () => {
  let chain: Chain;
  let front: Server;
  beforeAll(async () => {
    // A front (a misconfigured reverse proxy, say) that drops scope= from the proxy's 403 challenges.
    const port = await freePort();
    const target: { port: number } = { port: 0 };
    front = createServer((req, res) => {
      const upstream = request(
        { host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const headers = { ...answer.headers };
          const challenge = headers['www-authenticate'];
          if (answer.statusCode === 403 && typeof challenge === 'string') {
            headers['www-authenticate'] = challenge.replace(/,?\s*scope="[^"]*"/, '');
          }
          res.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(port, '127.0.0.1', resolve));
    chain = await startChain({ resource: `http://127.0.0.1:${port}/mcp` });
    target.port = Number(new URL(chain.proxy.url).port);
    await chain.as.addUser(USERNAME, PASSWORD);
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => front.close(() => resolve()));
    front.closeAllConnections();
    await closed;
    await chain.close();
  });

  it('finds the step-up quirk, names the agents and the fix', async () => {
    const { code, find, status } = await doctor([
      chain.as.url,
      '--resource',
      chain.resource,
      '--test-user-file',
      userFile(),
    ]);
    expect(code).toBe(1);
    const finding = find(`step_up ${chain.resource}`);
    expect(finding?.status).toBe('fail');
    expect(finding?.summary).toContain('scope=');
    expect(finding?.agents).toContain('MCP SDK v2');
    expect(finding?.fix).toContain('insufficient_scope');
    expect(status('refresh.parallel')).toBe('pass');
    await expectNothingLeft(chain);
  });
});
