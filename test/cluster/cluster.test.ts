// Three nodes as one authorization server (docs/storage.md, "Several nodes"): PostgreSQL, three
// `mcp-oauth serve` processes started at once, nginx round robin in front, the MCP SDK agent
// through the resource proxy, the user played over plain HTTP, every request landing on the next
// node. What must hold: a revocation made on node 3 is refused at a proxy following node 1 within a
// second; sign-in back-off and request limits count across nodes; a key rotated from the CLI is
// published by every node; SIGKILL of a node in the middle of a refresh loop loses no acknowledged
// refresh or revocation, and the other nodes keep serving.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INIT, MCP_HEADERS } from '../proxy/helpers.js';
import { cliFor } from '../support/cli.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  startLoopbackReceiver,
} from '../support/mcp_agent.js';
import { haveNginx } from '../support/nginx.js';
import { authorize, CookieBrowser, csrfOf, PUBLIC_CLIENT, redeem, register, tokenRequest } from '../support/oauth.js';
import { postgresForTests, testEngine } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { type Cluster, PASSWORD, startCluster } from './support.js';

// PostgreSQL is the engine several nodes share: this file runs in the suite's PostgreSQL run
// (MCP_OAUTH_TEST_ENGINE=postgres, scripts/test-postgres.mjs), where CI has PostgreSQL and nginx, so
// there a missing piece fails (postgresForTests throws its reason) instead of skipping.
const onPostgres = testEngine() === 'postgres';
const cluster0 = onPostgres
  ? await postgresForTests()
  : { reason: 'the SQLite run (MCP_OAUTH_TEST_ENGINE is not postgres)' };
const why = cluster0.reason ?? (haveNginx || process.env.CI ? undefined : 'no nginx');

interface Agent {
  clientId: string;
  grantId: string;
  refresh: string;
  /**
   * A refresh whose answer never came: the node died under it, committed or not. The agent then
   * holds a token that may already be rotated; presenting it again may be answered (the reuse grace
   * hands over the successor it was given) or refused as reuse, and nothing else.
   */
  uncertain: boolean;
  /** The answer that refused a refresh, if one did. */
  refusal?: string;
}

