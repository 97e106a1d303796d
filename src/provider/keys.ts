// Signing keys for access tokens (ES256). A rotation publishes the new key at once and signs with
// it only after a delay, so resource servers that cache the JWKS learn it before they meet it; the
// old key stays published until the last token it signed has expired.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { epochSeconds } from '../lib/duration.js';
import type { KeyRepository, SigningKeyRow } from '../storage/keys.js';

export const SIGNING_ALG = 'ES256';

export interface KeyStatus {
  kid: string;
  alg: string;
  state: 'signing' | 'pending' | 'retired';
  createdAt: number;
  activatesAt: number;
  expiresAt: number | null;
}

async function newKey(now: number, activatesAt: number): Promise<Omit<SigningKeyRow, 'retired_at' | 'expires_at'>> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  const meta = { kid, alg: SIGNING_ALG, use: 'sig' };
  return {
    kid,
    alg: SIGNING_ALG,
    private_jwk: JSON.stringify({ ...privateJwk, ...meta }),
    public_jwk: JSON.stringify({ ...publicJwk, ...meta }),
    created_at: now,
    activates_at: activatesAt,
  };
}

/** Creates the first key, active at once, when the store has none in service. */
export async function ensureSigningKey(keys: KeyRepository, now = epochSeconds()): Promise<boolean> {
  if ((await keys.live(now)).length > 0) return false;
  return keys.addFirst(await newKey(now, now));
}

/** Publishes a new key now; it signs from now + delay. Retired keys live until their tokens expire. */
export async function rotateSigningKey(
  keys: KeyRepository,
  opts: { delay: number; maxTokenLifetime: number },
  now = epochSeconds(),
): Promise<KeyStatus> {
  const row = await newKey(now, now + opts.delay);
  await keys.add(row, row.activates_at + opts.maxTokenLifetime);
  return describe(row as SigningKeyRow, 'pending');
}

function describe(row: SigningKeyRow, state: KeyStatus['state']): KeyStatus {
  return {
    kid: row.kid,
    alg: row.alg,
    state,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    expiresAt: row.expires_at ?? null,
  };
}

/**
 * When this server first published each key (unix seconds). A key created by another process (the
 * CLI) is published only at the server's next key check, which can come after its activation time;
 * measured from publication, a key still waits its full delay before it signs, so resource servers
 * that fetched the key set just before publication can refetch (jose allows one refetch per 30 s,
 * the server's check interval) before they meet it.
 */
export type PublicationTimes = ReadonlyMap<string, number>;

function activation(r: SigningKeyRow, published?: PublicationTimes): number {
  const since = published?.get(r.kid);
  return since === undefined ? r.activates_at : Math.max(r.activates_at, since + (r.activates_at - r.created_at));
}

export async function keyStatuses(
  keys: KeyRepository,
  now = epochSeconds(),
  published?: PublicationTimes,
): Promise<KeyStatus[]> {
  return statusesOf(await keys.live(now), now, published);
}

function statusesOf(rows: SigningKeyRow[], now: number, published?: PublicationTimes): KeyStatus[] {
  // The newest key that has activated signs (rows are newest first); newer ones are pending and
  // older ones retired (each was superseded when a newer key activated).
  const signingAt = rows.findIndex((r) => activation(r, published) <= now);
  return rows.map((r, i) =>
    describe(r, i === signingAt ? 'signing' : signingAt < 0 || i < signingAt ? 'pending' : 'retired'),
  );
}

/**
 * The private JWKS handed to oidc-provider: the signing key first and unrestricted; every other
 * published key marked verify-only so the provider never signs with it (its key selection honours
 * `key_ops`). `fingerprint` changes whenever the set or the signing key changes.
 */
export async function providerJwks(
  keys: KeyRepository,
  now = epochSeconds(),
  published?: PublicationTimes,
): Promise<{ keys: JWK[]; fingerprint: string }> {
  const rows = await keys.live(now);
  const statuses = statusesOf(rows, now, published);
  const ordered = [...rows].sort((a, b) => {
    const sa = statuses.find((s) => s.kid === a.kid)?.state === 'signing' ? 0 : 1;
    const sb = statuses.find((s) => s.kid === b.kid)?.state === 'signing' ? 0 : 1;
    return sa - sb;
  });
  const jwks = ordered.map((r) => {
    const jwk = JSON.parse(r.private_jwk) as JWK;
    const signing = statuses.find((s) => s.kid === r.kid)?.state === 'signing';
    return signing ? jwk : { ...jwk, key_ops: ['verify'] };
  });
  const fingerprint = statuses.map((s) => `${s.kid}:${s.state}`).join(',');
  return { keys: jwks, fingerprint };
}
