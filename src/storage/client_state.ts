// What we know of each agent besides its oidc-provider metadata: how it registered, first and last
// use, and whether an admin disabled it; for metadata-document agents also their last-seen name and
// redirect URIs; domains an admin disabled; and initial access tokens for registration.
import { createHash, randomBytes } from 'node:crypto';
import { BoundedMap } from '../lib/bounded_map.js';
import { isHostName, normaliseHostName } from '../lib/host_names.js';
import type { Sql } from './engine.js';

export interface ClientState {
  clientId: string;
  registeredVia: string;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
  disabledAt: number | null;
  disabledBy: string | null;
  /** Metadata-document agents: the client_name and redirect URIs of the document last used. */
  name: string | null;
  redirectUris: string[];
}

export const METADATA_DOCUMENT = 'metadata_document';

interface Row {
  client_id: string;
  registered_via: string;
  first_used_at: number | null;
  last_used_at: number | null;
  disabled_at: number | null;
  disabled_by: string | null;
  name: string | null;
  redirect_uris: string | null;
}

function parseUris(raw: string | null): string[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return [];
  }
}

/** Seconds within which a stored "last used" time counts as current (also for grant records). */
export const LAST_USED_RESOLUTION = 60;

/**
 * The "last used" marks this process wrote in the last LAST_USED_RESOLUTION seconds, so a busy
 * agent's every token does not send the database an update that would change nothing (the
 * statements' own condition stays the rule; another node's marks are found there). Bounded:
 * forgetting costs only a statement.
 */
export function recentUseMarks(limit = 100_000) {
  const marked = new BoundedMap<string, number>(limit);
  return {
    /** Whether a mark for `key` at `now` may change something. */
    due(key: string, now: number): boolean {
      const at = marked.get(key);
      return at === undefined || now < at || now - at > LAST_USED_RESOLUTION;
    },
    noted(key: string, now: number): void {
      marked.set(key, now);
    },
  };
}

export type ClientStateRepository = ReturnType<typeof createClientStateRepository>;

const REGISTERED =
  'INSERT INTO client_state (client_id, registered_via) VALUES (?, ?) ON CONFLICT (client_id) DO NOTHING';
// "Last used" is kept to the minute: a value already within the last LAST_USED_RESOLUTION
// seconds is left as it is, so an agent busy refreshing tokens does not rewrite its row (a
// write transaction and WAL frames) on every request. The first use is always recorded.
const USED = `
  INSERT INTO client_state (client_id, registered_via, first_used_at, last_used_at) VALUES (@id, 'unknown', @now, @now)
  ON CONFLICT (client_id) DO UPDATE SET first_used_at = COALESCE(client_state.first_used_at, @now), last_used_at = @now
  WHERE client_state.first_used_at IS NULL OR client_state.last_used_at IS NULL
    OR client_state.last_used_at NOT BETWEEN @now - ${LAST_USED_RESOLUTION} AND @now`;
const BY_ID = 'SELECT * FROM client_state WHERE client_id = ?';
const ALL = 'SELECT * FROM client_state';
const SEEN = `
  INSERT INTO client_state (client_id, registered_via, name, redirect_uris) VALUES (@id, '${METADATA_DOCUMENT}', @name, @uris)
  ON CONFLICT (client_id) DO UPDATE SET registered_via = '${METADATA_DOCUMENT}', name = @name, redirect_uris = @uris
  WHERE client_state.name IS DISTINCT FROM @name OR client_state.redirect_uris IS DISTINCT FROM @uris
    OR client_state.registered_via <> '${METADATA_DOCUMENT}'`;
const BLOCK_DOMAIN =
  'INSERT INTO client_domain_blocks (domain, blocked_at, blocked_by) VALUES (?, ?, ?) ON CONFLICT (domain) DO NOTHING';
