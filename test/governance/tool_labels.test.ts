// Classification labels on single tools, end to end over real HTTP: labelled through the admin API,
// listed on the consent page, carried in the access token and enforced by the proxy per call even
// when the token's scope allows the call (deny; no write; a second factor, with the RFC 9470
// step-up challenge); a label change cuts the outstanding tokens within a second; bad requests and
// bad claims are refused.
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/lib/duration.js';
import { ACR, acrValuesFor } from '../../src/lib/sign_in_strength.js';
import {
  type Chain,
  expectNoAuthorization,
  forgeWithAsKey,
  INIT,
  MCP_HEADERS,
  obtainToken,
  PASSWORD,
  startChain,
} from '../proxy/helpers.js';
import { startTestServer } from '../support/app.js';
import { authorize, PUBLIC_CLIENT, register } from '../support/oauth.js';
import { waitFor } from '../support/wait.js';

interface Json {
  [key: string]: unknown;
}

describe('tool labels', () => {
  let chain: Chain;
  let adminToken: string;

  beforeAll(async () => {
    const as = await startTestServer({
      MCP_OAUTH_LABELS_DENY_TOOLS: 'personal_data',
      MCP_OAUTH_LABELS_READ_ONLY: 'confidential',
      MCP_OAUTH_LABELS_SECOND_FACTOR: 'internal',
    });
    // read_notes is a reading tool by the route's configuration (the proxy has seen no tools/list).
    chain = await startChain({ as, route: { readOnlyTools: ['read_notes'], hideUnauthorizedTools: true } });
    await chain.as.addUser('alice', PASSWORD);
    adminToken = (await chain.as.app.stores.adminTokens.create('tool label tests', null, epochSeconds())).token;
  });
  afterEach(() => expectNoAuthorization(chain?.upstream));
  afterAll(async () => {
    await chain?.close();
    await chain?.as.close();
  });

  async function api(path: string, body?: Json): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${chain.as.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  const label = (tool: string, value: string | null) =>
    api('/admin/api/tool-labels', { resource: chain.resource, tool, label: value });

  const post = (token: string, body: unknown, sid?: string) =>
    fetch(chain.resource, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...(sid ? { 'mcp-session-id': sid } : {}) },
      body: JSON.stringify(body),
    });

  /** Opens a session and calls one tool; the status and the WWW-Authenticate header of the call. */
  async function call(token: string, tool: string): Promise<{ status: number; challenge: string }> {
    const opened = await post(token, INIT);
    expect(opened.status).toBe(200);
    await opened.text();
    const sid = opened.headers.get('mcp-session-id') ?? '';
    await (await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).body?.cancel();
    const res = await post(
      token,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: tool, arguments: { text: 'x' } } },
      sid,
    );
    await res.body?.cancel();
    return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
  }

  /** The tool names a tools/list through the proxy shows this token. */
  async function listTools(token: string): Promise<string[]> {
    const opened = await post(token, INIT);
    await opened.text();
    const sid = opened.headers.get('mcp-session-id') ?? '';
    await (await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).body?.cancel();
    const res = await post(token, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, sid);
    const text = await res.text();
    const data = (res.headers.get('content-type') ?? '').includes('text/event-stream')
      ? text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('')
      : text;
    const tools = (JSON.parse(data) as { result?: { tools?: { name: string }[] } }).result?.tools ?? [];
    return tools.map((t) => t.name).sort();
  }

  it('denies a tool with a deny label even with the write scope, after cutting tokens minted before the label', async () => {
    const before = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    expect((await call(before.access, 'add_note')).status).toBe(200);

    const set = await label('add_note', 'personal_data');
    expect(set.status).toBe(200);
    expect(set.body.agents_narrowed).toBeGreaterThanOrEqual(1);
    const changedAt = epochSeconds();
    // The token minted before the label is refused within a second (revocation feed).
    await waitFor(async () => (await post(before.access, INIT)).status === 401, 'the old token to be refused', {
      timeoutMs: 1000,
      intervalMs: 20,
    });

    await waitFor(() => epochSeconds() > changedAt, 'the second after the change');
    const after = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    expect(decodeJwt(after.access).scope).toBe('mcp:read mcp:write');
    expect(decodeJwt(after.access).mcp_tool_policy).toEqual({ deny: ['add_note'] });
    const notes = chain.upstream.notes.length;
    const denied = await call(after.access, 'add_note');
    expect(denied.status).toBe(403);
    expect(denied.challenge).toBe('');
    expect((await call(after.access, 'read_notes')).status).toBe(200);
    // Refused before the upstream: nothing was added.
    expect(chain.upstream.notes.length).toBe(notes);
    // With hideUnauthorizedTools, tools/list does not offer it either.
    expect(await listTools(after.access)).toEqual(['read_notes']);

    // Removing the label: the next token carries no restriction.
    expect((await label('add_note', null)).status).toBe(200);
    const free = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    expect(decodeJwt(free.access).mcp_tool_policy).toBeUndefined();
  });

  it('lets a no-write tool be called only when it reads, and shows the labels on the consent page', async () => {
    expect((await label('add_note', 'confidential')).status).toBe(200);
    expect((await label('read_notes', 'confidential')).status).toBe(200);
    const client = await register(chain.as.url, PUBLIC_CLIENT);
    const got = await authorize(chain.as.url, {
      client,
      username: 'alice',
      password: PASSWORD,
      resource: chain.resource,
      scope: 'mcp:read mcp:write',
    });
    expect(got.consentHtml).toContain('data-tool="add_note"');
    expect(got.consentHtml).toContain('Confidential data');
    expect(got.consentHtml).toContain('agents may only read with it');

    const token = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    expect(decodeJwt(token.access).mcp_tool_policy).toEqual({ no_write: ['add_note', 'read_notes'] });
    expect((await call(token.access, 'add_note')).status).toBe(403);
    expect((await call(token.access, 'read_notes')).status).toBe(200);
    await label('add_note', null);
    await label('read_notes', null);
  });

  it('asks for a second factor before a tool whose label needs one, and lets a multi-factor token through', async () => {
    expect((await label('read_notes', 'internal')).status).toBe(200);
    const token = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    const claims = decodeJwt(token.access);
    expect(claims.acr).toBe(ACR.password);
    expect(claims.mcp_tool_policy).toEqual({ mfa: ['read_notes'] });
    const stepUp = await call(token.access, 'read_notes');
    expect(stepUp.status).toBe(401);
    expect(stepUp.challenge).toContain('error="insufficient_user_authentication"');
    expect(stepUp.challenge).toContain(`acr_values="${acrValuesFor('mfa')}"`);
    // Other tools are not affected.
    expect((await call(token.access, 'add_note')).status).toBe(200);

    // A token from a multi-factor sign-in with the same claim passes (signed by the server's key:
    // what is under test here is the proxy's check of acr against the claim).
    const strong = await forgeWithAsKey(chain.as, { ...claims, acr: ACR.mfa });
    expect((await call(strong, 'read_notes')).status).toBe(200);
    await label('read_notes', null);
  });

  it('refuses a token whose tool policy it cannot read', async () => {
    const token = await obtainToken(chain.as, chain.resource, { username: 'alice' });
    const claims = decodeJwt(token.access);
    for (const bad of ['deny', ['add_note'], { deny: 'add_note' }, { deny: [7] }, { deny: ['has space'] }]) {
      const forged = await forgeWithAsKey(chain.as, { ...claims, mcp_tool_policy: bad });
      const res = await post(forged, INIT);
      await res.body?.cancel();
      expect(res.status, JSON.stringify(bad)).toBe(401);
    }
  });

  it('refuses bad labels with a 400 and changes nothing', async () => {
    const count = async () => (await chain.as.app.stores.toolLabels.list()).length;
    const before = await count();
    const seq = await chain.as.app.stores.revocations.latestSeq();
    for (const body of [
      { resource: chain.resource, tool: 'add_note', label: 'secret' },
      { resource: 'https://nowhere.example/mcp', tool: 'add_note', label: 'public' },
      { resource: chain.resource, tool: '', label: 'public' },
      { resource: chain.resource, tool: 'has space', label: 'public' },
      { resource: chain.resource, tool: 'x'.repeat(129), label: 'public' },
      { resource: chain.resource, label: 'public' },
      { tool: 'add_note', label: 'public' },
    ] as Json[]) {
      expect((await api('/admin/api/tool-labels', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await count()).toBe(before);
    expect(await chain.as.app.stores.revocations.latestSeq()).toBe(seq);
  });
});
