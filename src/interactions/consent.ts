// The consent page: who asks, for what, on which MCP server; the user may untick scopes, and may
// tick the server's other scopes, which the agent did not ask for (docs/agents.md#more-than-the-agent-asked-for).
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Grant, Interaction } from 'oidc-provider';
import { requestSource } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { ApprovalStanding } from '../grants/index.js';
import { durationMessage } from '../i18n/duration.js';
import { type AgentPolicyRules, judgeResource } from '../lib/agent_policy.js';
import { epochSeconds } from '../lib/duration.js';
import { classifyRedirectUri, redirectHost } from '../lib/redirect_uris.js';
import { splitScope } from '../lib/scopes.js';
import { satisfies } from '../lib/sign_in_strength.js';
import { isMetadataDocumentClientId } from '../provider/client_metadata_document.js';
import { agentGroupKey } from '../provider/client_policy.js';
import type { DocumentPins } from '../provider/document_pins.js';
import { forgetDeclined } from '../provider/grants.js';
import { policyOn, type ResourceLabels } from '../provider/resources.js';
import { policyStrength } from '../provider/sign_in_policy.js';
import type { GrantRecordRepository } from '../storage/grant_records.js';
import type { Resource, ResourceRepository, ResourceScope } from '../storage/resources.js';
import { HttpError } from '../web/errors.js';
import { formField, formList } from '../web/form_body.js';
import { clientVerification } from './context.js';
import type { LoginDeps } from './login.js';

export interface ConsentDeps extends LoginDeps {
  resources: ResourceRepository;
  grantRecords: GrantRecordRepository;
  /** The approval queue (src/grants/approvals.ts): whether a user may consent to the agent yet. */
  approval?: (
    clientId: string,
    userId: string,
    ip: string | undefined,
    resource: string | undefined,
  ) => Promise<ApprovalStanding>;
  /** Classification labels of MCP servers: shown, and their read-only rule applied. */
  labels?: ResourceLabels;
  /** Records the metadata document the user consented to (src/provider/document_pins.ts). */
  documentPins?: Pick<DocumentPins, 'pin'>;
  /** What the admins' policies leave each agent for the user (its own, the user's groups'); the page offers nothing beyond it. */
  agentPolicy?: (clientId: string, accountId?: string) => Promise<AgentPolicyRules | undefined>;
  /** The server's labelled tools and the rule each label brings, listed on the page (src/lib/tool_labels.ts). */
  toolLabels?: (uri: string) => Promise<{ tool: string; label: string; rule: string | null }[]>;
  /** For telling the user how long access lasts and where to take it back (omitted when absent). */
  config?: Pick<Config, 'issuer' | 'refreshTokenIdleTtl' | 'refreshTokenAbsoluteTtl'>;
}

/**
 * How long what the user allows lasts, in words: the grant (and so the agent's refresh token) ends
 * after the absolute lifetime at the latest, and sooner when the refresh token goes unused for the
 * idle lifetime; and the page where it can be taken back earlier.
 */
function lifetime(config: ConsentDeps['config']) {
  if (!config) return undefined;
  return {
    max: durationMessage(config.refreshTokenAbsoluteTtl),
    idle: durationMessage(config.refreshTokenIdleTtl),
    accountUrl: `${config.issuer}/account`,
  };
}

interface ConsentRequest {
  indicator: string;
  resource: Resource;
  missing: string[];
  granted: string[];
  /** The server's scopes neither asked for nor already allowed: offered unticked. */
  unrequested: string[];
}

/**
 * The resource this consent is about and which of its scopes are new. Only that resource's scopes
 * count: an agent may have asked for another MCP server's scopes too (they are left out, see
 * src/provider/resources.ts), and a form naming one must not put it into this resource's grant.
 */
