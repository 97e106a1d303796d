// What a dynamically registered (or otherwise supplied) client may say about itself. The validator
// runs before oidc-provider's own schema checks, so it can normalise as well as refuse.
import { errors } from 'oidc-provider';
import { judgeRedirectUris } from '../lib/redirect_uris.js';

export const EXTRA_CLIENT_PROPERTIES = ['software_id', 'software_version'] as const;

const MAX_TEXT = 200;
const TEXT_FIELDS = [
  'client_name',
  'software_id',
  'software_version',
  'client_uri',
  'logo_uri',
  'policy_uri',
  'tos_uri',
] as const;

type Metadata = Record<string, unknown>;

function fail(message: string): never {
  throw new errors.InvalidClientMetadata(message);
}

/**
 * Normalises and checks client metadata. Called by oidc-provider once per extra property; the work
 * is done on the first call, the others are no-ops.
 */
export function clientMetadataValidator(_ctx: unknown, key: string, value: unknown, metadata: Metadata): void {
  if (key !== EXTRA_CLIENT_PROPERTIES[0]) {
    if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) {
      fail(`${key} must be a string of at most ${MAX_TEXT} characters`);
    }
    return;
  }
  if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) {
    fail(`${key} must be a string of at most ${MAX_TEXT} characters`);
  }
  for (const field of TEXT_FIELDS) {
    const v = metadata[field];
    if (v !== undefined && (typeof v !== 'string' || v.length > (field === 'client_name' ? MAX_TEXT : 2000))) {
      fail(`${field} must be a string of at most ${field === 'client_name' ? MAX_TEXT : 2000} characters`);
    }
  }
  if (typeof metadata.client_name === 'string' && /[\u0000-\u001f\u007f]/.test(metadata.client_name)) {
    fail('client_name must not contain control characters');
  }
  // PITFALLS item 5: a registered `scope` would become the client's allow-list and break step-up
  // (and `scope: ""` from MCP Inspector would fail registration). Scopes are governed per resource.
  delete metadata.scope;

  if (metadata.redirect_uris !== undefined) {
    const verdict = judgeRedirectUris(metadata.redirect_uris);
    if (!verdict.ok) {
      // A description starting with "redirect_uris" makes the error code invalid_redirect_uri (RFC 7591 §3.2.2).
      fail(`redirect_uris: ${verdict.reason}`);
    }
    // PITFALLS item 2: loopback redirects on any port and private-use schemes need `native`.
    if (verdict.applicationType === 'native') metadata.application_type = 'native';
  }
}
