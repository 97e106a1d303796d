// `mcp-oauth resources label URI LABEL`: the classification of an MCP server
// (docs/operating.md#classification-labels). The operation is src/grants/policy.ts.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../grants/index.js';
import { isLabel, LABELS } from '../lib/labels.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, printLine, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';

export function registerLabelCommand(resources: Command, io: CliIo): void {
  resources
    .command('label')
    .description(
      `classify an MCP server (${LABELS.join(', ')}, or none): shown on the consent page, and driving policy (MCP_OAUTH_SENSITIVE_TOKEN_TTL, MCP_OAUTH_LABELS_*)`,
    )
    .argument('<uri>', 'the MCP server')
    .argument('<label>', `${LABELS.join(' | ')} | none`)
    .action((uri: string, label: string) => setLabel(io, uri, label));
}

async function setLabel(io: CliIo, uri: string, label: string): Promise<void> {
  if (label !== 'none' && !isLabel(label)) {
    throw new CliError(safe(`not a label: ${JSON.stringify(label.slice(0, 40))} (${LABELS.join(', ')}, none)`));
  }
  await withDatabase(io, async ({ config, sql }) => {
    const { ops } = cliLifecycle({ config, sql });
    const cut = await refused(() =>
      ops.setResourceLabel(CLI_ACTOR, uri, label === 'none' ? null : label, config.labels.readOnly),
    );
    printLine(io, safe(`${uri} labelled ${label}`));
    if (cut.length > 0) printLine(io, `${cut.length} agent${cut.length === 1 ? '' : 's'} narrowed to read-only`);
  });
}