async function consentRequest(
  provider: Provider,
  resources: ResourceRepository,
  details: Interaction,
  agentPolicy: AgentPolicyRules | undefined,
  labels?: ResourceLabels,
): Promise<ConsentRequest> {
  const prompt = details.prompt.details as { missingResourceScopes?: Record<string, string[]> };
  const missingByResource = prompt.missingResourceScopes ?? {};
  const indicator = Object.keys(missingByResource)[0] ?? (details.params.resource as string | undefined);
  if (!indicator || Object.keys(missingByResource).length > 1) {
    throw new HttpError(400, 'invalid_target', 'an authorization request must name exactly one MCP server');
  }
  const resource = await resources.findByUri(indicator);
  if (!resource) throw new HttpError(400, 'invalid_target', 'the MCP server is no longer registered');
  const verdict = judgeResource(await policyOn(agentPolicy, resource.uri, labels), resource.uri, resource.scopes);
  // Nothing left on the server (the agent's and the groups' policies together): refused, not an empty page.
  if (!verdict.allowed || verdict.scopes.length === 0) {
    throw new HttpError(400, 'invalid_target', 'this agent may not use that MCP server');
  }
  const own = new Set(verdict.scopes);
  const requested = splitScope(details.params.scope as string | undefined).filter((s) => own.has(s));
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const already = new Set(splitScope(grant?.getResourceScope(indicator)));
  const missing = (missingByResource[indicator] ?? requested.filter((s) => !already.has(s))).filter((s) => own.has(s));
  const asked = new Set([...requested, ...missing]);
  const unrequested = [...own].filter((s) => !asked.has(s) && !already.has(s));
  return { indicator, resource, missing, granted: requested.filter((s) => already.has(s)), unrequested };
}

/** An interaction of the device flow (RFC 8628): no browser redirect follows, the device polls. */
const isDeviceFlow = (details: Interaction) => typeof (details as { deviceCode?: unknown }).deviceCode === 'string';

function scopeViews(all: ResourceScope[], names: string[]): ResourceScope[] {
  return names.map((n) => all.find((s) => s.scope === n)).filter((s): s is ResourceScope => s !== undefined);
}

/** Who is really asking, as the consent page tells it (docs/design.md#consent-that-tells-the-truth). */
export interface ConsentClientView {
  id: string;
  name: string;
  /** Metadata-document client: the domain serving its client_id document, which it controls. */
  verified: boolean;
  verifiedDomain: string | null;
  /** Where the browser goes after the decision, and whether that is off the verified site. */
  redirectHost: string;
  redirectOffSite: boolean;
  /**
   * Unverified agent sending the browser to a website that matches neither its name nor its
   * client_uri: the name is self-declared, so a look-alike "Claude" could send the code elsewhere.
   */
  redirectUnrelated: boolean;
  /** Every redirect URI is loopback (or a private-use scheme): a program on the user's computer. */
  local: boolean;
  /** Shown only for verified clients: an unverified logo would lend a fake name credibility. */
  logoUri: string | null;
  /** This user has allowed this agent (or an identical registration of it) before. */
  known: boolean;
  /** Already allowed here and now asking for more. */
  askingForMore: boolean;
}

type ClientLike = {
  clientId: string;
  clientName?: string;
  redirectUris?: string[];
  logoUri?: string;
  metadata(): Record<string, unknown>;
};

/**
 * The site of a host, approximated without the Public Suffix List: its last two labels, or three
 * when the second-to-last is a short second-level label under a country code (example.co.uk).
 */
export function siteOf(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const tld = labels[labels.length - 1] ?? '';
  const second = labels[labels.length - 2] ?? '';
  const take = tld.length === 2 && second.length <= 3 ? 3 : 2;
  return labels.slice(-take).join('.');
}

function hostOf(uri: string): string | undefined {
  return URL.parse(uri)?.hostname.toLowerCase() || undefined;
}

const letters = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

/**
 * Whether an https redirect goes to a site the agent claims nothing about: not the site of its
 * client_uri, and its name does not contain the site's name (claude.ai for "Claude"). Loopback and
 * private-use schemes end in a program on the user's own computer and are not judged here.
 */
export function unrelatedRedirect(name: string | undefined, clientUri: unknown, redirectUri: string): boolean {
  const kind = classifyRedirectUri(redirectUri);
  if (!kind.ok || kind.kind !== 'https') return false;
  const back = hostOf(redirectUri);
  if (!back) return true;
  const site = siteOf(back);
  const claimed = typeof clientUri === 'string' ? hostOf(clientUri) : undefined;
  if (claimed && siteOf(claimed) === site) return false;
  const label = letters(site.split('.')[0] ?? '');
  return !(label.length >= 3 && letters(name ?? '').includes(label));
}

