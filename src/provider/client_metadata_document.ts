// OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2026-07-28):
// the agent's client_id is an https URL serving its metadata. oidc-provider fetches and validates
// the document (docs/pitfalls.md#client-id-metadata-documents); this module decides which documents may be fetched at all, turns
// a refused document into `invalid_client` with a reason a person can act on, remembers failures
// for a short while, and records an agent once it gets somewhere (an authorization completed), so
// admins can list and disable it.
//
// Fetching goes through the outbound guard (./outbound_fetch.ts), like every other URL the server
// fetches; here are the document-specific rules: domain allow and deny patterns, disabled agents
// and domains, and a cache bounded by the configured minimum and maximum.
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { MetadataDocumentConfig } from '../config/index.js';
import { trackRequestWrite } from '../lib/request_writes.js';
import { createOutboundFetch, OUTBOUND_MAX_BYTES } from './outbound_fetch.js';

/** What the policy needs from storage: disabled agents and domains, and a record of agents seen. */
export interface MetadataDocumentStore {
  isDisabled(clientId: string): Promise<boolean>;
  isDomainBlocked(host: string): Promise<boolean>;
  /** True the first time the agent is seen. */
  seen(clientId: string, name: string | null, redirectUris: readonly string[]): Promise<boolean>;
}

export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** The domain a metadata-document client proved it controls: the host serving its document. */
export function verifiedDomain(clientId: string): string | undefined {
  if (!isMetadataDocumentClientId(clientId)) return undefined;
  return URL.parse(clientId)?.hostname.toLowerCase() || undefined;
}

/** `example.com` matches that host only; `*.example.com` matches its subdomains (not the apex). */
export function domainMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().trim().replace(/\.$/, '');
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return h === p;
}

/** A document refused by policy (disabled, domain not allowed): never cached as a failure. */
class DocumentRefused extends errors.InvalidClient {}

/** How long a document that failed (fetch or content) is answered from memory, and how many are kept. */
export const FAILURE_TTL_MS = 45_000;
const FAILURE_ENTRIES = 1000;

/** Failed documents by URL: a bounded map whose oldest entry goes first (insertion order). */
function failureCache(now: () => number) {
  const entries = new Map<string, { description: string; until: number }>();
  return {
    get(url: string): string | undefined {
      const entry = entries.get(url);
      if (entry && entry.until > now()) return entry.description;
      entries.delete(url);
      return undefined;
    },
    set(url: string, description: string): void {
      entries.delete(url);
      entries.set(url, { description, until: now() + FAILURE_TTL_MS });
      if (entries.size > FAILURE_ENTRIES) entries.delete(entries.keys().next().value as string);
    },
  };
}

/**
 * What a person is told when an agent's document is refused. Content problems name the field
 * (the agent's own document, nothing of ours); fetch problems say nothing of why, so the server
 * is not an oracle for what answers where.
 */
function describeFailure(err: errors.OIDCProviderError): string {
  if (err.error === 'invalid_client_metadata' || err.error === 'invalid_redirect_uri') {
    const reason = (err.error_description ?? '').replace(/^client_id metadata document /, '');
    return `the agent's metadata document is invalid: ${reason}`;
  }
  return "the agent's metadata document could not be fetched or read";
}

export interface MetadataDocumentPolicy {
  /** oidc-provider's features.clientIdMetadataDocument (without `enabled`/`ack`). */
  allowFetch(ctx: unknown, clientId: string): Promise<boolean>;
  allowClient(ctx: unknown, client: { clientId: string }): Promise<boolean>;
  cacheDuration: { min: number; max: number };
  /** oidc-provider's `fetch`: every outgoing request of the provider goes through the outbound guard. */
  fetch(url: URL | string, options: Record<string, unknown>): Promise<Response>;
  /** Hooks into a built provider: client lookup (errors, failure cache) and recording agents. */
  install(provider: Provider): void;
  close(): Promise<void>;
}

