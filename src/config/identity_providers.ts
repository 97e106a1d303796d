// The organisation's identity providers (OpenID Connect), from the JSON file MCP_OAUTH_IDPS_FILE
// names. Any number of providers needs a list, which one environment variable per field cannot
// declare once; the file holds no secret itself: each client secret comes from a file
// (`client_secret_file`) or a variable (`client_secret_env`) the entry names. docs/single-sign-on.md
// describes the fields.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isLoopbackHost } from '../lib/loopback.js';
import type { Env, Problems } from './read.js';

const VARIABLE = 'MCP_OAUTH_IDPS_FILE';

const names = z.array(z.string().min(1).max(256)).max(100);

const entry = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'name: 1-32 lower-case letters, digits and -'),
    display_name: z.string().min(1).max(64),
    issuer: z.string().min(1).max(512),
    client_id: z.string().min(1).max(512),
    client_secret_file: z.string().min(1).optional(),
    client_secret_env: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .optional(),
    scopes: z
      .string()
      .regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/)
      .default('openid email profile offline_access'),
    accounts: z.enum(['create', 'existing']).default('create'),
    link_by_email: z.boolean().default(false),
    allowed_email_domains: names.default([]),
    groups_claim: z.string().min(1).max(64).default('groups'),
    allowed_groups: names.default([]),
    admin_groups: names.default([]),
    // Enterprise-managed authorization (ID-JAG): this provider may grant agents access without a
    // consent page, to these MCP servers and scopes only.
    id_jag: z
      .object({
        resources: z.array(z.string().url().max(512)).min(1).max(100),
        scopes: names.min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface IdentityProviderConfig {
  /** In URLs (/sso/start/NAME) and in the audit trail. */
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  /** None: a public client (PKCE alone). */
  clientSecret?: string;
  scopes: string;
  /** `create`: a first sign-in creates the user; `existing`: only users already here. */
  accounts: 'create' | 'existing';
  /** An unlinked upstream account with a verified email signs in as the user of that name. */
  linkByEmail: boolean;
  /** Lower-case domains; empty: any. */
  allowedEmailDomains: string[];
  groupsClaim: string;
  /** Empty: anyone the provider signs in. */
  allowedGroups: string[];
  /** Members are admins here, others are not; empty: the admin role is managed here. */
  adminGroups: string[];
  /** Plain http to this provider: only a loopback provider for a loopback server (development, tests). */
  insecureLoopback: boolean;
  /** Identity Assertion JWT Authorization Grants this provider may issue; none: not trusted for them. */
  idJag?: { resources: string[]; scopes: string[] };
}

/**
 * Reads and checks the file. `serverIsLocal`: this server's issuer is a loopback URL and no proxy
 * is trusted, the only case where an http provider on loopback is accepted.
 */
export function readIdentityProviders(
  file: string | undefined,
  env: Env,
  serverIsLocal: boolean,
  problems: Problems,
): IdentityProviderConfig[] {
  if (file === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    problems.add(VARIABLE, `${VARIABLE}: cannot read the file it names as JSON`);
    return [];
  }
  const parsed = z.array(entry).min(1).max(20).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The path and message name the field; the value (perhaps pasted secrets) is never repeated.
    problems.add(VARIABLE, `${VARIABLE}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    return [];
  }
  const out: IdentityProviderConfig[] = [];
  const seen = new Set<string>();
  for (const [i, p] of parsed.data.entries()) {
    const where = `${VARIABLE}: entry ${i} (${p.name})`;
    if (seen.has(p.name)) {
      problems.add(VARIABLE, `${where}: the name is used twice`);
      return [];
    }
    seen.add(p.name);
    const url = URL.parse(p.issuer);
    const loopback = url !== null && isLoopbackHost(url.hostname);
    if (!url || url.search || url.hash || url.username || url.password) {
      problems.add(VARIABLE, `${where}: issuer must be an absolute URL without query, fragment or userinfo`);
      return [];
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && serverIsLocal)) {
      problems.add(
        VARIABLE,
        `${where}: issuer must be https (plain http only for a loopback provider of a loopback server without MCP_OAUTH_TRUST_PROXY)`,
      );
      return [];
    }
    if (p.client_secret_file !== undefined && p.client_secret_env !== undefined) {
      problems.add(VARIABLE, `${where}: set client_secret_file or client_secret_env, not both`);
      return [];
    }
    let clientSecret: string | undefined;
    if (p.client_secret_file !== undefined) {
      try {
        clientSecret = readFileSync(p.client_secret_file, 'utf8').trim();
      } catch {
        problems.add(VARIABLE, `${where}: cannot read client_secret_file`);
        return [];
      }
    } else if (p.client_secret_env !== undefined) {
      clientSecret = env[p.client_secret_env]?.trim();
    }
    if (clientSecret === '' || (clientSecret === undefined && p.client_secret_env !== undefined)) {
      problems.add(VARIABLE, `${where}: the client secret it names is empty or unset`);
      return [];
    }
    if (!p.scopes.split(' ').includes('openid')) {
      problems.add(VARIABLE, `${where}: scopes must include openid`);
      return [];
    }
    if (p.accounts === 'existing' && !p.link_by_email) {
      problems.add(VARIABLE, `${where}: accounts "existing" needs link_by_email (users are found by their email)`);
      return [];
    }
    if (p.accounts === 'create' && p.allowed_email_domains.length === 0 && p.allowed_groups.length === 0) {
      // Deny by default: a public provider (Google, Microsoft personal accounts) signs in anyone.
      problems.add(
        VARIABLE,
        `${where}: accounts "create" needs allowed_email_domains or allowed_groups, or anyone the provider signs in would get an account here`,
      );
      return [];
    }
    out.push({
      name: p.name,
      displayName: p.display_name,
      issuer: p.issuer,
      clientId: p.client_id,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      scopes: p.scopes,
      accounts: p.accounts,
      linkByEmail: p.link_by_email,
      allowedEmailDomains: p.allowed_email_domains.map((d) => d.toLowerCase()),
      groupsClaim: p.groups_claim,
      allowedGroups: p.allowed_groups,
      adminGroups: p.admin_groups,
      insecureLoopback: url.protocol === 'http:',
      ...(p.id_jag === undefined ? {} : { idJag: { resources: p.id_jag.resources, scopes: p.id_jag.scopes } }),
    });
  }
  return out;
}