/** Whether the user has a grant (active or not) from this agent or an identical registration of it. */
async function knownToUser(deps: ConsentDeps, provider: Provider, accountId: string, client: ClientLike) {
  const records = await deps.grantRecords.list({ accountId, state: 'all', limit: 500 });
  if (records.some((r) => r.clientId === client.clientId)) return true;
  // Metadata-document clients are identified by their URL; only registrations are grouped.
  if (isMetadataDocumentClientId(client.clientId)) return false;
  const key = agentGroupKey(client.metadata());
  const others = [...new Set(records.map((r) => r.clientId))].filter((id) => !isMetadataDocumentClientId(id));
  for (const id of others) {
    const other = await provider.Client.find(id).catch(() => undefined);
    if (other && agentGroupKey(other.metadata()) === key) return true;
  }
  return false;
}

export async function describeConsentClient(
  deps: ConsentDeps,
  provider: Provider,
  details: Interaction,
  askingForMore: boolean,
): Promise<ConsentClientView> {
  const clientId = String(details.params.client_id ?? '');
  const client = (await provider.Client.find(clientId)) as ClientLike | undefined;
  if (!client) throw new HttpError(400, 'invalid_client', 'the agent is no longer registered');
  const { verified, verifiedDomain: domain } = clientVerification(clientId);
  const redirectUri = String(details.params.redirect_uri ?? client.redirectUris?.[0] ?? '');
  const back = hostOf(redirectUri);
  const kinds = (client.redirectUris ?? []).map((u) => classifyRedirectUri(u));
  const local = kinds.length > 0 && kinds.every((k) => k.ok && k.kind !== 'https');
  const thisOne = classifyRedirectUri(redirectUri);
  // A local program's loopback callback is expected; for a web callback, compare sites.
  const offSite =
    domain !== null && thisOne.ok && thisOne.kind === 'https' && (!back || siteOf(back) !== siteOf(domain));
  const logo =
    domain !== null && client.logoUri && URL.parse(client.logoUri)?.protocol === 'https:' ? client.logoUri : null;
  const accountId = details.session?.accountId ?? '';
  return {
    id: clientId,
    name: client.clientName?.trim() || clientId,
    verified,
    verifiedDomain: domain,
    redirectHost: redirectHost(redirectUri),
    redirectOffSite: offSite,
    redirectUnrelated:
      domain === null && unrelatedRedirect(client.clientName, client.metadata().client_uri, redirectUri),
    local,
    logoUri: logo,
    known: askingForMore || (accountId !== '' && (await knownToUser(deps, provider, accountId, client))),
    askingForMore,
  };
}

/**
 * An agent awaiting an admin's approval: the user gets a page saying so (reloading it checks again)
 * instead of the consent page; a refused agent ends the authorization. True when it answered.
 */