export function createMetadataDocumentPolicy(
  config: MetadataDocumentConfig,
  store: MetadataDocumentStore,
  /** Called when an agent's document is used for the first time (for the audit trail). */
  onFirstUse?: (ctx: unknown, clientId: string, name: string | null) => Promise<void>,
  /** The clock (ms) of the failure cache; tests inject one. */
  now: () => number = Date.now,
): MetadataDocumentPolicy {
  const outbound = createOutboundFetch({
    maxBytes: Math.max(config.maxBytes, OUTBOUND_MAX_BYTES),
    devLoopbackHosts: config.devLoopbackHosts,
    devCaFile: config.devCaFile,
  });
  const failures = failureCache(now);

  const hostAllowed = async (host: string): Promise<boolean> => {
    if (config.denyDomains.some((p) => domainMatches(host, p))) return false;
    if (await store.isDomainBlocked(host)) return false;
    if (config.allowDomains.length > 0 && !config.allowDomains.some((p) => domainMatches(host, p))) return false;
    return true;
  };
  // Throwing (rather than answering false) keeps these refusals out of the failure cache: a
  // re-enabled agent or domain works again at once.
  const assertAllowed = async (clientId: string): Promise<void> => {
    const url = URL.parse(clientId);
    if (url?.protocol !== 'https:' || !(await hostAllowed(url.hostname))) {
      throw new DocumentRefused("this agent's metadata document is not accepted by this server");
    }
    if (await store.isDisabled(clientId)) throw new DocumentRefused('this agent has been disabled on this server');
  };

  // The agent got somewhere (the user consented and a code was issued): remember what its document
  // says, and audit its first time. Before that, an unauthenticated caller could make the server
  // write a permanent row per URL it invents.
  const recordUse = async (ctx: KoaContextWithOIDC): Promise<void> => {
    const client = ctx.oidc?.client;
    if (!client || !isMetadataDocumentClientId(client.clientId)) return;
    const name = client.clientName ?? null;
    if (await store.seen(client.clientId, name, client.redirectUris ?? []))
      await onFirstUse?.(ctx, client.clientId, name);
  };

  return {
    async allowFetch(_ctx, clientId) {
      await assertAllowed(clientId);
      return true;
    },
    // Runs for cached documents too, so a disable takes effect at once.
    async allowClient(_ctx, client) {
      await assertAllowed(client.clientId);
      return true;
    },
    cacheDuration: { min: config.cacheMin, max: config.cacheMax },
    fetch: outbound.fetch,
    // oidc-provider has no hook around a document lookup's outcome: its Client model's static
    // `find` (every endpoint's only way to a client) is wrapped for metadata-document ids.
    install(provider) {
      const Client = provider.Client as unknown as { find(id: unknown, ...rest: unknown[]): Promise<unknown> };
      const find = Client.find.bind(Client);
      Client.find = async (id, ...rest) => {
        if (typeof id !== 'string' || !isMetadataDocumentClientId(id)) return find(id, ...rest);
        // A document that just failed is not fetched again (also not by oidc-provider's error
        // handler, which looks the client up a second time in the same request).
        const failed = failures.get(id);
        if (failed !== undefined) throw new errors.InvalidClient(failed);
        try {
          return await find(id, ...rest);
        } catch (err) {
          if (err instanceof DocumentRefused || !(err instanceof errors.OIDCProviderError) || err.statusCode >= 500) {
            throw err;
          }
          // RFC 6749 §5.2: a client the server cannot accept is `invalid_client`, at /token too.
          const description = describeFailure(err);
          failures.set(id, description);
          throw new errors.InvalidClient(description);
        }
      };
      // The request waits for the write before it answers (src/lib/request_writes.ts); a failure
      // is reported, not thrown (the code is already on its way to the agent).
      provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
        trackRequestWrite(recordUse(ctx), (err) => provider.emit('server_error', ctx, err));
      });
    },
    close: () => outbound.close(),
  };
}

/** RFC 7591 §2 shared-secret methods: a metadata document has no secret to share. */
const SHARED_SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

/**
 * Rules for a metadata document beyond oidc-provider's (which checks client_id equals the URL, no
 * shared-secret authentication, https URIs): a name to show and redirect URIs are required, and a
 * document that names no authentication method is a public client. Called from the client
 * metadata validator, which also runs for documents.
 */
export function checkMetadataDocument(metadata: Record<string, unknown>): void {
  const name = metadata.client_name;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new errors.InvalidClientMetadata('a client ID metadata document must have a client_name');
  }
  if (!Array.isArray(metadata.redirect_uris) || metadata.redirect_uris.length === 0) {
    throw new errors.InvalidClientMetadata('a client ID metadata document must list redirect_uris');
  }
  // Documents that leave the method out (ChatGPT's does) are public clients, as OpenID RP Metadata
  // Choices defaults them. By now oidc-provider has filled in its RFC 7591 default,
  // client_secret_basic, for a missing method; a document that names a shared-secret method itself
  // was refused before its metadata got here, so that default can only stand for "not given".
  const method = metadata.token_endpoint_auth_method;
  if (method === undefined || method === 'client_secret_basic') {
    metadata.token_endpoint_auth_method = 'none';
  } else if (typeof method !== 'string' || SHARED_SECRET_METHODS.has(method)) {
    throw new errors.InvalidClientMetadata(
      'token_endpoint_auth_method of a client ID metadata document must not be a shared-secret method',
    );
  }
}
