// Alerts from the audit trail (docs/operating.md#alerts): each rule fires on its pattern and stays
// quiet on ordinary use; every alert is stored once, shown and acknowledged in the console, counted
// in /metrics and POSTed, signed, to the operator's webhook, carrying no token.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAlert } from '../../src/ops/alert_webhook.js';
import type { Alert } from '../../src/storage/alerts.js';
import { connect, PASSWORD, RESOURCE, RESOURCE_NAME, refresh, WebClient } from '../support/account.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'webhook-secret-0123456789-abcdefghijklmnop';
const METRICS = 'metrics-token-0123456789-abcdefghijklmnop';
const DAY = 86400;

interface Delivery {
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(answer: boolean): Promise<{ url: string; got: Delivery[]; close(): Promise<void> }> {
  const got: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      if (answer) res.writeHead(204).end();
      // Otherwise: never answers (a webhook that hangs).
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

const now = () => Math.floor(Date.now() / 1000);

async function alertsOf(server: TestServer, kind: string): Promise<Alert[]> {
  return (await server.app.stores.alerts.list({ limit: 1000 })).filter((a) => a.kind === kind);
}

/** Past activity, as the audit trail of earlier weeks would hold it. */
async function history(
  server: TestServer,
  rows: { at: number; event: string; user?: string; client?: string; ip?: string }[],
): Promise<void> {
  const insert =
    "INSERT INTO audit_events (at, event, result, user_id, client_id, ip) VALUES (?, ?, 'success', ?, ?, ?)";
  for (const r of rows) await server.sql.run(insert, [r.at, r.event, r.user ?? null, r.client ?? null, r.ip ?? null]);
}

describe('alerts from the audit trail', () => {
  let server: TestServer;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hook = await receiver(true);
    server = await startTestServer({
      MCP_OAUTH_ALERT_WEBHOOK_URL: hook.url,
      MCP_OAUTH_ALERT_WEBHOOK_SECRET: SECRET,
      MCP_OAUTH_METRICS_TOKEN: METRICS,
      MCP_OAUTH_ALERT_TOKEN_RATE_MIN: '6',
      MCP_OAUTH_ALERT_TOKEN_RATE_FACTOR: '3',
      MCP_OAUTH_ALERT_UNUSUAL_HOUR_HISTORY: '1d',
      MCP_OAUTH_REFRESH_REUSE_GRACE: '0',
    });
    for (const name of ['alice', 'carol', 'dave', 'erin']) ids[name] = (await server.addUser(name, PASSWORD)).id;
    await server.addUser('root', PASSWORD, { admin: true });
    await server.addResource(RESOURCE, RESOURCE_NAME);
    const t = now();
    // alice: weeks of use at this hour of the day (and the next), always from this address.
    await history(
      server,
      [1, 2, 3, 5].flatMap((d) =>
        [-1800, 0, 1800, 3600].map((o) => ({ at: t - d * DAY + o, event: 'token.issued', user: ids.alice })),
      ),
    );
    await history(server, [{ at: t - 3 * DAY, event: 'login.success', user: ids.alice, ip: '127.0.0.1' }]);
    // carol: history, but only six hours off the current one.
    await history(server, [{ at: t - 5 * DAY - 6 * 3600, event: 'token.issued', user: ids.carol }]);
    // dave: has always signed in from another address.
    await history(server, [{ at: t - 3 * DAY, event: 'login.success', user: ids.dave, ip: '10.9.9.9' }]);
  });
  afterAll(async () => {
    await server.close();
    await hook.close();
  });

  it("fires on a new agent's first write scope, once per agent, and not on read-only use", async () => {
    const reader = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Reader' });
    await connect(server, 'alice', reader, 'mcp:read');
    expect((await alertsOf(server, 'agent.first_write')).filter((a) => a.clientId === reader.client_id)).toEqual([]);

    const writer = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Writer' });
    await connect(server, 'alice', writer);
    const fired = (await alertsOf(server, 'agent.first_write')).filter((a) => a.clientId === writer.client_id);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.details).toMatchObject({ scopes: 'mcp:write', resource: RESOURCE });
    // The same agent registering again and writing again is ordinary use.
    const again = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Writer' });
    await connect(server, 'alice', again);
    expect((await alertsOf(server, 'agent.first_write')).filter((a) => a.clientId === again.client_id)).toEqual([]);
  });