const UNBLOCK_DOMAIN = 'DELETE FROM client_domain_blocks WHERE domain = ?';
const BLOCKED_DOMAINS = 'SELECT domain, blocked_at, blocked_by FROM client_domain_blocks ORDER BY domain';
const IS_DISABLED = 'SELECT 1 AS one FROM client_state WHERE client_id = ? AND disabled_at IS NOT NULL';
// Metadata-document agents are recorded once an authorization completes; rows of ones that never
// got a grant (written on first sight by earlier versions, one per URL anyone invented) go.
const PURGE_UNUSED_DOCUMENTS = `DELETE FROM client_state
  WHERE registered_via = '${METADATA_DOCUMENT}' AND first_used_at IS NULL AND disabled_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM grant_records g WHERE g.client_id = client_state.client_id)`;
/** Host names have at most 127 labels; one placeholder per candidate domain (no engine's JSON table functions). */
const domainBlocked = (n: number) =>
  `SELECT 1 AS one FROM client_domain_blocks WHERE domain IN (${Array.from({ length: n }, () => '?').join(', ')}) LIMIT 1`;

export function createClientStateRepository(sql: Sql) {
  const toState = (r: Row): ClientState => ({
    clientId: r.client_id,
    registeredVia: r.registered_via,
    firstUsedAt: r.first_used_at,
    lastUsedAt: r.last_used_at,
    disabledAt: r.disabled_at,
    disabledBy: r.disabled_by,
    name: r.name,
    redirectUris: parseUris(r.redirect_uris),
  });
  return {
    async registered(clientId: string, via: string): Promise<void> {
      await sql.run(REGISTERED, [clientId, via]);
    },
    /** Marks the agent used at `now`; true when that changed its row. */
    async used(clientId: string, now: number): Promise<boolean> {
      return (await sql.run(USED, { id: clientId, now })).changes > 0;
    },
    async find(clientId: string): Promise<ClientState | undefined> {
      const row = await sql.get<Row>(BY_ID, [clientId]);
      return row && toState(row);
    },
    async all(): Promise<Map<string, ClientState>> {
      return new Map((await sql.all<Row>(ALL)).map((r) => [r.client_id, toState(r)]));
    },
    async isDisabled(clientId: string): Promise<boolean> {
      return (await sql.get(IS_DISABLED, [clientId])) !== undefined;
    },
    /**
     * A metadata-document agent was used: remember what its document says (written only on
     * change). True the first time this agent is seen.
     */
    async seen(clientId: string, name: string | null, redirectUris: readonly string[]): Promise<boolean> {
      return sql.transaction(async () => {
        const before = await sql.get<Row>(`${BY_ID}${sql.dialect.forUpdate}`, [clientId]);
        await sql.run(SEEN, { id: clientId, name, uris: JSON.stringify(redirectUris.slice(0, 20)) });
        return before?.registered_via !== METADATA_DOCUMENT;
      });
    },
    /** Forgets metadata-document agents that never got a grant nor a token. Returns how many. */
    async purgeUnusedDocuments(): Promise<number> {
      return (await sql.run(PURGE_UNUSED_DOCUMENTS)).changes;
    },
    /** Disables fetching documents from the domain and every subdomain of it. */
    async blockDomain(domain: string, by: string, now: number): Promise<boolean> {
      return (await sql.run(BLOCK_DOMAIN, [normaliseDomain(domain), now, by])).changes > 0;
    },
    async unblockDomain(domain: string): Promise<boolean> {
      return (await sql.run(UNBLOCK_DOMAIN, [normaliseDomain(domain)])).changes > 0;
    },
    async blockedDomains(): Promise<{ domain: string; blockedAt: number; blockedBy: string }[]> {
      const rows = await sql.all<{ domain: string; blocked_at: number; blocked_by: string }>(BLOCKED_DOMAINS);
      return rows.map((r) => ({ domain: r.domain, blockedAt: r.blocked_at, blockedBy: r.blocked_by }));
    },
    /** Whether the host or any parent domain of it is blocked. */
    async isDomainBlocked(host: string): Promise<boolean> {
      const labels = normaliseDomain(host).split('.');
      const candidates = labels.map((_, i) => labels.slice(i).join('.'));
      return (await sql.get(domainBlocked(candidates.length), candidates)) !== undefined;
    },
  };
}

