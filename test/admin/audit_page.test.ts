// The audit trail in the console: the same filters as `mcp-oauth audit`, escaped output, admins only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

describe('admin audit page', () => {
  let server: TestServer;
  let root: WebClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    root = await signedInClient(server, 'root');
    await connect(server, 'alice');
    await connect(server, 'bob');
  });
  afterAll(() => server.close());

  const rowsOf = (html: string) => [...html.matchAll(/<tr data-event="([^"]+)">/g)].map((m) => m[1]);

  it('lists events and filters them by user, event family and time', async () => {
    const all = await root.page('/admin/audit');
    expect(all.res.status).toBe(200);
    expect(all.res.headers.get('cache-control')).toBe('no-store');
    expect(rowsOf(all.html)).toEqual(expect.arrayContaining(['consent.given', 'token.issued', 'login.success']));
    const alice = await root.page('/admin/audit?user=alice&event=consent');
    expect(rowsOf(alice.html)).toEqual(['consent.given']);
    expect(alice.html).toContain('alice');
    expect(alice.html).not.toContain('>bob<');
    const future = await root.page('/admin/audit?since=2999-01-01');
    expect(rowsOf(future.html)).toEqual([]);
    expect(future.html).toContain('No events match.');
  });

  it.each([
    ['user=nobody', 'There is no user named nobody.'],
    ['since=yesterday-ish', 'Since takes an age'],
    ['limit=0', 'Limit is a whole number from 1 to 1000.'],
  ])('explains a bad filter (%s) without a 5xx', async (query, message) => {
    const page = await root.page(`/admin/audit?${query}`);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain(message);
    expect(rowsOf(page.html)).toEqual([]);
  });

  it('escapes what agents chose themselves', async () => {
    await server.app.stores.sql.run(
      "INSERT INTO audit_events (at, event, result, client_id, details) VALUES (?, 'client.registered', 'success', ?, ?)",
      [Math.floor(Date.now() / 1000), '<script>x</script>', JSON.stringify({ name: '<img src=x>' })],
    );
    const page = await root.page('/admin/audit?event=client.registered');
    expect(page.html).not.toContain('<script>x</script>');
    expect(page.html).not.toContain('<img src=x>');
    expect(page.html).toContain('&lt;script&gt;');
  });
});
