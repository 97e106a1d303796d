// `mcp-oauth resources label URI LABEL [--tool NAME]`: the classification of an MCP server or of
// one of its tools (docs/operating.md#classification-labels). The operations are
// src/grants/policy.ts and src/grants/tool_labels.ts.
import type { Command } from 'commander';
import { CLI_ACTOR, toolLabelRules } from '../grants/index.js';
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
    .option(
      '--tool <name>',
      'label this tool of the server instead (MCP_OAUTH_LABELS_DENY_TOOLS, _READ_ONLY, _SECOND_FACTOR)',
    )
    .action((uri: string, label: string, opts: { tool?: string }) => setLabel(io, uri, label, opts.tool));
}

async function setLabel(io: CliIo, uri: string, label: string, tool?: string): Promise<void> {
  if (label !== 'none' && !isLabel(label)) {
    throw new CliError(safe(`not a label: ${JSON.stringify(label.slice(0, 40))} (${LABELS.join(', ')}, none)`));
  }
  await withDatabase(io, async ({ config, sql }) => {
    const { ops } = cliLifecycle({ config, sql });
    if (tool !== undefined) {
      const result = await refused(() =>
        ops.setToolLabel(CLI_ACTOR, uri, tool, label === 'none' ? null : label, toolLabelRules(config)),
      );
      printLine(io, safe(`${tool} of ${result.resource} labelled ${label}`));
      if (result.cut > 0) {
        printLine(io, `${result.cut} agent${result.cut === 1 ? '' : 's'} narrowed: their access tokens are cut`);
      }
      return;
    }
    const cut = await refused(() =>
      ops.setResourceLabel(
        CLI_ACTOR,
        uri,
        label === 'none' ? null : label,
        config.labels.readOnly,
        config.labels.secondFactor,
      ),
    );
    printLine(io, safe(`${uri} labelled ${label}`));
    if (cut.length > 0) {
      const readOnly = config.labels.readOnly.includes(label) ? ' to read-only' : '';
      printLine(io, `${cut.length} agent${cut.length === 1 ? '' : 's'} narrowed${readOnly}`);
    }
  });
}
