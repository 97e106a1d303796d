// How a resource server authenticates to the authorization server (introspection, the revocation
// feed): HTTP Basic with a per-resource credential id and secret.
import type { Context } from 'koa';
import type { ResourceCredential, ResourceCredentialRepository } from '../storage/resource_credentials.js';
import { HttpError } from '../web/errors.js';

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** The calling resource server, or a 401 `invalid_client` with a Basic challenge for `realm`. */
export async function authenticateResourceServer(
  ctx: Context,
  credentials: ResourceCredentialRepository,
  realm: string,
): Promise<ResourceCredential> {
  const creds = basicCredentials(ctx.get('authorization'));
  const caller = creds && (await credentials.verify(creds.id, creds.secret));
  if (!caller) {
    ctx.set('WWW-Authenticate', `Basic realm="${realm}"`);
    throw new HttpError(401, 'invalid_client', 'resource server authentication failed');
  }
  return caller;
}
