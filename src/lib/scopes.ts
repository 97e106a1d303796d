export const DEFAULT_READ_SCOPE = 'mcp:read';
export const DEFAULT_WRITE_SCOPE = 'mcp:write';

/** Scopes that belong to OpenID Connect itself rather than to any resource. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access']);

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export function splitScope(value: string | undefined | null): string[] {
  if (!value) return [];
  return [...new Set(value.split(' ').filter(Boolean))];
}
