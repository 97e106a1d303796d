// The alert webhook's queue is bounded and never blocks: with a receiver that never answers, new
// alerts push out the oldest waiting ones, counted as dropped. And the webhook settings refuse to
// start half-configured.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createAlertSink } from '../../src/ops/alert_webhook.js';
import type { Alert } from '../../src/storage/alerts.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'webhook-secret-0123456789-abcdefghijklmnop';

const alert = (id: number): Alert => ({
  id,
  kind: 'registration.burst',
  at: 1,
  userId: null,
  clientId: null,
  grantId: null,
  ip: '192.0.2.1',
  details: {},
  acknowledgedAt: null,
  acknowledgedBy: null,
});

describe('the alert webhook queue', () => {
  let hanging: Server;
  let url = '';
  let arrived = 0;
  beforeAll(async () => {
    hanging = createServer(() => {
      arrived += 1; // and never answers
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => hanging.close(() => resolve()));
    hanging.closeAllConnections();
    await closed;
  });

  it('keeps at most maxQueue alerts waiting, dropping (and counting) the oldest', async () => {
    const registry = new Registry();
    const sink = createAlertSink({
      registry,
      log: createLogger('silent'),
      issuer: 'https://auth.example.com',
      webhook: { url, secret: SECRET },
      maxQueue: 2,
    });
    for (let id = 1; id <= 5; id++) sink(alert(id));
    await waitFor(() => arrived === 1, 'the first delivery to be under way');
    const text = await registry.metrics();
    expect(text).toContain('mcp_oauth_alerts_total{kind="registration.burst"} 5');
    expect(text).toContain('mcp_oauth_alert_webhook_deliveries_total{result="dropped"} 2');
  });
});

describe('alert webhook settings', () => {
  const base = { MCP_OAUTH_DATA_DIR: '/tmp/unused' };
  it('needs a secret with a URL, https or loopback, and no credentials in it', () => {
    expect(() => loadConfig({ ...base, MCP_OAUTH_ALERT_WEBHOOK_URL: 'https://hooks.example.com/a' })).toThrow(
      /MCP_OAUTH_ALERT_WEBHOOK_SECRET/,
    );
    expect(() =>
      loadConfig({
        ...base,
        MCP_OAUTH_ALERT_WEBHOOK_URL: 'http://hooks.example.com/a',
        MCP_OAUTH_ALERT_WEBHOOK_SECRET: SECRET,
      }),
    ).toThrow(/https/);
    expect(() =>
      loadConfig({
        ...base,
        MCP_OAUTH_ALERT_WEBHOOK_URL: 'https://user:pw@hooks.example.com/a',
        MCP_OAUTH_ALERT_WEBHOOK_SECRET: SECRET,
      }),
    ).toThrow(/credentials/);
    const ok = loadConfig({
      ...base,
      MCP_OAUTH_ALERT_WEBHOOK_URL: 'https://hooks.example.com/a',
      MCP_OAUTH_ALERT_WEBHOOK_SECRET: SECRET,
    });
    expect(ok.alerts.webhookUrl).toBe('https://hooks.example.com/a');
    expect(ok.alerts.tokenRateFactor).toBe(10);
  });
});