describe.skipIf(why !== undefined)(
  `three nodes behind a round-robin balancer${why ? ` (skipped: ${why})` : ''}`,
  () => {
    let cluster: Cluster;
    let receiver: LoopbackReceiver;

    beforeAll(async () => {
      cluster = await startCluster({
        env: {
          MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS: '3',
          MCP_OAUTH_LOGIN_FIRST_BLOCK: '60',
          MCP_OAUTH_RATE_LIMIT_INTROSPECTION: '4',
        },
      });
      receiver = await startLoopbackReceiver();
    }, 180_000);

    afterAll(async () => {
      await receiver?.close();
      await cluster?.close();
    });

    const adminRevoke = (base: string, grantId: string) =>
      fetch(`${base}/admin/api/grants/${encodeURIComponent(grantId)}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cluster.adminToken}` },
      });

    /** The status of an MCP initialize through the proxy, its body read to the end. */
    const callProxy = async (token: string) => {
      const res = await fetch(cluster.resource, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
        body: JSON.stringify(INIT),
      });
      await res.arrayBuffer();
      return res.status;
    };

    it('serves the SDK agent through the proxy with every step on another node, and a revocation on node 3 reaches a proxy following node 1 within a second', async () => {
      // Started at the same moment, the nodes made one first signing key between them (and agree on
      // the generated cookie and CSRF keys, or the sign-in below, spread over them, would fail).
      const keys = await cluster.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM signing_keys');
      expect(keys?.n).toBe(1);
      const before = cluster.lb.answeredBy().length;
      const provider = new InMemoryOAuthProvider(receiver.redirectUrl, 'Cluster Agent');
      const transport = new StreamableHTTPClientTransport(new URL(cluster.resource), { authProvider: provider });
      const client = new Client({ name: 'cluster-agent', version: '1.0.0' });
      await expect(client.connect(transport)).rejects.toThrow();
      const outcome = await actAsUser(provider.lastAuthorizationUrl(), { username: 'alice', password: PASSWORD });
      expect(outcome.location.searchParams.get('iss')).toBe(cluster.issuer);
      await transport.finishAuth(outcome.code ?? '');
      const connected = new Client({ name: 'cluster-agent', version: '1.0.0' });
      await connected.connect(new StreamableHTTPClientTransport(new URL(cluster.resource), { authProvider: provider }));
      // The listing teaches the proxy which tools only read (their readOnlyHint).
      const { tools } = await connected.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['add_note', 'read_notes']);
      const result = await connected.callTool({ name: 'read_notes' });
      expect(JSON.stringify(result.content)).toContain('first note');
      await connected.close();

      // Discovery, registration, authorization, sign-in, consent and token: each went to the next node.
      const flow = cluster.lb.answeredBy().slice(before);
      expect(flow.length).toBeGreaterThanOrEqual(6);
      expect(new Set(flow)).toEqual(new Set(cluster.nodes.map((_, i) => cluster.nodeAddress(i))));

      // A refresh on any node rotates the one chain.
      let refresh = String(provider.saved?.refresh_token);
      const clientId = String(provider.client?.client_id);
      for (let i = 0; i < 3; i++) {
        const res = await tokenRequest(cluster.issuer, {
          grant_type: 'refresh_token',
          refresh_token: refresh,
          client_id: clientId,
        });
        expect(res.status).toBe(200);
        refresh = String(((await res.json()) as Record<string, unknown>).refresh_token);
      }

      const access = String(provider.saved?.access_token);
      expect(await callProxy(access)).toBe(200);
      const revoked = await adminRevoke(cluster.nodes[2]?.url ?? '', String(decodeJwt(access).grant_id));
      expect(revoked.status).toBe(200);
      // The bound docs/proxy.md promises, across nodes: LISTEN/NOTIFY wakes node 1's feed at commit.
      await waitFor(async () => (await callProxy(access)) === 401, 'the proxy to refuse the revoked grant', {
        timeoutMs: 1000,
      });
    });

    it('counts failed sign-ins and per-address requests across nodes', async () => {
      const browser = new CookieBrowser();
      const attempt = async () => {
        const page = await browser.get(`${cluster.issuer}/account/login`);
        const res = await browser.post(`${cluster.issuer}/account/login`, {
          csrf: csrfOf(await page.text()),
          // Not alice: her address would stay blocked for the tests after this one.
          username: 'carol',
          password: 'not the password',
          next: '/account',
        });
        await res.text();
        return res.status;
      };
      // Three free failures, each on whichever node the balancer picked, then a block on every node.
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await attempt());
      expect(statuses).toEqual([401, 401, 401, 429]);
      for (let i = 0; i < 3; i++) expect(await attempt()).toBe(429);

      // Four introspection requests a minute from one address, over three nodes: the fifth is refused.
      const codes = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${cluster.issuer}/introspect`, { method: 'POST' });
        await res.arrayBuffer();
        codes.push(res.status);
      }
      expect(codes.slice(0, 4)).not.toContain(429);
      expect(codes[4]).toBe(429);
    });

    it('publishes a key rotated from the CLI on every node at once, and signs with it only after the delay', async () => {
      const cli = cliFor();
      const rotated = await cli.run(['keys', 'rotate', '--delay', '1h', '--json'], {
        env: { MCP_OAUTH_DATABASE_URL: cluster.database.url, MCP_OAUTH_ISSUER: cluster.issuer },
      });
      expect(rotated.err).toBe('');
      expect(rotated.code).toBe(0);
      const kid = String((JSON.parse(rotated.out) as { kid: string }).kid);
      // Every node is told by the database (NOTIFY), not at its next 30-second key check.
      for (const node of cluster.nodes) {
        await waitFor(
          async () => {
            const jwks = (await (await fetch(`${node.url}/jwks`)).json()) as { keys: { kid: string }[] };
            return jwks.keys.some((k) => k.kid === kid);
          },
          `node ${node.port} to publish key ${kid}`,
          { timeoutMs: 10_000 },
        );
      }
      // Publish before sign: a token minted now is still signed with the old key.
      const client = await register(cluster.issuer, PUBLIC_CLIENT);
      const got = await authorize(cluster.issuer, {
        client,
        username: 'alice',
        password: PASSWORD,
        resource: cluster.resource,
        scope: 'mcp:read',
      });
      const { body } = await redeem(cluster.issuer, client, got, { resource: cluster.resource });
      expect(decodeProtectedHeader(String(body.access_token)).kid).not.toBe(kid);
    });

    it('loses no acknowledged refresh or revocation when a node is killed mid-loop, and the others keep serving', async () => {
      const agents: Agent[] = [];
      for (let i = 0; i < 4; i++) {
        const client = await register(cluster.issuer, { ...PUBLIC_CLIENT, client_name: `looping agent ${i}` });
        const got = await authorize(cluster.issuer, {
          client,
          username: 'alice',
          password: PASSWORD,
          resource: cluster.resource,
          scope: 'mcp:read',
        });
        const { status, body } = await redeem(cluster.issuer, client, got, { resource: cluster.resource });
        expect(status).toBe(200);
        agents.push({
          clientId: client.client_id,
          grantId: String(decodeJwt(String(body.access_token)).grant_id),
          refresh: String(body.refresh_token),
          uncertain: false,
        });
      }
      const [keep1, revokeMe, keep2, keep3] = agents;
      if (!keep1 || !revokeMe || !keep2 || !keep3) throw new Error('four agents expected');
      let stop = false;
      const counts = { refreshes: 0, afterKill: 0 };
      let killed = false;
      const loop = async (agent: Agent) => {
        while (!stop && agent.refusal === undefined) {
          const res = await tokenRequest(cluster.issuer, {
            grant_type: 'refresh_token',
            refresh_token: agent.refresh,
            client_id: agent.clientId,
          }).catch(() => undefined);
          if (!res || res.status >= 500) {
            // Cut off by the dying node: committed or not, the agent cannot know. It tries again
            // with the token it holds (the reuse grace hands it the same successor if it was).
            agent.uncertain = true;
            continue;
          }
          if (res.status !== 200) {
            agent.refusal = `${res.status} ${await res.text()}`;
            return;
          }
          agent.refresh = String(((await res.json()) as Record<string, unknown>).refresh_token);
          counts.refreshes += 1;
          if (killed) counts.afterKill += 1;
        }
      };
      const load = Promise.all(agents.map(loop));
      await waitFor(() => counts.refreshes >= 20, '20 refreshes across the nodes', { timeoutMs: 60_000 });
      const revoked = await adminRevoke(cluster.issuer, revokeMe.grantId);
      expect(revoked.status).toBe(200);
      await waitFor(() => counts.refreshes >= 30, '10 more refreshes', { timeoutMs: 60_000 });
      const victim = cluster.nodes[1];
      victim?.proc.kill('SIGKILL');
      expect(await victim?.exited).toEqual({ code: null, signal: 'SIGKILL' });
      killed = true;
      await waitFor(() => counts.afterKill >= 30, '30 refreshes after the kill on the surviving nodes', {
        timeoutMs: 60_000,
      });
      stop = true;
      await load;

      // The revoked agent was refused; any other refusal came to an agent cut off by the kill, and
      // was the reuse answer. Every other agent still holds a working refresh token.
      expect(revokeMe.refusal).toMatch(/^400 .*invalid_grant/);
      for (const agent of [keep1, keep2, keep3].filter((a) => a.refusal !== undefined)) {
        expect(agent.uncertain).toBe(true);
        expect(agent.refusal).toMatch(/^400 .*invalid_grant/);
      }
      const carriedOn = [keep1, keep2, keep3].filter((a) => a.refusal === undefined);
      expect(carriedOn.length).toBeGreaterThan(0);
      for (const agent of carriedOn) {
        const res = await tokenRequest(cluster.issuer, {
          grant_type: 'refresh_token',
          refresh_token: agent.refresh,
          client_id: agent.clientId,
        });
        expect(res.status).toBe(200);
      }
      // The acknowledged revocation is in the grant record and the feed.
      const record = await cluster.sql.get<{ revoked_at: number | null }>(
        'SELECT revoked_at FROM grant_records WHERE id = ?',
        [revokeMe.grantId],
      );
      expect(record?.revoked_at).not.toBeNull();
      const entry = await cluster.sql.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM revocations WHERE kind = 'grant' AND subject = ?",
        [revokeMe.grantId],
      );
      expect(entry?.n).toBe(1);
      // The survivors answer everything, the metadata included.
      for (const node of [cluster.nodes[0], cluster.nodes[2]]) {
        expect((await fetch(`${node?.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
      }
    });
  },
);
