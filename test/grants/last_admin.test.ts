// Nobody can lock everyone out of the console: disabling or demoting the last enabled admin is
// refused on every path (409 in the admin API, a page in the console, a message at the CLI), and the
// refusal changes nothing: no flag, no revoked grant, no feed entry, no ended session, no audit row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { PASSWORD, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { cliFor } from '../support/cli.js';

describe('the last enabled admin', () => {
  let server: TestServer;
  let operatorToken: string;
  beforeAll(async () => {
    // serverWithUsers: alice and bob, and root, the only admin.
    server = await serverWithUsers();
    // Made at the CLI without --user: it belongs to no admin, so "not yourself" does not stop it.
    operatorToken = (await server.app.stores.adminTokens.create('ops', null, epochSeconds())).token;
  });
  afterAll(() => server.close());

  const user = (name: string) => server.app.stores.users.findByUsername(name);
  const cli = (...argv: string[]) => cliFor(server.dataDir).run(argv);
  const api = async (path: string, token = operatorToken) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const snapshot = async () => ({
    users: await server.sql.all('SELECT id, is_admin, disabled, updated_at FROM users ORDER BY id'),
    audit: await server.sql.get('SELECT COUNT(*) AS n FROM audit_events'),
    feed: await server.app.stores.revocations.latestSeq(),
    sessions: await server.sql.get('SELECT COUNT(*) AS n FROM web_sessions'),
  });

  it('the admin API refuses with 409 and changes nothing', async () => {
    const root = await signedInClient(server, 'root');
    const before = await snapshot();
    const res = await api('/admin/api/users/root/disable');
    expect(res).toEqual({
      status: 409,
      body: { error: 'conflict', error_description: expect.stringContaining('root is the last enabled admin') },
    });
    expect(await snapshot()).toEqual(before);
    expect(await user('root')).toMatchObject({ isAdmin: true, disabled: false });
    expect((await root.get('/admin')).status).toBe(200);
  });

  it('the CLI refuses to disable or demote them, with a message, and changes nothing', async () => {
    const before = await snapshot();
    for (const command of ['disable', 'demote']) {
      expect(await cli('users', command, 'root')).toEqual({
        code: 1,
        out: '',
        err: `mcp-oauth: root is the last enabled admin: make another user an admin before you ${command} them\n`,
      });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('with a second admin the first may go; then the second is the last', async () => {
    expect(await cli('users', 'promote', 'alice')).toEqual({ code: 0, out: 'alice is now an admin\n', err: '' });
    expect(await cli('users', 'promote', 'alice')).toMatchObject({ code: 0, out: 'alice is already an admin\n' });
    expect(await cli('users', 'demote', 'root')).toEqual({ code: 0, out: 'root is no longer an admin\n', err: '' });
    expect((await user('root'))?.isAdmin).toBe(false);
    expect((await api('/admin/api/users/alice/disable')).status).toBe(409);
    expect((await cli('users', 'demote', 'alice')).code).toBe(1);
    expect(await user('alice')).toMatchObject({ isAdmin: true, disabled: false });
    // A disabled admin is no admin to count on: with root back as an admin, alice may be disabled,
    // and then root may not.
    expect((await cli('users', 'promote', 'root')).code).toBe(0);
    expect((await api('/admin/api/users/alice/disable')).status).toBe(200);
    expect((await api('/admin/api/users/root/disable')).status).toBe(409);
    expect((await cli('users', 'disable', 'root')).code).toBe(1);
    expect((await cli('users', 'enable', 'alice')).code).toBe(0);
    // A token tied to an admin is that admin: it may not disable them, last admin or not.
    const aliceToken = (
      await server.app.stores.adminTokens.create('alice', (await user('alice'))?.id ?? null, epochSeconds())
    ).token;
    expect((await api('/admin/api/users/alice/disable', aliceToken)).status).toBe(400);
    expect((await user('alice'))?.disabled).toBe(false);
  });

  it("the console refuses an admin's own account with a page; demoting ends the console session", async () => {
    // In the console the actor is an enabled admin, so the target is the last one only if it is
    // the actor: refused as their own account.
    const alice = await signedInClient(server, 'alice');
    const { csrf } = await alice.page('/admin/users');
    const self = await alice.post(`/admin/users/${(await user('alice'))?.id}/disable`, { csrf });
    expect(self.status).toBe(400);
    expect(await self.text()).toContain('You cannot disable your own account.');
    const root = await signedInClient(server, 'root');
    expect((await cli('users', 'demote', 'root')).code).toBe(0);
    expect((await root.get('/admin')).status).toBe(303);
    expect((await root.signIn('root', PASSWORD)).status).toBe(303);
    expect((await root.get('/admin')).status).toBe(403);
  });
});
