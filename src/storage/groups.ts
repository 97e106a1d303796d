// Groups of users, their members and their policies (migrations/0090_user_groups.sql). A user is
// in a group when an admin put them there or when an identity provider's group claim named it at
// their last sign-in or re-check; both count the same for policy.
import type { AgentPolicyRules } from '../lib/agent_policy.js';
import type { GroupPolicy, UserGroup } from '../lib/group_policy.js';
import type { Sql } from './engine.js';

interface GroupRow {
  id: number;
  name: string;
  description: string;
  created_at: number;
  created_by: string;
}

interface PolicyRow {
  id: number;
  group_id: number;
  group_name: string;
  resources: string | null;
  scopes: string | null;
  read_only: number;
  updated_at: number;
  updated_by: string;
}

export interface GroupMember {
  userId: string;
  username: string;
  /** admin: put there by an admin; sso: named by an identity provider's group claim. */
  source: 'admin' | 'sso';
}

const toGroup = (r: GroupRow): UserGroup => ({
  id: Number(r.id),
  name: r.name,
  description: r.description,
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

const list = (text: string | null): string[] | null => (text === null ? null : (JSON.parse(text) as string[]));

const toPolicy = (r: PolicyRow): GroupPolicy => ({
  id: Number(r.id),
  groupId: Number(r.group_id),
  groupName: r.group_name,
  resources: list(r.resources),
  scopes: list(r.scopes),
  readOnly: Number(r.read_only) === 1,
  updatedAt: Number(r.updated_at),
  updatedBy: r.updated_by,
});

/** The groups a user is in, as a condition on `g` (two parameters: the user id twice). */
const MEMBER_OF = `(g.id IN (SELECT group_id FROM user_group_members WHERE user_id = ?)
  OR g.name IN (SELECT name FROM user_upstream_groups WHERE user_id = ?))`;

const POLICY_SELECT = `SELECT p.id, p.group_id, g.name AS group_name, p.resources, p.scopes, p.read_only,
  p.updated_at, p.updated_by FROM group_policies p JOIN user_groups g ON g.id = p.group_id`;

export type GroupRepository = ReturnType<typeof createGroupRepository>;

export function createGroupRepository(sql: Sql) {
  return {
    async list(): Promise<(UserGroup & { members: number })[]> {
      const groups = await sql.all<GroupRow>('SELECT * FROM user_groups ORDER BY name');
      const counts = await sql.all<{ group_id: number; n: number }>(
        `SELECT g.id AS group_id, COUNT(DISTINCT x.user_id) AS n FROM user_groups g JOIN (
           SELECT group_id, user_id FROM user_group_members
           UNION SELECT g2.id AS group_id, u.user_id FROM user_upstream_groups u JOIN user_groups g2 ON g2.name = u.name
         ) x ON x.group_id = g.id GROUP BY g.id`,
      );
      const byId = new Map(counts.map((c) => [Number(c.group_id), Number(c.n)]));
      return groups.map((g) => ({ ...toGroup(g), members: byId.get(Number(g.id)) ?? 0 }));
    },
    async find(id: number): Promise<UserGroup | undefined> {
      const row = await sql.get<GroupRow>('SELECT * FROM user_groups WHERE id = ?', [id]);
      return row ? toGroup(row) : undefined;
    },
    async findByName(name: string): Promise<UserGroup | undefined> {
      const row = await sql.get<GroupRow>('SELECT * FROM user_groups WHERE name = ?', [name]);
      return row ? toGroup(row) : undefined;
    },
    /** Creates the group; undefined when one of that name exists. */
    async create(name: string, description: string, by: string, now: number): Promise<UserGroup | undefined> {
      const row = await sql.get<GroupRow>(
        `INSERT INTO user_groups (name, description, created_at, created_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO NOTHING RETURNING *`,
        [name, description, now, by],
      );
      return row ? toGroup(row) : undefined;
    },
    /** Removes the group, its members and its policy (ON DELETE CASCADE). */
    async remove(id: number): Promise<boolean> {
      return (await sql.run('DELETE FROM user_groups WHERE id = ?', [id])).changes > 0;
    },
    async members(group: UserGroup): Promise<GroupMember[]> {
      const added = await sql.all<{ user_id: string; username: string }>(
        `SELECT u.id AS user_id, u.username FROM user_group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ? ORDER BY u.username`,
        [group.id],
      );
      const named = await sql.all<{ user_id: string; username: string }>(
        `SELECT DISTINCT u.id AS user_id, u.username FROM user_upstream_groups x JOIN users u ON u.id = x.user_id
         WHERE x.name = ? ORDER BY u.username`,
        [group.name],
      );
      const seen = new Set(added.map((r) => r.user_id));
      return [
        ...added.map((r) => ({ userId: r.user_id, username: r.username, source: 'admin' as const })),
        ...named
          .filter((r) => !seen.has(r.user_id))
          .map((r) => ({ userId: r.user_id, username: r.username, source: 'sso' as const })),
      ];
    },
    /** True when the user was not yet an admin-added member. */
    async addMember(groupId: number, userId: string, by: string, now: number): Promise<boolean> {
      const result = await sql.run(
        `INSERT INTO user_group_members (group_id, user_id, added_at, added_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (group_id, user_id) DO NOTHING`,
        [groupId, userId, now, by],
      );
      return result.changes > 0;
    },
    async removeMember(groupId: number, userId: string): Promise<boolean> {
      const result = await sql.run('DELETE FROM user_group_members WHERE group_id = ? AND user_id = ?', [
        groupId,
        userId,
      ]);
      return result.changes > 0;
    },
    /** The groups the user is in, either way. */
    async groupsOf(userId: string): Promise<UserGroup[]> {
      const rows = await sql.all<GroupRow>(`SELECT g.* FROM user_groups g WHERE ${MEMBER_OF} ORDER BY g.name`, [
        userId,
        userId,
      ]);
      return rows.map(toGroup);
    },
    /** The group claim values one identity provider last sent for the user. */
    async upstreamGroups(userId: string, issuer: string): Promise<string[]> {
      const rows = await sql.all<{ name: string }>(
        'SELECT name FROM user_upstream_groups WHERE user_id = ? AND issuer = ? ORDER BY name',
        [userId, issuer],
      );
      return rows.map((r) => r.name);
    },
    /** Replaces what one identity provider says the user is in (the caller's transaction holds it). */
    async setUpstreamGroups(userId: string, issuer: string, names: readonly string[]): Promise<void> {
      await sql.run('DELETE FROM user_upstream_groups WHERE user_id = ? AND issuer = ?', [userId, issuer]);
      for (const name of names) {
        await sql.run(
          'INSERT INTO user_upstream_groups (user_id, issuer, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
          [userId, issuer, name],
        );
      }
    },
    /** Every user in the group, either way. */
    async memberIds(group: UserGroup): Promise<string[]> {
      const rows = await sql.all<{ user_id: string }>(
        `SELECT user_id FROM user_group_members WHERE group_id = ?
         UNION SELECT user_id FROM user_upstream_groups WHERE name = ?`,
        [group.id, group.name],
      );
      return rows.map((r) => r.user_id);
    },

    /** The live grants of these users: what a group change may narrow. */
    async liveGrantsOf(
      userIds: readonly string[],
    ): Promise<{ id: string; userId: string; clientId: string; resource: string; scopes: string[] }[]> {
      const out: { id: string; userId: string; clientId: string; resource: string; scopes: string[] }[] = [];
      // In slices, so a large group stays under both engines' limits on parameters.
      for (let i = 0; i < userIds.length; i += 500) {
        const slice = userIds.slice(i, i + 500);
        const rows = await sql.all<{
          id: string;
          account_id: string;
          client_id: string;
          resource: string;
          scopes: string;
        }>(
          `SELECT id, account_id, client_id, resource, scopes FROM grant_records
           WHERE revoked_at IS NULL AND account_id IN (${slice.map(() => '?').join(', ')})`,
          slice,
        );
        for (const r of rows) {
          out.push({
            id: r.id,
            userId: r.account_id,
            clientId: r.client_id,
            resource: r.resource,
            scopes: r.scopes ? r.scopes.split(' ') : [],
          });
        }
      }
      return out;
    },

    async listPolicies(): Promise<GroupPolicy[]> {
      return (await sql.all<PolicyRow>(`${POLICY_SELECT} ORDER BY g.name`)).map(toPolicy);
    },
    async findPolicy(id: number): Promise<GroupPolicy | undefined> {
      const row = await sql.get<PolicyRow>(`${POLICY_SELECT} WHERE p.id = ?`, [id]);
      return row ? toPolicy(row) : undefined;
    },
    /** Creates the group's policy, or replaces the one there is. */
    async setPolicy(groupId: number, rules: AgentPolicyRules, by: string, now: number): Promise<GroupPolicy> {
      await sql.run(
        `INSERT INTO group_policies (group_id, resources, scopes, read_only, updated_at, updated_by)
         VALUES (@group, @resources, @scopes, @readOnly, @now, @by)
         ON CONFLICT (group_id) DO UPDATE SET resources = excluded.resources, scopes = excluded.scopes,
           read_only = excluded.read_only, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        {
          group: groupId,
          resources: rules.resources === null ? null : JSON.stringify(rules.resources),
          scopes: rules.scopes === null ? null : JSON.stringify(rules.scopes),
          readOnly: rules.readOnly ? 1 : 0,
          now,
          by,
        },
      );
      return toPolicy((await sql.get<PolicyRow>(`${POLICY_SELECT} WHERE p.group_id = ?`, [groupId])) as PolicyRow);
    },
    async removePolicy(id: number): Promise<boolean> {
      return (await sql.run('DELETE FROM group_policies WHERE id = ?', [id])).changes > 0;
    },
    /** The policies of every group the user is in. */
    async policiesFor(userId: string): Promise<GroupPolicy[]> {
      const rows = await sql.all<PolicyRow>(`${POLICY_SELECT} WHERE ${MEMBER_OF}`, [userId, userId]);
      return rows.map(toPolicy);
    },
  };
}
