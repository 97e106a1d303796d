// Agents (OAuth clients): disabling and enabling one, or every metadata-document agent served from
// a domain; deleting a registration.
import type { Audit } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import { isHostName, normaliseHostName } from '../lib/host_names.js';
import { isMetadataDocumentClientId } from '../provider/client_metadata_document.js';
import type { RelatedCounts } from '../storage/clients.js';
import type { Stores } from '../storage/index.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';

/** A domain as a domain block takes it, or a LifecycleError. */
export function domainOf(raw: string): string {
  if (raw.startsWith('*.')) {
    throw new LifecycleError(
      'invalid_domain',
      `a domain block covers every subdomain already: give ${normaliseHostName(raw.slice(2))} instead of ${raw}`,
    );
  }
  if (!isHostName(raw)) {
    throw new LifecycleError('invalid_domain', `not a host name: ${JSON.stringify(raw.slice(0, 100))}`);
  }
  return normaliseHostName(raw);
}

export function agentOperations(stores: Stores, audit: Audit) {
  const { sql, revocations, clientState, grantRecords } = stores;
  const log = auditFor(audit, grantRecords);

  /** Metadata-document agents served from the domain or a subdomain of it. */
  const onDomain = (domain: string) => (id: string) => {
    const host = isMetadataDocumentClientId(id) ? URL.parse(id)?.hostname.toLowerCase() : undefined;
    return host !== undefined && (host === domain || host.endsWith(`.${domain}`));
  };

  return {
    /** Disables the agent and revokes all it holds; undefined when it already was disabled. */
    async disableClient(actor: Actor, clientId: string): Promise<string[] | undefined> {
      const ids = await sql.transaction(async () => {
        if ((await clientState.find(clientId))?.disabledAt != null) return undefined;
        return revocations.disableClient(clientId, actedBy(actor), epochSeconds());
      });
      if (!ids) return undefined;
      await log.event(actor, 'client.disabled', { clientId, details: { grants_revoked: ids.length } });
      await log.revoked(actor, ids, { reason: 'agent disabled' });
      return ids;
    },
    /** False when the agent was not disabled. */
    async enableClient(actor: Actor, clientId: string): Promise<boolean> {
      const changed = await sql.transaction(
        async () =>
          (await clientState.find(clientId))?.disabledAt != null && (await revocations.enableClient(clientId)),
      );
      if (changed) await log.event(actor, 'client.enabled', { clientId });
      return changed;
    },
    /**
     * Deletes a registration with everything issued to it; its grants are revoked first, so the
     * records keep the history and the feed tells resource servers its access tokens are dead.
     * Undefined when there is no such registration.
     */
    async deleteClient(
      actor: Actor,
      clientId: string,
    ): Promise<{ revoked: string[]; deleted: RelatedCounts } | undefined> {
      const result = await sql.transaction(async () => {
        if (!(await stores.clients.find(clientId))) return undefined;
        // What was issued to it, counted before the revocation removes the tokens.
        const deleted = await stores.clients.related(clientId);
        const revoked = await revocations.revokeClientGrants(clientId, actedBy(actor), epochSeconds(), 'agent deleted');
        await stores.serviceClients.delete(clientId);
        return (await stores.clients.delete(clientId)) && { revoked, deleted };
      });
      if (!result) return undefined;
      await log.revoked(actor, result.revoked, { reason: 'agent deleted' });
      await log.event(actor, 'client.deleted', { clientId, details: { grants_revoked: result.revoked.length } });
      return result;
    },
    /**
     * The agent deleted its own registration (RFC 7592 §2.3): oidc-provider removed it; its grants
     * are revoked here so the records keep the history and the feed reaches resource servers.
     */
    async clientDeletedItself(actor: Actor, clientId: string): Promise<string[]> {
      const ids = await revocations.revokeClientGrants(clientId, actedBy(actor), epochSeconds(), 'agent deleted');
      await log.event(actor, 'client.deleted', { clientId });
      await log.revoked(actor, ids, { reason: 'agent deleted' });
      return ids;
    },
    /**
     * Disables every metadata-document agent served from the domain or a subdomain of it, and
     * revokes what they hold; undefined when the domain already was disabled.
     */
    async disableDomain(actor: Actor, raw: string): Promise<string[] | undefined> {
      const domain = domainOf(raw);
      const ids = await sql.transaction(async () => {
        const now = epochSeconds();
        if (!(await clientState.blockDomain(domain, actedBy(actor), now))) return undefined;
        const matches = onDomain(domain);
        const agents = new Set([...(await clientState.all()).keys()].filter(matches));
        for (const g of await grantRecords.list({ state: 'active', limit: 5000 }))
          if (matches(g.clientId)) agents.add(g.clientId);
        const revoked: string[] = [];
        for (const id of agents)
          revoked.push(...(await revocations.revokeClientGrants(id, actedBy(actor), now, 'agent domain disabled')));
        return revoked;
      });
      if (!ids) return undefined;
      await log.event(actor, 'client_domain.disabled', { details: { domain, grants_revoked: ids.length } });
      await log.revoked(actor, ids, { reason: 'agent domain disabled' });
      return ids;
    },
    /** False when the domain was not disabled. */
    async enableDomain(actor: Actor, raw: string): Promise<boolean> {
      const domain = domainOf(raw);
      if (!(await clientState.unblockDomain(domain))) return false;
      await log.event(actor, 'client_domain.enabled', { details: { domain } });
      return true;
    },
  };
}
