// What a dynamically registered client, or a client ID metadata document, may say about itself.
// The validator runs before oidc-provider's own schema checks, so it can normalise as well as refuse.
import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import { judgeRedirectUris } from '../lib/redirect_uris.js';
import { checkMetadataDocument, isMetadataDocumentClientId } from './client_metadata_document.js';

export const EXTRA_CLIENT_PROPERTIES = ['software_id', 'software_version'] as const;

const MAX_TEXT = 200;
const MAX_URI = 2000;
/** The whole metadata, serialised: a registration is a few hundred bytes; 16 KiB is generous. */
const MAX_TOTAL = 16 * 1024;
const MAX_ARRAY = 20;

/** Per-field limits. Fields oidc-provider knows but not listed here get the generic limits. */
const TEXT_LIMITS: Record<string, number> = {
  client_name: MAX_TEXT,
  software_id: MAX_TEXT,
  software_version: MAX_TEXT,
  client_uri: MAX_URI,
  logo_uri: MAX_URI,
  policy_uri: MAX_URI,
  tos_uri: MAX_URI,
  jwks_uri: MAX_URI,
  sector_identifier_uri: MAX_URI,
  initiate_login_uri: MAX_URI,
};
const ARRAY_LIMITS: Record<string, number> = {
  redirect_uris: 20,
  post_logout_redirect_uris: 20,
  contacts: 5,
  grant_types: 5,
  response_types: 5,
  request_uris: 5,
  default_acr_values: 5,
};

/** oidc-provider itself refuses anything but http(s) in these (with "must be a web uri"). */
const WEB_URI_FIELDS = new Set([
  'client_uri',
  'initiate_login_uri',
  'jwks_uri',
  'logo_uri',
  'policy_uri',
  'sector_identifier_uri',
  'tos_uri',
  'backchannel_logout_uri',
  'backchannel_client_notification_endpoint',
]);

/** Schemes that can run code or read local files wherever a URI ends up: refused in every field. */
const DANGEROUS_SCHEME = /^[\s\u0000-\u001f]*(javascript|data|file|vbscript|blob|filesystem):/i;

type Metadata = Record<string, unknown>;

function fail(message: string): never {
  throw new errors.InvalidClientMetadata(message);
}

function checkString(field: string, value: string, max: number): void {
  if (value.length > max) fail(`${field} must be a string of at most ${max} characters`);
  if (!WEB_URI_FIELDS.has(field) && DANGEROUS_SCHEME.test(value))
    fail(`${field} must not use a javascript:, data: or file: URI`);
}

/** Every member of the metadata: strings bounded and free of dangerous URIs, arrays bounded. */
function checkLimits(metadata: Metadata): void {
  for (const [field, value] of Object.entries(metadata)) {
    if (typeof value === 'string') {
      checkString(field, value, TEXT_LIMITS[field] ?? MAX_URI);
    } else if (Array.isArray(value)) {
      const max = ARRAY_LIMITS[field] ?? MAX_ARRAY;
      if (value.length > max) fail(`${field} must not have more than ${max} members`);
      for (const member of value) {
        if (typeof member === 'string') checkString(field, member, MAX_URI);
      }
    }
  }
  let size = 0;
  try {
    size = JSON.stringify(metadata).length;
  } catch {
    fail('client metadata must be JSON');
  }
  if (size > MAX_TOTAL) fail(`client metadata must not exceed ${MAX_TOTAL} bytes`);
}

/**
 * Control and format characters (bidirectional overrides and isolates, zero-width characters, line
 * and paragraph separators, lone surrogates): in a displayed name or link they make a page show
 * something other than what the client sent ("Claude Desktop \u202e moc.cihportna" reads as a
 * different domain), so no client field may hold one. The error calls them all control
 * characters (Unicode's own name for the bidirectional ones).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Every string member of the metadata, with its field name (array members and nested objects too). */
function* strings(field: string, value: unknown, depth = 0): Generator<[string, string]> {
  if (typeof value === 'string') yield [field, value];
  else if (depth < 3 && Array.isArray(value)) for (const v of value) yield* strings(field, v, depth + 1);
  else if (depth < 3 && value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) yield* strings(field, v, depth + 1);
  }
}

function checkCharacters(metadata: Metadata): void {
  for (const [field, value] of Object.entries(metadata)) {
    for (const [name, text] of strings(field, value)) {
      if (INVISIBLE.test(text)) fail(`${name} must not contain control characters`);
    }
  }
}

/**
 * What makes the server fetch a URL chosen by the client (./outbound_fetch.ts) or authenticate it
 * with keys from one: refused in open registration unless the operator allows it. (request_uris
 * is not client metadata oidc-provider knows with this configuration, so it is dropped before
 * this runs; it is listed should that change.)
 */
