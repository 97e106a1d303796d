// Checking the factors beside the password: a TOTP code (RFC 6238, otplib), a one-time recovery
// code, a passkey (WebAuthn, @simplewebauthn/server). The relying party is the issuer: its host is
// the RP ID and its origin the only origin accepted. User verification is always required.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { generateSecret, generateURI, verifySync } from 'otplib';
import { epochSeconds } from '../lib/duration.js';
import type { FactorRepository, Passkey } from '../storage/factors.js';
import { hashRecoveryCode } from '../storage/factors.js';
import type { User } from '../storage/users.js';

/** How long a WebAuthn challenge may be answered. */
const CHALLENGE_TTL = 300;
/** One step either side of now: clocks of phones drift (RFC 6238 §5.2). */
const TOTP_TOLERANCE = 30;

export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

export function relyingParty(issuer: string): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, origin: url.origin, name: 'MCP OAuth' };
}

// ---------------------------------------------------------------------------------------------
// TOTP and recovery codes

export function newTotpSecret(): string {
  return generateSecret();
}

/** The otpauth:// URI an authenticator app takes (typed in or pasted: no QR code library here). */
export function totpUri(secret: string, username: string, issuer: string): string {
  return generateURI({ issuer: `MCP OAuth (${new URL(issuer).host})`, label: username, secret });
}

/** The time step a code is valid for with this secret (after `afterStep`), or undefined. */
export function totpStep(secret: string, code: string, afterStep: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  try {
    const result = verifySync({ secret, token: code, epochTolerance: TOTP_TOLERANCE, afterTimeStep: afterStep });
    const step = result.valid ? (result as { timeStep?: number }).timeStep : undefined;
    return typeof step === 'number' ? step : undefined;
  } catch {
    return undefined;
  }
}

/** A TOTP code of a confirmed enrolment, each time step accepted once. */
export async function checkTotp(factors: FactorRepository, userId: string, code: string): Promise<boolean> {
  const totp = await factors.totp(userId);
  if (!totp?.confirmed) return false;
  const step = totpStep(totp.secret, code, totp.lastStep);
  return step !== undefined && (await factors.useTotpStep(userId, step));
}

