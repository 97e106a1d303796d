// How strongly a user signed in, as the `acr` and `amr` claims say it (OpenID Connect Core §2,
// RFC 8176 for `amr`), ordered so a route or an authorization request can ask for "at least".
//
// - password: a password alone.
// - mfa: a password and a second factor (a TOTP code or a one-time recovery code).
// - phr: a passkey with user verification: phishing-resistant (OpenID Extended Authentication
//   Profile ACR values, `phr`), and multi-factor too, so it satisfies `mfa`.
// Shared by the authorization server and the proxy; no I/O.

export const STRENGTHS = ['password', 'mfa', 'phr'] as const;
export type Strength = (typeof STRENGTHS)[number];

export const ACR: Readonly<Record<Strength, string>> = Object.freeze({
  password: 'urn:mcp-oauth:acr:password',
  mfa: 'urn:mcp-oauth:acr:mfa',
  phr: 'phr',
});

export const AMR: Readonly<Record<'password' | 'totp' | 'recovery' | 'passkey', readonly string[]>> = Object.freeze({
  password: ['pwd'],
  totp: ['pwd', 'otp', 'mfa'],
  recovery: ['pwd', 'otp', 'mfa'],
  passkey: ['pop', 'mfa'],
});

const RANK: Record<Strength, number> = { password: 1, mfa: 2, phr: 3 };

/** The strength an `acr` value names; undefined for a value we did not issue. */
export function strengthOf(acr: unknown): Strength | undefined {
  return STRENGTHS.find((s) => ACR[s] === acr);
}

/** True when a sign-in of `acr` is at least `wanted`. */
export function satisfies(acr: unknown, wanted: Strength): boolean {
  const have = strengthOf(acr);
  return have !== undefined && RANK[have] >= RANK[wanted];
}

/**
 * What an `acr_values` request parameter asks for: any listed value is acceptable (OpenID Connect
 * Core §3.1.2.1), so the weakest known one; unknown values are ignored.
 */
export function requestedStrength(acrValues: unknown): Strength | undefined {
  if (typeof acrValues !== 'string') return undefined;
  const known = acrValues
    .split(' ')
    .map(strengthOf)
    .filter((s): s is Strength => s !== undefined);
  if (known.length === 0) return undefined;
  return known.reduce((a, b) => (RANK[a] <= RANK[b] ? a : b));
}

/** The `acr_values` that satisfy `wanted`, strongest last, for a challenge (RFC 9470 §3). */
export function acrValuesFor(wanted: Strength): string {
  return STRENGTHS.filter((s) => RANK[s] >= RANK[wanted])
    .map((s) => ACR[s])
    .join(' ');
}

/** The stronger of two (for a requirement that comes from several places). */
export function stronger(a: Strength | undefined, b: Strength | undefined): Strength | undefined {
  if (!a) return b;
  if (!b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}
