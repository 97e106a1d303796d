// Access-token verification against the authorization server's JWKS, done locally with jose.
// The key set is cached; an unknown `kid` triggers a refetch at most once per cooldown, and a
// background refresh picks up removed keys. A verified token is cached until its `exp`, so the
// signature is checked once per token, not once per request.
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { readToolPolicyClaim, TOOL_POLICY_CLAIM, type ToolRestrictions } from '../lib/tool_labels.js';

export interface VerifiedToken {
  sub: string;
  clientId: string;
  scopes: ReadonlySet<string>;
  scope: string;
  grantId: string | undefined;
  iat: number;
  exp: number;
  /** `cnf.jkt` (RFC 9449 §6.1): the token is DPoP-bound to the key with this thumbprint. */
  jkt?: string;
  /** How and when the user signed in (src/lib/sign_in_strength.ts), when the token says. */
  acr?: string | undefined;
  authTime?: number | undefined;
  /** What the labels of the server's tools make of them for this token (src/lib/tool_labels.ts). */
  tools: ToolRestrictions;
}

/** The token is unacceptable: 401 invalid_token. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** No usable key and the key set cannot be fetched: 503, not the client's fault. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
}

export interface KeySetOptions {
  /** The JWKS URL, or a function that discovers it (from the AS metadata). */
  jwksUri: string | (() => Promise<string>);
  fetch?: typeof fetch;
  /** Minimum time between refetches triggered by unknown kids. */
  cooldownMs?: number;
  /** Background refresh period (keys removed at the AS disappear here). */
  refreshMs?: number;
  timeoutMs?: number;
  onRefresh?: (result: 'ok' | 'error', err?: Error) => void;
}

export interface KeySet {
  getKey: JWTVerifyGetKey;
  /** Fetches now (single-flight); resolves true when a set is loaded. */
  refresh(): Promise<boolean>;
  loaded(): boolean;
  stop(): void;
}

export function createKeySet(opts: KeySetOptions): KeySet {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const cooldownMs = opts.cooldownMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let local: JWTVerifyGetKey | undefined;
  let lastAttempt = 0;
  let lastOk = false;
  let inflight: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const load = async (): Promise<boolean> => {
    lastAttempt = performance.now();
    try {
      const uri = typeof opts.jwksUri === 'string' ? opts.jwksUri : await opts.jwksUri();
      const res = await doFetch(uri, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`JWKS answered ${res.status}`);
      }
      const body = (await res.json()) as JSONWebKeySet;
      if (!body || !Array.isArray(body.keys)) throw new Error('JWKS is not a key set');
      local = createLocalJWKSet(body);
      lastOk = true;
      opts.onRefresh?.('ok');
      return true;
    } catch (err) {
      lastOk = false;
      opts.onRefresh?.('error', err instanceof Error ? err : new Error(String(err)));
      return local !== undefined;
    }
  };

  const refresh = () => {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  if (opts.refreshMs) {
    timer = setInterval(() => void refresh(), opts.refreshMs);
    timer.unref();
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!local) {
      if (performance.now() - lastAttempt >= cooldownMs || lastAttempt === 0) await refresh();
      else if (inflight) await inflight;
      if (!local) throw new KeysUnavailableError('the authorization server key set is not available');
    }
    try {
      return await (local as JWTVerifyGetKey)(header, token);
    } catch (err) {
      // An unknown kid may be a freshly rotated key: refetch, rate limited.
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      if (performance.now() - lastAttempt >= cooldownMs) await refresh();
      else if (inflight) await inflight;
      try {
        return await (local as JWTVerifyGetKey)(header, token);
      } catch (again) {
        // The key may exist at the AS but we cannot fetch it: unavailable, not invalid.
        if (again instanceof errors.JWKSNoMatchingKey && !lastOk) {
          throw new KeysUnavailableError('the authorization server key set cannot be refreshed');
        }
        throw again;
      }
    }
  };

  return {
    getKey,
    refresh,
    loaded: () => local !== undefined,
    stop: () => clearInterval(timer),
  };
}

