// `mcp-oauth policy list|set|remove`: per-agent policy (which MCP servers and scopes an agent may
// get, read-only). The operation and its checks are src/grants/policy.ts.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { describePolicy } from '../lib/agent_policy.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';

interface SetOptions {
  client?: string;
  domain?: string;
  resource: string[];
  scope: string[];
  readOnly?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPolicyCommands(program: Command, io: CliIo): void {
  const policy = program
    .command('policy')
    .description('per-agent policy: which MCP servers and scopes an agent may get (docs/operating.md)');
  policy
    .command('list')
    .description('list agent policies')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => list(io, opts));
  policy
    .command('set')
    .description(
      'restrict an agent (by client id or metadata-document URL) or every metadata-document agent of a domain; replaces its policy, and applies to live grants at their next refresh',
    )
    .option('--client <client_id>', 'the agent: its client id (a metadata-document URL is one)')
    .option('--domain <domain>', 'every metadata-document agent served from this domain or a subdomain')
    .option('--resource <uri>', 'an MCP server it may use (repeat for several; none: any)', collect, [])
    .option('--scope <scope>', 'a scope it may hold (repeat for several; none: any)', collect, [])
    .option('--read-only', 'no scope an MCP server marks as writing')
    .option('--json', 'print JSON')
    .action((opts: SetOptions) => set(io, opts));
  policy
    .command('remove')
    .description('remove an agent policy (by the id `policy list` shows)')
    .argument('<id>', 'the policy id')
    .action((id: string) => remove(io, id));
}

async function list(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async (command) => {
    const policies = await cliLifecycle(command).ops.listAgentPolicies();
    if (opts.json) return printJson(io, policies.map(describePolicy));
    if (policies.length === 0) return printLine(io, 'no agent policies');
    printTable(
      io,
      ['ID', 'AGENT', 'RESOURCES', 'SCOPES', 'READ_ONLY', 'UPDATED'],
      policies.map((p) => [
        String(p.id),
        safe(`${p.match.kind === 'domain' ? 'domain ' : ''}${p.match.value}`),
        safe(p.resources?.join(' ') ?? '*'),
        safe(p.scopes?.join(' ') ?? '*'),
        p.readOnly ? 'yes' : 'no',
        formatTime(p.updatedAt),
      ]),
    );
  });
}

async function set(io: CliIo, opts: SetOptions): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    const { policy, narrowed } = await refused(() =>
      ops.setAgentPolicy(CLI_ACTOR, {
        clientId: opts.client,
        domain: opts.domain,
        resources: opts.resource.length > 0 ? opts.resource : null,
        scopes: opts.scope.length > 0 ? opts.scope : null,
        readOnly: opts.readOnly === true,
      }),
    );
    if (opts.json) return printJson(io, { policy: describePolicy(policy), agents_narrowed: narrowed });
    printLine(io, safe(`policy ${policy.id} set for ${policy.match.kind} ${policy.match.value}`));
    if (narrowed.length > 0) {
      printLine(
        io,
        `${narrowed.length} agent${narrowed.length === 1 ? '' : 's'} narrowed: their access tokens are cut, the next refresh follows the policy`,
      );
    }
  });
}

async function remove(io: CliIo, raw: string): Promise<void> {
  if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new CliError(safe(`not a policy id: ${JSON.stringify(raw.slice(0, 40))}`));
  await withDatabase(io, async (command) => {
    if (!(await cliLifecycle(command).ops.removeAgentPolicy(CLI_ACTOR, Number(raw)))) {
      throw new CliError(`no agent policy ${raw}`);
    }
    printLine(io, `policy ${raw} removed`);
  });
}