const FETCHED_FIELDS = ['jwks_uri', 'sector_identifier_uri', 'request_uris'] as const;
const REGISTRATION_ROUTES = new Set(['registration', 'client_update']);

function checkFetchedUris(metadata: Metadata): void {
  for (const field of FETCHED_FIELDS) {
    if (metadata[field] !== undefined) fail(`${field} is not accepted in open registration on this server`);
  }
  if (metadata.token_endpoint_auth_method === 'private_key_jwt') {
    fail('token_endpoint_auth_method private_key_jwt is not accepted in open registration on this server');
  }
}

export interface ClientMetadataRules {
  /** MCP_OAUTH_REGISTRATION=open: anyone may register. */
  openRegistration: boolean;
  /** MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS=on: open registration may name jwks_uri & co. */
  allowFetchedUris: boolean;
}

/**
 * Normalises and checks client metadata. oidc-provider calls the validator once per extra
 * property; the work is done on the first call, the others are no-ops. It runs for registrations
 * (and RFC 7592 updates), for metadata documents, and for every stored client loaded.
 */
export function createClientMetadataValidator(rules: ClientMetadataRules) {
  const guardFetched = rules.openRegistration && !rules.allowFetchedUris;
  return (ctx: unknown, key: string, value: unknown, metadata: Metadata): void => {
    if (key !== EXTRA_CLIENT_PROPERTIES[0]) {
      if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) {
        fail(`${key} must be a string of at most ${MAX_TEXT} characters`);
      }
      return;
    }
    if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) {
      fail(`${key} must be a string of at most ${MAX_TEXT} characters`);
    }
    for (const field of Object.keys(TEXT_LIMITS)) {
      const v = metadata[field];
      if (v !== undefined && typeof v !== 'string') {
        fail(`${field} must be a string of at most ${TEXT_LIMITS[field] ?? MAX_URI} characters`);
      }
    }
    checkCharacters(metadata);
    // A registered `scope` would become the client's allow-list and break step-up
    // (and `scope: ""` from MCP Inspector would fail registration). Scopes are governed per resource
    // (docs/pitfalls.md#a-registered-scope-becomes-an-allow-list).
    delete metadata.scope;

    // Only where someone registers: clients stored earlier (registered while it was allowed, or in
    // token mode) keep loading.
    const route = (ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
    const registering = route !== undefined && REGISTRATION_ROUTES.has(route);
    if (guardFetched && registering) checkFetchedUris(metadata);
    // Tokens with no user behind them are for service clients an admin registers (mcp-oauth clients
    // add-service, the console, the admin API), never for a client that registers or describes itself.
    const selfDescribed =
      registering || (typeof metadata.client_id === 'string' && isMetadataDocumentClientId(metadata.client_id));
    if (selfDescribed && Array.isArray(metadata.grant_types) && metadata.grant_types.includes('client_credentials')) {
      fail('grant type client_credentials is only for service clients an administrator registers');
    }

    if (typeof metadata.client_id === 'string' && isMetadataDocumentClientId(metadata.client_id)) {
      checkMetadataDocument(metadata);
    }

    // An agent that never uses a browser redirect (the device grant only, RFC 8628) has none.
    const redirectless =
      Array.isArray(metadata.grant_types) &&
      !metadata.grant_types.includes('authorization_code') &&
      Array.isArray(metadata.redirect_uris) &&
      metadata.redirect_uris.length === 0;
    if (metadata.redirect_uris !== undefined && !redirectless) {
      const verdict = judgeRedirectUris(metadata.redirect_uris);
      if (!verdict.ok) {
        // A description starting with "redirect_uris" makes the error code invalid_redirect_uri (RFC 7591 §3.2.2).
        fail(`redirect_uris: ${verdict.reason}`);
      }
      // Loopback redirects on any port and private-use schemes need `native`
      // (docs/pitfalls.md#loopback-redirects-on-any-port).
      if (verdict.applicationType === 'native') metadata.application_type = 'native';
    }
    checkLimits(metadata);
  };
}

/**
 * Agents that register anew on every connection leave many registrations of one agent. Those with
 * the same name, redirect URIs and software id are one agent to the people looking at lists.
 */
export function agentGroupKey(metadata: Record<string, unknown> | undefined): string {
  const name = typeof metadata?.client_name === 'string' ? metadata.client_name : '';
  const uris = Array.isArray(metadata?.redirect_uris)
    ? metadata.redirect_uris.filter((u): u is string => typeof u === 'string').sort()
    : [];
  const software = typeof metadata?.software_id === 'string' ? metadata.software_id : '';
  return createHash('sha256')
    .update(JSON.stringify([name, uris, software]))
    .digest('base64url')
    .slice(0, 22);
}
