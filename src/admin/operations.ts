// What users and admins do to grants, agents and users, each written to the audit trail with who
// did it. The console, the JSON API and the Connected agents page all go through here.
import type { Context } from 'koa';
import { recordGrantRevocations } from '../audit/grant_revocations.js';
import { type Audit, type AuditDetails, requestSource } from '../audit/index.js';
import { epochSeconds } from '../lib/duration.js';
import { isMetadataDocumentClientId } from '../provider/client_metadata_document.js';
import { normaliseDomain } from '../storage/client_state.js';
import type { Stores } from '../storage/index.js';
import type { User } from '../storage/users.js';

export interface Actor {
  /** As grant records keep it (revoked_by): 'user:<id>', 'admin:<id>' or 'admin-token:<token id>'. */
  by: string;
  /** As the audit trail keeps it: details.by and details.actor_id. */
  kind: 'user' | 'admin';
  actorId: string;
  ip: string | null;
  userAgent: string | null;
}

export function actorOf(ctx: Context, kind: Actor['kind'], actorId: string, by = `${kind}:${actorId}`): Actor {
  return { by, kind, actorId, ...requestSource(ctx) };
}

export type Operations = ReturnType<typeof createOperations>;

export function createOperations(stores: Stores, audit: Audit) {
  const { revocations, grantRecords } = stores;

  const record = (
    actor: Actor,
    event: string,
    fields: { userId?: string; clientId?: string; details?: AuditDetails },
  ): void =>
    audit.record({
      event,
      result: 'success',
      userId: fields.userId,
      clientId: fields.clientId,
      ip: actor.ip,
      userAgent: actor.userAgent,
      details: { by: actor.kind, actor_id: actor.actorId, ...fields.details },
    });

  const revoked = (actor: Actor, ids: string[], extra: { reason?: string; userId?: string } = {}): void =>
    recordGrantRevocations(audit, grantRecords, ids, {
      by: actor.kind,
      actorId: actor.actorId,
      ip: actor.ip,
      userAgent: actor.userAgent,
      ...extra,
    });

  return {
    /** Revokes one grant: 'unknown' when no such grant ever existed, 'already' when it was revoked before. */
    revokeGrant(actor: Actor, id: string): 'revoked' | 'already' | 'unknown' {
      if (!revocations.revokeGrant(id, actor.by, epochSeconds())) return grantRecords.find(id) ? 'already' : 'unknown';
      revoked(actor, [id]);
      return 'revoked';
    },
    revokeUserGrants(actor: Actor, user: User, clientId: string | null): string[] {
      const ids = revocations.revokeUserGrants(user.id, clientId, actor.by, epochSeconds());
      revoked(actor, ids, { userId: user.id });
      return ids;
    },
    revokeClientGrants(actor: Actor, clientId: string): string[] {
      const ids = revocations.revokeClientGrants(clientId, actor.by, epochSeconds());
      revoked(actor, ids);
      return ids;
    },
    /** Disables the agent and revokes all it holds; undefined when it already was disabled. */
    disableClient(actor: Actor, clientId: string): string[] | undefined {
      if (stores.clientState.find(clientId)?.disabledAt != null) return undefined;
      const ids = revocations.disableClient(clientId, actor.by, epochSeconds());
      record(actor, 'client.disabled', { clientId, details: { grants_revoked: ids.length } });
      revoked(actor, ids, { reason: 'agent disabled' });
      return ids;
    },
    /** False when the agent was not disabled. */
    enableClient(actor: Actor, clientId: string): boolean {
      if (stores.clientState.find(clientId)?.disabledAt == null) return false;
      revocations.enableClient(clientId);
      record(actor, 'client.enabled', { clientId });
      return true;
    },
    /**
     * Disables every metadata-document agent served from the domain or a subdomain of it, and
     * revokes what they hold; undefined when the domain already was disabled.
     */
    disableDomain(actor: Actor, domain: string): string[] | undefined {
      const d = normaliseDomain(domain);
      if (!stores.clientState.blockDomain(d, actor.by, epochSeconds())) return undefined;
      const onDomain = (id: string) => {
        const host = isMetadataDocumentClientId(id) ? URL.parse(id)?.hostname.toLowerCase() : undefined;
        return host !== undefined && (host === d || host.endsWith(`.${d}`));
      };
      const agents = new Set([...stores.clientState.all().keys()].filter(onDomain));
      for (const g of grantRecords.list({ state: 'active', limit: 5000 }))
        if (onDomain(g.clientId)) agents.add(g.clientId);
      const ids = [...agents].flatMap((id) => revocations.revokeClientGrants(id, actor.by, epochSeconds()));
      record(actor, 'client_domain.disabled', { details: { domain: d, grants_revoked: ids.length } });
      revoked(actor, ids, { reason: 'agent domain disabled' });
      return ids;
    },
    /** False when the domain was not disabled. */
    enableDomain(actor: Actor, domain: string): boolean {
      const d = normaliseDomain(domain);
      if (!stores.clientState.unblockDomain(d)) return false;
      record(actor, 'client_domain.enabled', { details: { domain: d } });
      return true;
    },
    /** Disables the user (no sign-in, no token) and revokes all their grants; undefined when already disabled. */
    disableUser(actor: Actor, user: User): string[] | undefined {
      if (user.disabled) return undefined;
      const ids = revocations.disableUser(user.id, actor.by, epochSeconds());
      stores.webSessions.deleteForUser(user.id);
      record(actor, 'user.disabled', { userId: user.id, details: { grants_revoked: ids.length } });
      revoked(actor, ids, { reason: 'user disabled', userId: user.id });
      return ids;
    },
    /** False when the user was not disabled. */
    enableUser(actor: Actor, user: User): boolean {
      if (!user.disabled) return false;
      revocations.enableUser(user.id, epochSeconds());
      record(actor, 'user.enabled', { userId: user.id });
      return true;
    },
  };
}
