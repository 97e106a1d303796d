// Service clients: agents without a user (client credentials, MCP extension oauth-client-credentials).
// Only an admin registers one (CLI, console, admin API), naming the MCP servers and scopes it may get
// tokens for and how it authenticates: a public key set for private_key_jwt (RFC 7523, what the
// extension recommends), or a client secret only when the admin asks for one. Open registration can
// never make one (src/provider/client_policy.ts), and a client without this record can never use the
// grant (src/provider/resources.ts). Disabling, enabling and deleting are the agent operations
// (./agents.ts): the revocation feed's client entry ends its tokens at the proxies.
import { randomBytes } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import { canonicalResource } from '../lib/resource_uri.js';
import type { Stores } from '../storage/index.js';
import type { ServiceClient } from '../storage/service_clients.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

export const SERVICE_CLIENT_GRANT = 'client_credentials';
export const SERVICE_REGISTERED_VIA = 'service';
const MAX_NAME = 200;
const MAX_KEYS = 5;
const MAX_LIST = 20;
/** Public key members only: any private or symmetric part is refused (the server must never hold it). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const KEY_ALGS: Record<string, string> = { EC: 'ES256', RSA: 'RS256', OKP: 'EdDSA' };
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

export interface NewServiceClient {
  name: string;
  resources: readonly string[];
  scopes: readonly string[];
  /** A JWK Set (`{ keys: [...] }`) of public keys, for private_key_jwt. */
  jwks?: unknown;
  /** Issue a client secret (client_secret_basic) instead of a key set; only when the admin allows it. */
  secret?: boolean;
}

export interface CreatedServiceClient {
  clientId: string;
  /** Shown once: it is never printed or returned again. */
  clientSecret?: string;
  service: ServiceClient;
}

const refuse = (message: string): never => {
  throw new LifecycleError('invalid_service_client', message);
};

async function publicKeySet(raw: unknown): Promise<{ keys: JWK[] }> {
  const keys = (raw as { keys?: unknown } | null)?.keys;
  if (typeof raw !== 'object' || raw === null || !Array.isArray(keys) || keys.length === 0) {
    return refuse('jwks must be a JWK Set: {"keys": [ ... ]} with at least one public key');
  }
  if (keys.length > MAX_KEYS) refuse(`jwks may hold at most ${MAX_KEYS} keys`);
  const checked: JWK[] = [];
  for (const key of keys as unknown[]) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) return refuse('every key in jwks must be a JWK');
    const jwk = key as JWK;
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) {
      refuse('jwks must hold public keys only: remove the private key members (d, p, q, ...) or the symmetric key (k)');
    }
    const alg = typeof jwk.alg === 'string' ? jwk.alg : KEY_ALGS[String(jwk.kty)];
    if (!alg) return refuse('every key in jwks must be an EC, RSA or OKP public key');
    try {
      await importJWK(jwk, alg);
    } catch {
      refuse(`a key in jwks is not a usable ${alg} public key`);
    }
    checked.push(jwk);
  }
  return { keys: checked };
}

export function serviceClientOperations(stores: Stores, audit: Audit) {
  const { sql, resources, serviceClients, clientState, oidc } = stores;
  const log = auditFor(audit, stores.grantRecords);

  /** The servers and scopes as given, each checked: registered, and offered by one of those servers. */
  const allowed = async (input: NewServiceClient) => {
    if (input.resources.length === 0) refuse('name at least one MCP server (resource) the client may call');
    if (input.resources.length > MAX_LIST || input.scopes.length > MAX_LIST) {
      refuse(`at most ${MAX_LIST} servers and ${MAX_LIST} scopes`);
    }
    const found: string[] = [];
    const offered = new Set<string>();
    for (const raw of input.resources) {
      const canonical = canonicalResource(raw);
      const resource = canonical.ok ? await resources.findByUri(canonical.uri) : undefined;
      if (!resource) refuse(`no MCP server is registered as ${JSON.stringify(raw.slice(0, 200))}`);
      else {
        found.push(resource.uri);
        for (const s of resource.scopes) offered.add(s.scope);
      }
    }
    const uris = [...new Set(found)];
    if (input.scopes.length === 0) refuse('name at least one scope the client may get');
    const scopes = [...new Set(input.scopes)];
    for (const s of scopes) {
      if (!offered.has(s)) refuse(`none of those MCP servers offers the scope ${JSON.stringify(s.slice(0, 100))}`);
    }
    return { uris, scopes };
  };

  return {
    /** Registers a service client; its secret, if any, is in the result and nowhere else readable. */
    async addServiceClient(actor: Actor, input: NewServiceClient): Promise<CreatedServiceClient> {
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      if (name === '' || name.length > MAX_NAME || INVISIBLE.test(name)) {
        refuse(`the name must be 1 to ${MAX_NAME} characters, without control characters`);
      }
      const { uris, scopes } = await allowed(input);
      if (input.jwks !== undefined && input.secret) refuse('give either a public key set or a client secret, not both');
      if (input.jwks === undefined && !input.secret) {
        refuse(
          'give the public keys the client signs with (jwks, for private_key_jwt), or explicitly allow a client secret',
        );
      }
      const jwks = input.jwks === undefined ? undefined : await publicKeySet(input.jwks);
      const clientId = `svc_${randomBytes(16).toString('base64url')}`;
      // oidc-provider compares a client secret itself and needs it as issued in the client record.
      const clientSecret = input.secret ? randomBytes(32).toString('base64url') : undefined;
      const authMethod = jwks ? 'private_key_jwt' : 'client_secret_basic';
      const now = epochSeconds();
      const service: ServiceClient = {
        clientId,
        resources: uris,
        scopes,
        authMethod,
        createdAt: now,
        createdBy: actedBy(actor),
      };
      await sql.transaction(async () => {
        await oidc.upsert(
          'Client',
          clientId,
          {
            client_id: clientId,
            client_id_issued_at: now,
            client_name: name,
            grant_types: [SERVICE_CLIENT_GRANT],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: authMethod,
            ...(jwks ? { jwks } : {}),
            ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
          },
          undefined,
        );
        await clientState.registered(clientId, SERVICE_REGISTERED_VIA);
        await serviceClients.create(service);
      });
      await log.event(actor, 'client.registered', {
        clientId,
        details: {
          name,
          via: SERVICE_REGISTERED_VIA,
          auth_method: authMethod,
          resources: uris.join(' '),
          scopes: scopes.join(' '),
        },
      });
      return clientSecret ? { clientId, clientSecret, service } : { clientId, service };
    },
    /** Every service client with its name and whether it is disabled. */
    async listServiceClients(): Promise<
      (ServiceClient & { name: string | null; disabled: boolean; lastUsedAt: number | null })[]
    > {
      const states = await clientState.all();
      const list = [];
      for (const s of await serviceClients.list()) {
        const metadata = (await stores.clients.find(s.clientId))?.metadata;
        const state = states.get(s.clientId);
        list.push({
          ...s,
          name: typeof metadata?.client_name === 'string' ? metadata.client_name : null,
          disabled: state?.disabledAt != null,
          lastUsedAt: state?.lastUsedAt ?? null,
        });
      }
      return list;
    },
  };
}
