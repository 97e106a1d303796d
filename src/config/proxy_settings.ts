// Every setting of the resource proxy (`mcp-oauth proxy`), declared once, and the shape of a
// route in the MCP_PROXY_CONFIG routes file. Adding a setting works as for the server: see the
// top of src/config/server_settings.ts. `ProxyConfig` (src/config/proxy.ts) is inferred from here.
// This module imports no server code.
import { z } from 'zod';
import {
  bearerSecret,
  count,
  DAY,
  duration,
  filePath,
  flag,
  type Kind,
  list,
  oneOf,
  port,
  secret,
  setting,
  text,
} from './define.js';

export const ALLOWED_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
] as const;

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const scopeToken = z.string().regex(SCOPE_TOKEN, 'must be one scope token');
const toolName = z.string().min(1).max(200);

/** What a route may demand of the user's sign-in for writing calls (src/lib/sign_in_strength.ts). */
export const WRITE_SIGN_IN = ['off', 'mfa', 'phr'] as const;

/** A route's defaults, shared by the routes file and the single-route variables. */
export const ROUTE_DEFAULTS = {
  readScope: 'mcp:read',
  writeScope: 'mcp:write',
  learnReadOnlyHints: true,
  hideUnauthorizedTools: false,
  requireDpop: false,
} as const;

/** One route of the MCP_PROXY_CONFIG file; unknown keys (a secret, say) are refused. */
export const routeSchema = z
  .object({
    /** Public resource URI, exactly as the AS knows it: the `aud` this route accepts. */
    resource: z.string().min(1),
    /** Upstream Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp */
    upstream: z.string().min(1),
    readScope: scopeToken.default(ROUTE_DEFAULTS.readScope),
    writeScope: scopeToken.default(ROUTE_DEFAULTS.writeScope),
    /** Tools that need only the read scope, whatever the upstream says. */
    readOnlyTools: z.array(toolName).default([]),
    /** Tools that need the write scope, whatever the upstream says. */
    writeTools: z.array(toolName).default([]),
    /** Learn `readOnlyHint` from the upstream's tools/list answers. */
    learnReadOnlyHints: z.boolean().default(ROUTE_DEFAULTS.learnReadOnlyHints),
    /** Drop the tools a token cannot call from tools/list answers. */
    hideUnauthorizedTools: z.boolean().default(ROUTE_DEFAULTS.hideUnauthorizedTools),
    /** Scopes the nginx auth_request endpoint demands (it cannot see the body): default read + write. */
    authRequestScopes: z.array(scopeToken).optional(),
    /** Accept only DPoP-bound tokens with their proof (RFC 9449), never bearer tokens. */
    requireDpop: z.boolean().default(ROUTE_DEFAULTS.requireDpop),
    /**
     * How the user must have signed in for calls that need the write scope: `mfa` (a second factor
     * or a passkey), `phr` (a passkey: phishing-resistant) or `off`. Refused with RFC 9470's
     * `insufficient_user_authentication`.
     */
    writeSignIn: z.enum(WRITE_SIGN_IN).default('off'),
    /** And at most this many seconds ago (`auth_time`); none when absent. */
    writeSignInMaxAge: z.number().int().min(0).max(DAY).optional(),
  })
  .strict();

export const routesFileSchema = z.object({ routes: z.array(z.unknown()).min(1) }).strict();

const headerName: Kind<string> = {
  values: 'HTTP header name',
  schema: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
    .transform((s) => s.toLowerCase()),
};
const scope: Kind<string> = { values: 'one scope token', schema: scopeToken };
const tools = list('comma-separated tool names', /^[^\s,]{1,200}$/, 'must be a comma-separated list of tool names', {
  separator: /[\s,]+/,
});
const url = text('absolute http(s) URL');
const milliseconds = (kind: Kind<number>): Kind<number> => ({
  ...kind,
  schema: kind.schema.transform((s) => s * 1000),
});
const credentialHint = 'create it with `mcp-oauth resources credential URI`';

