// What the proxy learns from the authorization server: its metadata (for the JWKS URL), its key set
// (for verifying tokens locally) and its revocation feed. Readiness is "keys loaded, feed in sync,
// issuer as configured"; while the feed is stale the proxy fails closed.
import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy.js';
import { createRevocationSubscriber, RevocationFeedError, type RevocationSubscriber } from './revocation_feed.js';
import { createKeySet, createVerifier, type KeySet, type Verifier } from './verifier.js';

const METADATA_PATH = '/.well-known/oauth-authorization-server';

export interface AuthorizationServer {
  verifier: Verifier;
  keys: KeySet;
  subscriber: RevocationSubscriber;
  /** False while nothing reached us from the feed for longer than the configured grace. */
  feedHealthy(): boolean;
  checks(): { keys: boolean; revocation_feed: boolean; issuer: boolean };
  ready(): boolean;
  /** Loads the key set, then the feed's first full sync; waits at most `waitMs` before going on. */
  start(waitMs: number): Promise<void>;
  stop(): void;
}

export function connectAuthorizationServer(
  config: ProxyConfig,
  log: Logger,
  hooks: { onKeyRefresh?: (result: 'ok' | 'error') => void; onRevocation?: () => void } = {},
): AuthorizationServer {
  // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
  const issuerPath = new URL(config.issuer).pathname.replace(/\/+$/, '');
  const asMetadataUrl = `${new URL(config.authorizationServerUrl).origin}${METADATA_PATH}${issuerPath}`;
  // Behind a container network the public issuer is not reachable: fetch from the internal URL.
  const internal = (url: string) =>
    url.startsWith(config.issuer) ? config.authorizationServerUrl + url.slice(config.issuer.length) : url;
  let jwksUri: string | undefined;
  let fatal: Error | undefined;
  const discover = async (): Promise<string> => {
    if (jwksUri) return jwksUri;
    const res = await fetch(asMetadataUrl, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`authorization server metadata answered ${res.status}`);
    }
    const meta = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (meta.issuer !== config.issuer) {
      // RFC 8414 §3.3: the issuer must be identical; RFC 9728 clients compare it exactly too.
      fatal = new Error(
        `the authorization server calls itself ${JSON.stringify(meta.issuer)}, not ${JSON.stringify(config.issuer)}: set MCP_PROXY_ISSUER to exactly its issuer`,
      );
      throw fatal;
    }
    if (typeof meta.jwks_uri !== 'string') throw new Error('authorization server metadata has no jwks_uri');
    jwksUri = internal(meta.jwks_uri);
    return jwksUri;
  };

  let keysFailing = false;
  const keys = createKeySet({
    jwksUri: discover,
    refreshMs: 10 * 60_000,
    onRefresh: (result, err) => {
      hooks.onKeyRefresh?.(result);
      // Warn when the key set becomes unreachable, not on every retry of a long outage.
      if (err && !keysFailing) log.warn({ err: err.message }, 'key set refresh failed; retrying');
      else if (!err && keysFailing) log.info('key set loaded');
      keysFailing = err !== undefined;
    },
  });
  const verifier = createVerifier({
    issuer: config.issuer,
    keys,
    algorithms: config.algorithms,
    clockToleranceSeconds: config.clockToleranceSeconds,
  });
  let lastFeedError = '';
  const subscriber = createRevocationSubscriber({
    issuer: config.authorizationServerUrl,
    credentials: config.feed,
    // Entries must outlive every token they cover, as this proxy judges expiry (exp + tolerance).
    clockToleranceSeconds: config.clockToleranceSeconds,
    onRevocation: hooks.onRevocation,
    onError: (err) => {
      // Logged once per distinct message so a long outage does not flood the log.
      if (err.message !== lastFeedError) log.warn({ err: err.message }, 'revocation feed problem');
      lastFeedError = err.message;
    },
  });

  const feedHealthy = () => subscriber.healthy(config.feedGraceSeconds);
  const checks = () => ({ keys: keys.loaded(), revocation_feed: feedHealthy(), issuer: !fatal });
  const stop = () => {
    subscriber.stop();
    keys.stop();
  };

  return {
    verifier,
    keys,
    subscriber,
    feedHealthy,
    checks,
    ready: () => Object.values(checks()).every(Boolean),
    async start(waitMs) {
      const init = (async () => {
        // The key set (and with it the AS metadata) first, then the feed's first full sync.
        for (let delay = 250; !(await keys.refresh()); delay = Math.min(delay * 2, 5000)) {
          if (fatal) throw fatal;
          await new Promise((r) => setTimeout(r, delay).unref());
        }
        await subscriber.start();
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), waitMs);
        timer.unref();
      });
      try {
        const r = await Promise.race([init.then(() => 'ok' as const), timedOut]);
        if (r === 'timeout') log.warn('authorization server not reachable yet; answering 503 until it is');
        else log.info('key set loaded and revocation feed in sync: ready');
      } catch (err) {
        stop();
        if (err instanceof RevocationFeedError && err.status === 401) {
          throw new Error('the revocation feed refused the credential: check MCP_PROXY_FEED_CLIENT_ID/SECRET');
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
      init.catch((err: unknown) => log.error({ err: (err as Error).message }, 'proxy could not start its checks'));
    },
    stop,
  };
}
