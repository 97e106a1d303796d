// `mcp-oauth groups ...`: groups of users and the policy per group (docs/operating.md#groups-and-group-policy).
// The operations and their checks are src/grants/groups.ts.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { describeGroupPolicy } from '../lib/group_policy.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';
import { requireUser } from './users.js';

interface PolicyOptions {
  resource: string[];
  scope: string[];
  readOnly?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerGroupCommands(program: Command, io: CliIo): void {
  const groups = program
    .command('groups')
    .description('groups of users and their policies: which MCP servers and scopes members’ agents may get');
  groups
    .command('list')
    .description('list groups (with their member counts)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => list(io, opts));
  groups
    .command('show')
    .description('a group: its members (added here, or named by an identity provider) and its policy')
    .argument('<group>', 'the group name')
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) => show(io, name, opts));
  groups
    .command('create')
    .description('create a group (an identity provider’s group claim with this name also puts users in it)')
    .argument('<group>', 'the group name')
    .option('--description <text>', 'what the group is for')
    .action((name: string, opts: { description?: string }) =>
      act(io, async (ops) => {
        await ops.createGroup(CLI_ACTOR, name, opts.description ?? '');
        return `group ${name} created`;
      }),
    );
  groups
    .command('remove')
    .description('remove a group, its members and its policy')
    .argument('<group>', 'the group name')
    .action((name: string) =>
      act(io, async (ops) => {
        await ops.removeGroup(CLI_ACTOR, name);
        return `group ${name} removed`;
      }),
    );
  groups
    .command('add')
    .description('put a user in a group; their live grants the group’s policy narrows are cut')
    .argument('<group>', 'the group name')
    .argument('<username>', 'the user')
    .action((name: string, username: string) =>
      act(io, async (ops, stores) => {
        const user = await requireUser(stores.users, username);
        const { added, narrowed } = await ops.addGroupMember(CLI_ACTOR, name, user.id);
        if (!added) return `${username} was already in ${name}`;
        return `${username} added to ${name}${narrowed > 0 ? ` (${narrowed} grant${narrowed === 1 ? '' : 's'} narrowed)` : ''}`;
      }),
    );
  groups
    .command('remove-member')
    .description('take a user out of a group (those named by an identity provider stay until it says otherwise)')
    .argument('<group>', 'the group name')
    .argument('<username>', 'the user')
    .action((name: string, username: string) =>
      act(io, async (ops, stores) => {
        const user = await requireUser(stores.users, username);
        const removed = await ops.removeGroupMember(CLI_ACTOR, name, user.id);
        return removed ? `${username} removed from ${name}` : `${username} was not added to ${name} here`;
      }),
    );
  groups
    .command('set-policy')
    .description(
      'restrict what the agents of the group’s members may get; replaces its policy, applies to live grants at their next refresh',
    )
    .argument('<group>', 'the group name')
    .option('--resource <uri>', 'an MCP server they may use (repeat for several; none: any)', collect, [])
    .option('--scope <scope>', 'a scope they may hold (repeat for several; none: any)', collect, [])
    .option('--read-only', 'no scope an MCP server marks as writing')
    .option('--json', 'print JSON')
    .action((name: string, opts: PolicyOptions) => setPolicy(io, name, opts));
  groups
    .command('remove-policy')
    .description('remove the group’s policy')
    .argument('<group>', 'the group name')
    .action((name: string) =>
      act(io, async (ops) => {
        const { policy } = await ops.describeGroup(name);
        if (!policy || !(await ops.removeGroupPolicy(CLI_ACTOR, policy.id))) {
          throw new CliError(safe(`group ${name} has no policy`));
        }
        return `policy of group ${name} removed`;
      }),
    );
}

type Ops = ReturnType<typeof cliLifecycle>['ops'];
type Stores = ReturnType<typeof cliLifecycle>['stores'];

async function act(io: CliIo, fn: (ops: Ops, stores: Stores) => Promise<string>): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops, stores } = cliLifecycle(command);
    printLine(io, safe(await refused(() => fn(ops, stores))));
  });
}

async function list(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    const groups = await ops.listGroups();
    const policies = await ops.listGroupPolicies();
    const withPolicy = new Set(policies.map((p) => p.groupId));
    if (opts.json) {
      return printJson(
        io,
        groups.map((g) => ({
          id: g.id,
          name: g.name,
          description: g.description,
          members: g.members,
          policy: withPolicy.has(g.id),
        })),
      );
    }
    if (groups.length === 0) return printLine(io, 'no groups');
    printTable(
      io,
      ['GROUP', 'MEMBERS', 'POLICY', 'CREATED', 'DESCRIPTION'],
      groups.map((g) => [
        safe(g.name),
        String(g.members),
        withPolicy.has(g.id) ? 'yes' : 'no',
        formatTime(g.createdAt),
        safe(g.description),
      ]),
    );
  });
}

async function show(io: CliIo, name: string, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    const { group, members, policy } = await refused(() => ops.describeGroup(name));
    if (opts.json) {
      return printJson(io, {
        name: group.name,
        description: group.description,
        members: members.map((m) => ({ username: m.username, source: m.source })),
        policy: policy ? describeGroupPolicy(policy) : null,
      });
    }
    printLine(io, safe(`group ${group.name}${group.description ? `: ${group.description}` : ''}`));
    printLine(
      io,
      policy
        ? safe(
            `policy: servers ${policy.resources?.join(' ') ?? '*'}; scopes ${policy.scopes?.join(' ') ?? '*'}; read-only ${policy.readOnly ? 'yes' : 'no'}`,
          )
        : 'policy: none',
    );
    if (members.length === 0) return printLine(io, 'no members');
    printTable(
      io,
      ['MEMBER', 'HOW'],
      members.map((m) => [safe(m.username), m.source === 'sso' ? 'identity provider' : 'added here']),
    );
  });
}

async function setPolicy(io: CliIo, name: string, opts: PolicyOptions): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    const { policy, narrowed } = await refused(() =>
      ops.setGroupPolicy(CLI_ACTOR, {
        group: name,
        resources: opts.resource.length > 0 ? opts.resource : null,
        scopes: opts.scope.length > 0 ? opts.scope : null,
        readOnly: opts.readOnly === true,
      }),
    );
    if (opts.json) return printJson(io, { policy: describeGroupPolicy(policy), grants_narrowed: narrowed });
    printLine(io, safe(`policy ${policy.id} set for group ${policy.groupName}`));
    if (narrowed > 0) {
      printLine(
        io,
        `${narrowed} grant${narrowed === 1 ? '' : 's'} narrowed: their access tokens are cut, the next refresh follows the policy`,
      );
    }
  });
}
