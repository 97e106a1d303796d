import type Provider from 'oidc-provider';
import type { Audit } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { Upstream } from '../provider/upstream.js';
import type { Stores } from '../storage/index.js';
import type { Csrf } from './csrf.js';
import type { LoginThrottle } from './rate_limit.js';
import type { Views } from './views.js';

/** What every group of our own routes gets. */
export interface RouteDeps {
  config: Config;
  stores: Stores;
  views: Views;
  csrf: Csrf;
  audit: Audit;
  log: Logger;
  provider: () => Provider;
  /** Sign-in back-off shared by every password form. */
  loginThrottle: LoginThrottle;
  /** The organisation's identity providers (src/provider/upstream.ts). */
  upstream?: Upstream;
}