export const normaliseDomain = normaliseHostName;

/** What a domain block accepts: a host name as the metadata-document lists take it (src/lib/host_names.ts). */
export const isDomainName = isHostName;

export interface RegistrationToken {
  id: string;
  label: string;
  createdAt: number;
  expiresAt: number;
  usesLeft: number | null;
  lastUsedAt: number | null;
}

interface TokenRow {
  id: string;
  label: string;
  created_at: number;
  expires_at: number;
  uses_left: number | null;
  last_used_at: number | null;
}

/** A prefix lets secret scanners recognise a leaked token. */
export const REGISTRATION_TOKEN_PREFIX = 'mcpreg_';
const TOKEN_SHAPE = /^mcpreg_[A-Za-z0-9_-]{43}$/;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export type RegistrationTokenRepository = ReturnType<typeof createRegistrationTokenRepository>;

/** Initial access tokens (RFC 7591 §3) for MCP_OAUTH_REGISTRATION=token. */
const INSERT_TOKEN =
  'INSERT INTO registration_tokens (id, token_hash, label, created_at, expires_at, uses_left) VALUES (@id, @hash, @label, @now, @exp, @uses)';
// One statement: a token with one use left cannot be spent twice by concurrent registrations.
const SPEND = `UPDATE registration_tokens
  SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END, last_used_at = @now
  WHERE token_hash = @hash AND expires_at > @now AND (uses_left IS NULL OR uses_left > 0)`;
const REFUND =
  'UPDATE registration_tokens SET uses_left = uses_left + 1 WHERE token_hash = ? AND uses_left IS NOT NULL';
const ALL_TOKENS =
  'SELECT id, label, created_at, expires_at, uses_left, last_used_at FROM registration_tokens ORDER BY created_at, id';
const REMOVE_TOKEN = 'DELETE FROM registration_tokens WHERE id = ?';
const PURGE_TOKENS = 'DELETE FROM registration_tokens WHERE expires_at <= ? OR uses_left = 0';

export function createRegistrationTokenRepository(sql: Sql) {
  const toToken = (r: TokenRow): RegistrationToken => ({
    id: r.id,
    label: r.label,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usesLeft: r.uses_left,
    lastUsedAt: r.last_used_at,
  });
  return {
    /** The returned `token` is the only copy of the secret. */
    async create(
      label: string,
      ttl: number,
      uses: number | null,
      now: number,
    ): Promise<{ token: string; record: RegistrationToken }> {
      const id = `reg_${randomBytes(9).toString('base64url')}`;
      const token = REGISTRATION_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      await sql.run(INSERT_TOKEN, { id, hash: sha256(token), label, now, exp: now + ttl, uses });
      return {
        token,
        record: { id, label, createdAt: now, expiresAt: now + ttl, usesLeft: uses, lastUsedAt: null },
      };
    },
    /** Uses the token once if it is valid; false for anything else. */
    async spend(token: string, now: number): Promise<boolean> {
      if (!TOKEN_SHAPE.test(token)) return false;
      return (await sql.run(SPEND, { hash: sha256(token), now })).changes === 1;
    },
    /** Gives back a use spent on a registration that was then refused. */
    async refund(token: string): Promise<void> {
      await sql.run(REFUND, [sha256(token)]);
    },
    async list(): Promise<RegistrationToken[]> {
      return (await sql.all<TokenRow>(ALL_TOKENS)).map(toToken);
    },
    async revoke(id: string): Promise<boolean> {
      return (await sql.run(REMOVE_TOKEN, [id])).changes > 0;
    },
    async purge(now: number): Promise<number> {
      return (await sql.run(PURGE_TOKENS, [now])).changes;
    },
  };
}
