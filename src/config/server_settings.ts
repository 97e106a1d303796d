// Every setting of the authorization server (`mcp-oauth serve` and the CLI), declared once.
//
// To add a setting, add ONE entry here, where its value should appear in `Config`:
//
//     idleTimeout: setting('MCP_OAUTH_CONSOLE_IDLE_TIMEOUT', duration(60, DAY), { default: '30m' })
//       .describe('What it does, for docs/configuration.md.'),
//
// - the kind (src/config/define.ts: duration, count, port, flag, oneOf, text, domainList, secret,
//   list) parses and checks the environment string; the default is written as in the environment;
// - secrets: `{ secret: true }` (read from the variable or from NAME_FILE, never shown);
// - a group (a nested `z.object({...}).meta({ title, description })`) becomes a nested object in `Config` and a
//   section in the reference;
// - checks that involve several settings go in src/config/index.ts (`problems.whenValid`);
// - then run `npm run docs:config` and commit docs/configuration.md (test/config/docs.test.ts fails
//   while it is stale).
// `Config` (src/config/index.ts) is inferred from this schema: no interface to update.
import { z } from 'zod';
import {
  bearerSecret,
  count,
  DAY,
  domainList,
  duration,
  filePath,
  flag,
  type Kind,
  list,
  oneOf,
  onOff,
  port,
  secret,
  setting,
  text,
} from './define.js';

const perMinute = count(0, 1_000_000);

/** A PostgreSQL connection URL; its messages never repeat the value (it may hold a password). */
const postgresUrl: Kind<string> = {
  values: 'postgres:// URL',
  schema: z.string().refine((raw) => {
    const url = URL.parse(raw);
    if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) return false;
    const socketHost = url.searchParams.get('host');
    return (url.hostname !== '' || socketHost !== null) && url.pathname.length > 1;
  }, 'must be a URL like postgres://USER@HOST:PORT/DATABASE'),
};

