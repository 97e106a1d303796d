// Groups of users and the policy per group (docs/operating.md#groups-and-group-policy). Admins
// create groups and put users in them (console, admin API, CLI); an identity provider's group claim
// puts users in the groups of the same name at each sign-in and re-check. A group's policy narrows
// what its members' agents may get, combined with the agents' own policies: every policy that
// applies narrows, so the result is their intersection (src/lib/group_policy.ts).
//
// Like a per-agent policy, a change holds for new grants at once and for live grants at their next
// refresh (src/provider/resources.ts reads the policies on every token request). Access tokens
// already out are cut through the revocation feed for the users whose live grants the change
// narrows (a `user` entry: the feed can only revoke); their agents refresh and get tokens within
// the new policy.
import type { Audit } from '../audit/index.js';
import { judgeResource } from '../lib/agent_policy.js';
import { epochSeconds } from '../lib/duration.js';
import {
  combinedPolicy,
  describeGroupPolicy,
  type GroupPolicy,
  groupNameProblem,
  type UserGroup,
  upstreamGroupNames,
} from '../lib/group_policy.js';
import type { GroupMember } from '../storage/groups.js';
import type { Stores } from '../storage/index.js';
import { type Actor, actedBy, auditFor } from './actor.js';
import { LifecycleError } from './errors.js';
import { type PolicyRulesInput, policyRules } from './policy.js';

export interface GroupPolicyInput extends PolicyRulesInput {
  /** The group, by name or id. */
  group: string | number;
}

const refuse = (message: string): never => {
  throw new LifecycleError('invalid_group', message);
};

