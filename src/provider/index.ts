// oidc-provider configured as the OAuth 2.1 profile of docs/design.md#standards-in-play. Everything OAuth
// (PKCE, code replay, rotation, registration) is the provider's; this file only chooses its settings.

import type { JWK } from 'jose';
import Provider, { type Configuration, type ErrorOut, type KoaContextWithOIDC } from 'oidc-provider';
import type { Audit } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { epochSeconds } from '../lib/duration.js';
import { LOOPBACK_HOSTS } from '../lib/redirect_uris.js';
import { OIDC_SCOPES } from '../lib/scopes.js';
import { TOOL_POLICY_CLAIM, type ToolPolicyClaim } from '../lib/tool_labels.js';
import type { GrantIndex } from '../storage/grants.js';
import { adapterClass, type OidcStore } from '../storage/oidc_adapter.js';
import type { RefreshFamilyRepository } from '../storage/refresh_family.js';
import type { ResourceRepository } from '../storage/resources.js';
import type { ServiceClientRepository } from '../storage/service_clients.js';
import type { UserRepository } from '../storage/users.js';
import { findAccountFor, type UpstreamStanding } from './accounts.js';
import type { MetadataDocumentPolicy } from './client_metadata_document.js';
import { createClientMetadataValidator, EXTRA_CLIENT_PROPERTIES } from './client_policy.js';
import { consumeRaceHook } from './consume_race.js';
import type { DocumentPins } from './document_pins.js';
import { loadExistingGrantFor } from './grants.js';
import { SIGNING_ALG } from './keys.js';
import { noOutboundFetch, OUTBOUND_MAX_BYTES } from './outbound_fetch.js';
import { refreshGraceHook, refreshRotationHook } from './refresh_grace.js';
import { type AgentPolicyLookup, type ResourceLabels, resourceFunctions } from './resources.js';
import { ACR_VALUES_SUPPORTED, interactionPrompts, signInClaims, stepUpExtraParams } from './sign_in_policy.js';

export const ROUTES = {
  authorization: '/authorize',
  token: '/token',
  registration: '/register',
  jwks: '/jwks',
  revocation: '/revoke',
  device_authorization: '/device/auth',
  code_verification: '/device',
} as const;

export const INTERACTION_PREFIX = '/interaction';

/**
 * Every route oidc-provider's router serves with this configuration (lib/helpers/initialize_app.js),
 * as templates for src/app/canonical_path.ts. The end-session confirmation is always registered.
 */
export const PROVIDER_ROUTE_TEMPLATES: readonly string[] = [
  ...Object.values(ROUTES),
  `${ROUTES.authorization}/:uid`,
  `${ROUTES.registration}/:clientId`,
  `${ROUTES.code_verification}/:uid`,
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/session/end/confirm',
];

export interface ProviderDeps {
  config: Config;
  store: OidcStore;
  users: UserRepository;
  resources: ResourceRepository;
  grants: GrantIndex;
  serviceClients: Pick<ServiceClientRepository, 'find'>;
  jwks: JWK[];
  cookieKeys: string[];
  /** 32 bytes from the database, so DPoP nonces hold on every node and across restarts. */
  dpopNonceSecret: Buffer;
  renderError: (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error) => Promise<void>;
  /**
   * Client ID Metadata Documents: allow hooks, and the outbound fetch guard every URL the provider
   * fetches goes through (without it the feature is off and nothing is fetched).
   */
  clientDocuments?: MetadataDocumentPolicy;
  /** The clock (ms) of the adapter's store, for the refresh-token reuse grace window. */
  now?: () => number;
  audit?: Audit;
  /** The pages of the device flow (src/interactions/device.ts); without them the flow is off. */
  devicePages?: DevicePages;
  /** Each grant's refresh-token family: one chain per grant within the grace window. */
  refreshFamily?: RefreshFamilyRepository;
  /** Re-checks users of identity providers on refresh (./upstream.ts). */
  upstreamStanding?: UpstreamStanding;
  /** Per-agent policy: which MCP servers and scopes each agent may get (src/grants/policy.ts). */
  agentPolicy?: AgentPolicyLookup;
  /** The metadata document each grant's user consented to (./document_pins.ts). */
  documentPins?: DocumentPins;
  /** Classification labels of MCP servers (src/lib/labels.ts). */
  labels?: ResourceLabels;
  /** The `mcp_tool_policy` claim for a token to this MCP server (./tool_policy.ts). */
  toolPolicy?: (audience: unknown) => Promise<ToolPolicyClaim | undefined>;
}

/** oidc-provider's deviceFlow page hooks, rendered by the interactions layer. */
export interface DevicePages {
  input(ctx: KoaContextWithOIDC, form: string, out?: ErrorOut, err?: Error): Promise<void>;
  confirm(ctx: KoaContextWithOIDC, form: string, client: unknown, deviceInfo: unknown, userCode: string): Promise<void>;
  success(ctx: KoaContextWithOIDC): Promise<void>;
}

