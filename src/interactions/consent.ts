// The consent page: who asks, for what, on which MCP server; the user may untick scopes.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Grant, Interaction } from 'oidc-provider';
import { requestSource } from '../audit/index.js';
import { HttpError } from '../http/errors.js';
import { epochSeconds } from '../lib/duration.js';
import { splitScope } from '../lib/scopes.js';
import { forgetDeclined } from '../provider/grants.js';
import type { GrantRecordRepository } from '../storage/grant_records.js';
import type { ResourceRepository, ResourceScope } from '../storage/resources.js';
import { describeClient, formField, formList } from './context.js';
import type { LoginDeps } from './login.js';

export interface ConsentDeps extends LoginDeps {
  resources: ResourceRepository;
  grantRecords: GrantRecordRepository;
}

interface ConsentRequest {
  indicator: string;
  missing: string[];
  granted: string[];
}

/** The resource this consent is about and which of its scopes are new. */
async function consentRequest(provider: Provider, details: Interaction): Promise<ConsentRequest> {
  const prompt = details.prompt.details as { missingResourceScopes?: Record<string, string[]> };
  const missingByResource = prompt.missingResourceScopes ?? {};
  const requested = splitScope(details.params.scope as string | undefined);
  const indicator = Object.keys(missingByResource)[0] ?? (details.params.resource as string | undefined);
  if (!indicator || Object.keys(missingByResource).length > 1) {
    throw new HttpError(400, 'invalid_target', 'an authorization request must name exactly one MCP server');
  }
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const already = new Set(splitScope(grant?.getResourceScope(indicator)));
  const missing = missingByResource[indicator] ?? requested.filter((s) => !already.has(s));
  return { indicator, missing, granted: requested.filter((s) => already.has(s)) };
}

function scopeViews(all: ResourceScope[], names: string[]): ResourceScope[] {
  return names.map((n) => all.find((s) => s.scope === n)).filter((s): s is ResourceScope => s !== undefined);
}

export async function showConsent(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<void> {
  const provider = deps.provider();
  const request = await consentRequest(provider, details);
  const resource = deps.resources.findByUri(request.indicator);
  if (!resource) throw new HttpError(400, 'invalid_target', 'the MCP server is no longer registered');
  const client = await describeClient(provider, details);
  const accountId = details.session?.accountId ?? '';
  deps.views.render(ctx, 'consent.njk', {
    title: 'Allow access?',
    uid: details.uid,
    csrf: deps.csrf.issue(ctx, details.uid),
    client: { ...client, known: request.granted.length > 0 },
    username: deps.users.findById(accountId)?.username ?? '',
    resource: { name: resource.name, uri: resource.uri },
    scopes: scopeViews(resource.scopes, request.missing),
    granted: scopeViews(resource.scopes, request.granted),
  });
}

export async function submitConsent(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<void> {
  const provider = deps.provider();
  const body = ctx.request.body;
  const decision = formField(body, 'decision');
  if (decision !== 'allow') {
    deps.audit.record({
      event: 'consent.denied',
      result: 'failure',
      userId: details.session?.accountId,
      clientId: String(details.params.client_id),
      resource: typeof details.params.resource === 'string' ? details.params.resource : null,
      ...requestSource(ctx),
      details: { reason: 'denied' },
    });
    return finish(provider, ctx, { error: 'access_denied', error_description: 'the user denied the request' });
  }
  const request = await consentRequest(provider, details);
  const chosen = new Set(formList(body, 'scope'));
  const allow = request.missing.filter((s) => chosen.has(s));
  const decline = request.missing.filter((s) => !chosen.has(s));
  if (allow.length === 0 && request.granted.length === 0) {
    deps.audit.record({
      event: 'consent.denied',
      result: 'failure',
      userId: details.session?.accountId,
      clientId: String(details.params.client_id),
      resource: request.indicator,
      ...requestSource(ctx),
      details: { reason: 'nothing_allowed' },
    });
    return finish(provider, ctx, { error: 'access_denied', error_description: 'the user allowed no permission' });
  }
  const accountId = details.session?.accountId as string;
  const clientId = String(details.params.client_id);
  const grant: Grant =
    (details.grantId && (await provider.Grant.find(details.grantId))) || new provider.Grant({ accountId, clientId });
  const oidcMissing = (details.prompt.details as { missingOIDCScope?: string[] }).missingOIDCScope;
  if (oidcMissing?.length) grant.addOIDCScope(oidcMissing.join(' '));
  // Allowed now after being declined before: no longer declined (Grant has no API for that).
  forgetDeclined(grant, allow);
  if (allow.length) grant.addResourceScope(request.indicator, allow.join(' '));
  if (decline.length) grant.rejectResourceScope(request.indicator, decline.join(' '));
  const grantId = await grant.save();
  deps.grantRecords.saved(
    {
      id: grantId,
      accountId,
      clientId,
      resource: request.indicator,
      scopes: splitScope(grant.getResourceScope(request.indicator)),
      obtainedVia: 'consent',
    },
    epochSeconds(),
  );
  deps.audit.record({
    event: 'consent.given',
    result: 'success',
    userId: accountId,
    clientId,
    resource: request.indicator,
    grantId,
    ...requestSource(ctx),
    details: { scopes: allow.join(' '), declined: decline.join(' ') },
  });
  return finish(provider, ctx, { consent: { grantId } }, true);
}

async function finish(provider: Provider, ctx: Context, result: Record<string, unknown>, merge = false): Promise<void> {
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.status = 303;
  ctx.redirect(to);
}
