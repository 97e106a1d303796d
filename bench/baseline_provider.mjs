// Baseline for scenarios 1 and 2: a bare oidc-provider with the grant configuration of
// src/provider/index.ts (PKCE, JWT access tokens for one resource indicator, ES256, rotating
// refresh tokens bound to the grant, same lifetimes) and its in-memory adapter. Nothing of
// ours runs in front of it; its interaction page signs the one user in and consents at once.
// The in-memory adapter is oidc-provider's own, given a store large enough never to evict: its
// default store keeps only the 1,000 most recent entries, so under load the session and grant
// would be evicted by the refresh tokens.
// With BENCH_BASELINE_DB (a file path) it stores everything in SQLite instead (lib/durable_adapter.mjs).
// Env: BENCH_PORT, BENCH_RESOURCE, BENCH_CLIENT_ID, BENCH_REDIRECT_URI, BENCH_BASELINE_DB.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { durableAdapterFactory } from './lib/durable_adapter.mjs';
import { childFailed, childReady } from './lib/proc.mjs';

const ALG = 'ES256';
const ACCOUNT = 'bench-user';

try {
  const port = Number(process.env.BENCH_PORT);
  const resource = process.env.BENCH_RESOURCE;
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: ALG, use: 'sig', kid: 'bench' };
  const ttl = { accessToken: 3600, code: 60, session: 86400, refreshIdle: 14 * 86400, grant: 90 * 86400 };

  const store = new LRU({ maxSize: 50_000_000 });
  const durable = process.env.BENCH_BASELINE_DB ? durableAdapterFactory(process.env.BENCH_BASELINE_DB) : undefined;
  const provider = new Provider(issuer, {
    adapter: durable ?? ((model) => new MemoryAdapter(model, store)),
    clients: [
      {
        client_id: process.env.BENCH_CLIENT_ID ?? 'bench-agent',
        application_type: 'web',
        redirect_uris: [process.env.BENCH_REDIRECT_URI ?? 'https://agent.example.com/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: ALG,
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    routes: { authorization: '/authorize', token: '/token', registration: '/register', jwks: '/jwks' },
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access'],
    claims: { openid: ['sub'] },
    clientDefaults: { id_token_signed_response_alg: ALG },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        getResourceServerInfo: async () => ({
          scope: 'mcp:read mcp:write',
          audience: resource,
          accessTokenTTL: ttl.accessToken,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: ALG } },
        }),
        useGrantedResource: async () => true,
      },
      revocation: { enabled: true },
      introspection: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    extraTokenClaims: async (_ctx, token) => (token.grantId ? { grant_id: token.grantId } : undefined),
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.code,
      Grant: ttl.grant,
      Interaction: 900,
      Session: ttl.session,
      IdToken: 300,
      RefreshToken: (_ctx, token) => {
        const now = Math.floor(Date.now() / 1000);
        const started = token.iiat ?? token.iat ?? now;
        return Math.max(1, Math.min(ttl.refreshIdle, started + ttl.grant - now));
      },
    },
    enabledJWA: { idTokenSigningAlgValues: [ALG], requestObjectSigningAlgValues: [ALG] },
  });

  // The whole "user": sign in as the one account, then grant the requested resource scopes.
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(ctx.path);
    if (!m || ctx.method !== 'GET') return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId: ACCOUNT } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addResourceScope(resource, 'mcp:read mcp:write');
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.respond = false;
  });

  const server = createServer(provider.callback());
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  childReady({ url: issuer }, () => new Promise((resolve) => server.close(() => resolve())));
} catch (err) {
  childFailed(err);
}