export const proxySettings = z
  .object({
    host: setting('MCP_PROXY_HOST', text('host name or IP address'), { default: '127.0.0.1' }).describe(
      'Interface to listen on. A non-loopback address needs `MCP_PROXY_ALLOW_PUBLIC_BIND=true`.',
    ),
    port: setting('MCP_PROXY_PORT', port(0), { default: '8080' }).describe('TCP port to listen on.'),
    allowPublicBind: setting('MCP_PROXY_ALLOW_PUBLIC_BIND', flag, { default: 'false' }).describe(
      'Allow a non-loopback `MCP_PROXY_HOST` (put a TLS-terminating reverse proxy in front).',
    ),
    issuer: setting('MCP_PROXY_ISSUER', url, { required: "the authorization server's issuer URL" }).describe(
      "The authorization server's issuer, exactly as its metadata states it; https unless it is a loopback address.",
    ),
    authorizationServerUrl: setting('MCP_PROXY_AUTHORIZATION_SERVER_URL', url).describe(
      'Where the proxy itself reaches the authorization server when that differs from the issuer (a container ' +
        'network, e.g. `http://auth:4000`): metadata, JWKS and the revocation feed are fetched there. Default: the ' +
        'issuer.',
    ),
    feed: z
      .object({
        id: setting('MCP_PROXY_FEED_CLIENT_ID', text('credential id'), { required: credentialHint }).describe(
          'Id of the resource credential.',
        ),
        secret: setting('MCP_PROXY_FEED_CLIENT_SECRET', secret(1), { required: credentialHint, secret: true }).describe(
          'Secret of the resource credential.',
        ),
      })
      .meta({
        title: 'Revocation feed credential',
        description:
          'The resource credential the proxy reads the revocation feed with: `mcp-oauth resources credential URI`.',
      }),
    algorithms: setting(
      'MCP_PROXY_ALGORITHMS',
      list(
        `comma-separated, from ${ALLOWED_ALGORITHMS.map((a) => `\`${a}\``).join(', ')}`,
        new RegExp(`^(${ALLOWED_ALGORITHMS.join('|')})$`),
        `may list only ${ALLOWED_ALGORITHMS.join(', ')}`,
        { separator: /[\s,]+/, min: 1 },
      ),
      { default: 'ES256' },
    ).describe('Signing algorithms accepted on access tokens: asymmetric only, never `none` or `HS*`.'),
    clockToleranceSeconds: setting('MCP_PROXY_CLOCK_TOLERANCE', duration(0, 300), { default: '5s' }).describe(
      'Clock skew tolerated on `exp`, `iat` and `nbf`.',
    ),
    feedGraceSeconds: setting('MCP_PROXY_FEED_GRACE', duration(5, DAY), { default: '5m' }).describe(
      "How long the revocation feed may be silent before the proxy fails closed: the authorization server's " +
        'access-token lifetime.',
    ),
    maxBodyBytes: setting('MCP_PROXY_MAX_BODY_BYTES', count(1024, 64 * 1024 * 1024), { default: '4194304' }).describe(
      'Request body limit in bytes (`413` beyond).',
    ),
    upstreamHeadersTimeoutMs: setting('MCP_PROXY_UPSTREAM_HEADERS_TIMEOUT', milliseconds(duration(1, 3600)), {
      default: '120s',
    }).describe("How long to wait for the upstream's response headers (`504` beyond)."),
    upstreamBodyTimeoutMs: setting('MCP_PROXY_UPSTREAM_BODY_TIMEOUT', milliseconds(duration(1, DAY)), {
      default: '5m',
    }).describe('How long to wait between chunks of the upstream body (`502` beyond); none for the GET stream.'),
    identityHeaders: z
      .object({
        subject: setting('MCP_PROXY_SUBJECT_HEADER', headerName, { default: 'x-mcp-subject' }).describe(
          'Carries the user (`sub`).',
        ),
        clientId: setting('MCP_PROXY_CLIENT_ID_HEADER', headerName, { default: 'x-mcp-client-id' }).describe(
          'Carries the agent (`client_id`).',
        ),
        scopes: setting('MCP_PROXY_SCOPES_HEADER', headerName, { default: 'x-mcp-scopes' }).describe(
          'Carries the granted scopes.',
        ),
        subjectType: setting('MCP_PROXY_SUBJECT_TYPE_HEADER', headerName, { default: 'x-mcp-subject-type' }).describe(
          'Says who the subject is: `user` (an agent acting for a user) or `client` (a service client on its own behalf).',
        ),
      })
      .meta({
        title: 'Identity headers',
        description: 'Headers that tell the upstream who is calling; any copy sent by the client is removed.',
      }),
    upstreamCredential: z
      .object({
        header: setting('MCP_PROXY_UPSTREAM_CREDENTIAL_HEADER', headerName, { default: 'authorization' }).describe(
          'Header the credential is sent in.',
        ),
        value: setting('MCP_PROXY_UPSTREAM_CREDENTIAL', secret(1), { secret: true }).describe(
          'The credential; without it, no credential is sent.',
        ),
      })
      .meta({
        title: 'Upstream credential',
        description: 'A static credential attached to upstream requests instead of the identity headers.',
      }),
    authRequestPath: setting('MCP_PROXY_AUTH_REQUEST_PATH', {
      values: 'absolute path',
      schema: z.string().regex(/^\/[A-Za-z0-9._~/-]{1,200}$/, 'must be a path'),
    }).describe('Path of the nginx `auth_request` endpoint; off when unset.'),
    metricsToken: setting('MCP_PROXY_METRICS_TOKEN', bearerSecret(16), { secret: true }).describe(
      'Bearer token that unlocks `/metrics` on the public listener.',
    ),
    metricsPort: setting('MCP_PROXY_METRICS_PORT', port()).describe(
      'A separate loopback listener for `/metrics` (no token needed there).',
    ),
    logLevel: setting('MCP_PROXY_LOG_LEVEL', oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), {
      default: 'info',
    }).describe('Log level; tokens are never logged.'),
    logFormat: setting('MCP_PROXY_LOG_FORMAT', oneOf(['auto', 'json', 'pretty']), { default: 'auto' }).describe(
      '`auto`: readable text on a terminal, JSON lines otherwise.',
    ),
    routesFile: setting('MCP_PROXY_CONFIG', filePath).describe(
      'A JSON file `{"routes": [...]}` listing several routes (each with `resource`, `upstream` and optionally ' +
        '`readScope`, `writeScope`, `readOnlyTools`, `writeTools`, `learnReadOnlyHints`, `hideUnauthorizedTools`, ' +
        '`authRequestScopes`, `requireDpop`, `writeSignIn`, `writeSignInMaxAge` in seconds), instead of the single-route variables.',
    ),
    route: z
      .object({
        resource: setting('MCP_PROXY_RESOURCE', url).describe(
          'Public resource URI, exactly as the authorization server knows it: the token audience this route accepts.',
        ),
        upstream: setting('MCP_PROXY_UPSTREAM', url).describe(
          'The MCP server behind the proxy (Streamable HTTP), e.g. `http://127.0.0.1:3001/mcp`.',
        ),
        readScope: setting('MCP_PROXY_READ_SCOPE', scope, { default: ROUTE_DEFAULTS.readScope }).describe(
          'Scope that allows reading tools.',
        ),
        writeScope: setting('MCP_PROXY_WRITE_SCOPE', scope, { default: ROUTE_DEFAULTS.writeScope }).describe(
          'Scope that allows every tool.',
        ),
        readOnlyTools: setting('MCP_PROXY_READ_ONLY_TOOLS', tools, { default: '' }).describe(
          'Tools that need only the read scope, whatever the upstream says.',
        ),
        writeTools: setting('MCP_PROXY_WRITE_TOOLS', tools, { default: '' }).describe(
          'Tools that need the write scope, whatever the upstream says.',
        ),
        learnReadOnlyHints: setting('MCP_PROXY_LEARN_READ_ONLY_HINTS', flag, {
          default: String(ROUTE_DEFAULTS.learnReadOnlyHints),
        }).describe("Trust the upstream's `readOnlyHint` from `tools/list`."),
        hideUnauthorizedTools: setting('MCP_PROXY_HIDE_UNAUTHORIZED_TOOLS', flag, {
          default: String(ROUTE_DEFAULTS.hideUnauthorizedTools),
        }).describe('Drop the tools the token cannot call from `tools/list` answers.'),
        requireDpop: setting('MCP_PROXY_REQUIRE_DPOP', flag, { default: String(ROUTE_DEFAULTS.requireDpop) }).describe(
          'Accept only DPoP-bound access tokens with a valid proof (RFC 9449); bearer tokens are refused. Off: both.',
        ),
        writeSignIn: setting('MCP_PROXY_WRITE_SIGN_IN', oneOf(WRITE_SIGN_IN), { default: 'off' }).describe(
          'How the user must have signed in for calls that need the write scope: `mfa` (a second factor or a ' +
            'passkey), `phr` (a passkey), `off`. Other tokens get `401 insufficient_user_authentication` with ' +
            '`acr_values` (RFC 9470).',
        ),
        writeSignInMaxAge: setting('MCP_PROXY_WRITE_SIGN_IN_MAX_AGE', duration(0, DAY)).describe(
          "And no longer ago than this (the token's `auth_time`); the challenge then carries `max_age`.",
        ),
      })
      .meta({
        title: 'Single route',
        description: 'The one MCP server behind the proxy, when `MCP_PROXY_CONFIG` does not name a routes file.',
      }),
  })
  .meta({
    title: 'Resource proxy',
    description: 'Read by `mcp-oauth proxy` (and the `mcp-oauth-proxy` binary).',
  });

export type ProxySettings = z.output<typeof proxySettings>;
