// Grants as people read them: the agent's (self-declared) name, the MCP server's name, the scopes
// in plain words, and dates. Shared by the Connected agents page, the admin console and its API.

import type { GrantRecord } from '../storage/grant_records.js';
import type { Stores } from '../storage/index.js';
import type { Resource } from '../storage/resources.js';

export interface ScopeView {
  scope: string;
  description: string;
  isWrite: boolean;
  /** The admin's descriptions in other languages, when any (pages pick the reader's). */
  descriptions?: Readonly<Record<string, string>>;
}

export interface GrantView {
  id: string;
  user: { id: string; username: string | null };
  /** name is what the agent registered itself as: anyone can choose any name. */
  client: { id: string; name: string | null; registered: boolean };
  resource: { uri: string; name: string | null };
  scopes: ScopeView[];
  obtainedVia: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

export function clientName(metadata: Record<string, unknown> | undefined): string | null {
  const name = metadata?.client_name;
  return typeof name === 'string' && name.trim() !== '' ? name : null;
}

/** Describes grants, looking each user, agent and MCP server up once. */
export async function describeGrants(stores: Stores, records: GrantRecord[]): Promise<GrantView[]> {
  const users = new Map<string, string | null>();
  const clients = new Map<string, { name: string | null; registered: boolean }>();
  const resources = new Map<string, Resource | undefined>();
  const once = async <K, V>(map: Map<K, V>, key: K, load: () => Promise<V>): Promise<V> => {
    if (!map.has(key)) map.set(key, await load());
    return map.get(key) as V;
  };
  const views: GrantView[] = [];
  // One after another: the lookups of one record fill the caches the next one reads.
  for (const g of records) {
    const username = await once(
      users,
      g.accountId,
      async () => (await stores.users.findById(g.accountId))?.username ?? null,
    );
    const client = await once(clients, g.clientId, async () => {
      const found = await stores.clients.find(g.clientId);
      return { name: clientName(found?.metadata), registered: found !== undefined };
    });
    const resource = await once(resources, g.resource, () => stores.resources.findByUri(g.resource));
    views.push({
      id: g.id,
      user: { id: g.accountId, username },
      client: { id: g.clientId, ...client },
      resource: { uri: g.resource, name: resource?.name ?? null },
      scopes: g.scopes.map((scope) => {
        const known = resource?.scopes.find((s) => s.scope === scope);
        const view: ScopeView = { scope, description: known?.description ?? scope, isWrite: known?.isWrite ?? false };
        return known?.descriptions ? { ...view, descriptions: known.descriptions } : view;
      }),
      obtainedVia: g.obtainedVia,
      createdAt: g.createdAt,
      lastUsedAt: g.lastUsedAt,
      revokedAt: g.revokedAt,
      revokedBy: g.revokedBy,
      revokeReason: g.revokeReason,
    });
  }
  return views;
}

/** "2026-03-01 14:05 UTC", or the fallback when there is no time. */
export function formatWhen(epoch: number | null | undefined, fallback = 'never'): string {
  if (typeof epoch !== 'number') return fallback;
  const date = new Date(epoch * 1000);
  if (Number.isNaN(date.getTime())) return fallback;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