/** How long a device code (and its user code) lives, seconds (RFC 8628 §3.2 expires_in). */
export const DEVICE_CODE_TTL = 600;

// RFC 8628 §6.1: a code read aloud and typed on another device. oidc-provider's base-20 alphabet has
// no vowels (no words) and none of the letters people confuse; 8 characters are 20^8 ≈ 2.6e10 codes,
// against which the /device throttle allows a few guesses a minute.
function deviceFlowFeature(config: Config, pages: DevicePages | undefined) {
  if (!pages || !config.deviceFlow) return { enabled: false };
  return {
    enabled: true,
    charset: 'base-20' as const,
    mask: '****-****',
    userCodeInputSource: pages.input,
    userCodeConfirmSource: pages.confirm,
    successSource: pages.success,
  };
}

function registrationFeature(config: Config) {
  switch (config.registration) {
    case 'off':
      return { enabled: false };
    case 'token':
      // The initial access token is checked in front of the provider (registration_guard.ts).
      return { enabled: true, initialAccessToken: false };
    default:
      return { enabled: true, initialAccessToken: false };
  }
}

/** CORS for browser-based agents on client-authenticated endpoints: only from a redirect URI's origin. */
function clientBasedCORS(_ctx: KoaContextWithOIDC, origin: string, client: { redirectUris?: string[] }): boolean {
  const from = URL.parse(origin);
  if (!from || origin === 'null') return false;
  return (client.redirectUris ?? []).some((uri) => {
    const to = URL.parse(uri);
    if (!to) return false;
    if (to.protocol === 'http:' && LOOPBACK_HOSTS.has(to.hostname)) {
      return from.protocol === 'http:' && from.hostname === to.hostname;
    }
    return to.origin === from.origin;
  });
}

