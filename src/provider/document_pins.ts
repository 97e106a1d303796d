// Pinned agent documents (docs/operating.md#pinned-agent-documents): each grant to a
// metadata-document agent records the document its user consented to. When the document changes,
// a harmless change keeps the grant; a new name or redirect host makes the grant's refresh fail and
// its next authorization ask the user again, and raises an alert (src/audit/alerts.ts).
import type { Audit } from '../audit/index.js';
import { compareDocument, pinDocument, trustedDocument } from '../lib/agent_document.js';
import { epochSeconds } from '../lib/duration.js';
import type { GrantDocumentRepository } from '../storage/grant_documents.js';
import { isMetadataDocumentClientId } from './client_metadata_document.js';

type ClientLike = { clientId?: string; metadata?: () => Record<string, unknown> } | undefined;

export interface DocumentPins {
  /** Records the document the user just consented to (metadata-document agents only). */
  pin(grantId: string, client: ClientLike): Promise<void>;
  /** Whether the grant still stands for the agent's current document: 'changed' asks the user again. */
  check(grantId: string, client: ClientLike, accountId?: string): Promise<'ok' | 'changed'>;
}

export function documentPins(deps: {
  grantDocuments: GrantDocumentRepository;
  audit?: Audit | undefined;
  trusted: readonly string[];
}): DocumentPins {
  const pinned = (client: ClientLike): client is { clientId: string; metadata: () => Record<string, unknown> } =>
    typeof client?.clientId === 'string' &&
    typeof client.metadata === 'function' &&
    isMetadataDocumentClientId(client.clientId);
  return {
    async pin(grantId, client) {
      if (!pinned(client)) return;
      await deps.grantDocuments.pin(grantId, client.clientId, pinDocument(client.metadata()), epochSeconds());
    },
    async check(grantId, client, accountId) {
      if (!pinned(client) || trustedDocument(client.clientId, deps.trusted)) return 'ok';
      const consented = await deps.grantDocuments.find(grantId);
      if (!consented) return 'ok';
      const current = pinDocument(client.metadata());
      const change = compareDocument(consented, current);
      if (change.kind !== 'changed') return 'ok';
      await deps.audit?.record({
        event: 'agent.document_changed',
        result: 'success',
        userId: accountId,
        clientId: client.clientId,
        grantId,
        details: { changed: change.what.join(' '), digest: current.digest },
      });
      return 'changed';
    },
  };
}
