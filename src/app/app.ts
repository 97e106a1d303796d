// Assembles the authorization server: the oidc-provider Koa app with our middleware in front.
// The provider is rebuilt when the signing-key set changes (a rotation made by the CLI).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { accountRoutes } from '../account/routes.js';
import { adminRoutes } from '../admin/routes.js';
import { canonicalPath } from '../app/canonical_path.js';
import { withAlerts } from '../audit/alerts.js';
import { createAudit, requestSource } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { createLifecycle, toolLabelRules } from '../grants/index.js';
import { devicePages, devicePrefill } from '../interactions/device.js';
import { interactionRoutes } from '../interactions/routes.js';
import { ssoDeps, ssoRoutes } from '../interactions/sso.js';
import { trustedDocument } from '../lib/agent_document.js';
import { epochSeconds } from '../lib/duration.js';
import { combinedPolicy } from '../lib/group_policy.js';
import { toolRuleOf } from '../lib/tool_labels.js';
import type { Logger } from '../log/logger.js';
import { type AlertSink, createAlertSink } from '../ops/alert_webhook.js';
import { createReadiness, healthRoutes } from '../ops/health.js';
import { activeGrantCounter, createMetrics, type Metrics } from '../ops/metrics.js';
import { requestContext } from '../ops/request_id.js';
import { createMetadataDocumentPolicy } from '../provider/client_metadata_document.js';
import { agentGroupKey } from '../provider/client_policy.js';
import { documentPins } from '../provider/document_pins.js';
import { keepErrorsOnOurOrigin, loadRedirectStanding } from '../provider/error_redirects.js';
import { registerIdJagGrant } from '../provider/id_jag.js';
import { buildProvider, PROVIDER_ROUTE_TEMPLATES, ROUTES } from '../provider/index.js';
import { ensureSigningKey, providerJwks } from '../provider/keys.js';
import { handOverSuccessor } from '../provider/refresh_grace.js';
import { registrationGuard } from '../provider/registration_guard.js';
import { toolPolicyFor } from '../provider/tool_policy.js';
import { createUpstream } from '../provider/upstream.js';
import type { Sql } from '../storage/engine.js';
import { createStores, type Stores } from '../storage/index.js';
import { getOrCreateSecret } from '../storage/settings.js';
import { basePath, mountAt, withBasePath } from '../web/base_path.js';
import { createCsrf } from '../web/csrf.js';
import { errorHandler, HttpError, providerErrorRenderer } from '../web/errors.js';
import { relyingParty } from '../web/factors.js';
import { createPendingSignIns } from '../web/pending_sign_in.js';
import { createLoginThrottle, defaultRules, rateLimit } from '../web/rate_limit.js';
import type { RouteDeps } from '../web/route_deps.js';
import { securityHeaders } from '../web/security_headers.js';
import { signInOptions } from '../web/sso.js';
import { staticScripts } from '../web/static_scripts.js';
import { createViews, viewsDir } from '../web/views.js';
import { devicePolling } from './device_polling.js';
import { INTROSPECTION_PATH, introspection } from './introspection.js';
import { metadata } from './metadata.js';
import { settleProviderEvents, wireProviderEvents } from './provider_events.js';
import { registrationCors } from './registration_cors.js';
import { grantedResourceOnly, resourceParams } from './resource_params.js';
import { createFeedHub, FEED_PATH, type FeedHub, revocationFeed } from './revocation_feed.js';
import { settingsSnapshot } from './settings_snapshot.js';
import { standingAsConfirmed, tokenTransaction, upstreamStandingFirst } from './token_transaction.js';

export interface App {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  provider: () => Provider;
  stores: Stores;
  feedHub: FeedHub;
  /** This app's Prometheus registry and counters (served at /metrics only with a token). */
  metrics: Metrics;
  /** Alerts raised by this app: counted and queued for the webhook (`drained()` waits for it). */
  alerts: AlertSink;
  /** Rebuilds the provider if the published or signing keys changed; true when it did. */
  reloadKeysIfChanged: () => Promise<boolean>;
}

export interface BuildOptions {
  /** The clock (ms since the epoch) of the token store and the refresh grace window; tests inject one. */
  now?: () => number;
}

