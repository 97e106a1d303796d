// In front of POST /register (RFC 7591): the overall cap on registrations that never completed an
// authorization (a flood from many addresses still ends there; per-address limits are in
// src/web/rate_limit.ts), and, in MCP_OAUTH_REGISTRATION=token mode, the initial access token:
// one made with `mcp-oauth clients token`, or the optional fixed MCP_OAUTH_REGISTRATION_TOKEN.

import type { Context, Middleware } from 'koa';
import type { Config } from '../config/index.js';
import { parseBearer } from '../lib/bearer.js';
import { constantTimeEqual } from '../lib/constant_time.js';
import { epochSeconds } from '../lib/duration.js';
import type { RegistrationTokenRepository } from '../storage/client_state.js';
import type { ClientRepository } from '../storage/clients.js';

export interface RegistrationGuardDeps {
  path: string;
  config: Pick<Config, 'registration' | 'registrationToken' | 'maxUnusedClients' | 'unusedClientTtl'>;
  clients: Pick<ClientRepository, 'countUnused'>;
  registrationTokens: Pick<RegistrationTokenRepository, 'spend' | 'refund'>;
}

function bearer(header: string | undefined): string | undefined {
  const presented = parseBearer(header || undefined);
  return presented.kind === 'token' ? presented.token : undefined;
}

/** A JSON OAuth error answer, never cached; `headers` carry the status's own (WWW-Authenticate, Retry-After). */
function refuse(ctx: Context, status: number, error: string, description: string, headers: Record<string, string>) {
  ctx.status = status;
  ctx.set({ ...headers, 'Cache-Control': 'no-store' });
  ctx.body = { error, error_description: description };
}

export function registrationGuard(deps: RegistrationGuardDeps): Middleware {
  const { config } = deps;
  const fixed = config.registrationToken || undefined;
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== deps.path || config.registration === 'off') return next();

    let spent: string | undefined;
    if (config.registration === 'token') {
      const token = bearer(ctx.get('authorization'));
      const isFixed = token !== undefined && fixed !== undefined && constantTimeEqual(token, fixed);
      if (token !== undefined && !isFixed && (await deps.registrationTokens.spend(token, epochSeconds())))
        spent = token;
      if (!isFixed && spent === undefined) {
        refuse(ctx, 401, 'invalid_token', 'registration needs a valid initial access token (mcp-oauth clients token)', {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
        return;
      }
    }
    // Checked after the token, so a caller without one learns nothing about the server's state.
    const since = epochSeconds() - config.unusedClientTtl;
    if ((await deps.clients.countUnused(since, config.maxUnusedClients)) >= config.maxUnusedClients) {
      if (spent !== undefined) await deps.registrationTokens.refund(spent);
      refuse(ctx, 429, 'temporarily_unavailable', 'too many registrations have not been used yet; try again later', {
        'Retry-After': '3600',
      });
      return;
    }
    try {
      await next();
    } finally {
      // A use is spent only on a registration that was made (a refused body gives it back).
      if (spent !== undefined && ctx.status !== 201) await deps.registrationTokens.refund(spent);
    }
  };
}
