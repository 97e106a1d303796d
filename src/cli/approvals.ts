// `mcp-oauth approvals list|approve|refuse`: the queue of new agents waiting for an admin while
// MCP_OAUTH_AGENT_APPROVAL is on. The operations are src/grants/approvals.ts.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { withDatabase } from './database.js';
import { type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';

export function registerApprovalCommands(program: Command, io: CliIo): void {
  const approvals = program
    .command('approvals')
    .description('the queue of new agents waiting for approval (MCP_OAUTH_AGENT_APPROVAL, docs/operating.md)');
  approvals
    .command('list')
    .description('list agents waiting for approval')
    .option('--all', 'also those approved or refused')
    .option('--json', 'print JSON')
    .action((opts: { all?: boolean; json?: boolean }) => list(io, opts));
  approvals
    .command('approve')
    .description('let users allow the agent access (also before anyone asked)')
    .argument('<client_id>', 'the agent')
    .action((id: string) => decide(io, id, 'approve'));
  approvals
    .command('refuse')
    .description('no user can allow the agent access; grants it holds are revoked')
    .argument('<client_id>', 'the agent')
    .action((id: string) => decide(io, id, 'refuse'));
}

async function list(io: CliIo, opts: { all?: boolean; json?: boolean }): Promise<void> {
  await withDatabase(io, async (command) => {
    const rows = await cliLifecycle(command).ops.listAgentApprovals(opts.all ? undefined : 'pending');
    if (opts.json) return printJson(io, rows);
    if (rows.length === 0) return printLine(io, opts.all ? 'no approval requests' : 'no agent is waiting for approval');
    printTable(
      io,
      ['CLIENT_ID', 'STATE', 'REQUESTED', 'DECIDED', 'BY'],
      rows.map((a) => [
        safe(a.clientId),
        a.state,
        formatTime(a.requestedAt),
        formatTime(a.decidedAt),
        safe(a.decidedBy ?? '-'),
      ]),
    );
  });
}

async function decide(io: CliIo, clientId: string, what: 'approve' | 'refuse'): Promise<void> {
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    const changed = await refused(() =>
      what === 'approve' ? ops.approveAgent(CLI_ACTOR, clientId) : ops.refuseAgent(CLI_ACTOR, clientId),
    );
    const state = what === 'approve' ? 'approved' : 'refused';
    printLine(io, safe(changed ? `agent ${clientId} ${state}` : `agent ${clientId} was ${state} already`));
  });
}