export interface VerifierOptions {
  issuer: string;
  keys: KeySet;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  /** Verified tokens kept per audience. */
  cacheSize?: number;
  /** Epoch milliseconds (tests). */
  now?: () => number;
}

export interface Verifier {
  verify(token: string, audience: string): Promise<VerifiedToken>;
}

const SCOPE_RE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

function toVerified(p: JWTPayload): VerifiedToken {
  const clientId = p.client_id;
  if (typeof p.sub !== 'string' || p.sub === '') throw new InvalidTokenError('sub missing');
  if (typeof clientId !== 'string' || clientId === '') throw new InvalidTokenError('client_id missing');
  if (typeof p.iat !== 'number' || typeof p.exp !== 'number') throw new InvalidTokenError('iat/exp missing');
  const scope = p.scope === undefined ? '' : p.scope;
  if (typeof scope !== 'string' || (scope !== '' && !SCOPE_RE.test(scope))) throw new InvalidTokenError('bad scope');
  const grantId = p.grant_id;
  if (grantId !== undefined && (typeof grantId !== 'string' || grantId === '')) {
    throw new InvalidTokenError('bad grant_id');
  }
  // A restriction we cannot read must not pass as none.
  const tools = readToolPolicyClaim(p[TOOL_POLICY_CLAIM]);
  if (!tools) throw new InvalidTokenError('bad tool policy');
  const verified: VerifiedToken = {
    sub: p.sub,
    clientId,
    scope,
    scopes: new Set(scope === '' ? [] : scope.split(' ')),
    grantId,
    iat: p.iat,
    exp: p.exp,
    // Optional claims: a value of the wrong type counts as absent, which only ever fails a check.
    acr: typeof p.acr === 'string' ? p.acr : undefined,
    authTime: typeof p.auth_time === 'number' && Number.isFinite(p.auth_time) ? p.auth_time : undefined,
    tools,
  };
  if (p.cnf !== undefined) {
    // A confirmation we cannot check (an mTLS certificate, say) must not pass as a bearer token.
    const cnf = p.cnf as Record<string, unknown> | null;
    const keys = cnf && typeof cnf === 'object' && !Array.isArray(cnf) ? Object.keys(cnf) : [];
    if (keys.length !== 1 || typeof cnf?.jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(cnf.jkt)) {
      throw new InvalidTokenError('unsupported cnf');
    }
    verified.jkt = cnf.jkt;
  }
  return verified;
}

export function createVerifier(opts: VerifierOptions): Verifier {
  const cacheSize = opts.cacheSize ?? 10_000;
  const caches = new Map<string, Map<string, VerifiedToken>>();
  const tolerance = opts.clockToleranceSeconds;
  const clock = opts.now ?? Date.now;

  return {
    async verify(token, audience) {
      let cache = caches.get(audience);
      if (!cache) {
        cache = new Map();
        caches.set(audience, cache);
      }
      const now = clock() / 1000;
      const hit = cache.get(token);
      if (hit) {
        if (hit.exp + tolerance > now) return hit;
        cache.delete(token);
        throw new InvalidTokenError('expired');
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, opts.keys.getKey, {
          issuer: opts.issuer,
          audience,
          typ: 'at+jwt',
          algorithms: [...opts.algorithms],
          requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
          clockTolerance: tolerance,
          currentDate: new Date(clock()),
        }));
      } catch (err) {
        if (err instanceof KeysUnavailableError) throw err;
        // A failed refetch after an unknown kid, with keys cached: the token is not ours.
        throw new InvalidTokenError(err instanceof errors.JOSEError ? err.code : 'invalid');
      }
      const verified = toVerified(payload);
      if (cache.size >= cacheSize) {
        // Evict the oldest entry (Map keeps insertion order).
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(token, verified);
      return verified;
    },
  };
}
