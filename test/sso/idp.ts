// A company identity provider for the single sign-on tests: a second oidc-provider instance (from
// node_modules) on 127.0.0.1, with its development login page (any login name signs in as that
// account) and accounts the test edits: email, whether it is verified, groups, disabled.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { JWK } from 'jose';
import Provider from 'oidc-provider';

export interface UpstreamAccount {
  email?: string;
  email_verified?: boolean;
  groups?: string[];
  disabled?: boolean;
}

export const IDP_CLIENT_ID = 'mcp-oauth-server';
export const IDP_CLIENT_SECRET = 'a-client-secret-of-the-test-identity-provider';

/**
 * An attacker's (or a broken network's) hand on the traffic, which a browser test cannot reach
 * inside redirects: `request` edits the requests the provider receives, `callback` the redirects
 * it sends back to our server. Reset them after use.
 */
export interface Tamper {
  request?: ((url: URL) => void) | undefined;
  callback?: ((url: URL) => void) | undefined;
}

export interface TestIdp {
  issuer: string;
  accounts: Map<string, UpstreamAccount>;
  tamper: Tamper;
  /** Registers our server's callback and starts answering. */
  start(redirectUri: string): void;
  /** Writes an MCP_OAUTH_IDPS_FILE with this provider (and `extra` fields) into `dir`. */
  writeConfig(dir: string, extra?: Record<string, unknown>, more?: Record<string, unknown>[]): string;
  close(): Promise<void>;
}

/** `signingKey`: the provider's private JWK (with `kid`), for tests that sign as the provider. */
export async function startTestIdp(opts: { signingKey?: JWK } = {}): Promise<TestIdp> {
  const server: Server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map<string, UpstreamAccount>();
  const tamper: Tamper = {};

  return {
    issuer,
    accounts,
    tamper,
    start(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: IDP_CLIENT_ID,
            client_secret: IDP_CLIENT_SECRET,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_post',
          },
        ],
        async findAccount(_ctx, sub) {
          const account = accounts.get(sub);
          if (!account || account.disabled) return undefined;
          return {
            accountId: sub,
            claims: async () => ({
              sub,
              ...(account.email === undefined ? {} : { email: account.email }),
              ...(account.email_verified === undefined ? {} : { email_verified: account.email_verified }),
              ...(account.groups === undefined ? {} : { groups: account.groups }),
            }),
          };
        },
        scopes: ['openid', 'email', 'groups', 'offline_access'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
        // The claims go in the ID token (as Entra ID, Okta and Google put email and groups there).
        conformIdTokenClaims: false,
        issueRefreshToken: async () => true,
        pkce: { required: () => true },
        cookies: { keys: ['test-idp-cookie-key'] },
        ...(opts.signingKey ? { jwks: { keys: [opts.signingKey as never] } } : {}),
        features: { devInteractions: { enabled: true } },
      });
      const handle = provider.callback();
      server.removeAllListeners('request');
      server.on('request', (req, res) => {
        if (tamper.request) {
          const url = new URL(req.url ?? '/', issuer);
          tamper.request(url);
          req.url = url.pathname + url.search;
        }
        const setHeader = res.setHeader.bind(res);
        res.setHeader = (name, value) => {
          if (tamper.callback && name.toLowerCase() === 'location' && String(value).startsWith(redirectUri)) {
            const url = new URL(String(value));
            tamper.callback(url);
            return setHeader(name, url.href);
          }
          return setHeader(name, value);
        };
        handle(req, res);
      });
    },
    writeConfig(dir, extra = {}, more = []) {
      const secretFile = path.join(dir, 'idp-secret');
      writeFileSync(secretFile, `${IDP_CLIENT_SECRET}\n`, { mode: 0o600 });
      const file = path.join(dir, 'idps.json');
      const entry = {
        name: 'acme',
        display_name: 'Acme SSO',
        issuer,
        client_id: IDP_CLIENT_ID,
        client_secret_file: secretFile,
        scopes: 'openid email groups offline_access',
        ...extra,
      };
      writeFileSync(file, JSON.stringify([entry, ...more]));
      return file;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
