// Canonical form of a resource indicator (RFC 8707 §2; MCP authorization "Canonical Server URI").
// oidc-provider compares indicators as exact strings and consumes the code or refresh token before
// it compares (docs/pitfalls.md#resource-indicators-compared-as-strings), so every indicator is
// folded to one spelling before it reaches the provider: lower-case scheme and host (URL does
// that), default port dropped, no trailing slash on the path, no fragment, no userinfo.

export type CanonicalResult = { ok: true; uri: string } | { ok: false; reason: string };

export function canonicalResource(input: string): CanonicalResult {
  if (input.length > 2048) return { ok: false, reason: 'resource indicator is too long' };
  const url = URL.parse(input);
  if (!url) return { ok: false, reason: 'resource indicator must be an absolute URI' };
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: 'resource indicator must be an http or https URI' };
  }
  if (input.includes('#')) return { ok: false, reason: 'resource indicator must not contain a fragment' };
  if (url.username || url.password) return { ok: false, reason: 'resource indicator must not contain userinfo' };
  let path = url.pathname;
  while (path.length > 0 && path.endsWith('/')) path = path.slice(0, -1);
  return { ok: true, uri: `${url.protocol}//${url.host}${path}${url.search}` };
}

/** The canonical form, or the input unchanged when it is not a usable indicator (the provider then refuses it). */
export function foldResource(input: string): string {
  const result = canonicalResource(input);
  return result.ok ? result.uri : input;
}
