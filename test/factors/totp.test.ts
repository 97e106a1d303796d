// TOTP as a second factor: enrolment on the account page (secret shown, confirmed with a code,
// recovery codes shown once and stored hashed), the code step after the password in an agent's
// authorization, one use per code, recovery codes, the back-off shared with passwords, and the
// acr/amr/auth_time the access token then carries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/lib/passwords.js';
import { ACR } from '../../src/lib/sign_in_strength.js';
import { auditRows, PASSWORD, RESOURCE, serverWithUsers, signedInClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { consentAndRedeem, enrolTotp, field, startAuthorization, submit, totpCode } from './support.js';

describe('TOTP second factor', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers({ MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS: '3' });
    for (const name of ['dora', 'erin', 'fay', 'gus', 'hal', 'ivy', 'jay']) await server.addUser(name, PASSWORD);
    client = await register(server.url, PUBLIC_CLIENT);
  });
  afterAll(() => server.close());

  const authorizeWith = (extra: Record<string, string> = {}) =>
    startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read', ...extra });

  it('enrols with a confirmed code, shows the recovery codes once and stores only their hashes', async () => {
    const web = await signedInClient(server, 'dora');
    const { secret, codes } = await enrolTotp(web);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const dora = await server.app.stores.users.findByUsername('dora');
    const stored = JSON.stringify(
      await server.sql.all('SELECT * FROM recovery_codes WHERE user_id = ?', [dora?.id ?? null]),
    );
    for (const c of codes) {
      expect(stored).not.toContain(c);
      expect(stored).not.toContain(c.replace(/-/g, ''));
    }
    const again = await (await web.get('/account/security')).text();
    expect(again).not.toContain(secret);
    for (const c of codes) expect(again).not.toContain(c);
    expect((await auditRows(server, 'user.totp_enabled')).some((r) => r.user_id === dora?.id)).toBe(true);
    // Neither the secret nor a recovery code is in the audit trail.
    const trail = JSON.stringify(await server.sql.all('SELECT * FROM audit_events'));
    expect(trail).not.toContain(secret);
    for (const c of codes) expect(trail).not.toContain(c);
  });

  it('refuses to confirm an enrolment with a wrong code, and asks nothing at sign-in until confirmed', async () => {
    const web = await signedInClient(server, 'erin');
    const { csrf } = await web.page('/account/security');
    const started = await (await web.post('/account/security/totp', { csrf })).text();
    const res = await web.post('/account/security/totp/confirm', { csrf, code: '000000' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('That code is not right.');
    expect(started).toContain('id="totp-secret"');
    const a = await authorizeWith();
    const signed = await submit(server, a, 'login', { username: 'erin', password: PASSWORD });
    expect(signed.html).toContain('name="scope"');
  });

  it('asks for the code after the password; the token then says mfa, otp and when', async () => {
    const web = await signedInClient(server, 'fay');
    const { secret } = await enrolTotp(web);
    const a = await authorizeWith();
    const before = Math.floor(Date.now() / 1000);
    const step = await submit(server, a, 'login', { username: 'fay', password: PASSWORD });
    expect(step.status).toBe(200);
    expect(step.html).toContain('name="code"');
    expect(step.html).not.toContain('name="scope"');
    const pending = field(step.html, 'pending');
    expect(pending).not.toContain(secret);
    const wrong = await a.browser.post(`${a.url}/code`, { csrf: field(step.html, 'csrf'), pending, code: '123456' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That code is not right, or it was already used.');
    const failure = (await auditRows(server, 'login.failure')).at(-1);
    expect(JSON.parse(String(failure?.details))).toMatchObject({ reason: 'wrong_second_factor' });
    const ok = await submit(server, a, 'code', { pending, code: totpCode(secret, 1) });
    expect(ok.html).toContain('name="scope"');
    const claims = await consentAndRedeem(server, client, a, RESOURCE);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    const success = (await auditRows(server, 'login.success')).at(-1);
    expect(JSON.parse(String(success?.details))).toMatchObject({ method: 'totp' });
  });

  it('accepts each code once, and each recovery code once', async () => {
    const web = await signedInClient(server, 'gus');
    const { secret, codes } = await enrolTotp(web);
    const code = totpCode(secret, 1);
    const first = await authorizeWith();
    const p1 = field((await submit(server, first, 'login', { username: 'gus', password: PASSWORD })).html, 'pending');
    expect((await submit(server, first, 'code', { pending: p1, code })).html).toContain('name="scope"');

    const second = await authorizeWith();
    const p2 = field((await submit(server, second, 'login', { username: 'gus', password: PASSWORD })).html, 'pending');
    const replay = await submit(server, second, 'code', { pending: p2, code });
    expect(replay.status).toBe(401);
    const recovery = codes[0] ?? '';
    const viaRecovery = await submit(server, second, 'code', { pending: p2, code: recovery.toUpperCase() });
    expect(viaRecovery.html).toContain('name="scope"');
    const claims = await consentAndRedeem(server, client, second, RESOURCE);
    expect(claims.acr).toBe(ACR.mfa);

    const third = await authorizeWith();
    const p3 = field((await submit(server, third, 'login', { username: 'gus', password: PASSWORD })).html, 'pending');
    expect((await submit(server, third, 'code', { pending: p3, code: recovery })).status).toBe(401);
  });

  it('counts wrong codes like wrong passwords: blocked, and the password does not reset it', async () => {
    const web = await signedInClient(server, 'hal');
    const { secret } = await enrolTotp(web);
    const a = await authorizeWith();
    const pending = field((await submit(server, a, 'login', { username: 'hal', password: PASSWORD })).html, 'pending');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await a.browser.post(`${a.url}/code`, { csrf: field(a.html, 'csrf'), pending, code: '000000' });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toContain(429);
    // The right password now meets the same block, and so does the right code.
    const again = await authorizeWith();
    const login = await again.browser.post(`${again.url}/login`, {
      csrf: field(again.html, 'csrf'),
      username: 'hal',
      password: PASSWORD,
    });
    expect(login.status).toBe(429);
    const right = await a.browser.post(`${a.url}/code`, {
      csrf: field(a.html, 'csrf'),
      pending,
      code: totpCode(secret, 1),
    });
    expect(right.status).toBe(429);
    expect((await auditRows(server, 'login.throttled')).some((r) => r.user_id !== null)).toBe(true);
  });

  it('refuses the pending sign-in of one authorization in another, and a forged one', async () => {
    const web = await signedInClient(server, 'ivy');
    const { secret } = await enrolTotp(web);
    const one = await authorizeWith();
    const pending = field(
      (await submit(server, one, 'login', { username: 'ivy', password: PASSWORD })).html,
      'pending',
    );
    const other = await authorizeWith();
    const moved = await submit(server, other, 'code', { pending, code: totpCode(secret, 1) });
    expect(moved.status).toBe(400);
    expect(moved.html).toContain('That sign-in took too long. Start again.');
    const forged = await submit(server, other, 'code', { pending: `${pending}x`, code: totpCode(secret, 1) });
    expect(forged.status).toBe(400);
  });

  it('voids a half-finished sign-in when the password changes in between', async () => {
    const web = await signedInClient(server, 'jay');
    const { secret } = await enrolTotp(web);
    const a = await authorizeWith();
    const pending = field((await submit(server, a, 'login', { username: 'jay', password: PASSWORD })).html, 'pending');
    const jay = await server.app.stores.users.findByUsername('jay');
    await server.app.stores.users.setPasswordHash(jay?.id ?? '', await hashPassword('a different passphrase'));
    const late = await submit(server, a, 'code', { pending, code: totpCode(secret, 1) });
    expect(late.status).toBe(400);
    expect(late.html).not.toContain('name="scope"');
  });
});
