// Assembles the authorization server: the oidc-provider Koa app with our middleware in front.
// The provider is rebuilt when the signing-key set changes (a rotation made by the CLI).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { accountRoutes } from '../account/routes.js';
import { adminRoutes } from '../admin/routes.js';
import { createAudit } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { interactionRoutes } from '../interactions/routes.js';
import { epochSeconds } from '../lib/duration.js';
import { buildProvider, ROUTES } from '../provider/index.js';
import { ensureSigningKey, providerJwks } from '../provider/keys.js';
import type { Db } from '../storage/db.js';
import { createStores, type Stores } from '../storage/index.js';
import { getOrCreateSecret } from '../storage/settings.js';
import { createCsrf } from './csrf.js';
import { errorHandler, providerErrorRenderer } from './errors.js';
import { introspection } from './introspection.js';
import type { Logger } from './logger.js';
import { metadata } from './metadata.js';
import { wireProviderEvents } from './provider_events.js';
import { registrationCors } from './registration_cors.js';
import { resourceParams } from './resource_params.js';
import { createFeedHub, type FeedHub, revocationFeed } from './revocation_feed.js';
import type { RouteDeps } from './route_deps.js';
import { securityHeaders } from './security_headers.js';
import { createViews } from './views.js';

export interface App {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  provider: () => Provider;
  stores: Stores;
  feedHub: FeedHub;
  /** Rebuilds the provider if the published or signing keys changed; true when it did. */
  reloadKeysIfChanged: () => boolean;
}

export async function buildApp(config: Config, db: Db, log: Logger): Promise<App> {
  const stores = createStores(db, { accessTokenTtl: config.accessTokenTtl });
  const { users, resources, keys, credentials } = stores;
  const views = createViews();
  const secure = config.issuer.startsWith('https:');
  const csrf = createCsrf(getOrCreateSecret(db, 'csrf_key'), secure);
  const cookieKeys = [getOrCreateSecret(db, 'cookie_key')];
  await ensureSigningKey(keys);

  let current: Provider;
  let callback: (req: IncomingMessage, res: ServerResponse) => void;
  let fingerprint = '';

  const audit = createAudit(db, log);
  const deps = {
    provider: () => current,
    users,
    resources,
    grantRecords: stores.grantRecords,
    views,
    csrf,
    audit,
    log,
  };
  const routes = interactionRoutes(deps);
  const routeDeps: RouteDeps = { config, stores, views, csrf, audit, log, provider: () => current };

  const feedHub = createFeedHub(stores.revocations, log);
  // Built once: a provider rebuild (key rotation) puts the same middleware in front of the new
  // provider, so state such as the feed hub's open streams carries over.
  // (Router middleware types its context more narrowly than Koa's; both run on the provider's.)
  const ours = [
    securityHeaders(secure),
    errorHandler(views, log),
    async (ctx, next) => {
      if (ctx.path !== '/static/app.css') return next();
      ctx.type = 'text/css; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = views.css;
    },
    metadata(resources, config.issuer),
    registrationCors(ROUTES.registration),
    resourceParams({
      resources,
      authorizePath: ROUTES.authorization,
      tokenPath: ROUTES.token,
      provider: () => current,
    }),
    introspection({ issuer: config.issuer, keys, credentials, users, provider: () => current }),
    revocationFeed(routeDeps, feedHub),
    accountRoutes(routeDeps),
    adminRoutes(routeDeps),
    routes.routes(),
    routes.allowedMethods(),
  ] as Middleware[];

  const build = () => {
    const jwks = providerJwks(keys, epochSeconds());
    const provider = buildProvider({
      config,
      store: stores.oidc,
      users,
      resources,
      grants: stores.grants,
      jwks: jwks.keys,
      cookieKeys,
      renderError: providerErrorRenderer(views),
    });
    for (const middleware of ours) provider.use(middleware);
    wireProviderEvents(provider, stores, log, audit);
    // Errors Koa itself reports (mostly clients that hung up mid-response): to the log, not stderr.
    (provider as unknown as NodeJS.EventEmitter).on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') log.debug({ err }, 'client connection closed');
      else log.error({ err }, 'unhandled application error');
    });
    current = provider;
    callback = provider.callback();
    fingerprint = jwks.fingerprint;
  };
  build();

  return {
    handler: (req, res) => callback(req, res),
    provider: () => current,
    stores,
    feedHub,
    reloadKeysIfChanged() {
      if (providerJwks(keys, epochSeconds()).fingerprint === fingerprint) return false;
      build();
      log.info({ event: 'keys.reloaded' }, 'signing keys changed; provider rebuilt');
      return true;
    },
  };
}
