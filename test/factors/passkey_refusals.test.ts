// Passkey answers that must sign nobody in, without a browser: missing, not JSON, oversized, an
// unknown credential, a known credential with a made-up signature. Each is one answer (401 on the
// sign-in page), audited, and nothing is consumed that a real answer would need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, PASSWORD, RESOURCE, serverWithUsers, WebClient } from '../support/account.js';
import type { TestServer } from '../support/app.js';
import { PUBLIC_CLIENT, type RegisteredClient, register } from '../support/oauth.js';
import { startAuthorization, submit } from './support.js';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

function assertion(id: string, challenge: string, origin: string): string {
  return JSON.stringify({
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: b64(JSON.stringify({ type: 'webauthn.get', challenge, origin })),
      authenticatorData: b64('x'.repeat(37)),
      signature: b64('not a signature'),
    },
    clientExtensionResults: {},
  });
}

describe('passkey answers that sign nobody in', () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await serverWithUsers();
    client = await register(server.url, PUBLIC_CLIENT);
    const alice = await server.app.stores.users.findByUsername('alice');
    await server.app.stores.factors.addPasskey({
      id: 'alices-key',
      userId: alice?.id ?? '',
      publicKey: new Uint8Array(77),
      counter: 0,
      transports: [],
      name: 'Key',
      createdAt: 0,
    });
  });
  afterAll(() => server.close());

  const challengeOf = (html: string) => {
    const options = /data-options="([^"]+)"/.exec(html)?.[1] ?? '';
    return (JSON.parse(options.replace(/&quot;/g, '"')) as { challenge: string }).challenge;
  };

  it.each<[string, (challenge: string, origin: string) => string]>([
    ['no credential', () => ''],
    ['not JSON', () => '{nope'],
    ['an oversized credential id', () => `{"id":"${'a'.repeat(9_000)}","response":{}}`],
    ['an unknown credential', (c, o) => assertion('unknown-key', c, o)],
    ['a known credential with a made-up signature', (c, o) => assertion('alices-key', c, o)],
  ])('refuses %s at an agent sign-in', async (_case, make) => {
    const a = await startAuthorization(server, client, { resource: RESOURCE, scope: 'mcp:read' });
    const before = (await auditRows(server, 'login.failure')).length;
    const res = await submit(server, a, 'passkey', { credential: make(challengeOf(a.html), server.url) });
    expect(res.status).toBe(401);
    expect(res.html).toContain('That passkey cannot sign in here.');
    expect(res.html).not.toContain('name="scope"');
    expect((await auditRows(server, 'login.failure')).length).toBe(before + 1);
    expect(JSON.parse(String((await auditRows(server, 'login.failure')).at(-1)?.details))).toMatchObject({
      reason: 'passkey_refused',
    });
    // The page still works with the password.
    const signed = await submit(server, a, 'login', { username: 'alice', password: PASSWORD });
    expect(signed.html).toContain('name="scope"');
  });

  it('refuses a made-up answer at the account sign-in and starts no session', async () => {
    const web = new WebClient(server.url);
    const { csrf, html } = await web.page('/account/login');
    const res = await web.post('/account/login/passkey', {
      csrf,
      credential: assertion('alices-key', challengeOf(html), server.url),
    });
    expect(res.status).toBe(401);
    expect((await web.get('/account')).status).toBe(303);
  });
});
