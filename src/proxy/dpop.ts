// DPoP at the resource server (RFC 9449 §7): the `Authorization: DPoP <token>` scheme, and the
// proof in the `DPoP` header checked against this request and the token's key. jose verifies the
// proof's signature with its embedded public key and computes the key's thumbprint (RFC 7638);
// what is ours is comparing the claims with the request and remembering each proof's `jti` for as
// long as its `iat` would be accepted, so a captured proof cannot be sent again.
import { createHash } from 'node:crypto';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { parseBearer } from '../lib/bearer.js';

/** The proof algorithms the authorization server accepts at its token endpoint, and so do we. */
export const DPOP_ALGORITHMS: readonly string[] = ['ES256', 'Ed25519', 'EdDSA'];

/** How old a proof's `iat` may be (plus the clock tolerance); also how long its `jti` is kept. */
export const PROOF_WINDOW_SECONDS = 60;

export type Credential =
  /** No Authorization header, or one for a scheme we do not take. */
  | { kind: 'none' }
  | { kind: 'malformed'; scheme: 'bearer' | 'dpop' }
  | { kind: 'token'; scheme: 'bearer' | 'dpop'; token: string };

// token68, as in src/lib/bearer.ts, after the DPoP scheme (case-insensitive, RFC 9110 §11.1).
const DPOP_CREDENTIALS = /^dpop ([A-Za-z0-9\-._~+/]+=*)$/i;
const DPOP_SCHEME = /^dpop(?:[ \t]|$)/i;

/** Reads `Authorization` as a Bearer (RFC 6750) or DPoP (RFC 9449 §7.1) credential. */
export function parseAuthorization(header: string | readonly string[] | undefined): Credential {
  if (typeof header === 'string' && DPOP_SCHEME.test(header)) {
    const m = DPOP_CREDENTIALS.exec(header);
    return m?.[1] ? { kind: 'token', scheme: 'dpop', token: m[1] } : { kind: 'malformed', scheme: 'dpop' };
  }
  const bearer = parseBearer(header);
  if (bearer.kind === 'token') return { kind: 'token', scheme: 'bearer', token: bearer.token };
  return bearer.kind === 'none' ? bearer : { kind: 'malformed', scheme: 'bearer' };
}

/** The proof is missing, malformed or does not match the request or the token: invalid_dpop_proof. */
export class InvalidProofError extends Error {
  override name = 'InvalidProofError';
}

/** Too many live proofs to remember: refusing is safer than forgetting one (503). */
export class ProofCacheFullError extends Error {
  override name = 'ProofCacheFullError';
}

export interface ProofCheck {
  /** The `DPoP` request header(s), as received. */
  proof: string | readonly string[] | undefined;
  /** The method the agent used. */
  method: string;
  /** The public URL the agent used (the route's resource URI): what the proof's `htu` names. */
  url: string;
  /** The access token the proof must be bound to (`ath`). */
  token: string;
  /** The token's `cnf.jkt`: the thumbprint of the key the proof must be signed with. */
  jkt: string;
}

export interface DpopVerifier {
  /** Resolves when the proof is good and was never seen before; throws InvalidProofError otherwise. */
  verify(check: ProofCheck): Promise<void>;
}

export interface DpopVerifierOptions {
  clockToleranceSeconds: number;
  windowSeconds?: number;
  /** Proofs remembered at once; beyond it new proofs are refused until old ones age out. */
  maxProofs?: number;
  /** Epoch milliseconds (tests). */
  now?: () => number;
}

const MAX_PROOF_LENGTH = 8192;
/** Agents' keys remembered at once (the oldest is forgotten first). */
const MAX_KEYS = 10_000;
const NOT_A_PROOF = 'the DPoP proof is not a valid signed dpop+jwt';

/** The URL with query and fragment dropped and its syntax normalised (RFC 9449 §4.3 step 9). */
function htuOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

