// One write transaction per token request (authorization_code and refresh_token grants): the
// consumed code or refresh token, the new refresh token, the rotation record, the grant's and the
// agent's "last used", the audit row and any alert commit together, or (on a server error) not at
// all. One commit instead of five or six is most of what a refresh costs beyond oidc-provider's own
// work (BENCHMARKS.md), and it makes the request atomic: two presentations of one refresh token
// are one after the other, never interleaved (on PostgreSQL the adapter reads the token FOR UPDATE
// inside it: src/storage/oidc_adapter.ts).
//
// SQLite holds the whole database for the length of a transaction, so nothing slow may happen
// inside it. What a token request can wait for, and how it is kept out:
// - the client lookup (it may fetch an agent's metadata document, or a registered client's
//   sector_identifier_uri the first time): done here first, so the lookup inside finds
//   oidc-provider's cached copy;
// - a client's `jwks_uri` (private_key_jwt authentication): requests that carry a
//   client_assertion run without the transaction;
// - an upstream identity provider's re-check of the user on refresh: `beforeTransaction` runs it
//   first, and the request goes without the transaction when it fails (it is refused anyway);
// - password hashing never happens at /token.
// Other grants (client credentials, device code, ID-JAG, token exchange) and requests that are
// refused before the provider reads them run as before.
import type { Context, Middleware } from 'koa';
import Provider from 'oidc-provider';
import type { Sql } from '../storage/engine.js';
import { withReadMemo } from '../storage/read_memo.js';
import { settleProviderEvents } from './provider_events.js';
import { requestClientId } from './resource_params.js';

const IN_ONE_TRANSACTION = new Set(['authorization_code', 'refresh_token']);

export interface TokenTransactionOptions {
  sql: Sql;
  tokenPath: string;
  provider: () => Provider;
  /**
   * Slow work of this request done before the transaction opens (network); false runs the
   * request without the transaction.
   */
  beforeTransaction?: (params: URLSearchParams, ctx: Context) => Promise<boolean>;
}

/** Thrown inside the transaction to roll it back while the response stays as the provider set it. */
class ServerErrorRollback extends Error {}

/**
 * The token request's form, as src/app/resource_params.ts read it (once), when it is one this
 * middleware wraps; undefined otherwise.
 */
function wrappedParams(ctx: Context, tokenPath: string): URLSearchParams | undefined {
  if (ctx.path !== tokenPath || ctx.method !== 'POST') return undefined;
  const params = ctx.state.tokenParams as URLSearchParams | undefined;
  if (!params || params.has('client_assertion')) return undefined;
  const grantType = params.get('grant_type');
  return grantType && IN_ONE_TRANSACTION.has(grantType) ? params : undefined;
}

export function tokenTransaction(opts: TokenTransactionOptions): Middleware {
  return async (ctx, next) => {
    const params = wrappedParams(ctx, opts.tokenPath);
    if (!params) return next();
    // Reads whatever it needs outside the memo: the token it may read is read again, locked, inside.
    if (opts.beforeTransaction && !(await opts.beforeTransaction(params, ctx))) return next();
    const clientId = requestClientId(ctx.get('authorization') || undefined, params);
    try {
      await withReadMemo(async () => {
        // The client, looked up before the lock: a metadata document is fetched now if it must be,
        // and a registered client's first use since start (oidc-provider may fetch its
        // sector_identifier_uri) happens here. Inside, the provider finds both cached, and the
        // client's row in the memo. A failure is the provider's to report, inside.
        if (clientId !== undefined) {
          await opts
            .provider()
            .Client.find(clientId)
            .catch(() => undefined);
        }
        await opts.sql.transaction(async () => {
          // The provider's listeners' writes (audit, last used, revocations) are waited for here,
          // so they belong to this transaction too.
          await settleProviderEvents(ctx, next);
          // oidc-provider answers its own errors; a 5xx means something broke half-way: keep nothing.
          if (ctx.status >= 500) throw new ServerErrorRollback();
        });
      });
    } catch (err) {
      if (!(err instanceof ServerErrorRollback)) throw err;
    }
  };
}

/** The user whose upstream standing this request confirmed before its transaction opened. */
const STANDING_CONFIRMED = Symbol('upstream standing confirmed before the transaction');

/**
 * `beforeTransaction` for a server with upstream identity providers: a refresh re-checks the
 * user's standing upstream (a network call, src/provider/upstream.ts), so it is done before the
 * lock, and `standingAsConfirmed` answers the provider's own check inside from it (even when
 * MCP_OAUTH_IDP_RECHECK_INTERVAL=0 asks at every refresh). A user not in good standing is refused
 * by the provider anyway; that request goes without the transaction.
 */
export function upstreamStandingFirst(
  provider: () => Provider,
  inGoodStanding: (userId: string) => Promise<boolean>,
): (params: URLSearchParams, ctx: Context) => Promise<boolean> {
  return async (params, ctx) => {
    const value = params.get('refresh_token');
    if (params.get('grant_type') !== 'refresh_token' || !value) return true;
    const token = await provider()
      .RefreshToken.find(value, { ignoreExpiration: true })
      .catch(() => undefined);
    if (!token?.accountId) return true;
    if (!(await inGoodStanding(token.accountId))) return false;
    (ctx.state as Record<symbol, unknown>)[STANDING_CONFIRMED] = token.accountId;
    return true;
  };
}

/** The provider's standing check (findAccount on a refresh), answered by upstreamStandingFirst when it ran. */
export function standingAsConfirmed(
  inGoodStanding: (userId: string) => Promise<boolean>,
): (userId: string) => Promise<boolean> {
  return async (userId) =>
    (Provider.ctx?.state as Record<symbol, unknown> | undefined)?.[STANDING_CONFIRMED] === userId ||
    inGoodStanding(userId);
}
