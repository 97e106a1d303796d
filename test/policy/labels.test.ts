import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { type Chain, connectAgent, PASSWORD, refreshAgent, startChain, statusAtProxy } from '../proxy/helpers.js';
import { startTestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';

const ENV = { MCP_OAUTH_LABELS_READ_ONLY: 'confidential', MCP_OAUTH_SENSITIVE_TOKEN_TTL: '90s' };

describe('classification labels', () => {
  let chain: Chain;

  beforeAll(async () => {
    chain = await startChain({ as: await startTestServer(ENV) });
    await chain.as.addUser('alice', PASSWORD);
  });
  afterAll(async () => {
    await chain?.close();
    await chain?.as.close();
  });

  const cli = (argv: string[]) => cliFor(chain.as.dataDir).run(argv, { env: ENV });

  const connect = (client?: RegisteredClient) => connectAgent(chain, { client });

  const proxyStatus = (token: string) => statusAtProxy(chain, token);

  it('internal: shown on the consent page, nothing else changes', async () => {
    expect((await cli(['resources', 'label', chain.resource, 'internal'])).code).toBe(0);
    const agent = await connect();
    expect(agent.consentHtml).toContain('data-label="internal"');
    expect(agent.consentHtml).toContain('Internal data');
    expect(agent.scope.split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    const claims = decodeJwt(agent.access);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(chain.as.config.accessTokenTtl);
  });

  it('confidential (read-only here): live grants are cut within a second and narrowed; new tokens are short-lived and read-only', async () => {
    const live = await connect();
    expect(live.scope).toContain('mcp:write');
    const set = await cli(['resources', 'label', chain.resource, 'confidential']);
    expect(set.code, set.err).toBe(0);
    expect(set.out).toContain('narrowed to read-only');
    await waitFor(async () => (await proxyStatus(live.access)) === 401, 'the proxy to refuse the token', {
      timeoutMs: 1000,
      intervalMs: 20,
    });
    const cutoff =
      (await chain.as.app.stores.revocations.clientRevokedBefore(live.client.client_id, epochSeconds())) ?? 0;
    await waitFor(() => epochSeconds() > cutoff, 'the second after the change');
    const { status, body } = await refreshAgent(chain, live.client, live.refresh);
    expect(status).toBe(200);
    expect(body.scope).toBe('mcp:read');
    const claims = decodeJwt(String(body.access_token));
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(90);
    expect(await proxyStatus(String(body.access_token))).toBe(404);

    const fresh = await connect();
    expect(fresh.consentHtml).toContain('data-label="confidential"');
    expect(fresh.consentHtml).not.toContain('value="mcp:write"');
    expect(fresh.scope).toBe('mcp:read');
  });

  it('personal data: a new agent waits for approval; bad labels are refused', async () => {
    expect((await cli(['resources', 'label', chain.resource, 'personal_data'])).code).toBe(0);
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    await expect(connect(client)).rejects.toThrow();
    expect((await chain.as.app.stores.agentApprovals.find(client.client_id))?.state).toBe('pending');
    const bad = await cli(['resources', 'label', chain.resource, 'secret']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/not a label/);
    const unknown = await cli(['resources', 'label', 'https://nowhere.example/mcp', 'public']);
    expect(unknown.code).not.toBe(0);
    expect(await chain.as.app.stores.resourceLabels.labelOf(chain.resource)).toBe('personal_data');
  });
});
