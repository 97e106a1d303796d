// examples/agent/agent.mjs, run as a user runs it (its own process), against the real chain: the
// authorization server, the resource proxy and examples/mcp-server/server.mjs. The browser is
// played by an HTTP driver (actAsUser) that signs in and consents, then follows the redirect to
// the agent's loopback port. What the agent prints must carry the tool's answer and no secret.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentFor, startCimdServer, startDocumentServer } from '../clients/support.js';
import { type Chain, freePort, PASSWORD, startChain } from '../proxy/helpers.js';
import { eventually } from '../support/feed.js';
import { actAsUser } from '../support/mcp_agent.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const AGENT = path.join(ROOT, 'examples/agent/agent.mjs');
const SERVER = path.join(ROOT, 'examples/mcp-server/server.mjs');

interface AgentRun {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves to the exit code. */
  exited: Promise<number | null>;
}

function runAgent(args: string[]): AgentRun {
  const child = spawn(process.execPath, [AGENT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, out: () => out, err: () => err, exited };
}

/** The sign-in address the agent printed, once it has printed it. */
async function printedAuthorizationUrl(run: AgentRun, issuer: string): Promise<URL> {
  const line = await eventually(
    () =>
      run
        .out()
        .split('\n')
        .find((l) => l.trim().startsWith(`${issuer}/authorize?`)),
    20_000,
    20,
  );
  return new URL((line ?? '').trim());
}

describe('the example agent', () => {
  let server: ChildProcess;
  let chain: Chain;
  let aliceId: string;
  const runs: AgentRun[] = [];

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(process.execPath, [SERVER], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: 'ignore',
    });
    await eventually(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
      50,
    );
    chain = await startChain({
      upstream: { url: `http://127.0.0.1:${port}/mcp`, seen: [], notes: [], close: async () => {} },
    });
    aliceId = (await chain.as.addUser('alice', PASSWORD)).id;
  });
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGTERM');
    await chain?.close();
    server?.kill('SIGTERM');
  });

  it('runs discovery, registration, the browser sign-in and a tool call, printing each step and no secret', async () => {
    const run = runAgent([chain.resource, '--no-browser', '--tool', 'whoami']);
    runs.push(run);
    const url = await printedAuthorizationUrl(run, chain.as.url);
    expect(url.searchParams.get('resource')).toBe(chain.resource);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    // The proxy's 401 named only the read scope, and the agent asked for no more.
    expect(url.searchParams.get('scope')).toBe('mcp:read');
    const redirectUri = new URL(url.searchParams.get('redirect_uri') ?? '');
    expect(redirectUri.hostname).toBe('127.0.0.1');

    // Something else on this machine that guesses the listener's address gets nothing.
    const forged = new URL(redirectUri);
    forged.searchParams.set('code', 'forged');
    forged.searchParams.set('state', 'not-the-agents');
    forged.searchParams.set('iss', chain.as.url);
    expect((await fetch(forged)).status).toBe(400);

    const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD });
    expect(outcome.code).toBeTruthy();
    expect(outcome.location.origin).toBe(redirectUri.origin);
    const landed = await fetch(outcome.location);
    expect(landed.status).toBe(200);
    expect(landed.headers.get('referrer-policy')).toBe('no-referrer');

    expect(await run.exited).toBe(0);
    const out = run.out();
    const clientId = /Client: registered \(RFC 7591\), client_id (\S+)/.exec(out)?.[1];
    expect(clientId).toBeTruthy();
    expect(out).toContain(`Discovery: ${chain.resource} is protected by ${chain.as.url}`);
    expect(out).toContain('Redirect: refused an answer whose state does not match');
    expect(out).toMatch(/Tokens: got an access token \(scope "mcp:read", expires in \d+ s\) and a refresh token too/);
    expect(out).toContain('Tools: list_notes (read-only), whoami (read-only), add_note');
    expect(out).toContain(`user ${aliceId} via agent ${clientId} (mcp:read)`);

    const printed = out + run.err();
    expect(printed).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/); // no JWT
    expect(printed).not.toContain(outcome.code ?? 'no code');
    const refreshTokens = (await chain.as.sql.all("SELECT id FROM oidc_models WHERE model = 'RefreshToken'")) as {
      id: string;
    }[];
    expect(refreshTokens.length).toBeGreaterThan(0);
    for (const { id } of refreshTokens) expect(printed).not.toContain(id);
  });

  it('asks for the write scope up front with --scope, and says which scope to ask for when a tool needs more', async () => {
    const signIn = async (run: AgentRun) => {
      const url = await printedAuthorizationUrl(run, chain.as.url);
      const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD });
      await (await fetch(outcome.location)).text();
      return url;
    };
    const readOnly = runAgent([chain.resource, '--no-browser', '--tool', 'add_note', '--args', '{"text":"too early"}']);
    runs.push(readOnly);
    await signIn(readOnly);
    expect(await readOnly.exited).toBe(1);
    expect(readOnly.err()).toContain('run again with --scope "mcp:read mcp:write"');

    const writer = runAgent([
      chain.resource,
      '--no-browser',
      '--scope',
      'mcp:read mcp:write',
      '--tool',
      'add_note',
      '--args',
      '{"text":"hello from the example agent"}',
    ]);
    runs.push(writer);
    const url = await signIn(writer);
    expect(url.searchParams.get('scope')).toBe('mcp:read mcp:write');
    expect(await writer.exited).toBe(0);
    expect(writer.out()).toMatch(/Result:\n {2}added note #1\n/);
  });

  it('explains the localhost / 127.0.0.1 mismatch instead of failing obscurely', async () => {
    const wrongHost = chain.resource.replace('127.0.0.1', 'localhost');
    const run = runAgent([wrongHost, '--no-browser']);
    runs.push(run);
    expect(await run.exited).toBe(1);
    expect(run.err()).toContain(
      `the MCP server says its address is ${chain.resource}, but you connected to ${wrongHost}`,
    );
    expect(run.err()).toContain(`run the agent with ${chain.resource}`);
  });

  it('stops with the reason when the user denies access', async () => {
    const run = runAgent([chain.resource, '--no-browser']);
    runs.push(run);
    const url = await printedAuthorizationUrl(run, chain.as.url);
    const outcome = await actAsUser(url, { username: 'alice', password: PASSWORD, decision: 'deny' });
    expect(outcome.code).toBeNull();
    await (await fetch(outcome.location)).text();
    expect(await run.exited).toBe(1);
    expect(run.err()).toContain('access was not granted: access_denied');
  });

  it('identifies itself with a client metadata document given --client-metadata-url, registering nothing', async () => {
    const docs = await startDocumentServer();
    const as = await startCimdServer(docs);
    const cimdChain = await startChain({ as, upstream: chain.upstream });
    try {
      await as.addUser('bob', PASSWORD);
      const url = docs.serve('/agent.json', { body: documentFor(`${docs.origin}/agent.json`) });
      const run = runAgent([cimdChain.resource, '--no-browser', '--client-metadata-url', url, '--tool', 'whoami']);
      runs.push(run);
      const signIn = await printedAuthorizationUrl(run, as.url);
      expect(signIn.searchParams.get('client_id')).toBe(url);
      const outcome = await actAsUser(signIn, { username: 'bob', password: PASSWORD });
      await (await fetch(outcome.location)).text();
      expect(await run.exited).toBe(0);
      expect(run.out()).toContain(`Client: client metadata document, client_id ${url}`);
      expect(run.out()).not.toContain('/register');
      expect(run.out()).toContain(`via agent ${url} (mcp:read)`);
    } finally {
      await cimdChain.close();
      await as.close();
      await docs.close();
    }
  });
});
