// Pinned agent documents, the pure part: what of a metadata document a user consented to, and
// whether a later version of it changed something the user should see again. A new name or a new
// redirect host changes who the user is dealing with or where their codes go; anything else (a
// logo, a new loopback port, a contact) keeps the grant.
import { createHash } from 'node:crypto';

export interface DocumentPin {
  /** SHA-256 (base64url) of the document's members, in a stable order. */
  digest: string;
  name: string | null;
  /** The host of each redirect URI (a private-use scheme counts as its own host), sorted, unique. */
  redirectHosts: string[];
}

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function hostOf(uri: string): string {
  const url = URL.parse(uri);
  if (!url) return uri;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname.toLowerCase() : url.protocol;
}

export function pinDocument(metadata: Record<string, unknown>): DocumentPin {
  const uris = Array.isArray(metadata.redirect_uris)
    ? metadata.redirect_uris.filter((u): u is string => typeof u === 'string')
    : [];
  return {
    digest: createHash('sha256')
      .update(JSON.stringify(stable(metadata)))
      .digest('base64url'),
    name: typeof metadata.client_name === 'string' ? metadata.client_name : null,
    redirectHosts: [...new Set(uris.map(hostOf))].sort(),
  };
}

export type DocumentChange =
  | { kind: 'same' }
  | { kind: 'harmless' }
  | { kind: 'changed'; what: ('name' | 'redirect_host')[] };

export function compareDocument(pinned: DocumentPin, current: DocumentPin): DocumentChange {
  if (pinned.digest === current.digest) return { kind: 'same' };
  const what: ('name' | 'redirect_host')[] = [];
  if (pinned.name !== current.name) what.push('name');
  if (current.redirectHosts.some((h) => !pinned.redirectHosts.includes(h))) what.push('redirect_host');
  return what.length > 0 ? { kind: 'changed', what } : { kind: 'harmless' };
}

/** A client id the operator trusts by preset: equal to one, or under one that ends with `/`. */
export function trustedDocument(clientId: string, presets: readonly string[]): boolean {
  return presets.some((p) => clientId === p || (p.endsWith('/') && clientId.startsWith(p)));
}