// Experimental in oidc-provider 9.13, acknowledged at the draft it implements
// (docs/pitfalls.md#client-id-metadata-documents).
function clientDocumentsFeature(config: Config, policy: MetadataDocumentPolicy | undefined) {
  if (!policy || !config.clientMetadataDocuments.enabled) return { enabled: false };
  return {
    enabled: true,
    ack: 'draft-02',
    allowFetch: policy.allowFetch,
    allowClient: policy.allowClient,
    cacheDuration: policy.cacheDuration,
  };
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const resourceFns = resourceFunctions(
    deps.resources,
    config.accessTokenTtl,
    deps.serviceClients,
    deps.agentPolicy,
    deps.documentPins,
    deps.labels,
  );
  const secureCookies = config.issuer.startsWith('https:');
  const issuerPath = new URL(config.issuer).pathname.replace(/\/+$/, '');
  const graceOptions = {
    graceSeconds: config.refreshReuseGrace,
    now: deps.now ?? Date.now,
    audit: deps.audit,
    family: deps.refreshFamily,
    // A successor is claimed (refresh_rotations) before it is stored: a racer that reads between
    // the two must not take "not stored yet" for "rotated again". A successor gone with its grant
    // is refused by oidc-provider's own grant check.
    isLive: async (id: string) => typeof (await deps.store.find('RefreshToken', id))?.consumed !== 'number',
  };

  const configuration: Configuration = {
    adapter: adapterClass(
      deps.store,
      refreshGraceHook(graceOptions),
      refreshRotationHook(graceOptions),
      consumeRaceHook({ refreshGraceOn: graceOptions.graceSeconds > 0 && graceOptions.family !== undefined }),
    ),
    clients: [],
    findAccount: findAccountFor(deps.users, deps.upstreamStanding),
    jwks: { keys: deps.jwks as never },
    cookies: {
      keys: deps.cookieKeys,
      // Over https the browser enforces Secure and the host binding through the name prefix. The
      // session cookie (Path=/) gets __Host-; the interaction cookies are scoped to one
      // interaction's path, which __Host- forbids, so they get __Secure-.
      names: secureCookies
        ? { session: '__Host-session', interaction: '__Secure-interaction', resume: '__Secure-interaction_resume' }
        : { session: '_session', interaction: '_interaction', resume: '_interaction_resume' },
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies, path: '/' },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies },
    },
    routes: ROUTES,
    responseTypes: ['code'],
    // OAuth 2.1 §4.1.1: PKCE for every client; oidc-provider 9 only implements S256.
    pkce: { required: () => true },
    scopes: [...OIDC_SCOPES],
    claims: { openid: ['sub'] },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // The key set is EC only (docs/pitfalls.md#an-ec-only-key-set-and-registration).
      id_token_signed_response_alg: SIGNING_ALG,
    },
    extraClientMetadata: {
      properties: [...EXTRA_CLIENT_PROPERTIES],
      validator: createClientMetadataValidator({
        openRegistration: config.registration === 'open',
        allowFetchedUris: config.openRegistrationFetchedUris,
      }) as never,
    },
    clientBasedCORS: clientBasedCORS as never,
    // Every fetch oidc-provider makes (metadata documents, jwks_uri, sector_identifier_uri) goes
    // through the outbound guard (./outbound_fetch.ts); with none configured, nothing is fetched.
    fetch: (deps.clientDocuments ?? noOutboundFetch).fetch as never,
    fetchResponseBodyLimits: {
      'client_id metadata document': config.clientMetadataDocuments.maxBytes,
      jwks_uri: OUTBOUND_MAX_BYTES,
      sector_identifier_uri: OUTBOUND_MAX_BYTES,
    } as never,
    features: {
      devInteractions: { enabled: false },
      registration: registrationFeature(config),
      clientIdMetadataDocument: clientDocumentsFeature(config, deps.clientDocuments),
      registrationManagement: { enabled: config.registration !== 'off', rotateRegistrationAccessToken: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: resourceFns.defaultResource,
        getResourceServerInfo: resourceFns.getResourceServerInfo,
        useGrantedResource: resourceFns.useGrantedResource,
      },
      revocation: { enabled: true },
      deviceFlow: deviceFlowFeature(config, deps.devicePages),
      // Only service clients an admin registered may use it (./resources.ts, ./client_policy.ts).
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      // RFC 9449: a proof at /token binds the access token (cnf.jkt) and a public client's refresh
      // token to the agent's key; the proxy checks the proofs (docs/pitfalls.md#dpop-is-on-by-default).
      dPoP: {
        enabled: true,
        nonceSecret: deps.dpopNonceSecret,
        requireNonce: () => config.dpopRequireNonce,
      },
    },
    interactions: {
      // Under the issuer's path when it has one: the interaction cookie's path is taken from this URL.
      url: (_ctx, interaction) => `${issuerPath}${INTERACTION_PREFIX}/${interaction.uid}`,
      policy: interactionPrompts({
        secondFactor: config.secondFactor,
        users: deps.users,
        resources: deps.resources,
        labels: deps.labels,
      }),
    },
    // How the user signed in (src/lib/sign_in_strength.ts): advertised, asked for with acr_values.
    acrValues: ACR_VALUES_SUPPORTED,
    extraParams: stepUpExtraParams as never,
    loadExistingGrant: loadExistingGrantFor(deps.grants, deps.documentPins),
    // Agents need refresh tokens without offline_access, bound to the grant
    // (docs/pitfalls.md#refresh-tokens-for-agents).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    extraTokenClaims: async (ctx, token) => {
      const grantId = (token as { grantId?: string }).grantId;
      // The rules of the server's tool labels, for the proxy to enforce per call (src/lib/tool_labels.ts).
      const server = token as { resourceServer?: { audience?: unknown }; aud?: unknown };
      const tools = await deps.toolPolicy?.(server.resourceServer?.audience ?? server.aud);
      const claims = {
        // acr, amr and auth_time let a resource server ask for a stronger sign-in (RFC 9470).
        ...(grantId ? { grant_id: grantId, ...signInClaims(ctx) } : {}),
        ...(tools ? { [TOOL_POLICY_CLAIM]: tools } : {}),
      };
      return Object.keys(claims).length > 0 ? claims : undefined;
    },
    ttl: {
      // The resource's own lifetime when it has one (a server labelled confidential: ./resources.ts).
      AccessToken: (_ctx, token) =>
        (token as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL ??
        config.accessTokenTtl,
      AuthorizationCode: config.authorizationCodeTtl,
      ClientCredentials: (_ctx, token) =>
        (token as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL ??
        config.accessTokenTtl,
      DeviceCode: DEVICE_CODE_TTL,
      Grant: config.refreshTokenAbsoluteTtl,
      Interaction: 900,
      Session: config.sessionTtl,
      IdToken: 300,
      // Idle lifetime per token, never past the absolute lifetime of the first token in the chain.
      RefreshToken: (_ctx, token) => {
        const started =
          (token as { iiat?: number; iat?: number }).iiat ?? (token as { iat?: number }).iat ?? epochSeconds();
        const remaining = started + config.refreshTokenAbsoluteTtl - epochSeconds();
        return Math.max(1, Math.min(config.refreshTokenIdleTtl, remaining));
      },
    },
    renderError: deps.renderError,
    enabledJWA: {
      idTokenSigningAlgValues: [SIGNING_ALG],
      requestObjectSigningAlgValues: [SIGNING_ALG],
    },
  };

  const provider = new Provider(config.issuer, configuration);
  deps.clientDocuments?.install(provider);
  provider.proxy = config.trustProxy;
  // Behind the one trusted proxy, the client address is the X-Forwarded-For entry that proxy
  // appended (the last); earlier entries are whatever the client sent and must not key rate limits.
  provider.maxIpsCount = 1;
  return provider;
}