/** A code typed at the second step: six digits for TOTP, anything else is tried as a recovery code. */
export async function checkSecondFactor(
  factors: FactorRepository,
  userId: string,
  code: string,
): Promise<'totp' | 'recovery' | undefined> {
  const compact = code.replace(/[\s-]/g, '');
  if (/^\d{6}$/.test(compact)) return (await checkTotp(factors, userId, compact)) ? 'totp' : undefined;
  if (!/^[a-z0-9]{16}$/i.test(compact)) return undefined;
  return (await factors.useRecoveryCode(userId, compact, epochSeconds())) ? 'recovery' : undefined;
}

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Ten new recovery codes of 16 characters (about 79 bits each), shown once. */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: 10 }, () => {
    const bytes = randomBytes(16);
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}-${chars.slice(12, 16)}`;
  });
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

/** Whether the user has any factor beside the password (TOTP or a passkey). */
export async function hasAnyFactor(factors: FactorRepository, userId: string): Promise<boolean> {
  return (await hasTotp(factors, userId)) || (await factors.passkeys(userId)).length > 0;
}

/** Whether the user has a second factor to be asked for after the password. */
export async function hasTotp(factors: FactorRepository, userId: string): Promise<boolean> {
  return (await factors.totp(userId))?.confirmed === true;
}

// ---------------------------------------------------------------------------------------------
// Passkeys

// A challenge is 16 random bytes, its expiry and an HMAC binding both to what it was issued for
// (one interaction, the account sign-in, one page session's registration). Showing a page so
// writes nothing; an answer that verifies records its challenge as used (FactorRepository
// useChallenge), so each is accepted once.
const NONCE = 16;
const MAC = 32;

async function challengeMac(factors: FactorRepository, body: Buffer, scope: string): Promise<Buffer> {
  return createHmac('sha256', await factors.challengeKey())
    .update(body)
    .update('\0')
    .update(scope)
    .digest();
}

export async function newChallenge(factors: FactorRepository, scope: string): Promise<Uint8Array<ArrayBuffer>> {
  const body = Buffer.alloc(NONCE + 4);
  randomBytes(NONCE).copy(body);
  body.writeUInt32BE(epochSeconds() + CHALLENGE_TTL, NONCE);
  return new Uint8Array(Buffer.concat([body, await challengeMac(factors, body, scope)]));
}

/** The expiry of a challenge we issued for `scope` that has not expired; undefined otherwise. */
export async function challengeExpiry(
  factors: FactorRepository,
  challenge: string,
  scope: string,
  now: number,
): Promise<number | undefined> {
  const raw = Buffer.from(challenge, 'base64url');
  if (raw.length !== NONCE + 4 + MAC) return undefined;
  const body = raw.subarray(0, NONCE + 4);
  if (!timingSafeEqual(raw.subarray(NONCE + 4), await challengeMac(factors, body, scope))) return undefined;
  const expires = body.readUInt32BE(NONCE);
  return expires > now ? expires : undefined;
}

/** Options for a sign-in with any passkey of this site (usernameless), with a challenge for `scope`. */
export async function passkeySignInOptions(
  factors: FactorRepository,
  rp: RelyingParty,
  scope: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    userVerification: 'required',
    timeout: 120_000,
    challenge: await newChallenge(factors, scope),
  });
}

/** Parses a credential response posted by the page; undefined when it is not one. */
export function parseCredential<T extends { id: string; response: unknown }>(value: unknown): T | undefined {
  if (typeof value !== 'string' || value.length > 16_384) return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const p = parsed as Record<string, unknown>;
    if (typeof p.id !== 'string' || typeof p.response !== 'object' || p.response === null) return undefined;
    return parsed as T;
  } catch {
    return undefined;
  }
}

/**
 * The passkey a sign-in response proves, after consuming its challenge (once, for `scope`) and
 * checking origin, RP ID, user verification and signature; undefined on any failure.
 */
export async function verifyPasskeySignIn(
  factors: FactorRepository,
  rp: RelyingParty,
  scope: string,
  response: AuthenticationResponseJSON,
): Promise<Passkey | undefined> {
  const passkey = await factors.passkey(response.id);
  if (!passkey) return undefined;
  // The user handle, when the authenticator returns one, must be the passkey's owner.
  const handle = response.response.userHandle;
  if (handle && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.userId) return undefined;
  const now = epochSeconds();
  const challenge = challengeMatcher(factors, scope, now);
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.expected,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: passkey.id,
        publicKey: passkey.publicKey as Uint8Array<ArrayBuffer>,
        counter: passkey.counter,
        transports: passkey.transports as never,
      },
      requireUserVerification: true,
    });
    // Once only: a replay of this very answer finds its challenge used.
    if (!result.verified || !(await challenge.consume())) return undefined;
    await factors.passkeyUsed(passkey.id, result.authenticationInfo.newCounter, now);
    return passkey;
  } catch {
    return undefined;
  }
}

/**
 * The WebAuthn library's challenge check for one answer: `expected` accepts a challenge we issued for
 * this scope and that has not expired; `consume` then marks it used, false when it already was (a
 * replayed answer) or none matched.
 */
function challengeMatcher(factors: FactorRepository, scope: string, now: number) {
  let answered: { challenge: string; expires: number } | undefined;
  return {
    expected: async (challenge: string): Promise<boolean> => {
      const expires = await challengeExpiry(factors, challenge, scope, now);
      answered = expires === undefined ? undefined : { challenge, expires };
      return answered !== undefined;
    },
    consume: async (): Promise<boolean> =>
      answered !== undefined && (await factors.useChallenge(answered.challenge, answered.expires, now)),
  };
}

/** Options to register a new passkey for `user` (a discoverable credential, user verification required). */
export async function passkeyRegistrationOptions(
  factors: FactorRepository,
  rp: RelyingParty,
  user: User,
  scope: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.username,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    excludeCredentials: (await factors.passkeys(user.id)).map((p) => ({ id: p.id, transports: p.transports as never })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    timeout: 120_000,
    challenge: await newChallenge(factors, scope),
  });
  return options;
}

/** The credential a registration response creates, checked against its (consumed) challenge. */
export async function verifyPasskeyRegistration(
  factors: FactorRepository,
  rp: RelyingParty,
  scope: string,
  response: RegistrationResponseJSON,
): Promise<{ id: string; publicKey: Uint8Array; counter: number; transports: string[] } | undefined> {
  const now = epochSeconds();
  const challenge = challengeMatcher(factors, scope, now);
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge.expected,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
    if (!result.verified || !(await challenge.consume())) return undefined;
    const { credential } = result.registrationInfo;
    return {
      id: credential.id,
      publicKey: credential.publicKey,
      counter: credential.counter,
      transports: credential.transports ?? [],
    };
  } catch {
    return undefined;
  }
}

/**
 * The page policy of views/layout.njk's defaults plus our own scripts (the WebAuthn glue in
 * views/static/): still no inline script, no other origin.
 */
export const PASSKEY_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";
