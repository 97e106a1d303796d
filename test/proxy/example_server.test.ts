// examples/mcp-server/server.mjs, run as its own process, behind the proxy: the example the README
// and docker-compose.yml use really works, and sees the verified identity, never the token.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/feed.js';
import { type Chain, freePort, INIT, MCP_HEADERS, obtainToken, PASSWORD, startChain } from './helpers.js';

const SERVER = path.resolve(import.meta.dirname, '../../examples/mcp-server/server.mjs');

describe('the example MCP server behind the proxy', () => {
  let child: ChildProcess;
  let chain: Chain;

  beforeAll(async () => {
    const port = await freePort();
    child = spawn(process.execPath, [SERVER], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: 'ignore',
    });
    const url = `http://127.0.0.1:${port}/mcp`;
    await eventually(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
      50,
    );
    chain = await startChain({ upstream: { url, seen: [], notes: [], close: async () => {} } });
    await chain.as.addUser('alice', PASSWORD);
  });
  afterAll(async () => {
    await chain?.close();
    child?.kill('SIGTERM');
  });

  it('answers whoami with the user and agent the proxy verified; add_note needs the write scope', async () => {
    const t = await obtainToken(chain.as, chain.resource, { username: 'alice', scope: 'mcp:read' });
    const mcp = `${chain.proxy.url}/mcp`;
    const post = (body: unknown, sid?: string) =>
      fetch(mcp, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${t.access}`, ...(sid ? { 'mcp-session-id': sid } : {}) },
        body: JSON.stringify(body),
      });
    const init = await post(INIT);
    const sid = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).text();
    await (await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, sid)).text();
    const who = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami' } }, sid);
    expect(who.status).toBe(200);
    expect(await who.text()).toContain(`user ${t.sub} via agent ${t.clientId} (mcp:read)`);
    const add = await post(
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'add_note', arguments: { text: 'x' } } },
      sid,
    );
    expect(add.status).toBe(403);
  });
});