export function createDpopVerifier(opts: DpopVerifierOptions): DpopVerifier {
  const tolerance = opts.clockToleranceSeconds;
  const window = opts.windowSeconds ?? PROOF_WINDOW_SECONDS;
  const maxProofs = opts.maxProofs ?? 100_000;
  const clock = opts.now ?? Date.now;
  // jti (per key) → when it may be forgotten. Every entry lives equally long, so insertion order
  // is expiry order and the oldest entries are at the front.
  const seen = new Map<string, number>();
  const expected = new Map<string, string>();
  // Token thumbprint → the exact `jwk` header (JSON) that matched it, and the key jose imported.
  const keys = new Map<string, { jwk: string; key: CryptoKey }>();

  const forgetExpired = (now: number) => {
    for (const [key, until] of seen) {
      if (until > now) break;
      seen.delete(key);
    }
  };

  return {
    async verify(check) {
      const { proof } = check;
      if (proof === undefined) throw new InvalidProofError('a DPoP proof is required with a DPoP-bound token');
      if (typeof proof !== 'string') throw new InvalidProofError('exactly one DPoP proof is allowed');
      if (proof.length > MAX_PROOF_LENGTH) throw new InvalidProofError('the DPoP proof is too large');
      // The agent's key: the one imported from an earlier proof when the `jwk` header is exactly
      // the same (importing it and computing its thumbprint cost more than the signature check).
      let header: ProtectedHeaderParameters;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        throw new InvalidProofError(NOT_A_PROOF);
      }
      const jwkText = JSON.stringify(header.jwk ?? null);
      const known = keys.get(check.jkt);
      const reuse = known !== undefined && known.jwk === jwkText;
      let imported: CryptoKey | undefined;
      const embedded: JWTVerifyGetKey = async (h, token) => {
        imported = await EmbeddedJWK(h, token);
        return imported;
      };
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(proof, reuse ? known.key : embedded, {
          typ: 'dpop+jwt',
          algorithms: [...DPOP_ALGORITHMS],
        }));
      } catch {
        throw new InvalidProofError(NOT_A_PROOF);
      }
      const now = clock() / 1000;
      if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) {
        throw new InvalidProofError('the DPoP proof has no usable jti');
      }
      if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) {
        throw new InvalidProofError('the DPoP proof has no iat');
      }
      if (payload.iat > now + tolerance || payload.iat < now - window - tolerance) {
        throw new InvalidProofError('the DPoP proof iat is not recent');
      }
      if (payload.htm !== check.method) throw new InvalidProofError('the DPoP proof htm does not match the request');
      let want = expected.get(check.url);
      if (want === undefined) {
        want = htuOf(check.url) ?? '';
        expected.set(check.url, want);
      }
      if (htuOf(payload.htu) !== want) throw new InvalidProofError('the DPoP proof htu does not match the request');
      const ath = createHash('sha256').update(check.token).digest('base64url');
      if (payload.ath !== ath) throw new InvalidProofError('the DPoP proof ath does not match the access token');
      if (!reuse) {
        const thumbprint = header.jwk && (await calculateJwkThumbprint(header.jwk, 'sha256').catch(() => undefined));
        if (!imported || !thumbprint || thumbprint !== check.jkt) {
          throw new InvalidProofError('the DPoP proof is not signed with the key the access token is bound to');
        }
        if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string);
        keys.set(check.jkt, { jwk: jwkText, key: imported });
      }
      // Last, so only a proof that passed everything else takes a place in the cache.
      const nowMs = clock();
      forgetExpired(nowMs);
      const key = `${check.jkt}:${payload.jti}`;
      if (seen.has(key)) throw new InvalidProofError('the DPoP proof was already used');
      if (seen.size >= maxProofs) throw new ProofCacheFullError('too many DPoP proofs in flight');
      // Kept while its iat could still pass: iat up to `tolerance` ahead, accepted `window +
      // tolerance` after it.
      seen.set(key, nowMs + (window + 2 * tolerance) * 1000);
    },
  };
}
