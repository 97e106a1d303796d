// Revocation streams per resource credential: one credential can hold only its share of the
// server's stream slots (429 with Retry-After beyond it), so it cannot lock every other resource
// server out; the server-wide cap (503) still holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startTestServer, type TestServer } from '../support/app.js';
import { basicAuth, eventually, openStream, startFeedOnly } from '../support/feed.js';

/** A resource and a credential for it; returns the Basic authorization header. */
async function credentialFor(server: TestServer, uri: string): Promise<string> {
  await server.addResource(uri, uri);
  const resourceId = (await server.app.stores.resources.findByUri(uri))?.id ?? -1;
  const creds = await server.app.stores.credentials.create(resourceId, { replace: true });
  return basicAuth(creds.id, creds.secret);
}

const refusal = (url: string, auth: string) =>
  fetch(`${url}/revocations/stream`, { headers: { authorization: auth, accept: 'text/event-stream' } });

describe('revocation streams per credential', () => {
  let server: TestServer;
  let first: string;
  let second: string;
  beforeAll(async () => {
    server = await startTestServer({ MCP_OAUTH_FEED_STREAMS_PER_CREDENTIAL: '2' });
    first = await credentialFor(server, 'https://one.example.com/mcp');
    second = await credentialFor(server, 'https://two.example.com/mcp');
  });
  afterAll(() => server.close());

  it('defaults to 4 streams per credential and refuses a setting out of range', () => {
    expect(loadConfig({}).feedStreamsPerCredential).toBe(4);
    expect(() => loadConfig({ MCP_OAUTH_FEED_STREAMS_PER_CREDENTIAL: '0' })).toThrow(
      /MCP_OAUTH_FEED_STREAMS_PER_CREDENTIAL must be a whole number from 1 to 100/,
    );
  });

  it('answers 429 with Retry-After beyond the credential share, while another credential still gets in', async () => {
    const a = await openStream(server.url, first);
    const b = await openStream(server.url, first);
    try {
      const refused = await refusal(server.url, first);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.headers.get('cache-control')).toBe('no-store');
      expect(await refused.json()).toEqual({
        error: 'too_many_requests',
        error_description: expect.stringContaining('credential'),
      });
      expect(server.app.feedHub.stats().streams).toBe(2);

      const other = await openStream(server.url, second);
      expect(server.app.feedHub.stats().streams).toBe(3);
      other.close();

      // A closed stream gives its slot back to the same credential.
      a.close();
      await eventually(() => server.app.feedHub.stats().streams === 1);
      const again = await openStream(server.url, first);
      again.close();
    } finally {
      a.close();
      b.close();
    }
    await eventually(() => server.app.feedHub.stats().streams === 0);
  });

  it('keeps the server-wide cap: 503 once every slot is taken, even for a credential under its share', async () => {
    const feed = await startFeedOnly(server, { maxStreams: 3, maxStreamsPerCredential: 2 });
    const open = [
      await openStream(feed.url, first),
      await openStream(feed.url, first),
      await openStream(feed.url, second),
    ];
    try {
      expect((await refusal(feed.url, first)).status).toBe(429);
      const full = await refusal(feed.url, second);
      expect(full.status).toBe(503);
      expect(((await full.json()) as { error: string }).error).toBe('temporarily_unavailable');
    } finally {
      for (const s of open) s.close();
      await eventually(() => feed.hub.stats().streams === 0);
      await feed.close();
    }
  });
});
