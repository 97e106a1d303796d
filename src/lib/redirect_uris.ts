// Which redirect URIs an agent may register (OAuth 2.1 §2.3.1, RFC 8252 §7, RFC 9700 §4.1).
// Allowed: https on any host, http only on a loopback host (any port is accepted at authorization
// time, RFC 8252 §7.3), and private-use schemes for native apps (cursor://, vscode://).

export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  'javascript:',
  'vbscript:',
  'data:',
  'blob:',
  'file:',
  'about:',
  'filesystem:',
  'ftp:',
  'ws:',
  'wss:',
  'mailto:',
  'tel:',
]);

export const MAX_REDIRECT_URI_LENGTH = 2000;

export type RedirectKind = 'https' | 'loopback' | 'private-use';
export type RedirectVerdict = { ok: true; kind: RedirectKind; host: string } | { ok: false; reason: string };

export function classifyRedirectUri(uri: string): RedirectVerdict {
  if (typeof uri !== 'string' || uri.length === 0) return { ok: false, reason: 'redirect_uris must contain strings' };
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return { ok: false, reason: 'redirect_uri is too long' };
  const url = URL.parse(uri);
  if (!url) return { ok: false, reason: 'redirect_uri must be an absolute URI' };
  if (uri.includes('#')) return { ok: false, reason: 'redirect_uri must not contain a fragment' };
  if (url.username || url.password) return { ok: false, reason: 'redirect_uri must not contain userinfo' };
  const scheme = url.protocol.toLowerCase();
  if (scheme === 'https:') {
    if (!url.hostname) return { ok: false, reason: 'redirect_uri must name a host' };
    return { ok: true, kind: 'https', host: url.host };
  }
  if (scheme === 'http:') {
    if (LOOPBACK_HOSTS.has(url.hostname)) return { ok: true, kind: 'loopback', host: url.hostname };
    return { ok: false, reason: 'http redirect_uris are only allowed on loopback hosts (127.0.0.1, [::1], localhost)' };
  }
  if (FORBIDDEN_SCHEMES.has(scheme))
    return { ok: false, reason: `redirect_uri must not use the ${scheme.slice(0, -1)} scheme` };
  // RFC 8252 §7.1: a private-use scheme; the scheme itself identifies the app on the device.
  // Shown with its scheme: the scheme, not the host part, names the app that receives the code.
  return { ok: true, kind: 'private-use', host: url.host ? `${scheme}//${url.host}` : scheme };
}

export type RedirectSetVerdict =
  | { ok: true; applicationType: 'native' | 'web'; allLocal: boolean }
  | { ok: false; reason: string };

/**
 * Judges a client's whole redirect_uris list. A client with any loopback or private-use redirect is
 * a native app: oidc-provider matches loopback ports loosely and accepts custom schemes only for
 * `application_type: native` (docs/pitfalls.md#loopback-redirects-on-any-port).
 */
export function judgeRedirectUris(uris: unknown): RedirectSetVerdict {
  if (!Array.isArray(uris) || uris.length === 0) return { ok: false, reason: 'redirect_uris must contain members' };
  if (uris.length > 20) return { ok: false, reason: 'redirect_uris must not have more than 20 members' };
  let native = false;
  let allLocal = true;
  for (const uri of uris) {
    const verdict = classifyRedirectUri(uri as string);
    if (!verdict.ok) return verdict;
    if (verdict.kind !== 'https') native = true;
    if (verdict.kind === 'https') allLocal = false;
  }
  return { ok: true, applicationType: native ? 'native' : 'web', allLocal };
}

/** What the consent page shows as "you will be sent back to". */
export function redirectHost(uri: string): string {
  const verdict = classifyRedirectUri(uri);
  return verdict.ok ? verdict.host : 'an invalid address';
}

/** The distinct hosts an agent's redirect URIs send the browser to (for agent lists). */
export function redirectHosts(uris: unknown): string[] {
  const list = Array.isArray(uris) ? uris.filter((u): u is string => typeof u === 'string') : [];
  return [...new Set(list.map(redirectHost))];
}