export function groupOperations(stores: Stores, audit: Audit) {
  const { sql, groups } = stores;
  const log = auditFor(audit, stores.grantRecords);

  /** A group by its name, or by its id (the console and the admin API's URLs). */
  const named = async (ref: string | number): Promise<UserGroup> => {
    const group =
      typeof ref === 'number'
        ? await groups.find(ref)
        : typeof ref === 'string'
          ? await groups.findByName(ref)
          : undefined;
    if (!group) throw new LifecycleError('missing', `no such group: ${JSON.stringify(String(ref).slice(0, 200))}`);
    return group;
  };

  /**
   * Live grants of these users that the policies now in force (the agent's and the user's groups')
   * no longer fully allow: the ones whose outstanding access tokens must be cut.
   */
  const narrowedGrants = async (userIds: readonly string[]): Promise<{ id: string; userId: string }[]> => {
    const narrowed: { id: string; userId: string }[] = [];
    for (const grant of await groups.liveGrantsOf(userIds)) {
      const resource = await stores.resources.findByUri(grant.resource);
      if (!resource) continue;
      const policy = combinedPolicy(
        await stores.agentPolicies.effectiveFor(grant.clientId),
        await groups.policiesFor(grant.userId),
      );
      const verdict = judgeResource(policy, resource.uri, resource.scopes);
      if (!verdict.allowed || grant.scopes.some((s) => !verdict.scopes.includes(s))) {
        narrowed.push({ id: grant.id, userId: grant.userId });
      }
    }
    return narrowed;
  };

  /** Cuts the access tokens of the users whose grants these are. */
  const cut = async (grants: readonly { userId: string }[], now: number) => {
    for (const userId of new Set(grants.map((g) => g.userId))) await stores.revocations.cutUserTokens(userId, now);
  };

  return {
    narrowedGrants,
    async listGroups() {
      return groups.list();
    },
    /** The group with its members (and how each is in it) and its policy. */
    async describeGroup(
      name: string | number,
    ): Promise<{ group: UserGroup; members: GroupMember[]; policy: GroupPolicy | undefined }> {
      const group = await named(name);
      const policy = (await groups.listPolicies()).find((p) => p.groupId === group.id);
      return { group, members: await groups.members(group), policy };
    },
    async createGroup(actor: Actor, name: string, description = ''): Promise<UserGroup> {
      const problem = groupNameProblem(name);
      if (problem) return refuse(problem);
      if (typeof description !== 'string' || description.length > 500 || /[\u0000-\u001f\u007f]/.test(description)) {
        return refuse('a description has at most 500 characters and no control characters');
      }
      const group = await groups.create(name, description, actedBy(actor), epochSeconds());
      if (!group) throw new LifecycleError('exists', `there is already a group named ${JSON.stringify(name)}`);
      await log.event(actor, 'group.created', { details: { group: name } });
      return group;
    },
    /** Removes the group, its members and its policy (a policy only narrowed: nothing is cut). */
    async removeGroup(actor: Actor, name: string | number): Promise<void> {
      const group = await named(name);
      await groups.remove(group.id);
      await log.event(actor, 'group.removed', { details: { group: group.name } });
    },
    /** Puts a user in the group; their live grants the group's policy narrows are cut. */
    async addGroupMember(
      actor: Actor,
      name: string | number,
      userId: string,
    ): Promise<{ added: boolean; narrowed: number }> {
      const group = await named(name);
      const user = await stores.users.findById(userId);
      if (!user) throw new LifecycleError('missing', 'there is no such user');
      const now = epochSeconds();
      const result = await sql.transaction(async () => {
        const added = await groups.addMember(group.id, user.id, actedBy(actor), now);
        const narrowed = added ? await narrowedGrants([user.id]) : [];
        await cut(narrowed, now);
        return { added, narrowed: narrowed.length };
      });
      if (result.added) {
        await log.event(actor, 'group.member_added', {
          userId: user.id,
          details: { group: group.name, grants_narrowed: result.narrowed },
        });
      }
      return result;
    },
    /** Takes a user out of the group (only an admin's addition: a provider's claim says it again). */
    async removeGroupMember(actor: Actor, name: string | number, userId: string): Promise<boolean> {
      const group = await named(name);
      const removed = await groups.removeMember(group.id, userId);
      if (removed) await log.event(actor, 'group.member_removed', { userId, details: { group: group.name } });
      return removed;
    },
    async listGroupPolicies(): Promise<GroupPolicy[]> {
      return groups.listPolicies();
    },
    /** Creates or replaces the group's policy; returns it with how many live grants it narrowed. */
    async setGroupPolicy(actor: Actor, input: GroupPolicyInput): Promise<{ policy: GroupPolicy; narrowed: number }> {
      const group = await named(input.group);
      const rules = await policyRules(stores, input);
      const now = epochSeconds();
      const result = await sql.transaction(async () => {
        const policy = await groups.setPolicy(group.id, rules, actedBy(actor), now);
        const narrowed = await narrowedGrants(await groups.memberIds(group));
        await cut(narrowed, now);
        return { policy, narrowed: narrowed.length };
      });
      const shown = describeGroupPolicy(result.policy);
      await log.event(actor, 'group_policy.set', {
        details: {
          group: group.name,
          resources: shown.resources?.join(' ') ?? '*',
          scopes: shown.scopes?.join(' ') ?? '*',
          read_only: shown.read_only,
          grants_narrowed: result.narrowed,
        },
      });
      return result;
    },
    /** Removes a group policy (it only ever narrowed, so nothing held is cut). False when there was none. */
    async removeGroupPolicy(actor: Actor, id: number): Promise<boolean> {
      const policy = await groups.findPolicy(id);
      if (!policy || !(await groups.removePolicy(id))) return false;
      await log.event(actor, 'group_policy.removed', { details: { group: policy.groupName } });
      return true;
    },
    /**
     * What an identity provider's group claim says the user is in, at sign-in or re-check: replaces
     * what that provider said before. A change that puts the user in a group whose policy narrows
     * their live grants cuts those grants' access tokens.
     */
    async syncUpstreamGroups(userId: string, issuer: string, provider: string, claim: unknown): Promise<void> {
      const { names, dropped } = upstreamGroupNames(claim);
      const before = await groups.upstreamGroups(userId, issuer);
      const sorted = [...names].sort();
      if (before.length === sorted.length && before.every((n, i) => n === sorted[i])) return;
      const now = epochSeconds();
      const narrowed = await sql.transaction(async () => {
        await groups.setUpstreamGroups(userId, issuer, sorted);
        const grants = await narrowedGrants([userId]);
        await cut(grants, now);
        return grants.length;
      });
      await audit.record({
        event: 'user.groups_synced',
        result: 'success',
        userId,
        details: {
          by: 'system',
          provider,
          added: sorted.filter((n) => !before.includes(n)).length,
          removed: before.filter((n) => !sorted.includes(n)).length,
          ...(dropped > 0 ? { dropped } : {}),
          grants_narrowed: narrowed,
        },
      });
    },
  };
}