async function unapproved(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<boolean> {
  if (!deps.approval) return false;
  const clientId = String(details.params.client_id);
  const prompt = details.prompt.details as { missingResourceScopes?: Record<string, string[]> };
  const indicator =
    Object.keys(prompt.missingResourceScopes ?? {})[0] ?? (details.params.resource as string | undefined);
  const standing = await deps.approval(clientId, details.session?.accountId ?? '', ctx.ip, indicator);
  if (standing === 'approved') return false;
  if (standing === 'refused') {
    await finish(deps.provider(), ctx, {
      error: 'access_denied',
      error_description: 'an administrator has not allowed this agent',
    });
    return true;
  }
  const client = await describeConsentClient(deps, deps.provider(), details, false);
  deps.views.render(ctx, 'consent_waiting.njk', { title: 'Waiting for approval', uid: details.uid, client });
  return true;
}

/** What this interaction asks of its resource, under the agent's policy and the server's label. */
async function requestFor(deps: ConsentDeps, provider: Provider, details: Interaction) {
  return consentRequest(
    provider,
    deps.resources,
    details,
    await deps.agentPolicy?.(String(details.params.client_id), details.session?.accountId),
    deps.labels,
  );
}

export async function showConsent(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<void> {
  const provider = deps.provider();
  if (await unapproved(deps, ctx, details)) return;
  const request = await requestFor(deps, provider, details);
  const { resource } = request;
  const client = await describeConsentClient(deps, provider, details, request.granted.length > 0);
  const accountId = details.session?.accountId ?? '';
  const username = (await deps.users.findById(accountId))?.username ?? '';
  const label = (await deps.labels?.labelOf(resource.uri)) ?? null;
  if (client.logoUri) {
    // The site-wide policy allows no images; this page may load the verified agent's logo only.
    const origin = (URL.parse(client.logoUri) as URL).origin;
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'self' 'unsafe-inline'; img-src ${origin}; frame-ancestors 'none'; base-uri 'none'`,
    );
  }
  deps.views.render(ctx, 'consent.njk', {
    title: 'Allow access?',
    uid: details.uid,
    csrf: deps.csrf.issue(ctx, details.uid),
    client,
    device: isDeviceFlow(details),
    username,
    resource: { name: resource.name, uri: resource.uri, label },
    toolLabels: (await deps.toolLabels?.(resource.uri)) ?? [],
    scopes: scopeViews(resource.scopes, request.missing),
    granted: scopeViews(resource.scopes, request.granted),
    unrequested: scopeViews(resource.scopes, request.unrequested),
    lifetime: lifetime(deps.config),
  });
}

export async function submitConsent(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<void> {
  const provider = deps.provider();
  if (await unapproved(deps, ctx, details)) return;
  const body = ctx.request.body;
  const decision = formField(body, 'decision');
  if (decision !== 'allow') {
    await deps.audit.record({
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
  const request = await requestFor(deps, provider, details);
  const chosen = new Set(formList(body, 'scope'));
  const extraChosen = new Set(formList(body, 'extra_scope'));
  // Only what this page offered counts: never a scope of another server, never one of the list above.
  const extra = request.unrequested.filter((s) => extraChosen.has(s));
  const allow = [...request.missing.filter((s) => chosen.has(s)), ...extra];
  const decline = request.missing.filter((s) => !chosen.has(s));
  if (allow.length === 0 && request.granted.length === 0) {
    await deps.audit.record({
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
  // The sign-in was judged against the request; whatever this form allows is judged again, so no
  // scope that changes data is allowed on a weaker sign-in than MCP_OAUTH_SECOND_FACTOR asks.
  const wantsWrite = request.resource.scopes.some((s) => s.isWrite && allow.includes(s.scope));
  const needed = policyStrength(deps.secondFactor, await deps.users.findById(accountId), wantsWrite);
  if (needed && !satisfies(details.session?.acr, needed)) {
    throw new HttpError(403, 'access_denied', 'Allowing this agent to change data needs a stronger sign-in.');
  }
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
  await deps.documentPins?.pin(grantId, (await provider.Client.find(clientId)) as never);
  if (extra.length) await widenRequest(details, extra);
  await deps.grantRecords.saved(
    {
      id: grantId,
      accountId,
      clientId,
      resource: request.indicator,
      scopes: splitScope(grant.getResourceScope(request.indicator)),
      obtainedVia: isDeviceFlow(details) ? 'device' : 'consent',
    },
    epochSeconds(),
  );
  await deps.audit.record({
    event: 'consent.given',
    result: 'success',
    userId: accountId,
    clientId,
    resource: request.indicator,
    grantId,
    ...requestSource(ctx),
    details: {
      scopes: allow.join(' '),
      declined: decline.join(' '),
      ...(extra.length && { unrequested: extra.join(' ') }),
      ...(isDeviceFlow(details) ? { via: 'device' } : {}),
    },
  });
  return finish(provider, ctx, { consent: { grantId } }, true);
}

/**
 * Makes the authorization request ask for the scopes the user ticked beyond it. oidc-provider issues
 * a code, and from it access and refresh tokens, only for the scopes the request named (intersected
 * with the grant), and a refresh can never widen them; so a scope added to the grant alone would
 * never reach the agent. The request's parameters are kept in the interaction and read again when
 * the authorization resumes, so that is where the ticked scopes go. The token response names the
 * scopes issued (RFC 6749 §5.1), so the agent learns it holds more than it asked for.
 */
async function widenRequest(details: Interaction, extra: string[]): Promise<void> {
  const scopes = splitScope(details.params.scope as string | undefined);
  details.params.scope = [...new Set([...scopes, ...extra])].join(' ');
  await details.persist();
}

async function finish(provider: Provider, ctx: Context, result: Record<string, unknown>, merge = false): Promise<void> {
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.status = 303;
  ctx.redirect(to);
}
