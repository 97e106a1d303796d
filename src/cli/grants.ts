import { type Command, Option } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { canonicalResource } from '../lib/resource_uri.js';
import { createClientStateRepository } from '../storage/client_state.js';
import { createClientRepository } from '../storage/clients.js';
import type { Sql } from '../storage/engine.js';
import { createGrantRecordRepository, type GrantRecord } from '../storage/grant_records.js';
import { createResourceRepository } from '../storage/resources.js';
import { createUserRepository } from '../storage/users.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle } from './lifecycle.js';
import { requireUser } from './users.js';

interface ListOptions {
  user?: string;
  client?: string;
  resource?: string;
  all?: boolean;
  revoked?: boolean;
  json?: boolean;
}

interface RevokeOptions {
  user?: string;
  client?: string;
}

export function registerGrantCommands(program: Command, io: CliIo): void {
  const grants = program
    .command('grants')
    .description('list and revoke grants: what a user allowed an agent on an MCP server');
  grants
    .command('list')
    .description('list active grants (or all, or only revoked ones)')
    .option('--user <username>', "only this user's grants")
    .option('--client <client_id>', "only this agent's grants")
    .option('--resource <uri>', 'only grants for this MCP server')
    .addOption(new Option('--all', 'active and revoked grants').conflicts('revoked'))
    .option('--revoked', 'only revoked grants')
    .option('--json', 'print JSON')
    .action((opts: ListOptions) => listGrants(io, opts));
  grants
    .command('revoke')
    .description(
      'revoke one grant, or every grant of a user (optionally only to one agent); its tokens stop working at once',
    )
    .argument('[grant_id]', 'the grant to revoke')
    .option('--user <username>', 'revoke every grant of this user')
    .option('--client <client_id>', 'with --user: only the grants to this agent')
    .action((grantId: string | undefined, opts: RevokeOptions) => revokeGrants(io, grantId, opts));
}

/** Registered, or an agent known by its metadata document. */
async function knownClient(sql: Sql, clientId: string): Promise<boolean> {
  return (
    (await createClientRepository(sql).find(clientId)) !== undefined ||
    (await createClientStateRepository(sql).find(clientId)) !== undefined
  );
}

/** Names of agents and users, looked up once per listing. */
function namer(sql: Sql) {
  const users = createUserRepository(sql);
  const clients = createClientRepository(sql);
  const usernames = new Map<string, string | null>();
  const agentNames = new Map<string, string | null>();
  return {
    async username(id: string): Promise<string | null> {
      if (!usernames.has(id)) usernames.set(id, (await users.findById(id))?.username ?? null);
      return usernames.get(id) ?? null;
    },
    async agentName(id: string): Promise<string | null> {
      if (!agentNames.has(id)) {
        const name = (await clients.find(id))?.metadata.client_name;
        agentNames.set(id, typeof name === 'string' ? name : null);
      }
      return agentNames.get(id) ?? null;
    },
  };
}

async function grantJson(g: GrantRecord, names: ReturnType<typeof namer>) {
  return {
    id: g.id,
    user: { id: g.accountId, username: await names.username(g.accountId) },
    agent: { id: g.clientId, name: await names.agentName(g.clientId) },
    resource: g.resource,
    scopes: g.scopes,
    obtainedVia: g.obtainedVia,
    createdAt: g.createdAt,
    lastUsedAt: g.lastUsedAt,
    revokedAt: g.revokedAt,
    revokedBy: g.revokedBy,
    revokeReason: g.revokeReason,
  };
}

async function listGrants(io: CliIo, opts: ListOptions): Promise<void> {
  let resource: string | undefined;
  if (opts.resource !== undefined) {
    const canonical = canonicalResource(opts.resource);
    if (!canonical.ok) throw new CliError(`--resource: ${canonical.reason}`);
    resource = canonical.uri;
  }
  await withDatabase(io, async ({ sql }) => {
    const accountId =
      opts.user === undefined ? undefined : (await requireUser(createUserRepository(sql), opts.user)).id;
    const state = opts.all ? 'all' : opts.revoked ? 'revoked' : 'active';
    const records = await createGrantRecordRepository(sql).list({ accountId, clientId: opts.client, resource, state });
    // A typo must not read as "no grants", as an unknown --user does not. Gone agents and MCP
    // servers may still have grants on record, so those are listed.
    if (records.length === 0) {
      if (resource !== undefined && !(await createResourceRepository(sql).findByUri(resource))) {
        throw new CliError(`no resource ${safe(resource)}; mcp-oauth resources list shows them`);
      }
      if (opts.client !== undefined && !(await knownClient(sql, opts.client))) {
        throw new CliError(`no client ${safe(JSON.stringify(opts.client))}; mcp-oauth clients list shows them`);
      }
    }
    const names = namer(sql);
    const grants = [];
    for (const g of records) grants.push(await grantJson(g, names));
    if (opts.json) return printJson(io, grants);
    if (grants.length === 0) return printLine(io, state === 'active' ? 'no active grants' : 'no grants');
    printTable(
      io,
      ['ID', 'USER', 'AGENT', 'RESOURCE', 'SCOPES', 'CREATED', 'LAST_USED', 'REVOKED'],
      grants.map((g) => [
        g.id,
        g.user.username ?? g.user.id,
        g.agent.name ? `${g.agent.name} (${g.agent.id})` : g.agent.id,
        g.resource,
        g.scopes.join(' ') || '-',
        formatTime(g.createdAt),
        formatTime(g.lastUsedAt),
        g.revokedAt === null ? '-' : `${formatTime(g.revokedAt)} by ${g.revokedBy ?? '?'}`,
      ]),
    );
  });
}

/** Exactly one form: GRANT_ID, or --user USERNAME [--client C]. */
function revokeForm(grantId: string | undefined, opts: RevokeOptions): 'grant' | 'user' {
  if (grantId !== undefined && (opts.user !== undefined || opts.client !== undefined)) {
    throw new CliError('give either GRANT_ID or --user USERNAME [--client CLIENT_ID], not both');
  }
  if (grantId !== undefined) return 'grant';
  if (opts.user !== undefined) return 'user';
  if (opts.client !== undefined) {
    throw new CliError(
      '--client needs --user USERNAME; to cut an agent off everywhere: mcp-oauth clients disable CLIENT_ID',
    );
  }
  throw new CliError('give a GRANT_ID, or --user USERNAME [--client CLIENT_ID]');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function revokeGrants(io: CliIo, grantId: string | undefined, opts: RevokeOptions): Promise<void> {
  const form = revokeForm(grantId, opts);
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    if (form === 'grant') {
      const id = grantId as string;
      const outcome = await ops.revokeGrant(CLI_ACTOR, id);
      if (outcome === 'unknown') throw new CliError(`no grant ${safe(JSON.stringify(id))}`);
      if (outcome === 'already') {
        const at = (await stores.grantRecords.find(id))?.revokedAt;
        return printLine(io, safe(`grant ${id} was already revoked at ${formatTime(at)}`));
      }
      return printLine(io, safe(`revoked grant ${id}`));
    }
    const user = await requireUser(createUserRepository(command.sql), opts.user as string);
    const ids = await ops.revokeUserGrants(CLI_ACTOR, user, opts.client ?? null);
    const to = opts.client === undefined ? '' : ` to client ${opts.client}`;
    printLine(io, safe(`revoked ${plural(ids.length, 'grant')} of ${user.username}${to}`));
  });
}
