// The admin lists in pages: the JSON API's grants, clients, users and audit events (limit, opaque cursor, `next` URL)
// and the console's grants, agents, users and audit pages (first and next page links). Lists that
// fit in one page look as before. Rows are written straight to the database: a few hundred
// authorizations through the real flow would only make the test slow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { RESOURCE, serverWithUsers, signedInClient, type WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';

interface Json {
  [key: string]: unknown;
}

const GRANTS = 250;
const AGENTS = 130;
const USERS = 120;

describe('admin lists in pages', () => {
  let server: TestServer;
  let token: string;
  let root: WebClient;

  beforeAll(async () => {
    server = await serverWithUsers();
    const { stores } = server.app;
    const alice = (await stores.users.findByUsername('alice'))?.id ?? '';
    const now = epochSeconds();
    await server.sql.transaction(async () => {
      for (let i = 0; i < AGENTS; i++) {
        const id = `agent-${String(i).padStart(4, '0')}`;
        await stores.oidc.upsert(
          'Client',
          id,
          { client_id: id, client_name: `Agent ${i}`, redirect_uris: ['http://127.0.0.1/cb'] },
          undefined,
        );
      }
      for (let i = 0; i < GRANTS; i++) {
        await stores.grantRecords.saved(
          {
            id: `grant-${String(i).padStart(4, '0')}`,
            accountId: alice,
            clientId: `agent-${String(i % AGENTS).padStart(4, '0')}`,
            resource: RESOURCE,
            scopes: ['mcp:read'],
            obtainedVia: 'consent',
          },
          now - i,
        );
      }
      for (let i = 0; i < USERS; i++)
        await stores.users.create(`user${String(i).padStart(4, '0')}`, 'not-a-hash', false);
      for (let i = 0; i < 30; i++) {
        await server.sql.run(
          "INSERT INTO audit_events (at, event, result, details) VALUES (?, 'paging.test', 'success', ?)",
          [now - 30 + i, JSON.stringify({ i })],
        );
      }
    });
    token = (await stores.adminTokens.create('paging', null, now)).token;
    root = await signedInClient(server, 'root');
  });
  afterAll(() => server.close());

  async function api(url: string): Promise<{ status: number; body: Json }> {
    const res = await fetch(url.startsWith('http') ? url : `${server.url}${url}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  it('pages the grants list of the API with a next URL until the end', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/admin/api/grants?user=alice';
    const sizes: number[] = [];
    while (url) {
      const { status, body } = await api(url);
      expect(status).toBe(200);
      const grants = body.grants as { id: string }[];
      sizes.push(grants.length);
      seen.push(...grants.map((g) => g.id));
      url = body.next as string | undefined;
      if (url) {
        expect(url.startsWith(`${server.config.issuer}/admin/api/grants?`)).toBe(true);
        expect(new URL(url).searchParams.get('user')).toBe('alice');
        expect(new URL(url).searchParams.get('cursor')).toBe(body.next_cursor);
      } else expect(body).not.toHaveProperty('next_cursor');
    }
    expect(sizes).toEqual([100, 100, 50]);
    expect(new Set(seen).size).toBe(GRANTS);
    // Newest first, as before.
    expect(seen[0]).toBe('grant-0000');
    expect(seen.at(-1)).toBe('grant-0249');
  });

  it('takes a limit up to 1000, and refuses a bad limit or a cursor it did not hand out', async () => {
    const one = await api('/admin/api/grants?user=alice&limit=1000');
    expect((one.body.grants as unknown[]).length).toBe(GRANTS);
    expect(one.body).not.toHaveProperty('next');
    const small = await api('/admin/api/grants?user=alice&limit=7');
    expect((small.body.grants as unknown[]).length).toBe(7);
    for (const query of [
      'limit=1001',
      'limit=0',
      'limit=-1',
      'limit=1&limit=2',
      'cursor=nonsense!',
      `cursor=${Buffer.from('o:x').toString('base64url')}`,
      `cursor=${Buffer.from('b:5').toString('base64url')}`,
    ]) {
      const { status, body } = await api(`/admin/api/grants?${query}`);
      expect(status, query).toBe(400);
      expect(body.error).toBe('invalid_request');
    }
  });

  it('pages the clients list of the API; a list that fits in one page has no next', async () => {
    const first = await api('/admin/api/clients');
    expect((first.body.clients as unknown[]).length).toBe(100);
    const rest = await api(first.body.next as string);
    expect((rest.body.clients as unknown[]).length).toBe(AGENTS - 100);
    expect(rest.body).not.toHaveProperty('next');
    const grants = await api('/admin/api/grants?user=bob');
    expect(grants.body).toEqual({ grants: [] });
  });

  it('pages the users and the audit trail of the API', async () => {
    const users = await api('/admin/api/users');
    expect((users.body.users as unknown[]).length).toBe(100);
    expect((users.body.users as Json[])[0]).toEqual({
      id: expect.any(String),
      username: expect.any(String),
      is_admin: expect.any(Boolean),
      disabled: expect.any(Boolean),
      created_at: expect.any(Number),
    });
    expect(JSON.stringify(users.body)).not.toContain('not-a-hash');
    const moreUsers = await api(users.body.next as string);
    expect((moreUsers.body.users as unknown[]).length).toBe(USERS + 3 - 100);

    const order: number[] = [];
    let url: string | undefined = '/admin/api/audit?event=paging.test&limit=12';
    while (url) {
      const { status, body } = await api(url);
      expect(status).toBe(200);
      order.push(...(body.events as { details: { i: number } }[]).map((e) => e.details.i));
      url = body.next as string | undefined;
    }
    expect(order).toEqual(Array.from({ length: 30 }, (_, k) => 29 - k));
    expect((await api(`/admin/api/audit?cursor=${Buffer.from('o:5').toString('base64url')}`)).status).toBe(400);
    expect((await api('/admin/api/audit?user=nobody')).status).toBe(404);
    expect((await api('/admin/api/audit?since=yesterday')).status).toBe(400);
  });

  /** The href of the pager's link with this text, unescaped. */
  const link = (html: string, text: string) =>
    [...html.matchAll(/<a href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].find((m) => m[2] === text)?.[1]?.replace(/&amp;/g, '&');

  const rows = (html: string, attr: string) =>
    [...html.matchAll(new RegExp(`<tr ${attr}="([^"]+)"`, 'g'))].map((m) => m[1]);

  it('shows the console lists a page at a time with next and first page links', async () => {
    for (const [path, attr, total] of [
      ['/admin?user=alice', 'data-grant-id', GRANTS],
      ['/admin/agents', 'data-client-id', AGENTS],
      ['/admin/users', 'data-username', USERS + 3],
    ] as const) {
      const seen: string[] = [];
      let next: string | undefined = path;
      let pages = 0;
      while (next) {
        const page = await root.page(next);
        expect(page.res.status, next).toBe(200);
        seen.push(...(rows(page.html, attr) as string[]));
        expect(page.html.includes('>First page</a>'), next).toBe(pages > 0);
        next = link(page.html, 'Next page');
        pages += 1;
      }
      expect(new Set(seen).size, path).toBe(total);
      expect(pages, path).toBe(Math.ceil(total / 100));
    }
    const bad = await root.page('/admin/agents?cursor=nonsense!');
    expect(bad.res.status).toBe(200);
    expect(bad.html).toContain('cursor is not one this server handed out');
  });

  it('pages the audit trail by its own limit, older rows on the next page', async () => {
    const first = await root.page('/admin/audit?event=paging.test&limit=12');
    // Each row's details as "name: value" (the audit page shows no JSON).
    const details = (html: string) => [...html.matchAll(/<dt>i<\/dt><dd>(\d+)<\/dd>/g)].map((m) => Number(m[1]));
    expect(details(first.html)).toEqual([29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18]);
    const second = await root.page(link(first.html, 'Next page') ?? '');
    expect(details(second.html)).toEqual([17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
    const third = await root.page(link(second.html, 'Next page') ?? '');
    expect(details(third.html)).toEqual([5, 4, 3, 2, 1, 0]);
    expect(link(third.html, 'Next page')).toBeUndefined();
    expect(link(third.html, 'First page')).toBe('/admin/audit?event=paging.test&limit=12');
  });
});
