// "Not you? Use another account" on the consent page: this browser's sign-in ends and the same
// authorization request starts again, so the sign-in page comes back and then the consent for the
// person who signs in. oidc-provider's own route for that (a login result naming another account)
// passes through RP-initiated logout, which this server keeps off; ending the session row and
// replaying the request the agent made reaches the same state without opening that endpoint.
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ROUTES } from '../provider/index.js';
import { baseOf } from '../web/base_path.js';
import { HttpError } from '../web/errors.js';
import type { ConsentDeps } from './consent.js';

export async function switchAccount(deps: ConsentDeps, ctx: Context, details: Interaction): Promise<void> {
  // A device's request was not made by this browser: there is nothing here to start again.
  if (typeof (details as { deviceCode?: unknown }).deviceCode === 'string') {
    throw new HttpError(400, 'invalid_request', 'unsupported interaction');
  }
  const provider = deps.provider();
  const sessionId = (details.session as { cookie?: string } | undefined)?.cookie;
  const session = sessionId ? await provider.Session.find(sessionId) : undefined;
  if (session) await session.destroy();
  // The stored request, as the agent sent it (canonicalised on the way in): state, PKCE challenge,
  // redirect URI and resource unchanged, so the agent gets its answer where it expects it.
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(details.params)) {
    for (const one of Array.isArray(value) ? value : [value]) if (typeof one === 'string') query.append(name, one);
  }
  await details.destroy();
  ctx.status = 303;
  ctx.redirect(`${baseOf(ctx)}${ROUTES.authorization}?${query}`);
}
