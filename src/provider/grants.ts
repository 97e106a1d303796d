// Which existing grant an authorization request continues.
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import { epochSeconds } from '../lib/duration.js';
import { splitScope } from '../lib/scopes.js';
import type { GrantIndex } from '../storage/grants.js';
import type { DocumentPins } from './document_pins.js';

type GrantWithRejections = Grant & { rejected?: { resources?: Record<string, string> } };

/**
 * Continues the grant named by the session or, failing that, the user's latest grant to this
 * agent, so one user and one agent keep one grant across browsers. Scopes the user declined before
 * but the agent asks for again are forgotten as declined, so a step-up shows consent again instead
 * of silently issuing a token without them.
 */
export function loadExistingGrantFor(index: GrantIndex, pins?: DocumentPins) {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { oidc } = ctx;
    const clientId = oidc.client?.clientId;
    const accountId = oidc.session?.accountId;
    if (!clientId || !accountId) return undefined;
    const grantId =
      (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ??
      oidc.session?.grantIdFor(clientId) ??
      (await index.latestFor(accountId, clientId, epochSeconds()));
    if (!grantId) return undefined;
    const grant = (await oidc.provider.Grant.find(grantId)) as GrantWithRejections | undefined;
    if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) return undefined;
    // The agent's document changed its name or a redirect host since the user consented: a new
    // grant, with the consent page (./document_pins.ts).
    if ((await pins?.check(grantId, oidc.client as never, accountId)) === 'changed') return undefined;
    // Resuming right after the consent page: what the user just declined stands.
    if (!oidc.result?.consent) forgetDeclined(grant, splitScope(oidc.params?.scope as string | undefined));
    return grant;
  };
}

export function forgetDeclined(grant: GrantWithRejections, requested: string[]): void {
  const declined = grant.rejected?.resources;
  if (!declined || requested.length === 0) return;
  for (const [indicator, scopes] of Object.entries(declined)) {
    const kept = splitScope(scopes).filter((s) => !requested.includes(s));
    if (kept.length > 0) declined[indicator] = kept.join(' ');
    else delete declined[indicator];
  }
}