export async function buildApp(config: Config, sql: Sql, log: Logger, opts: BuildOptions = {}): Promise<App> {
  const stores = createStores(sql, { accessTokenTtl: config.accessTokenTtl, now: opts.now });
  // Before anything is signed: revocation-feed entries, whoever writes them (this server, or the
  // CLI in another shell), last as long as the longest-lived token this server ever issued.
  await stores.revocations.noteSigningTtl(config.accessTokenTtl);
  const { users, resources, keys, credentials } = stores;
  const views = createViews();
  const secure = config.issuer.startsWith('https:');
  const base = basePath(config.issuer);
  const csrf = createCsrf(await getOrCreateSecret(sql, 'csrf_key'), secure, base);
  const cookieKeys = [await getOrCreateSecret(sql, 'cookie_key')];
  const dpopNonceSecret = Buffer.from(await getOrCreateSecret(sql, 'dpop_nonce_key'), 'base64url');
  // Made now rather than by the first sign-in page, which must write nothing.
  await stores.factors.challengeKey();
  await ensureSigningKey(keys);

  let current: Provider;
  let callback: (req: IncomingMessage, res: ServerResponse) => void;
  let fingerprint = '';
  let canSign = false;

  const metrics = createMetrics({
    token: config.metricsToken,
    activeGrants: activeGrantCounter(sql),
    log,
  });
  const alertSink = createAlertSink({
    registry: metrics.registry,
    log,
    issuer: config.issuer,
    webhook:
      config.alerts.webhookUrl !== undefined && config.alerts.webhookSecret !== undefined
        ? { url: config.alerts.webhookUrl, secret: config.alerts.webhookSecret }
        : undefined,
  });
  const audit = withAlerts(metrics.meterAudit(createAudit(sql, log)), {
    sql,
    alerts: stores.alerts,
    rules: config.alerts,
    log,
    writeScopes: async (uri) =>
      new Set((await resources.findByUri(uri))?.scopes.filter((s) => s.isWrite).map((s) => s.scope)),
    agentKey: async (clientId) => {
      const client = await stores.clients.find(clientId);
      return client ? agentGroupKey(client.metadata) : clientId;
    },
    onAlert: alertSink,
  });
  // One throttle for both sign-in forms, so alternating between them gains nothing.
  const loginThrottle = createLoginThrottle(config.loginThrottle, stores.throttles);
  const upstream = createUpstream({
    config,
    identities: stores.identities,
    users,
    audit,
    log,
    endSessions: (userId) => stores.revocations.endSessions(userId),
    syncGroups: (userId, issuer, provider, claim) => approvals.syncUpstreamGroups(userId, issuer, provider, claim),
  });
  const approvals = createLifecycle(stores, audit);
  const trustedDocuments = config.clientMetadataDocuments.trustedClientIds;
  const pins = documentPins({ grantDocuments: stores.grantDocuments, audit, trusted: trustedDocuments });
  const labels = {
    labelOf: (uri: string) => stores.resourceLabels.labelOf(uri),
    rules: {
      sensitiveTokenTtl: config.labels.sensitiveTokenTtl,
      readOnly: config.labels.readOnly,
      approval: config.labels.approval,
      secondFactor: config.labels.secondFactor,
    },
  };
  // The agent's own policies and its user's groups' together (src/lib/group_policy.ts): the narrower wins.
  const agentPolicy = async (clientId: string, accountId?: string) =>
    combinedPolicy(
      await stores.agentPolicies.effectiveFor(clientId),
      accountId ? await stores.groups.policiesFor(accountId) : [],
    );
  const toolRules = toolLabelRules(config);
  const toolPolicy = (audience: unknown) => toolPolicyFor(stores.toolLabels, toolRules, audience);
  const toolLabels = async (uri: string) =>
    (await stores.toolLabels.forResource(uri)).map((l) => ({
      tool: l.tool,
      label: l.label,
      rule: toolRuleOf(l.label, toolRules) ?? null,
    }));
  // Approval of new agents: everywhere with MCP_OAUTH_AGENT_APPROVAL, or on servers whose label asks for it.
  const approvalRequired = async (clientId: string, resource: string | undefined) => {
    if (trustedDocument(clientId, trustedDocuments)) return false;
    if (config.agentApproval) return true;
    const label = resource ? await labels.labelOf(resource) : undefined;
    return label !== undefined && labels.rules.approval.includes(label);
  };
  const deps = {
    config,
    loginThrottle,
    signInOptions: signInOptions(config),
    factors: stores.factors,
    pending: await createPendingSignIns(sql, users),
    rp: relyingParty(config.issuer),
    secondFactor: config.secondFactor,
    provider: () => current,
    users,
    resources,
    grantRecords: stores.grantRecords,
    agentPolicy,
    toolLabels,
    approval: async (clientId: string, userId: string, ip: string | undefined, resource: string | undefined) =>
      approvals.approvalStanding(await approvalRequired(clientId, resource), clientId, userId, ip),
    labels,
    documentPins: pins,
    views,
    csrf,
    audit,
    log,
  };
  const routeDeps: RouteDeps = {
    config,
    stores,
    views,
    csrf,
    audit,
    log,
    loginThrottle,
    provider: () => current,
    upstream,
  };
  const routes = interactionRoutes(deps, ssoDeps(routeDeps, upstream));

  const feedHub = createFeedHub(stores.revocations, log, {
    maxStreamsPerCredential: config.feedStreamsPerCredential,
  });
  // Built once: a provider rebuild (key rotation) puts the same middleware in front of the new
  // provider, so state such as the feed hub's open streams carries over.
  // (Router middleware types its context more narrowly than Koa's; both run on the provider's.)
  const ours = [
    // Operations first: request id and metrics see every response; probes and scrapes are
    // answered before anything that could refuse them (security headers only add headers).
    withBasePath(base),
    requestContext(log),
    metrics.observeRequests,
    securityHeaders(secure),
    // Before every check that looks at the path: the checks and the routers see one spelling.
    canonicalPath(PROVIDER_ROUTE_TEMPLATES),
    // Before the response goes out (and is measured), the writes the provider's events started complete.
    settleProviderEvents,
    healthRoutes(createReadiness({ sql, log, signingKeyLoaded: () => canSign })),
    metrics.endpoint,
    errorHandler(views, log),
    // A NUL in the path names nothing here (no id, username or page holds one): not found, on
    // every route, before a lookup could send it to the database (see SqlTextError).
    async (ctx, next) => {
      if (/%00/.test(ctx.path)) throw new HttpError(404, 'not_found', 'no such page');
      return next();
    },
    async (ctx, next) => {
      if (ctx.path !== '/static/app.css') return next();
      ctx.type = 'text/css; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = views.css;
    },
    staticScripts(viewsDir()),
    // The pages link the SVG icon; browsers (and bookmarks) still ask for /favicon.ico: same icon.
    async (ctx, next) => {
      if (ctx.path !== '/static/favicon.svg' && ctx.path !== '/favicon.ico') return next();
      ctx.type = 'image/svg+xml';
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = views.favicon;
    },
    metadata(resources, config.issuer),
    registrationCors(ROUTES.registration),
    // After CORS, so a browser-based agent can read its 429.
    rateLimit(
      defaultRules(config.rateLimits, {
        ...ROUTES,
        introspection: INTROSPECTION_PATH,
        feed: FEED_PATH,
      }),
      log,
      stores.throttles,
    ),
    registrationGuard({
      path: ROUTES.registration,
      config,
      clients: stores.clients,
      registrationTokens: stores.registrationTokens,
    }),
    // Authorization and token requests read the version of the settings kept in memory once
    // (src/storage/settings_cache.ts); they never change settings, so they need not see a change of their own.
    settingsSnapshot([ROUTES.authorization, ROUTES.token, ROUTES.device_authorization]),
    resourceParams({
      resources,
      authorizePath: ROUTES.authorization,
      tokenPath: ROUTES.token,
      deviceAuthorizationPath: ROUTES.device_authorization,
      provider: () => current,
    }),
    // A code exchange or a refresh commits once (./token_transaction.ts): from here on, inside it.
    tokenTransaction({
      sql,
      tokenPath: ROUTES.token,
      provider: () => current,
      beforeTransaction: upstream.enabled ? upstreamStandingFirst(() => current, upstream.inGoodStanding) : undefined,
    }),
    grantedResourceOnly({ tokenPath: ROUTES.token, provider: () => current }),
    // Authorization errors are redirected only for agents in use (src/provider/error_redirects.ts).
    loadRedirectStanding(
      ROUTES.authorization,
      async (clientId) => (await stores.clientState.find(clientId))?.firstUsedAt != null,
    ),
    handOverSuccessor,
    devicePrefill(ROUTES.code_verification),
    devicePolling({ tokenPath: ROUTES.token, throttles: stores.throttles, now: opts.now }),
    introspection({
      issuer: config.issuer,
      keys,
      credentials,
      users,
      serviceClients: stores.serviceClients,
      revocations: stores.revocations,
      provider: () => current,
    }),
    revocationFeed(routeDeps, feedHub),
    accountRoutes(routeDeps),
    adminRoutes(routeDeps),
    ssoRoutes(routeDeps, upstream),
    routes.routes(),
    routes.allowedMethods(),
  ] as Middleware[];

  // Built once: its guarded connection pool outlives provider rebuilds.
  const clientDocuments = createMetadataDocumentPolicy(
    config.clientMetadataDocuments,
    stores.clientState,
    (ctx, clientId, name) =>
      audit.record({
        ...requestSource(ctx as Parameters<typeof requestSource>[0]),
        event: 'client.registered',
        result: 'success',
        clientId,
        details: { name, via: 'metadata_document' },
      }),
    opts.now,
  );

  // When this process first published each signing key (src/provider/keys.ts PublicationTimes).
  // Keys already there at start were published by the previous run.
  const published = new Map<string, number>();
  const notePublished = async (now: number) => {
    const first = published.size === 0;
    for (const k of await keys.live(now)) if (!published.has(k.kid)) published.set(k.kid, first ? k.created_at : now);
  };
  const currentJwks = async () => {
    const now = epochSeconds();
    await notePublished(now);
    return providerJwks(keys, now, published);
  };

  const build = (jwks: Awaited<ReturnType<typeof currentJwks>>) => {
    const provider = buildProvider({
      config,
      store: stores.oidc,
      users,
      resources,
      grants: stores.grants,
      serviceClients: stores.serviceClients,
      jwks: jwks.keys,
      cookieKeys,
      dpopNonceSecret,
      renderError: providerErrorRenderer(views),
      clientDocuments,
      now: opts.now,
      audit,
      devicePages: devicePages(views),
      refreshFamily: stores.refreshFamily,
      upstreamStanding: upstream.enabled ? standingAsConfirmed(upstream.inGoodStanding) : undefined,
      agentPolicy,
      documentPins: pins,
      labels,
      toolPolicy,
    });
    registerIdJagGrant(provider, {
      config,
      upstream,
      identities: stores.identities,
      users,
      resources,
      grantRecords: stores.grantRecords,
      agentPolicy,
      labels,
    });
    for (const middleware of ours) provider.use(middleware);
    wireProviderEvents(provider, stores, log, audit);
    keepErrorsOnOurOrigin(provider);
    // Errors Koa itself reports (mostly clients that hung up mid-response): to the log, not stderr.
    (provider as unknown as NodeJS.EventEmitter).on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') log.debug({ err }, 'client connection closed');
      else log.error({ err }, 'unhandled application error');
    });
    current = provider;
    callback = provider.callback();
    fingerprint = jwks.fingerprint;
    // providerJwks puts the signing key first and marks every other key verify-only.
    canSign = jwks.keys.some((k) => k.key_ops === undefined && typeof k.d === 'string');
  };
  build(await currentJwks());

  return {
    // Under the issuer's path when it has one (src/http/base_path.ts).
    handler: mountAt(base, (req, res) => callback(req, res)),
    provider: () => current,
    stores,
    feedHub,
    metrics,
    alerts: alertSink,
    async reloadKeysIfChanged() {
      const jwks = await currentJwks();
      if (jwks.fingerprint === fingerprint) return false;
      build(jwks);
      log.info({ event: 'keys.reloaded' }, 'signing keys changed; provider rebuilt');
      return true;
    },
  };
}
