// The user's own security page (a new password needs the current one and ends every other
// session; removing TOTP needs the password) and the admin console's new user and factor reset
// (audited with the admin as actor; a reset signs the user out everywhere). The account sign-in
// page asks a TOTP user for the code too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, PASSWORD, serverWithUsers, signedInClient, WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { enrolTotp, field, totpCode } from './support.js';

const NEW_PASSWORD = 'a new and longer passphrase';

describe('account security page and admin console', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithUsers();
    for (const name of ['kim', 'lee', 'max']) await server.addUser(name, PASSWORD);
  });
  afterAll(() => server.close());

  const userId = async (name: string) => (await server.app.stores.users.findByUsername(name))?.id ?? '';

  it('changes the password only with the current one, and signs out every other session', async () => {
    const here = await signedInClient(server, 'kim');
    const elsewhere = await signedInClient(server, 'kim');
    const { csrf } = await here.page('/account/security');
    const wrong = await here.post('/account/password', {
      csrf,
      current: 'not my password',
      password: NEW_PASSWORD,
      repeat: NEW_PASSWORD,
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Your current password is not right.');
    const mismatch = await here.post('/account/password', {
      csrf,
      current: PASSWORD,
      password: NEW_PASSWORD,
      repeat: `${NEW_PASSWORD}!`,
    });
    expect(mismatch.status).toBe(400);
    const short = await here.post('/account/password', { csrf, current: PASSWORD, password: 'short', repeat: 'short' });
    expect(short.status).toBe(400);

    const ok = await here.post('/account/password', {
      csrf,
      current: PASSWORD,
      password: NEW_PASSWORD,
      repeat: NEW_PASSWORD,
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/account/security?notice=password-changed');
    expect((await here.get('/account/security')).status).toBe(200);
    expect((await elsewhere.get('/account')).status).toBe(303);
    expect((await new WebClient(server.url).signIn('kim', PASSWORD)).status).toBe(401);
    expect((await new WebClient(server.url).signIn('kim', NEW_PASSWORD)).status).toBe(303);
    const event = (await auditRows(server, 'user.password_changed')).at(-1);
    expect(event?.user_id).toBe(await userId('kim'));
    expect(String(event?.details)).toContain('"by":"user"');
    expect(JSON.stringify(await auditRows(server, 'user.password_changed'))).not.toContain(NEW_PASSWORD);
  });

  it('asks for the code at the account sign-in too, and removes TOTP only with the password', async () => {
    const web = await signedInClient(server, 'lee');
    const { secret } = await enrolTotp(web);
    // A second set-up (an old tab) is refused with a page; the secret in use stays.
    const again = await web.post('/account/security/totp', { csrf: (await web.page('/account/security')).csrf });
    expect(again.status).toBe(409);
    expect((await server.app.stores.factors.totp(await userId('lee')))?.secret).toBe(secret);
    const fresh = new WebClient(server.url);
    const step = await fresh.signIn('lee');
    expect(step.status).toBe(200);
    const html = await step.text();
    expect(html).toContain('name="code"');
    expect((await fresh.get('/account')).status).toBe(303);
    const signed = await fresh.post('/account/login/code', {
      csrf: field(html, 'csrf'),
      pending: field(html, 'pending'),
      code: totpCode(secret, 1),
      next: '/account',
    });
    expect(signed.status).toBe(303);
    expect((await fresh.get('/account')).status).toBe(200);

    const { csrf } = await fresh.page('/account/security');
    const refused = await fresh.post('/account/security/totp/remove', { csrf, current: 'wrong password' });
    expect(refused.status).toBe(401);
    expect((await server.app.stores.factors.totp(await userId('lee')))?.confirmed).toBe(true);
    const removed = await fresh.post('/account/security/totp/remove', { csrf, current: PASSWORD });
    expect(removed.status).toBe(303);
    expect(await server.app.stores.factors.totp(await userId('lee'))).toBeUndefined();
    expect(await server.app.stores.factors.recoveryCodesLeft(await userId('lee'))).toBe(0);
    expect((await auditRows(server, 'user.totp_removed')).at(-1)?.user_id).toBe(await userId('lee'));
  });

  it('signs every other session out when the user removes a passkey', async () => {
    await server.addUser('pia', PASSWORD);
    const here = await signedInClient(server, 'pia');
    const elsewhere = await signedInClient(server, 'pia');
    const factors = server.app.stores.factors;
    await factors.addPasskey({
      id: 'test-credential-id',
      userId: await userId('pia'),
      publicKey: new Uint8Array([1, 2, 3]),
      counter: 0,
      transports: ['internal'],
      name: 'Old phone',
      createdAt: 0,
    });
    const { csrf, html } = await here.page('/account/security');
    expect(html).toContain('Old phone');
    const other = await here.post('/account/security/passkeys/someone-elses/remove', { csrf });
    expect(other.status).toBe(404);
    expect((await elsewhere.get('/account')).status).toBe(200);
    const res = await here.post('/account/security/passkeys/test-credential-id/remove', { csrf });
    expect(res.status).toBe(303);
    expect(await factors.passkeys(await userId('pia'))).toHaveLength(0);
    expect((await here.get('/account/security')).status).toBe(200);
    expect((await elsewhere.get('/account')).status).toBe(303);
    expect((await auditRows(server, 'user.passkey_removed')).at(-1)?.user_id).toBe(await userId('pia'));
  });

  it('lets an admin add a user, who can then sign in', async () => {
    const root = await signedInClient(server, 'root');
    const { csrf } = await root.page('/admin/users');
    const bad = await root.post('/admin/users', { csrf, username: '-bad', password: PASSWORD });
    expect(bad.status).toBe(400);
    const weak = await root.post('/admin/users', { csrf, username: 'nina', password: 'short' });
    expect(weak.status).toBe(400);
    const taken = await root.post('/admin/users', { csrf, username: 'alice', password: PASSWORD });
    expect(taken.status).toBe(409);
    expect(await server.app.stores.users.findByUsername('nina')).toBeUndefined();

    const made = await root.post('/admin/users', { csrf, username: 'nina', password: PASSWORD, back: '/admin/users' });
    expect(made.status).toBe(303);
    expect(made.headers.get('location')).toBe('/admin/users?notice=user-created');
    const nina = await server.app.stores.users.findByUsername('nina');
    expect(nina?.isAdmin).toBe(false);
    expect((await new WebClient(server.url).signIn('nina')).status).toBe(303);
    const event = (await auditRows(server, 'user.created')).at(-1);
    expect(event?.user_id).toBe(nina?.id);
    expect(String(event?.details)).toContain(`"by":"admin","actor_id":"${await userId('root')}"`);
    expect(JSON.stringify(await auditRows(server, 'user.created'))).not.toContain(PASSWORD);
  });

  it("lets an admin reset a user's factors, which signs the user out everywhere", async () => {
    const max = await signedInClient(server, 'max');
    await enrolTotp(max);
    expect((await max.get('/account')).status).toBe(200);
    const root = await signedInClient(server, 'root');
    const { csrf, html } = await root.page('/admin/users');
    expect(html).toContain(`/admin/users/${await userId('max')}/reset-factors`);
    const res = await root.post(`/admin/users/${await userId('max')}/reset-factors`, { csrf, back: '/admin/users' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/users?notice=factors-reset');
    expect(await server.app.stores.factors.totp(await userId('max'))).toBeUndefined();
    expect((await max.get('/account')).status).toBe(303);
    // The password alone signs in again.
    expect((await new WebClient(server.url).signIn('max')).status).toBe(303);
    const event = (await auditRows(server, 'user.factors_reset')).at(-1);
    expect(event?.user_id).toBe(await userId('max'));
    expect(String(event?.details)).toContain('"totp":true');
  });

  it('refuses the new console actions to non-admins and without the CSRF token', async () => {
    const alice = await signedInClient(server, 'alice');
    const { csrf } = await alice.page('/account');
    expect((await alice.post('/admin/users', { csrf, username: 'evil', password: PASSWORD })).status).toBe(403);
    expect((await alice.post(`/admin/users/${await userId('bob')}/reset-factors`, { csrf })).status).toBe(403);
    const root = await signedInClient(server, 'root');
    expect(
      (await root.post('/admin/users', { csrf: 'x'.repeat(43), username: 'evil', password: PASSWORD })).status,
    ).toBe(403);
    expect(await server.app.stores.users.findByUsername('evil')).toBeUndefined();
  });
});
