// The whole story of an agent over real HTTP (registration, a failed and a good login, consent,
// tokens, refresh, refresh-token reuse, code replay, revocation by the agent, a denied consent,
// registration update and delete), then: every step left its audit row naming the right user,
// agent and grant, and no row and no log line holds any secret that went over the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRow, queryAudit } from '../../src/audit/query.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { createLogger } from '../../src/log/logger.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { createUserRepository } from '../../src/storage/users.js';
import { DEFAULT_SCOPES, startTestServer, type TestServer } from '../support/app.js';
import { authorize, type RegisteredClient, register } from '../support/oauth.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const PASSWORD = 'correct horse battery';
const WRONG_PASSWORD = 'incorrect pony staple';
// Someone typed their password into the username field.
const PASSWORD_AS_USERNAME = 'hunter2-but-longer-and-secret';
const UA = 'audit-test-agent/1.0';

interface Harness extends TestServer {
  logs: string[];
}

/** The test server with its logger writing into `logs` at debug level. */
async function start(env: Record<string, string> = {}): Promise<Harness> {
  const logs: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
  return Object.assign(await startTestServer(env, { logger }), { logs });
}

const basic = (client: RegisteredClient) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret ?? '')}`).toString('base64')}`;

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;

describe('audit trail of a whole agent story', () => {
  let h: Harness;
  let aliceId: string;
  let client: RegisteredClient;
  /** Every secret value that went over the wire during the story. */
  const secrets = new Set<string>([PASSWORD, WRONG_PASSWORD, PASSWORD_AS_USERNAME]);
  const grants: Record<'first' | 'replayed' | 'revoked', string> = { first: '', replayed: '', revoked: '' };
  let rows: AuditRow[] = [];

  const keep = (...values: unknown[]) => {
    for (const v of values) if (typeof v === 'string' && v.length > 0) secrets.add(v);
  };

  async function token(fields: Record<string, string>) {
    const res = await fetch(`${h.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client),
        'user-agent': UA,
      },
      body: new URLSearchParams(fields),
    });
    const body = (await res.json()) as Record<string, string>;
    keep(body.access_token, body.refresh_token);
    return { status: res.status, body };
  }

  async function codeFor(opts: { decision?: 'allow' | 'deny' } = {}) {
    const got = await authorize(h.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: RESOURCE,
      scope: 'mcp:read',
      ...opts,
    });
    keep(got.code, got.verifier);
    return got;
  }

  const redeem = (got: Awaited<ReturnType<typeof codeFor>>) =>
    token({
      grant_type: 'authorization_code',
      code: got.code ?? '',
      redirect_uri: client.redirect_uris[0] ?? '',
      code_verifier: got.verifier,
    });

  beforeAll(async () => {
    // Reuse right after rotation must count as theft here: no grace window (test/hardening/refresh_grace.test.ts).
    h = await start({ MCP_OAUTH_REFRESH_REUSE_GRACE: '0' });
    aliceId = (await createUserRepository(h.sql).create('alice', await hashPassword(PASSWORD), false)).id;
    await createResourceRepository(h.sql).create(RESOURCE, 'Orders DB', DEFAULT_SCOPES);

    // 1. Registration (RFC 7591) of a confidential agent, then an update (RFC 7592) rotating its
    // registration access token.
    client = await register(h.url, {
      client_name: 'Audited Agent',
      redirect_uris: ['https://agent.example.com/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    keep(client.client_secret, client.registration_access_token);
    const updated = await fetch(client.registration_client_uri ?? '', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${client.registration_access_token}` },
      body: JSON.stringify({
        client_id: client.client_id,
        client_secret: client.client_secret,
        client_name: 'Audited Agent v2',
        redirect_uris: client.redirect_uris,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
    });
    expect(updated.status).toBe(200);
    const after = (await updated.json()) as RegisteredClient;
    keep(after.client_secret, after.registration_access_token);
    client = { ...client, ...after };

    // 2. Failed logins: a wrong password, and a password typed as the username.
    await expect(
      authorize(h.url, { client, username: 'alice', password: WRONG_PASSWORD, resource: RESOURCE }),
    ).rejects.toThrow('login failed with 401');
    await expect(
      authorize(h.url, { client, username: PASSWORD_AS_USERNAME, password: WRONG_PASSWORD, resource: RESOURCE }),
    ).rejects.toThrow('login failed with 401');

    // 3. Login, consent, token, refresh.
    const first = await codeFor();
    const issued = await redeem(first);
    expect(issued.status).toBe(200);
    grants.first = claims(issued.body.access_token ?? '').grant_id as string;
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token ?? '' });
    expect(refreshed.status).toBe(200);

    // 4. Refresh-token reuse: the rotated-out token again. The grant dies.
    const reused = await token({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token ?? '' });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');

    // 5. Code replay: a new grant (consent again), its code redeemed twice.
    const second = await codeFor();
    const redeemed = await redeem(second);
    expect(redeemed.status).toBe(200);
    grants.replayed = claims(redeemed.body.access_token ?? '').grant_id as string;
    expect((await redeem(second)).status).toBe(400);

    // 6. The agent revokes its refresh token (RFC 7009): the grant goes with it.
    const third = await redeem(await codeFor());
    grants.revoked = claims(third.body.access_token ?? '').grant_id as string;
    const revoked = await fetch(`${h.url}/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client),
        'user-agent': UA,
      },
      body: new URLSearchParams({ token: third.body.refresh_token ?? '', token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);

    // 7. The user denies an authorization.
    const denied = await codeFor({ decision: 'deny' });
    expect(denied.location.searchParams.get('error')).toBe('access_denied');

    // 8. The agent deletes its registration.
    const deleted = await fetch(client.registration_client_uri ?? '', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(deleted.status).toBe(204);

    rows = (await queryAudit(h.sql, { limit: 1000 })).reverse();
  });
  afterAll(() => h.close());

  const only = (event: string) => rows.filter((r) => r.event === event);

  it('records registration, update and deletion of the agent', () => {
    expect(only('client.registered')).toEqual([
      expect.objectContaining({
        result: 'success',
        clientId: client.client_id,
        ip: '127.0.0.1',
        details: { name: 'Audited Agent', via: 'dynamic' },
      }),
    ]);
    expect(only('client.updated')).toEqual([
      expect.objectContaining({
        clientId: client.client_id,
        details: { name: 'Audited Agent v2', previous_name: 'Audited Agent' },
      }),
    ]);
    expect(only('client.deleted')).toEqual([
      expect.objectContaining({ clientId: client.client_id, details: { by: 'agent' } }),
    ]);
  });

  it('records failed logins with the cause kept internal, and successful ones', () => {
    const failures = only('login.failure');
    expect(failures).toEqual([
      expect.objectContaining({
        result: 'failure',
        userId: aliceId,
        clientId: client.client_id,
        ip: '127.0.0.1',
        details: { reason: 'wrong_password' },
      }),
      expect.objectContaining({
        result: 'failure',
        userId: null,
        clientId: client.client_id,
        details: { reason: 'unknown_user', username: 'hunt…' },
      }),
    ]);
    expect(only('login.success').length).toBeGreaterThanOrEqual(4);
    expect(only('login.success').every((r) => r.userId === aliceId && r.clientId === client.client_id)).toBe(true);
  });

  it('records consent given (with scopes) and denied', () => {
    const given = only('consent.given');
    expect(given.map((r) => r.grantId)).toEqual([grants.first, grants.replayed, grants.revoked]);
    expect(given[0]).toMatchObject({
      result: 'success',
      userId: aliceId,
      clientId: client.client_id,
      resource: RESOURCE,
      details: { scopes: 'mcp:read', declined: '' },
    });
    expect(only('consent.denied')).toEqual([
      expect.objectContaining({ result: 'failure', userId: aliceId, clientId: client.client_id }),
    ]);
  });

  it('records tokens issued and refreshed with grant, client, resource and scopes', () => {
    const expected = (grantId: string) =>
      expect.objectContaining({
        result: 'success',
        userId: aliceId,
        clientId: client.client_id,
        resource: RESOURCE,
        grantId,
        ip: '127.0.0.1',
        userAgent: UA,
      });
    expect(only('token.issued')).toEqual([expected(grants.first), expected(grants.replayed), expected(grants.revoked)]);
    expect(only('token.issued')[0]?.details).toEqual({ grant_type: 'authorization_code', scope: 'mcp:read' });
    expect(only('token.refreshed')).toEqual([expected(grants.first)]);
    expect(only('token.refreshed')[0]?.details).toEqual({ grant_type: 'refresh_token', scope: 'mcp:read' });
  });

  it('records refresh-token reuse and code replay as detections, each revoking its grant', () => {
    const who = { userId: aliceId, clientId: client.client_id, resource: RESOURCE, ip: '127.0.0.1' };
    expect(only('refresh_token.reuse_detected')).toEqual([
      expect.objectContaining({ result: 'failure', grantId: grants.first, ...who }),
    ]);
    expect(only('code.replay_detected')).toEqual([
      expect.objectContaining({ result: 'failure', grantId: grants.replayed, ...who }),
    ]);
    const revoked = only('grant.revoked');
    expect(revoked.map((r) => [r.grantId, r.details?.by])).toEqual([
      [grants.first, 'system'],
      [grants.replayed, 'system'],
      [grants.revoked, 'agent'],
    ]);
    expect(revoked.every((r) => r.userId === aliceId && r.clientId === client.client_id)).toBe(true);
  });

  it('logs every audit event as one JSON line too', () => {
    const logged = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true);
    expect(logged.map((l) => l.msg)).toEqual(rows.map((r) => r.event));
    const reuse = logged.find((l) => l.event === 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ level: 40, grant_id: grants.first, client_id: client.client_id, user_id: aliceId });
  });

  it('keeps no password, token, code, client secret or registration access token, in rows or logs', async () => {
    // Sanity: the story did see what it must not leak.
    expect(secrets.size).toBeGreaterThan(15);
    const stored = JSON.stringify(await h.sql.all('SELECT * FROM audit_events'));
    const logged = h.logs.join('');
    for (const secret of secrets) {
      expect(stored).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
    // Nor a JWT's signature on its own.
    for (const secret of secrets) {
      const signature = secret.split('.')[2];
      if (signature) expect(logged + stored).not.toContain(signature);
    }
  });
});

describe('source address behind a reverse proxy', () => {
  it.each([
    ['is the socket address when the proxy is not trusted', {}, '127.0.0.1'],
    [
      'comes from X-Forwarded-For when MCP_OAUTH_TRUST_PROXY=true',
      { MCP_OAUTH_TRUST_PROXY: 'true', MCP_OAUTH_ISSUER: 'https://auth.example.com' },
      '198.51.100.9',
    ],
  ])('%s', async (_case, env, ip) => {
    const h = await start(env);
    try {
      const res = await fetch(`${h.url}/register`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': '198.51.100.9',
          'x-forwarded-proto': 'https',
        },
        body: JSON.stringify({
          redirect_uris: ['http://127.0.0.1:33418/callback'],
          token_endpoint_auth_method: 'none',
        }),
      });
      expect(res.status).toBe(201);
      expect(await queryAudit(h.sql, { event: 'client.registered' })).toEqual([expect.objectContaining({ ip })]);
    } finally {
      await h.close();
    }
  });
});
