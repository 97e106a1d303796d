// Classification labels on single tools (docs/operating.md#classification-labels). A label with a
// rule (MCP_OAUTH_LABELS_DENY_TOOLS, _READ_ONLY, _SECOND_FACTOR) travels in every access token to
// the server (src/lib/tool_labels.ts) and the proxy enforces it per call. Tokens already out carry
// the rules of when they were minted, so a change that adds a rule cuts the access tokens of the
// agents with a live grant to the server through the revocation feed: they refresh and get the new
// rules within a second.
import type { Audit } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { epochSeconds } from '../lib/duration.js';
import type { Label } from '../lib/labels.js';
import { canonicalResource } from '../lib/resource_uri.js';
import { isToolName, MAX_TOOL_LABELS, type ToolLabelRules } from '../lib/tool_labels.js';
import type { Stores } from '../storage/index.js';
import type { ToolLabel } from '../storage/tool_labels.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

const refuse = (message: string): never => {
  throw new LifecycleError('invalid_policy', message);
};

/** The rules of tool labels, from the settings (MCP_OAUTH_LABELS_*). */
export const toolLabelRules = (config: Pick<Config, 'labels'>): ToolLabelRules => ({
  deny: config.labels.denyTools,
  readOnly: config.labels.readOnly,
  secondFactor: config.labels.secondFactor,
});

/** Whether tokens carrying `label` are restricted by a rule. */
const hasRule = (label: Label, rules: ToolLabelRules) =>
  rules.deny.includes(label) || rules.readOnly.includes(label) || rules.secondFactor.includes(label);

export function toolLabelOperations(stores: Stores, audit: Audit) {
  const log = auditFor(audit, stores.grantRecords);
  return {
    async listToolLabels(uri?: string): Promise<readonly ToolLabel[]> {
      if (uri === undefined) return stores.toolLabels.list();
      const canonical = canonicalResource(uri);
      return canonical.ok ? stores.toolLabels.forResource(canonical.uri) : [];
    },
    /**
     * Labels one tool of an MCP server (null: no label). Returns how many agents' access tokens were
     * cut because the new label brings a rule (those with a live grant to the server).
     */
    async setToolLabel(
      actor: Actor,
      uri: string,
      tool: string,
      label: Label | null,
      rules: ToolLabelRules,
    ): Promise<{ resource: string; cut: number; changed: boolean }> {
      const canonical = canonicalResource(String(uri));
      const resource = canonical.ok ? await stores.resources.findByUri(canonical.uri) : undefined;
      if (!resource) return refuse(`not a registered MCP server: ${JSON.stringify(String(uri).slice(0, 200))}`);
      if (!isToolName(tool)) return refuse('a tool name has 1 to 128 printable characters and no spaces');
      const now = epochSeconds();
      const result = await stores.sql.transaction(async () => {
        const before = await stores.toolLabels.labelOf(resource.uri, tool);
        if (
          label !== null &&
          before === undefined &&
          (await stores.toolLabels.count(resource.uri)) >= MAX_TOOL_LABELS
        ) {
          return refuse(`an MCP server has at most ${MAX_TOOL_LABELS} labelled tools`);
        }
        const changed =
          (before ?? null) !== label && (await stores.toolLabels.set(resource.uri, tool, label, actedBy(actor), now));
        if (!changed || label === null || !hasRule(label, rules)) return { changed, cut: 0 };
        const agents = await stores.toolLabels.liveClients(resource.uri);
        for (const clientId of agents) await stores.revocations.cutClientTokens(clientId, now);
        return { changed, cut: agents.length };
      });
      if (result.changed) {
        await log.event(actor, 'tool.labelled', {
          details: { resource: resource.uri, tool, label: label ?? 'none', agents_narrowed: result.cut },
        });
      }
      return { resource: resource.uri, ...result };
    },
  };
}
