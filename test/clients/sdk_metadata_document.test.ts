// The official MCP TypeScript SDK as an agent that identifies itself with a Client ID Metadata
// Document (OAuthClientProvider.clientMetadataUrl): it sees client_id_metadata_document_supported,
// skips registration, and uses its document URL as client_id through authorization and refresh.
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/app.js';
import {
  actAsUser,
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  type ResourceServer,
  startLoopbackReceiver,
  startResourceServer,
} from '../support/mcp_agent.js';
import { type DocumentServer, documentFor, startCimdServer, startDocumentServer } from './support.js';

const PASSWORD = 'correct horse battery staple';

class DocumentAgent extends InMemoryOAuthProvider {
  constructor(
    redirectUrl: string,
    readonly clientMetadataUrl: string,
  ) {
    super(redirectUrl, 'SDK Document Agent');
  }
}

describe('MCP TypeScript SDK with a client ID metadata document', () => {
  let docs: DocumentServer;
  let server: TestServer;
  let rs: ResourceServer;
  let receiver: LoopbackReceiver;

  beforeAll(async () => {
    docs = await startDocumentServer();
    server = await startCimdServer(docs);
    await server.addUser('alice', PASSWORD);
    rs = await startResourceServer({ authorizationServer: server.url });
    await server.addResource(rs.resource, 'SDK Test MCP');
    receiver = await startLoopbackReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await rs?.close();
    await server?.close();
    await docs?.close();
  });

  it('authorizes and refreshes with the document URL as client_id, registering nothing', async () => {
    // The document lists the callback without a port; the agent listens on a random one.
    const path = '/sdk/client.json';
    const url = docs.serve(path, {
      body: documentFor(`${docs.origin}${path}`, {
        client_name: 'SDK Document Agent',
        redirect_uris: ['http://127.0.0.1/callback'],
      }),
    });
    const agent = new DocumentAgent(receiver.redirectUrl, url);
    const clientsBefore = (await server.app.stores.clients.list()).length;

    expect(await auth(agent, { serverUrl: rs.resource })).toBe('REDIRECT');
    const authorizationUrl = agent.lastAuthorizationUrl();
    expect(authorizationUrl.searchParams.get('client_id')).toBe(url);
    const outcome = await actAsUser(authorizationUrl, { username: 'alice', password: PASSWORD });
    expect(outcome.location.searchParams.get('iss')).toBe(server.url);
    expect(outcome.code).toBeTruthy();
    expect(await auth(agent, { serverUrl: rs.resource, authorizationCode: outcome.code ?? '' })).toBe('AUTHORIZED');
    expect(agent.saved?.access_token).toBeTruthy();
    expect(agent.client?.client_id).toBe(url);
    expect(await server.app.stores.clients.list()).toHaveLength(clientsBefore);

    // Refresh: with tokens in hand, auth() refreshes rather than re-authorizing.
    const first = agent.saved?.refresh_token;
    expect(await auth(agent, { serverUrl: rs.resource })).toBe('AUTHORIZED');
    expect(agent.saved?.refresh_token).toBeTruthy();
    expect(agent.saved?.refresh_token).not.toBe(first);
  });
});