export const serverSettings = z
  .object({
    host: setting('MCP_OAUTH_HOST', text('host name or IP address'), { default: '127.0.0.1' }).describe(
      'Interface to listen on. A non-loopback address is refused unless `MCP_OAUTH_TRUST_PROXY=true`.',
    ),
    port: setting('MCP_OAUTH_PORT', port(), { default: '4000' }).describe('TCP port to listen on.'),
    issuer: setting('MCP_OAUTH_ISSUER', text('absolute URL')).describe(
      'Public URL of the server, exactly as agents see it; default `http://HOST:PORT`. Must be https unless it is a ' +
        'loopback address; no trailing slash, query, fragment or userinfo.',
    ),
    dataDir: setting('MCP_OAUTH_DATA_DIR', text('directory path'), { default: './data' }).describe(
      'Directory of the SQLite database `mcp-oauth.sqlite` (created 0600, the directory 0700). A relative path is ' +
        'taken from the current directory: CLI commands that only read or change what is there refuse a missing ' +
        'database, and those that create one print its full path.',
    ),
    databaseUrl: setting('MCP_OAUTH_DATABASE_URL', postgresUrl, { secret: true }).describe(
      'Use PostgreSQL instead of the SQLite file under `MCP_OAUTH_DATA_DIR`, for the server and every CLI command: ' +
        '`postgres://USER@HOST:PORT/DB`, TLS as `pg` takes it (`?sslmode=verify-full&sslrootcert=/path/ca.pem`). ' +
        'It may hold the password, so it is read like a secret (prefer `_FILE`) and never logged; docs/storage.md.',
    ),
    databasePoolSize: setting('MCP_OAUTH_DATABASE_POOL_SIZE', count(1, 500), { default: '10' }).describe(
      'PostgreSQL only: connections each node keeps open at most (plus one that listens for revocations).',
    ),
    databaseConnectTimeout: setting('MCP_OAUTH_DATABASE_CONNECT_TIMEOUT', duration(1, 300), {
      default: '10s',
    }).describe('PostgreSQL only: how long to wait for a connection before the request fails.'),
    trustProxy: setting('MCP_OAUTH_TRUST_PROXY', flag, { default: 'false' }).describe(
      'Behind a TLS-terminating reverse proxy: trust `X-Forwarded-*` and allow a public bind. The issuer must then ' +
        'be https.',
    ),
    accessTokenTtl: setting('MCP_OAUTH_ACCESS_TOKEN_TTL', duration(30, DAY), { default: '5m' }).describe(
      'Lifetime of a JWT access token; also how long a revoked token may still reach a proxy whose feed is down.',
    ),
    authorizationCodeTtl: setting('MCP_OAUTH_AUTHORIZATION_CODE_TTL', duration(10, 600), { default: '60s' }).describe(
      'Lifetime of an authorization code.',
    ),
    refreshTokenIdleTtl: setting('MCP_OAUTH_REFRESH_TOKEN_IDLE_TTL', duration(60, 365 * DAY), {
      default: '14d',
    }).describe('Lifetime of each refresh token; at most `MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL`.'),
    refreshTokenAbsoluteTtl: setting('MCP_OAUTH_REFRESH_TOKEN_ABSOLUTE_TTL', duration(60, 3 * 365 * DAY), {
      default: '90d',
    }).describe('No refresh past this age of the grant: the user must authorize the agent again.'),
    sessionTtl: setting('MCP_OAUTH_SESSION_TTL', duration(60, 30 * DAY), { default: '1d' }).describe(
      'Lifetime of a browser sign-in session.',
    ),
    consoleIdleTimeout: setting('MCP_OAUTH_CONSOLE_IDLE_TIMEOUT', duration(60, DAY), { default: '30m' }).describe(
      'How long an account or admin page session may go unused before it ends (besides `MCP_OAUTH_SESSION_TTL`).',
    ),
    feedStreamsPerCredential: setting('MCP_OAUTH_FEED_STREAMS_PER_CREDENTIAL', count(1, 100), {
      default: '4',
    }).describe(
      'Open revocation streams one resource credential may hold at once; beyond it 429 (the server-wide cap stays).',
    ),
    registration: setting('MCP_OAUTH_REGISTRATION', oneOf(['open', 'token', 'off']), { default: 'open' }).describe(
      'Dynamic client registration (RFC 7591): open to anyone, only with an initial access token ' +
        '(`mcp-oauth clients token`), or off.',
    ),
    registrationToken: setting('MCP_OAUTH_REGISTRATION_TOKEN', bearerSecret(32), { secret: true }).describe(
      'Optional fixed initial access token for `token` registration mode, besides those made with ' +
        '`mcp-oauth clients token`.',
    ),
    labels: z
      .object({
        sensitiveTokenTtl: setting('MCP_OAUTH_SENSITIVE_TOKEN_TTL', duration(30, DAY), { default: '2m' }).describe(
          'Access-token lifetime for MCP servers labelled `confidential` or `personal_data` (at most ' +
            '`MCP_OAUTH_ACCESS_TOKEN_TTL`).',
        ),
        readOnly: setting(
          'MCP_OAUTH_LABELS_READ_ONLY',
          list('comma-separated labels', /^(public|internal|confidential|personal_data)$/, 'must be labels'),
          { default: '' },
        ).describe(
          'Labels whose MCP servers give agents no write scope, and whose tools (`mcp-oauth resources label ' +
            '--tool`) agents may call only when the proxy counts them as reading.',
        ),
        approval: setting(
          'MCP_OAUTH_LABELS_APPROVAL',
          list('comma-separated labels', /^(public|internal|confidential|personal_data)$/, 'must be labels'),
          { default: 'personal_data' },
        ).describe(
          'Labels whose MCP servers need an administrator to approve each new agent before a user can consent ' +
            '(as `MCP_OAUTH_AGENT_APPROVAL`, for these servers only).',
        ),
        denyTools: setting(
          'MCP_OAUTH_LABELS_DENY_TOOLS',
          list('comma-separated labels', /^(public|internal|confidential|personal_data)$/, 'must be labels'),
          { default: '' },
        ).describe('Labels whose tools the proxy refuses to every agent, whatever its scope.'),
        secondFactor: setting(
          'MCP_OAUTH_LABELS_SECOND_FACTOR',
          list('comma-separated labels', /^(public|internal|confidential|personal_data)$/, 'must be labels'),
          { default: '' },
        ).describe(
          'Labels that need a sign-in with a second factor: for a grant to a server with the label, and for ' +
            'each call of a tool with the label (the proxy asks the agent to step up).',
        ),
      })
      .meta({
        title: 'Classification labels',
        description:
          'What a label on an MCP server (`mcp-oauth resources label`) changes: public, internal, confidential, personal_data.',
      }),
    agentApproval: setting('MCP_OAUTH_AGENT_APPROVAL', onOff, { default: 'off' }).describe(
      'An administrator approves each new agent (a new registration, or a metadata-document URL never seen) before ' +
        'any user can consent to it; users see "waiting for approval" until then. Agents that already hold or held a ' +
        'grant count as approved.',
    ),
    deviceFlow: setting('MCP_OAUTH_DEVICE_FLOW', onOff, { default: 'on' }).describe(
      'The device authorization grant (RFC 8628) for agents without a browser: `/device/auth` and the `/device` page.',
    ),
    openRegistrationFetchedUris: setting('MCP_OAUTH_OPEN_REGISTRATION_FETCHED_URIS', onOff, {
      default: 'off',
    }).describe(
      'Open registration may name URLs the server then fetches (`jwks_uri`, `sector_identifier_uri`) and use ' +
        '`private_key_jwt`. Off by default: in open registration anyone chooses those URLs. Token-mode registration may always.',
    ),
    keyActivationDelay: setting('MCP_OAUTH_KEY_ACTIVATION_DELAY', duration(0, 30 * DAY), { default: '15m' }).describe(
      'Default delay before a key made by `mcp-oauth keys rotate` starts signing, so caches pick it up first.',
    ),
    purgeInterval: setting('MCP_OAUTH_PURGE_INTERVAL', duration(10, DAY), { default: '1h' }).describe(
      'How often expired rows are deleted.',
    ),
    shutdownTimeout: setting('MCP_OAUTH_SHUTDOWN_TIMEOUT', duration(0, 600), { default: '8s' }).describe(
      "How long SIGTERM waits for requests in flight before cutting them (keep it under Docker's 10 s stop grace " +
        'period).',
    ),
    auditRetention: setting('MCP_OAUTH_AUDIT_RETENTION', duration(DAY, 3650 * DAY), { default: '90d' }).describe(
      'Audit events older than this are deleted.',
    ),
    logLevel: setting('MCP_OAUTH_LOG_LEVEL', oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'silent']), {
      default: 'info',
    }).describe('JSON logs on stdout (readable text on a terminal); tokens, codes and passwords are never logged.'),
    refreshReuseGrace: setting('MCP_OAUTH_REFRESH_REUSE_GRACE', duration(0, 300), { default: '10s' }).describe(
      'How long a rotated-out refresh token may still be presented by its own client (agents whose processes ' +
        'race); `0` turns it off, and any reuse revokes the grant.',
    ),
    dpopRequireNonce: setting('MCP_OAUTH_DPOP_REQUIRE_NONCE', flag, { default: 'false' }).describe(
      'DPoP proofs at the token endpoint must carry a nonce this server issued (RFC 9449 §8): one more round trip ' +
        'per token request, and proofs an agent made in advance are useless. Nonces are valid on every node and ' +
        'across restarts.',
    ),
    metricsToken: setting('MCP_OAUTH_METRICS_TOKEN', bearerSecret(32, ', e.g. from: openssl rand -hex 32'), {
      secret: true,
    }).describe('Bearer token for `GET /metrics`; without it `/metrics` is not served.'),
    unusedClientTtl: setting('MCP_OAUTH_UNUSED_CLIENT_TTL', duration(60, 365 * DAY), { default: '1d' }).describe(
      'Registrations that never completed an authorization are deleted after this.',
    ),
    maxUnusedClients: setting('MCP_OAUTH_MAX_UNUSED_CLIENTS', count(1, 1_000_000), { default: '1000' }).describe(
      'At most this many never-used registrations at once; further registrations get `429`.',
    ),
    secondFactor: setting('MCP_OAUTH_SECOND_FACTOR', oneOf(['off', 'everyone', 'admins', 'write']), {
      default: 'off',
    }).describe(
      'Who must sign in with a second factor (a TOTP code after the password) or a passkey: `everyone`, `admins` ' +
        '(also for the admin console), `write` (anyone allowing an agent a scope that can change data), or `off` ' +
        '(only users who set one up). docs/sign-in.md.',
    ),
    loginThrottle: z
      .object({
        perUserAndAddress: setting('MCP_OAUTH_LOGIN_FAILURES_PER_USER_AND_ADDRESS', count(1, 1000), {
          default: '5',
        }).describe('Failed sign-ins for one username from one address before the back-off starts.'),
        perUser: setting('MCP_OAUTH_LOGIN_FAILURES_PER_USER', count(1, 100_000), { default: '20' }).describe(
          'Failed sign-ins for one username from all addresses (distributed guessing); not applied at addresses ' +
            'where that user signed in successfully before.',
        ),
        perAddress: setting('MCP_OAUTH_LOGIN_FAILURES_PER_ADDRESS', count(1, 100_000), { default: '50' }).describe(
          'Failed sign-ins from one address, any usernames, before the back-off starts.',
        ),
        window: setting('MCP_OAUTH_LOGIN_FAILURE_WINDOW', duration(60, DAY), { default: '15m' }).describe(
          'Quiet time after the last failure when the counts start again from zero.',
        ),
        firstBlock: setting('MCP_OAUTH_LOGIN_FIRST_BLOCK', duration(1, 3600), { default: '1s' }).describe(
          'The first block; each further failure doubles it (capped at `MCP_OAUTH_LOGIN_MAX_BLOCK`).',
        ),
        maxBlock: setting('MCP_OAUTH_LOGIN_MAX_BLOCK', duration(1, DAY), { default: '15m' }).describe(
          'The longest single block: the back-off never becomes a lockout.',
        ),
      })
      .meta({
        title: 'Sign-in back-off',
        description:
          'Counts of failed sign-ins, and how long they block further attempts. There is no permanent lockout.',
      }),
    rateLimits: z
      .object({
        token: setting('MCP_OAUTH_RATE_LIMIT_TOKEN', perMinute, { default: '1200' }).describe(
          '`POST /token` and `POST /revoke`.',
        ),
        authorize: setting('MCP_OAUTH_RATE_LIMIT_AUTHORIZE', perMinute, { default: '60' }).describe(
          '`GET`/`POST /authorize`: each may fetch a client metadata document and start an interaction.',
        ),
        registration: setting('MCP_OAUTH_RATE_LIMIT_REGISTRATION', perMinute, { default: '120' }).describe(
          '`/register` and `/register/{client_id}`.',
        ),
        introspection: setting('MCP_OAUTH_RATE_LIMIT_INTROSPECTION', perMinute, { default: '3000' }).describe(
          '`/introspect`.',
        ),
        feed: setting('MCP_OAUTH_RATE_LIMIT_FEED', perMinute, { default: '600' }).describe(
          '`/revocations` and `/revocations/stream`.',
        ),
        device: setting('MCP_OAUTH_RATE_LIMIT_DEVICE', perMinute, { default: '20' }).describe(
          '`POST /device` (entering and confirming a device code): throttles guessing of user codes.',
        ),
        admin: setting('MCP_OAUTH_RATE_LIMIT_ADMIN', perMinute, { default: '600' }).describe('`/admin/api/…`.'),
      })
      .meta({
        title: 'Rate limits',
        description: 'Requests per minute per client address on each group of endpoints; `0` means no limit.',
      }),
    sso: z
      .object({
        providersFile: setting('MCP_OAUTH_IDPS_FILE', filePath).describe(
          "JSON file listing the organisation's OpenID Connect identity providers users may sign in with " +
            '(docs/single-sign-on.md); client secrets come from the files or variables it names.',
        ),
        passwordLogin: setting('MCP_OAUTH_PASSWORD_LOGIN', onOff, { default: 'on' }).describe(
          'Sign-in with a username and password on the sign-in pages; `off` leaves only the identity providers.',
        ),
        recheckInterval: setting('MCP_OAUTH_IDP_RECHECK_INTERVAL', duration(0, 30 * DAY), { default: '1h' }).describe(
          "How long a user's standing at their identity provider is trusted: an agent's refresh after that asks " +
            'the provider again (with its refresh token) and fails if the user is disabled or left the allowed ' +
            'groups there, or cannot be asked; `0` asks at every refresh.',
        ),
      })
      .meta({
        title: 'Single sign-on',
        description: "Sign-in with the organisation's identity providers (OpenID Connect).",
      }),
    clientMetadataDocuments: z
      .object({
        enabled: setting('MCP_OAUTH_CIMD', onOff, { default: 'on' }).describe(
          'Accept agents whose `client_id` is an https URL of their metadata document.',
        ),
        allowDomains: setting('MCP_OAUTH_CIMD_ALLOW_DOMAINS', domainList, { default: '' }).describe(
          'Only documents from these domains; empty means every domain not denied.',
        ),
        denyDomains: setting('MCP_OAUTH_CIMD_DENY_DOMAINS', domainList, { default: '' }).describe(
          'Never documents from these domains.',
        ),
        cacheMin: setting('MCP_OAUTH_CIMD_CACHE_MIN', duration(0, DAY), { default: '5m' }).describe(
          'Shortest time a document is cached, whatever its `Cache-Control` says; at most `MCP_OAUTH_CIMD_CACHE_MAX`.',
        ),
        cacheMax: setting('MCP_OAUTH_CIMD_CACHE_MAX', duration(60, 7 * DAY), { default: '1d' }).describe(
          'Longest time a document is cached.',
        ),
        maxBytes: setting('MCP_OAUTH_CIMD_MAX_BYTES', count(1024, 65536), { default: '5120' }).describe(
          'Size cap of a document, in bytes.',
        ),
        trustedClientIds: setting(
          'MCP_OAUTH_CIMD_TRUSTED_CLIENT_IDS',
          list('comma-separated https URLs', /^https:\/\/[^\s,]+$/, 'must be a comma-separated list of https URLs'),
          { default: '' },
        ).describe(
          "Vendors' documents trusted as they change: a client id URL, or every client id under a URL ending in " +
            '`/`. Their grants are not asked again when the name or a redirect host changes, and they need no ' +
            'approval (`MCP_OAUTH_AGENT_APPROVAL`).',
        ),
        devLoopbackHosts: setting('MCP_OAUTH_CIMD_DEV_LOOPBACK_HOSTS', domainList, { default: '' }).describe(
          'Development and tests only: host names whose documents may be served from a loopback address. ' +
            'Refused with `MCP_OAUTH_TRUST_PROXY` or a non-loopback issuer.',
        ),
        devCaFile: setting('MCP_OAUTH_CIMD_DEV_CA_FILE', filePath).describe(
          'Development and tests only: a PEM file of extra CA certificates trusted for documents. Refused with ' +
            '`MCP_OAUTH_TRUST_PROXY` or a non-loopback issuer.',
        ),
      })
      .meta({
        title: 'Client ID Metadata Documents',
        description: 'Agents whose `client_id` is an https URL of a JSON document describing them.',
      }),
    alerts: z
      .object({
        webhookUrl: setting('MCP_OAUTH_ALERT_WEBHOOK_URL', text('absolute https URL')).describe(
          'Each alert is POSTed here as JSON, signed with `MCP_OAUTH_ALERT_WEBHOOK_SECRET` (docs/operating.md#alerts). ' +
            'Must be https unless it is a loopback address.',
        ),
        webhookSecret: setting('MCP_OAUTH_ALERT_WEBHOOK_SECRET', secret(32, ', e.g. from: openssl rand -hex 32'), {
          secret: true,
        }).describe('HMAC-SHA256 key of the `X-MCP-OAuth-Signature` header; required with a webhook URL.'),
        tokenRateFactor: setting('MCP_OAUTH_ALERT_TOKEN_RATE_FACTOR', count(0, 1000), { default: '10' }).describe(
          'An agent getting this many times its usual hourly tokens (its average over the past week) raises an ' +
            'alert; `0` turns the rule off.',
        ),
        tokenRateMin: setting('MCP_OAUTH_ALERT_TOKEN_RATE_MIN', count(1, 1_000_000), { default: '60' }).describe(
          'Fewest tokens in an hour for the rate rule to fire, whatever the usual rate.',
        ),
        registrationsPerHour: setting('MCP_OAUTH_ALERT_REGISTRATIONS_PER_HOUR', count(0, 1_000_000), {
          default: '20',
        }).describe('Registrations from one address within an hour that raise an alert; `0` turns the rule off.'),
        newAddressWindow: setting('MCP_OAUTH_ALERT_NEW_ADDRESS_WINDOW', duration(0, DAY), { default: '30m' }).describe(
          'Consent to a write scope this soon after a sign-in from an address the user never signed in from raises ' +
            'an alert; `0` turns the rule off.',
        ),
        unusualHourHistory: setting('MCP_OAUTH_ALERT_UNUSUAL_HOUR_HISTORY', duration(0, 365 * DAY), {
          default: '14d',
        }).describe(
          'History a user needs before tokens at an hour of the day (UTC) they never used in the past 30 days raise ' +
            'an alert; `0` turns the rule off.',
        ),
      })
      .meta({
        title: 'Alerts',
        description:
          'Patterns in the audit trail an admin should look at: shown in the console, counted in `/metrics`, and ' +
          'sent to an optional webhook.',
      }),
  })
  .meta({
    title: 'Authorization server',
    description: 'Read by `mcp-oauth serve` and by every other `mcp-oauth` command (they open the same database).',
  });

export type ServerSettings = z.output<typeof serverSettings>;
