// The one parser of `Authorization: Bearer <token>` (RFC 6750 §2.1, with RFC 9110 §11.4's
// case-insensitive scheme): the scheme, exactly one space, one token68, nothing else.

export type BearerCredential =
  /** No Authorization header, or one for another scheme: answer with a plain challenge. */
  | { kind: 'none' }
  /** The Bearer scheme with a value that is not one token68: `invalid_token` (or 400). */
  | { kind: 'malformed' }
  | { kind: 'token'; token: string };

// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const CREDENTIALS = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^bearer(?:[ \t]|$)/i;

export function parseBearer(header: string | readonly string[] | undefined): BearerCredential {
  if (header === undefined) return { kind: 'none' };
  // Several Authorization headers are ambiguous: refuse rather than pick one.
  if (typeof header !== 'string') return { kind: 'malformed' };
  if (!SCHEME.test(header)) return { kind: 'none' };
  const m = CREDENTIALS.exec(header);
  return m?.[1] ? { kind: 'token', token: m[1] } : { kind: 'malformed' };
}