  it('fires when an agent gets far more tokens than its usual rate, and not at its usual rate', async () => {
    const usual = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Steady' });
    // Two tokens an hour for the past week.
    const t = now();
    await history(
      server,
      Array.from({ length: 7 * 24 * 2 }, (_, i) => ({
        at: t - 3600 - i * 1800,
        event: 'token.refreshed',
        client: usual.client_id,
      })),
    );
    let c = await connect(server, 'alice', usual, 'mcp:read');
    for (let i = 0; i < 5; i++) {
      const res = await refresh(server, c);
      c = { ...c, refresh: ((await res.json()) as { refresh_token: string }).refresh_token };
    }
    expect((await alertsOf(server, 'agent.token_rate')).filter((a) => a.clientId === usual.client_id)).toEqual([]);

    const burst = await register(server.url, { ...PUBLIC_CLIENT, client_name: 'Bursty' });
    c = await connect(server, 'alice', burst, 'mcp:read');
    for (let i = 0; i < 4; i++) {
      const res = await refresh(server, c);
      c = { ...c, refresh: ((await res.json()) as { refresh_token: string }).refresh_token };
    }
    expect((await alertsOf(server, 'agent.token_rate')).filter((a) => a.clientId === burst.client_id)).toEqual([]);
    await refresh(server, c);
    const fired = (await alertsOf(server, 'agent.token_rate')).filter((a) => a.clientId === burst.client_id);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.details).toMatchObject({ tokens_last_hour: 6, factor: 3 });
  });

  it('fires on access at an hour the user never used, and not at their usual hours or without history', async () => {
    await connect(server, 'alice', undefined, 'mcp:read');
    expect((await alertsOf(server, 'user.unusual_hour')).filter((a) => a.userId === ids.alice)).toEqual([]);
    await connect(server, 'erin', undefined, 'mcp:read');
    expect((await alertsOf(server, 'user.unusual_hour')).filter((a) => a.userId === ids.erin)).toEqual([]);
    await connect(server, 'carol', undefined, 'mcp:read');
    const fired = (await alertsOf(server, 'user.unusual_hour')).filter((a) => a.userId === ids.carol);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.details.hour_utc).toBe(new Date().getUTCHours());
  });

  it('fires on consent to write right after a sign-in from a new address, and not from a known one', async () => {
    await connect(server, 'dave');
    const fired = (await alertsOf(server, 'user.new_address_write_consent')).filter((a) => a.userId === ids.dave);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ ip: '127.0.0.1', details: { scopes: 'mcp:write' } });
    // alice signed in from this address before; erin never signed in before (no usual address).
    await connect(server, 'alice');
    await connect(server, 'erin');
    const others = (await alertsOf(server, 'user.new_address_write_consent')).filter((a) => a.userId !== ids.dave);
    expect(others).toEqual([]);
  });

  it('fires on refresh-token reuse, not on ordinary refreshes, and sends it signed to the webhook', async () => {
    const c = await connect(server, 'alice', undefined, 'mcp:read');
    const rotated = (await (await refresh(server, c)).json()) as { refresh_token: string; access_token: string };
    expect((await alertsOf(server, 'grant.token_reuse')).filter((a) => a.grantId === c.grantId)).toEqual([]);
    expect((await refresh(server, c)).status).toBe(400);
    const fired = (await alertsOf(server, 'grant.token_reuse')).filter((a) => a.grantId === c.grantId);
    expect(fired).toHaveLength(1);

    await server.app.alerts.drained();
    const delivery = hook.got.find((d) => JSON.parse(d.body).id === fired[0]?.id);
    expect(delivery).toBeDefined();
    const { headers, body } = delivery as Delivery;
    expect(headers['x-mcp-oauth-signature']).toBe(signAlert(SECRET, String(headers['x-mcp-oauth-timestamp']), body));
    expect(JSON.parse(body)).toMatchObject({ kind: 'grant.token_reuse', grant_id: c.grantId, issuer: server.url });
    // No token, code or secret in any delivery.
    for (const d of hook.got) {
      for (const secret of [c.refresh, rotated.refresh_token, rotated.access_token, SECRET])
        expect(d.body).not.toContain(secret);
    }
  });

  it('counts alerts in /metrics', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    const text = await res.text();
    expect(text).toContain('mcp_oauth_alerts_total{kind="grant.token_reuse"} 1');
    expect(text).toContain('mcp_oauth_alerts_total{kind="agent.first_write"}');
    expect(text).toMatch(/mcp_oauth_alert_webhook_deliveries_total\{result="delivered"\} [1-9]/);
  });

  it('shows alerts in the console, where an admin acknowledges them', async () => {
    const [alert] = await alertsOf(server, 'grant.token_reuse');
    const admin = new WebClient(server.url);
    expect((await admin.signIn('root')).status).toBe(303);
    const page = await admin.page('/admin/alerts');
    expect(page.html).toContain(`data-alert-id="${alert?.id}"`);
    const res = await admin.post(`/admin/alerts/${alert?.id}/acknowledge`, { csrf: page.csrf, back: '/admin/alerts' });
    expect(res.status).toBe(303);
    expect((await server.app.stores.alerts.find(alert?.id ?? 0))?.acknowledgedBy).toBe('root');
    expect((await admin.page('/admin/alerts')).html).not.toContain(`data-alert-id="${alert?.id}"`);
    expect((await admin.page('/admin/alerts?state=all')).html).toContain(`data-alert-id="${alert?.id}"`);
    const missing = await admin.post('/admin/alerts/999999/acknowledge', { csrf: page.csrf });
    expect(missing.status).toBe(404);
  });
});

describe('registration bursts, with a webhook that never answers', () => {
  let server: TestServer;
  let hook: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    hook = await receiver(false);
    server = await startTestServer({
      MCP_OAUTH_ALERT_REGISTRATIONS_PER_HOUR: '3',
      MCP_OAUTH_ALERT_WEBHOOK_URL: hook.url,
      MCP_OAUTH_ALERT_WEBHOOK_SECRET: SECRET,
    });
  });
  afterAll(async () => {
    await server.close();
    await hook.close();
  });

  it('fires once when one address registers too often, not below the threshold, and never holds a request', async () => {
    await register(server.url, PUBLIC_CLIENT);
    await register(server.url, PUBLIC_CLIENT);
    expect(await alertsOf(server, 'registration.burst')).toEqual([]);
    // Each registration answers although the webhook holds the alert's delivery open.
    await register(server.url, PUBLIC_CLIENT);
    await register(server.url, PUBLIC_CLIENT);
    const fired = await alertsOf(server, 'registration.burst');
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ ip: '127.0.0.1', details: { registrations_last_hour: 3 } });
    await waitFor(() => hook.got.length === 1, 'the webhook to receive the alert');
  });
});
